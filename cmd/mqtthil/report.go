package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mqtthil/mqtthil/report"
)

func init() {
	register(command{
		name:    "report",
		summary: "write a run folder's report.html again from its records (and junit.xml with --junit)",
		run:     runReport,
	})
}

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	junit := fl.Bool("junit", false, "write junit.xml again too")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil report [flags] DIR  (a folder `mqtthil run --out` wrote)")
		fmt.Fprintln(stderr)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	dir := fl.Arg(0)
	run, err := report.Regenerate(dir)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil report: %v\n", err)
		return 1
	}
	if *junit {
		var scenarios []report.Scenario
		for _, sf := range run.Scenarios {
			scenarios = append(scenarios, report.ScenarioOf(sf, junitExcerpt))
		}
		if err := writeJUnit(run, scenarios); err != nil {
			fmt.Fprintf(stderr, "mqtthil report: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: %d scenario(s)\n", filepath.Join(dir, report.HTMLFile), len(run.Scenarios))
	return 0
}
