// The fingerprint subcommand: which libmosquitto release a controller's
// MQTT client behaves like, case by case. On hardware it is the first
// thing a certification run records.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/steps"
)

func init() {
	register(command{name: "fingerprint", summary: "tell which libmosquitto release a controller behaves like", run: runFingerprint})
}

func runFingerprint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("fingerprint", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg runConfig
	fl.StringVar(&cfg.controller, "controller", "sim", "controller to fingerprint: "+strings.Join(controllerNames(), ", "))
	fl.StringVar(&cfg.model, "model", controller.DefaultModel, "with --controller sim: the release the model follows: "+strings.Join(controller.Models(), ", "))
	fl.StringVar(&cfg.station, "station", "", "with --controller remote: where the probe driver runs (as for run)")
	quiet := fl.Duration("quiet", 3*time.Second, "how long to wait for a callback that a release may not send")
	if err := fl.Parse(args); err != nil {
		return parseExit(err)
	}
	cfg.timeScale = 1
	newController := func() (controller.Controller, error) {
		return controller.New(cfg.controller, controller.Options{Model: cfg.model})
	}
	var setup configuredRun
	if f := configured[cfg.controller]; f != nil {
		var err error
		note := func(format string, a ...any) { fmt.Fprintf(stderr, "mqtthil fingerprint: "+format+"\n", a...) }
		if setup, err = f(cfg, note); err != nil {
			fmt.Fprintf(stderr, "mqtthil fingerprint: %v\n", err)
			return 1
		}
		newController = setup.newController
		defer setup.end()
	}
	res, err := steps.Fingerprint(ctx, steps.FingerprintOptions{NewController: newController, DUTListen: setup.dutListen, DUTHost: setup.dutHost, Quiet: *quiet})
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil fingerprint: %v\n", err)
		return 1
	}
	res.Print(stdout)
	if len(res.Matching) == 0 {
		return 1
	}
	return 0
}
