package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	probedriver "github.com/mqtthil/mqtthil/fixtures/probe-driver"
)

func init() {
	register(command{
		name:    "probe",
		summary: "package the probe driver for a real controller: probe build --out probe.c4z",
		run:     runProbe,
	})
}

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "Usage: mqtthil probe build [--out probe.c4z]")
		fmt.Fprintln(stderr, "  Writes the probe driver (driver.xml and driver.lua, see docs/control-channel.md) as a .c4z")
		fmt.Fprintln(stderr, "  to install on the controller with the usual driver tooling.")
	}
	if len(args) == 0 || args[0] != "build" {
		usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fl := flag.NewFlagSet("probe build", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "probe.c4z", "the .c4z to write")
	if err := fl.Parse(args[1:]); err != nil {
		return parseExit(err)
	}
	if fl.NArg() > 0 {
		usage()
		return 2
	}
	data, err := probedriver.C4Z()
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil probe build: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, len(data))
	return 0
}
