// The fingerprint subcommand: which libmosquitto release a controller's
// MQTT client behaves like, case by case. On hardware it is the first
// thing a certification run records.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/report"
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

// What `run --fingerprint` asks for.
const (
	fingerprintWarn   = "warn"   // take it; a disagreement with --model is a warning
	fingerprintStrict = "strict" // a disagreement fails the run (1), a fingerprint not taken is an error (3)
	fingerprintOff    = "off"    // do not take it
)

// takeFingerprint runs the fingerprint against the run's controller
// before any scenario, for the manifest and the report's header, and says
// on the console which release the controller behaves like; loudly when
// that is not the run's --model. A fingerprint that cannot run is
// recorded as not taken; the run goes on.
func takeFingerprint(ctx context.Context, cfg runConfig, newController func() (controller.Controller, error), setup configuredRun, out io.Writer) *report.Fingerprint {
	// On loopback a failed handshake's callback comes within milliseconds;
	// a controller across the bench's network gets the command's default.
	quiet := time.Second
	if cfg.controller == "remote" {
		quiet = 3 * time.Second
	}
	start := time.Now()
	res, err := steps.Fingerprint(ctx, steps.FingerprintOptions{NewController: newController, DUTListen: setup.dutListen, DUTHost: setup.dutHost, Quiet: quiet})
	fp := &report.Fingerprint{Model: cfg.model}
	if err != nil {
		fp.Error = err.Error()
		fmt.Fprintf(out, "WARNING: fingerprint not taken: %v\n", err)
		return fp
	}
	fp.Matching = res.Matching
	fp.Agrees = slices.Contains(res.Matching, cfg.model)
	for _, c := range res.Cases {
		fc := report.FingerprintCase{Change: c.Change.Key, Since: c.Change.Since, Observed: c.Observed, Error: c.Err}
		if c.Err == "" {
			fc.Like = c.Like()
		}
		fp.Cases = append(fp.Cases, fc)
	}
	took := time.Since(start).Round(10 * time.Millisecond)
	if fp.Agrees {
		fmt.Fprintf(out, "fingerprint (%s): the controller behaves like %s\n", took, strings.Join(res.Matching, " or "))
		return fp
	}
	fmt.Fprintf(out, "WARNING: the controller does not behave like --model %s (fingerprint, %s):\n", cfg.model, took)
	res.Print(indent{out})
	fmt.Fprintf(out, "WARNING: scenarios tagged @model-* were chosen for %s; their verdicts describe that release, not this controller\n", cfg.model)
	return fp
}

// indent writes every line two spaces in.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(i.w, "  "+l); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
