// What a program tells the step library: the controller under test, the
// bench's addresses, the run's clock, and where records go.
package steps

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/memnet"
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

	// Model names the libmosquitto release the run models
	// (controller.Models); "" is controller.DefaultModel. A scenario
	// tagged for other models (@model-2.0.20) is skipped with the reason.
	Model string

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

	// InMemory, when set, is the network every scenario's broker listens
	// on instead of real sockets; the controllers must dial it
	// (controller.Options.Network, or sim.Options Dial and Resolver).
	// InBubbles sets it, and runs each scenario on virtual time.
	InMemory *memnet.Network
	// bubbles is the test whose synctest bubbles the scenarios run in
	// (InBubbles); nil runs them on the real clock.
	bubbles *testing.T

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

// listen is how brokers bind their listeners: on InMemory when set, else
// real sockets (nil).
func (o Options) listen() func(ctx context.Context, network, address string) (net.Listener, error) {
	if o.InMemory == nil {
		return nil
	}
	return o.InMemory.Listen
}
