// Package steps is the step library: the plain-words vocabulary that
// features are written in, bound to a controller under test and one broker
// emulator per scenario.
//
// Every step is defined once, in the catalog (Catalog), with a description
// and an example. Register binds them all to a godog scenario:
//
//	suite := godog.TestSuite{
//		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
//		Options:             &godog.Options{Paths: []string{"features"}, Strict: true},
//	}
package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/record"
)

type worldKey struct{}

// World is one scenario's state. Each concern keeps its own part: the
// scenario's clock (timing), its broker (brokerPart), its clients and what
// they were asked and answered (clientsPart, callLog), its driver
// (driverPart). What is left here is the scenario itself: its options, how
// it ends, and what it releases.
type World struct {
	opts    Options
	sc      *godog.Scenario
	name    string // the scenario's name as its file writes it
	started time.Time
	skip    string
	harness error // the harness or bench failure that stopped the scenario, if any

	timing
	brokerPart
	clientsPart
	callLog
	driverPart

	// bubble is the scenario's synctest bubble, when it runs on virtual
	// time (InBubbles): hooks and steps run inside it.
	bubble *bubble

	cleanup []func() // run when the scenario ends
	// endChecks are further end-of-scenario invariants (a driver's own
	// calls), run after checkInvariants.
	endChecks []func() error
	failed    *record.StepRef // the first step that did not pass
	step      *record.StepRef // the step running now
	// When the running step, the one before it and the last When step
	// began: valuesSince.
	stepAt0, prevStepAt, actionAt time.Time
	// ended is the record finish took, until endRecord hands it on.
	ended *record.Scenario
	// stepStatus is each step's status by its id, as godog reported it.
	stepStatus map[string]string
}

// endRecord hands the scenario's record to OnScenarioEnd once its
// bubble, if it had one, has ended. A bubble that could not end (a
// goroutine left blocked, a deadlock) makes the scenario an error: its
// verdict cannot be trusted, and the record must not say passed while
// the test fails.
func (w *World) endRecord(bubbleErr error) {
	r := w.ended
	if r == nil {
		return
	}
	w.ended = nil
	if bubbleErr != nil && r.Status != record.Skipped {
		msg := "the scenario's bubble: " + bubbleErr.Error()
		if r.Error != "" {
			msg = r.Error + "; " + msg
		}
		r.Status, r.Error = record.Error, msg
	}
	w.opts.OnScenarioEnd(r)
}

// valuesSince is when the values a check may count began: the start of
// the last When step (what the Then steps check is its effect), or before
// any When, of the step before the running one. A driver's property or
// variable that took the value since then passes "is ... within" even if
// it has changed again: a state held briefly (offline between two
// reconnects) is not missed by a check that looks a moment late.
func (w *World) valuesSince() time.Time {
	if !w.actionAt.IsZero() {
		return w.actionAt
	}
	return w.prevStepAt
}

// stepAt is where the running step is, as failure messages quote it.
func (w *World) stepAt() string {
	if w.step == nil {
		return "an unknown step"
	}
	return w.step.String()
}

// Register binds every step of the catalog and the scenario hooks to sc.
func Register(sc *godog.ScenarioContext, opts Options) {
	opts = opts.withDefaults()
	sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
		var b *bubble
		if opts.bubbles != nil {
			// The scenario's clock, its context and everything it
			// starts belong to its bubble, from the first step on.
			b = startBubble(opts.bubbles)
		}
		var w *World
		if err := runIn(b, func() { w = newWorld(opts, s) }); err != nil {
			return ctx, fmt.Errorf("%w: %v", ErrHarness, err)
		}
		w.bubble = b
		// An outline's rows share its name: each says its values, so that
		// every report tells them apart.
		if vals := exampleValues(s); vals != "" {
			s.Name = s.Name + " " + vals
		}
		ctx = context.WithValue(ctx, worldKey{}, w)
		if ctx.Err() != nil {
			// The run was interrupted (the run's context ended): scenarios
			// that have not started are not run.
			w.skip = "not run: the run was interrupted"
			return ctx, fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
		}
		var err error
		if berr := w.inBubble(func() { err = w.begin(s) }); berr != nil {
			return ctx, fmt.Errorf("%w: %v", ErrHarness, berr)
		}
		return ctx, err
	})
	sc.After(func(ctx context.Context, s *godog.Scenario, err error) (context.Context, error) {
		w, _ := ctx.Value(worldKey{}).(*World)
		if w == nil {
			return ctx, err
		}
		var ferr error
		berr := w.inBubble(func() { ferr = w.finish(err) })
		if berr != nil && w.ended == nil && w.opts.OnScenarioEnd != nil {
			// The bubble ended before finish could run in it: the
			// scenario still gets its record, an error saying why.
			w.ended = w.bareRecord(errors.Join(err, berr))
		}
		if w.bubble != nil {
			berr = errors.Join(berr, w.bubble.end())
		}
		w.endRecord(berr)
		return ctx, errors.Join(ferr, berr)
	})
	sc.StepContext().Before(func(ctx context.Context, st *godog.Step) (context.Context, error) {
		if w, _ := ctx.Value(worldKey{}).(*World); w != nil {
			w.step = w.stepRef(st, "")
			w.prevStepAt, w.stepAt0 = w.stepAt0, time.Now()
			if st.Type == messages.PickleStepType_ACTION {
				w.actionAt = w.stepAt0
			}
		}
		return ctx, nil
	})
	sc.StepContext().After(func(ctx context.Context, st *godog.Step, status godog.StepResultStatus, err error) (context.Context, error) {
		w, _ := ctx.Value(worldKey{}).(*World)
		if w == nil {
			return ctx, nil
		}
		w.stepStatus[st.Id] = status.String()
		if w.failed != nil || (status != godog.StepFailed && status != godog.StepUndefined && status != godog.StepAmbiguous) {
			return ctx, nil
		}
		w.failed = w.stepRef(st, status.String())
		return ctx, nil
	})
	for _, d := range registry {
		sc.Step(d.re(), d.godogHandler())
	}
}

// begin starts the scenario's controller and decides whether the scenario
// runs: its model and its tags' needs.
func (w *World) begin(s *godog.Scenario) error {
	opts := w.opts
	if opts.NewController == nil {
		return fmt.Errorf("%w: Options.NewController is not set", ErrHarness)
	}
	ctl, err := opts.NewController()
	if err != nil {
		w.harness = fmt.Errorf("%w: starting the controller: %v", ErrHarness, err)
		return w.harness
	}
	w.ctl, w.identity = ctl, ctl.Identity()
	if w.skip = modelSkip(opts.Model, s); w.skip != "" {
		return fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
	}
	for _, tag := range s.Tags {
		need := strings.TrimPrefix(tag.Name, "@")
		if need != NeedMQTT5 && need != NeedHardware && need != NeedSlow {
			continue
		}
		if !opts.Has(w.identity, need) {
			w.skip = fmt.Sprintf("needs %s, which the %s controller lacks", need, w.identity.Kind)
			return fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
		}
	}
	return nil
}

// runIn runs f in b, or right here when b is nil.
func runIn(b *bubble, f func()) error {
	if b == nil {
		f()
		return nil
	}
	return b.do(f)
}

// stepRef points at a step of the scenario in its feature file.
func (w *World) stepRef(st *godog.Step, status string) *record.StepRef {
	ref := &record.StepRef{File: FeatureFile(w.sc.Uri), Text: st.Text, Status: status}
	for i, s := range w.sc.Steps {
		if s.Id == st.Id {
			ref.Line = stepLine(w.sc, w.name, i)
		}
	}
	return ref
}

func newWorld(opts Options, s *godog.Scenario) *World {
	ctx, cancel := context.WithTimeout(context.Background(), opts.ScenarioTimeout)
	return &World{
		opts: opts, sc: s, name: s.Name, started: time.Now(), stepStatus: map[string]string{},
		timing:      timing{ctx: ctx, cancel: cancel, scale: opts.TimeScale, deadline: opts.Deadline, minWait: opts.MinWait},
		brokerPart:  brokerPart{bopts: emulator.Options{Seed: opts.Seed, DUTAddr: opts.DUTListen, AllowAnonymous: opts.DUTListen != "", Listen: opts.listen()}},
		clientsPart: clientsPart{clients: map[string]*client{}},
	}
}

// finish checks the invariants, hands the records over and releases
// everything. It returns only what the steps did not already report: a
// broken invariant, or where an undefined step is.
func (w *World) finish(stepErr error) error {
	var err error
	if w.skip == "" && stepErr == nil {
		err = w.checkInvariants()
		for _, check := range w.endChecks {
			err = errors.Join(err, check())
		}
	}
	w.countFired()
	if w.skip == "" && stepErr == nil && err == nil {
		err = w.unfired()
	}
	if bc, ok := w.ctl.(controller.BenchChecker); ok && w.harness == nil {
		if cerr := bc.BenchErr(); cerr != nil {
			// The record of the calls and callbacks is incomplete: the
			// bench broke, whatever the steps concluded.
			w.harness = fmt.Errorf("%w: %v", ErrHarness, cerr)
			err = errors.Join(err, w.harness)
		}
	}
	if stepErr != nil && w.failed != nil && errors.Is(stepErr, godog.ErrUndefined) {
		err = fmt.Errorf("undefined step at %s", w.failed)
		if d := closest(w.failed.Text); d != nil {
			err = fmt.Errorf("%w; the closest known step is: %s", err, d.Pattern)
		}
	}
	if w.opts.OnScenarioEnd != nil {
		rerr := err
		if stepErr != nil {
			rerr = stepErr
			if err != nil {
				rerr = fmt.Errorf("%v; %v", err, stepErr)
			}
		}
		// Taken and handed on while the broker and clients are still
		// there (a caller may wait for the broker to journal a client's
		// last packet). In a bubble it waits until the bubble has ended
		// (endRecord): a bubble that cannot end changes the verdict.
		if r := w.record(rerr); w.bubble == nil {
			w.opts.OnScenarioEnd(r)
		} else {
			w.ended = r
		}
	}
	for _, cl := range w.order {
		if !cl.destroyed {
			cl.c.Destroy()
		}
	}
	if w.observer != nil {
		w.observer.c.Destroy()
	}
	if w.ctl != nil {
		w.ctl.Close()
	}
	if w.obsCtl != nil {
		w.obsCtl.Close()
	}
	if w.b != nil {
		w.b.Close()
	}
	for _, f := range w.cleanup {
		f()
	}
	w.cancel()
	return err
}

func (w *World) record(err error) *record.Scenario {
	r := w.bareRecord(err)
	r.Calls = w.callLog.snapshot()
	for _, cl := range w.order {
		r.Events = append(r.Events, cl.rec.Events()...)
		if r.Clients == nil {
			r.Clients = map[string]string{}
		}
		r.Clients[cl.name] = cl.id
	}
	if w.observer != nil {
		r.Observer = w.observer.rec.Events()
	}
	slices.SortStableFunc(r.Events, func(a, b controller.Event) int { return a.At.Compare(b.At) })
	if w.b != nil {
		r.Journal = w.b.Journal
	}
	for _, a := range w.armed {
		r.Faults = append(r.Faults, a.FaultRule)
	}
	return r
}

// bareRecord is the scenario's record without what its controller, clients
// and broker recorded: all that can be had of a scenario whose bubble
// ended in a deadlock, where those parts stay blocked for ever.
func (w *World) bareRecord(err error) *record.Scenario {
	r := &record.Scenario{
		Name: w.sc.Name, URI: FeatureFile(w.sc.Uri), Seed: w.opts.Seed, Identity: w.identity,
		Started: w.started, Ended: time.Now(), Status: record.Passed,
	}
	for _, t := range w.sc.Tags {
		r.Tags = append(r.Tags, t.Name)
	}
	for i, st := range w.sc.Steps {
		status, ok := w.stepStatus[st.Id]
		if !ok {
			status = "skipped"
		}
		r.Steps = append(r.Steps, record.StepRef{File: FeatureFile(w.sc.Uri), Line: stepLine(w.sc, w.name, i), Text: st.Text, Status: status})
	}
	switch {
	case w.skip != "":
		r.Status, r.Skipped = record.Skipped, w.skip
	case err != nil:
		r.Status, r.Error = record.Failed, err.Error()
		if w.failed != nil {
			f := *w.failed
			r.FailedStep = &f
			r.Error = f.String() + ": " + r.Error
		}
		switch {
		case w.harness != nil || errors.Is(err, ErrHarness):
			r.Status = record.Error
		case errors.Is(w.ctx.Err(), context.DeadlineExceeded):
			r.Status = record.TimedOut
			r.Error = fmt.Sprintf("the scenario ran past its limit of %s: %s", w.opts.ScenarioTimeout, r.Error)
		}
	}
	return r
}

// FeatureFile is the file of a feature path, which may name scenarios by
// line (features/x.feature:12); godog keeps the suffix in a scenario's
// URI, records and messages must not: a scenario is the same one however
// the run was asked for.
func FeatureFile(p string) string {
	if i := strings.LastIndexByte(p, ':'); i > 0 {
		if _, err := strconv.Atoi(p[i+1:]); err == nil {
			return p[:i]
		}
	}
	return p
}

// fixture is a file under the fixture directory.
func (w *World) fixture(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	if rest, ok := strings.CutPrefix(name, "broker-tls/"); ok && w.tlsDir != "" {
		return filepath.Join(w.tlsDir, rest)
	}
	return filepath.Join(w.opts.FixtureDir, name)
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}
