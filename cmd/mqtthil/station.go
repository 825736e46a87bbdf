package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/remote"
	"github.com/mqtthil/mqtthil/controller/sim"
	probedriver "github.com/mqtthil/mqtthil/fixtures/probe-driver"
)

func init() {
	register(command{
		name:    "station",
		summary: "station --virtual: run the probe driver in the Lua runtime as a bench would, to try certification runs without hardware",
		run:     runStation,
	})
}

func runStation(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runStationWith(ctx, args, stdout, stderr, 1)
}

// runStationWith runs the station with the keep-alive second scaled, as
// tests run features.
func runStationWith(ctx context.Context, args []string, stdout, stderr io.Writer, timeScale float64) int {
	fl := flag.NewFlagSet("station", flag.ContinueOnError)
	fl.SetOutput(stderr)
	virtual := fl.Bool("virtual", false, "run the probe driver in the Lua runtime (the only kind of station this command starts)")
	control := fl.String("control", "127.0.0.1:1884", "the harness's control listener the probe connects to (the station file's control.listen)")
	id := fl.String("station-id", "virtual", "the probe's Station ID (the station file's station_id)")
	user := fl.String("user", "", "control listener user name (control.user)")
	password := fl.String("password", "", "control listener password (control.password)")
	scale := fl.Float64("time-scale", timeScale, "the run's --time-scale: the probe's keep-alive second is scaled alike")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil station --virtual [flags]")
		fmt.Fprintln(stderr, "  Runs the probe driver in the Lua runtime, connecting to the control listener that")
		fmt.Fprintln(stderr, "  `mqtthil run --controller remote --station STATION.yaml --concurrency 1` hosts;")
		fmt.Fprintln(stderr, "  the probe tries again every 0.25 s until the run starts. Interrupt to stop.")
		fmt.Fprintln(stderr)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	if *scale <= 0 || *scale > 100 {
		fmt.Fprintf(stderr, "mqtthil station: --time-scale %v: want a number above 0 and at most 100\n", *scale)
		return 2
	}
	if !*virtual || fl.NArg() > 0 {
		fl.Usage()
		return 2
	}
	dir, err := os.MkdirTemp("", "mqtthil-station-")
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil station: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	c4z := filepath.Join(dir, "probe.c4z")
	data, err := probedriver.C4Z()
	if err == nil {
		err = os.WriteFile(c4z, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil station: %v\n", err)
		return 1
	}
	v, err := remote.StartVirtual(ctx, remote.VirtualOptions{
		Probe: c4z, ControlAddr: *control, Station: *id, Background: true,
		Lua: lua.Options{Log: stderr, Sim: sim.Options{KeepAliveUnit: time.Duration(*scale * float64(time.Second))}},
		// A virtual station serves a harness close by (by default on this
		// machine): a refused connect costs nothing, and a run started
		// while the probe waits finds it at once rather than after the
		// probe driver's bench backoff (up to 2 s).
		Properties: map[string]string{"Control User": *user, "Control Password": *password, "Max Backoff (s)": "0.25"},
	})
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil station: %v\n", err)
		return 1
	}
	defer v.Close()
	fmt.Fprintf(stdout, "virtual station %s: the probe driver connects to %s; interrupt to stop\n", v.Station, v.Addr)
	<-ctx.Done()
	return 0
}
