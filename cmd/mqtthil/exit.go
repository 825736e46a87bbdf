// The exit codes every verdict-giving subcommand (run, merge, lua, bench --check,
// verify) ends with, in one place so that CI can tell a controller that
// broke a promise from a harness that could not give a verdict.
package main

import "fmt"

const (
	// exitPassed: everything passed (skipped scenarios allowed).
	exitPassed = 0
	// exitFailed: the controller broke a promise.
	exitFailed = 1
	// exitUsage: bad usage or unreadable input; nothing was run.
	exitUsage = 2
	// exitHarness: a harness, fixture or bench error, or a timeout; the
	// verdict cannot be trusted.
	exitHarness = 3
)

// exitCodesHelp is the table `mqtthil help <command>` prints.
var exitCodesHelp = fmt.Sprintf(`Exit codes (run, merge, lua, bench --check, verify):
  %d  all passed (skipped scenarios allowed)
  %d  the controller broke a promise (a scenario failed)
  %d  usage error or unreadable input: nothing was run
  %d  a harness, fixture or bench error, or a timeout: the verdict cannot be trusted
`, exitPassed, exitFailed, exitUsage, exitHarness)
