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
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/record"
)

// Options bind the steps to a controller under test.
type Options struct {
	// NewController makes the controller for one scenario. Required.
	// It is closed when the scenario ends.
	NewController func() (controller.Controller, error)

	// Has reports whether the controller can run scenarios tagged with a
	// need (@mqtt5, @hardware, @slow). nil uses DefaultHas.
	Has func(id controller.Identity, need string) bool

	// Seed for the broker's fault rules; 0 means 1.
	Seed int64

	// DUTListen is where each scenario's broker binds its device-under-test
	// listener; empty means a free loopback port. A controller elsewhere on
	// the bench needs an address it can reach, such as 0.0.0.0:0 (the
	// listener then admits clients without credentials unless a scenario
	// sets some).
	DUTListen string
	// DUTHost is the host the controller's clients are told to connect to;
	// empty means the listener's own address.
	DUTHost string

	// TimeScale multiplies every time written in a feature (fault delays,
	// stalls, downtimes, "within", "for"). The controller's keep-alive
	// second must be scaled alike (sim.Options.KeepAliveUnit). 0 means 1.
	TimeScale float64

	// Deadline bounds every wait that a step does not bound itself, and is
	// the least a "within" wait lasts, so that a loaded machine does not
	// fail a scenario that is merely slow. 0 means 5 seconds.
	Deadline time.Duration
	// MinWait is the least a "within T" wait for something to happen lasts
	// after scaling. 0 means 1 second.
	MinWait time.Duration

	// FixtureDir is where payload files and fault plans are looked up.
	// Default "fixtures".
	FixtureDir string

	// ObserverController makes the controller of the observer clients that
	// subscribe on the broker's control listener. nil uses NewController.
	ObserverController func() (controller.Controller, error)

	// ScenarioTimeout bounds a whole scenario; a scenario still running
	// then ends as timed out. 0 means 2 minutes.
	ScenarioTimeout time.Duration

	// DriverRuntime names the registered driver runtime
	// (controller.RegisterDriver) that "the driver ... is running" loads
	// drivers into. Empty means "lua"; the program must import the
	// runtime's package for it to be registered.
	DriverRuntime string

	// OnScenarioEnd receives each scenario's records once it has ended,
	// before the broker and controller are released.
	OnScenarioEnd func(*record.Scenario)
}

// Needs that scenario tags name.
const (
	NeedMQTT5    = "mqtt5"
	NeedHardware = "hardware"
	NeedSlow     = "slow"
)

// DefaultHas says what each kind of controller can do: every kind speaks
// MQTT 5; only a real controller (remote) is hardware; slow scenarios run
// on hardware only.
func DefaultHas(id controller.Identity, need string) bool {
	switch need {
	case NeedMQTT5:
		return true
	case NeedHardware, NeedSlow:
		return id.Kind == "remote"
	}
	return true
}

func (o Options) withDefaults() Options {
	if o.Has == nil {
		o.Has = DefaultHas
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	if o.Deadline <= 0 {
		o.Deadline = 5 * time.Second
	}
	if o.MinWait <= 0 {
		o.MinWait = time.Second
	}
	if o.FixtureDir == "" {
		o.FixtureDir = "fixtures"
	}
	if o.ScenarioTimeout <= 0 {
		o.ScenarioTimeout = 2 * time.Minute
	}
	if o.DriverRuntime == "" {
		o.DriverRuntime = "lua"
	}
	if o.ObserverController == nil {
		o.ObserverController = o.NewController
	}
	return o
}

// ErrHarness marks a failure of the harness or the bench (the controller
// or the broker would not start), not of the controller under test. Such a
// scenario ends as "error".
var ErrHarness = errors.New("harness problem")

type worldKey struct{}

// World is one scenario's state: its broker, its clients, what they were
// asked and what they answered.
type World struct {
	opts     Options
	ctx      context.Context
	cancel   context.CancelFunc
	sc       *godog.Scenario
	started  time.Time
	skip     string
	harness  error // the harness or bench failure that stopped the scenario, if any
	ctl      controller.Controller
	identity controller.Identity

	bopts   emulator.Options
	b       *emulator.Broker
	rules   int
	clients map[string]*client
	order   []*client

	mu    sync.Mutex
	calls []record.Call
	last  *record.Call

	msgs  []*message
	burst []*message
	subs  []*subscription

	observer *client
	obsCtl   controller.Controller
	tlsDir   string   // the scenario's throw-away CA and certificates, when the broker speaks TLS
	cleanup  []func() // run when the scenario ends
	// endChecks are further end-of-scenario invariants (a driver's own
	// calls), run after checkInvariants.
	endChecks []func() error
	failed    *record.StepRef // the first step that did not pass
	driver    *driverRun      // the scenario's driver, once a step starts one
}

// client is a named controller client object.
type client struct {
	name      string
	id        string
	c         controller.Client
	rec       *controller.Recorder
	version   int // 3, 311 or 5 once forced; 0 = default 3.1.1
	keepalive int
	clean     bool

	connSeen, discSeen int // onConnect / onDisconnect events already claimed by steps
	destroyed          bool
	idCalls            []int // msgIds returned, in call order (Publish, Subscribe, Unsubscribe)
}

// message is one Publish call.
type message struct {
	n       int // 1-based within the scenario
	cl      *client
	topic   string
	payload []byte
	qos     int
	retain  bool
	props   controller.Props
	ret     controller.Ret
	at      time.Time
	lost    string // why the scenario allows no onPublish
	size    int
	hash    journal.Hash
}

type subscription struct {
	cl    *client
	topic string
	ret   controller.Ret
	unsub bool
}

// Register binds every step of the catalog and the scenario hooks to sc.
func Register(sc *godog.ScenarioContext, opts Options) {
	opts = opts.withDefaults()
	sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
		w := newWorld(opts, s)
		ctx = context.WithValue(ctx, worldKey{}, w)
		if ctx.Err() != nil {
			// The run was interrupted (the run's context ended): scenarios
			// that have not started are not run.
			w.skip = "not run: the run was interrupted"
			return ctx, fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
		}
		if opts.NewController == nil {
			return ctx, fmt.Errorf("%w: Options.NewController is not set", ErrHarness)
		}
		ctl, err := opts.NewController()
		if err != nil {
			w.harness = fmt.Errorf("%w: starting the controller: %v", ErrHarness, err)
			return ctx, w.harness
		}
		w.ctl, w.identity = ctl, ctl.Identity()
		for _, tag := range s.Tags {
			need := strings.TrimPrefix(tag.Name, "@")
			if need != NeedMQTT5 && need != NeedHardware && need != NeedSlow {
				continue
			}
			if !opts.Has(w.identity, need) {
				w.skip = fmt.Sprintf("needs %s, which the %s controller lacks", need, w.identity.Kind)
				return ctx, fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
			}
		}
		return ctx, nil
	})
	sc.After(func(ctx context.Context, s *godog.Scenario, err error) (context.Context, error) {
		w, _ := ctx.Value(worldKey{}).(*World)
		if w == nil {
			return ctx, err
		}
		return ctx, w.finish(err)
	})
	sc.StepContext().After(func(ctx context.Context, st *godog.Step, status godog.StepResultStatus, err error) (context.Context, error) {
		w, _ := ctx.Value(worldKey{}).(*World)
		if w == nil || w.failed != nil || (status != godog.StepFailed && status != godog.StepUndefined && status != godog.StepAmbiguous) {
			return ctx, nil
		}
		w.failed = &record.StepRef{File: w.sc.Uri, Text: st.Text, Status: status.String()}
		for i, s := range w.sc.Steps {
			if s.Id == st.Id {
				w.failed.Line = stepLine(w.sc, i)
			}
		}
		return ctx, nil
	})
	for _, d := range registry {
		sc.Step(d.re, d.godogHandler())
	}
}

func newWorld(opts Options, s *godog.Scenario) *World {
	ctx, cancel := context.WithTimeout(context.Background(), opts.ScenarioTimeout)
	return &World{
		opts: opts, ctx: ctx, cancel: cancel, sc: s, started: time.Now(),
		bopts:   emulator.Options{Seed: opts.Seed, DUTAddr: opts.DUTListen, AllowAnonymous: opts.DUTListen != ""},
		clients: map[string]*client{},
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
		w.opts.OnScenarioEnd(w.record(rerr))
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
	r := &record.Scenario{
		Name: w.sc.Name, URI: w.sc.Uri, Seed: w.opts.Seed, Identity: w.identity,
		Started: w.started, Ended: time.Now(), Status: record.Passed,
	}
	for _, t := range w.sc.Tags {
		r.Tags = append(r.Tags, t.Name)
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
	w.mu.Lock()
	r.Calls = slices.Clone(w.calls)
	w.mu.Unlock()
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
	return r
}

// scaled is a time written in a feature, on this run's clock.
func (w *World) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * w.opts.TimeScale)
}

// within is how long to wait for something that should happen within d.
func (w *World) within(d time.Duration) time.Duration {
	return max(w.scaled(d), w.opts.MinWait)
}

// waitCtx bounds one wait; d 0 means the default deadline.
func (w *World) waitCtx(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = w.opts.Deadline
	}
	return context.WithTimeout(w.ctx, d)
}

// broker starts the scenario's broker on first use.
func (w *World) broker() (*emulator.Broker, error) {
	if w.b != nil {
		return w.b, nil
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	b, err := emulator.Start(ctx, w.bopts)
	if err != nil {
		w.harness = fmt.Errorf("%w: starting the broker: %v", ErrHarness, err)
		return nil, w.harness
	}
	w.b = b
	return b, nil
}

// brokerNotStarted refuses settings that only apply before the broker runs.
func (w *World) brokerNotStarted(what string) error {
	if w.b != nil {
		return fmt.Errorf("%s must be set before any client connects or any fault is armed", what)
	}
	return nil
}

func (w *World) dutHostPort() (string, int, error) {
	b, err := w.broker()
	if err != nil {
		return "", 0, err
	}
	host, p, err := net.SplitHostPort(b.DUTAddr)
	if err != nil {
		return "", 0, err
	}
	if w.opts.DUTHost != "" {
		host = w.opts.DUTHost
	}
	port, _ := strconv.Atoi(p)
	return host, port, nil
}

// client returns a named client; it must exist.
func (w *World) client(name string) (*client, error) {
	cl, ok := w.clients[name]
	if !ok {
		known := make([]string, 0, len(w.order))
		for _, c := range w.order {
			known = append(known, strconv.Quote(c.name))
		}
		if len(known) == 0 {
			return nil, fmt.Errorf("there is no client %q: create it first, with a step like `a client %q`", name, name)
		}
		return nil, fmt.Errorf("there is no client %q: the clients are %s", name, strings.Join(known, ", "))
	}
	return cl, nil
}

// clientID is the MQTT client id a name stands for in a fault rule.
func (w *World) clientID(name string) string {
	if cl, ok := w.clients[name]; ok {
		return cl.id
	}
	return name
}

// note records a call and makes it "the call".
func (w *World) note(cl *client, call, args string, r controller.Ret) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, record.Call{At: time.Now(), Client: cl.name, Call: call, Args: args, Ret: r})
	w.last = &w.calls[len(w.calls)-1]
	if r.Code == 0 && r.MsgID != 0 {
		cl.idCalls = append(cl.idCalls, r.MsgID)
	}
}

func (w *World) lastCall() (*record.Call, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return nil, errors.New("no call has been made yet in this scenario")
	}
	c := *w.last
	return &c, nil
}

// thatMessage is the message most recently published.
func (w *World) thatMessage() (*message, error) {
	if len(w.msgs) == 0 {
		return nil, errors.New("no message has been published yet in this scenario")
	}
	return w.msgs[len(w.msgs)-1], nil
}

// messageN is the nth message of the scenario, 1-based.
func (w *World) messageN(n int) (*message, error) {
	if n < 1 || n > len(w.msgs) {
		return nil, fmt.Errorf("there is no message %d: %d messages were published so far", n, len(w.msgs))
	}
	return w.msgs[n-1], nil
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

func (m *message) String() string {
	s := fmt.Sprintf("message %d (%q on %q, QoS %d", m.n, abbreviate(m.payload), m.topic, m.qos)
	if m.ret.MsgID != 0 {
		s += fmt.Sprintf(", id %d", m.ret.MsgID)
	}
	return s + ")"
}

func abbreviate(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%s… %d bytes", b[:16], len(b))
	}
	return string(b)
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}
