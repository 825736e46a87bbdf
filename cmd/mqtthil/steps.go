package main

import (
	"context"
	"encoding/json"
	"errors"
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
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
		writeCatalogMarkdown(stdout)
	default:
		fmt.Fprintf(stderr, "mqtthil steps: --format %q: want markdown or json\n", *format)
		return 2
	}
	return 0
}

func writeCatalogMarkdown(w io.Writer) {
	fmt.Fprintln(w, "# Step catalog")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every step a feature can use. Start a step with Given, When, Then, And or But;")
	fmt.Fprintln(w, "the words in braces are values you fill in.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| placeholder | what it takes |")
	fmt.Fprintln(w, "|---|---|")
	for _, p := range steps.Placeholders() {
		fmt.Fprintf(w, "| `%s` | %s |\n", p.Name, p.Meaning)
	}
	concern := ""
	for _, d := range steps.Catalog() {
		if d.Concern != concern {
			concern = d.Concern
			fmt.Fprintf(w, "\n## %s\n\n", concern)
		}
		fmt.Fprintf(w, "- `%s`", d.Pattern)
		if d.Arg != "" {
			fmt.Fprintf(w, " (with a %s)", d.Arg)
		}
		fmt.Fprintf(w, "\n  %s\n  Example: `%s`\n", d.Description, d.Example)
	}
}
