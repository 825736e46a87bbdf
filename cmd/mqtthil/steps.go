package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/mqtthil/mqtthil/steps"
)

func init() {
	register(command{
		name:    "steps",
		summary: "print the step catalog: every step features can use, with an example",
		run:     runSteps,
	})
}

func runSteps(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("steps", flag.ContinueOnError)
	fl.SetOutput(stderr)
	format := fl.String("format", "markdown", "markdown or json")
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "mqtthil steps: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Placeholders []steps.Placeholder `json:"placeholders"`
			Steps        []steps.StepDoc     `json:"steps"`
		}{steps.Placeholders(), steps.Catalog()}); err != nil {
			fmt.Fprintf(stderr, "mqtthil steps: %v\n", err)
			return 1
		}
	case "markdown":
		if err := steps.WriteMarkdown(stdout); err != nil {
			fmt.Fprintf(stderr, "mqtthil steps: %v\n", err)
			return 1
		}
	default:
		fmt.Fprintf(stderr, "mqtthil steps: --format %q: want markdown or json\n", *format)
		return 2
	}
	return 0
}
