package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mqtthil/mqtthil/report"
)

func init() {
	register(command{
		name:    "verify",
		summary: "check a run folder against its SHA256SUMS: verify DIR",
		run:     runVerify,
	})
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "Usage: mqtthil verify DIR")
		fmt.Fprintln(stderr, "  Checks every file of a run folder against the SHA256SUMS that mqtthil run wrote there.")
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, exitCodesHelp)
		if len(args) == 1 {
			return exitPassed
		}
		return exitUsage
	}
	problems, err := report.VerifySums(args[0])
	if err != nil {
		// No sums to check against: nothing was verified.
		fmt.Fprintf(stderr, "mqtthil verify: %v\n", err)
		return exitUsage
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%s: %d problem(s)\n", args[0], len(problems))
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s: every file matches %s\n", args[0], report.SumsFile)
	return exitPassed
}
