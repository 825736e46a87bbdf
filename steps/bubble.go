// Scenarios on virtual time: each scenario's broker, fault layer, journal
// and controller live in a testing/synctest bubble of their own and talk
// over an in-memory network, so every wait a feature writes (a keep-alive,
// a delay, a stall, "within 10 seconds") passes on the bubble's fake clock
// as soon as nothing else can happen, and the same way every time.
package steps

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// InBubbles sets opts up to run every scenario in its own synctest bubble
// under t, on virtual time. Use it from a test, with godog's TestingT or
// without:
//
//	opts := steps.InBubbles(t, steps.Options{FixtureDir: "fixtures"})
//	suite := godog.TestSuite{
//		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
//		Options: &godog.Options{Paths: []string{"features"}, Strict: true, TestingT: t},
//	}
//
// Scenarios may run concurrently (godog's Concurrency): each has its own
// bubble and clock. A scenario's brokers listen on opts.InMemory (a fresh
// memnet.Network unless set). Without NewController, the controller is the
// registered "sim" (import controller/sim) dialling that network; a
// NewController of one's own must dial it too
// (sim.Options{Dial: opts.InMemory.DialContext, Resolver: opts.InMemory}).
//
// What cannot run in a bubble: a controller on real sockets (lua's
// network functions and HTTP stub, remote's control channel, mosq's
// libmosquitto threads), and so the steps that start a driver, which are
// skipped with the reason. TimeScale should stay 1: time costs nothing here.
//
// A goroutine a scenario leaves blocked when it ends makes the scenario an
// error ("blocked goroutines remain"); t must outlive the suite's run.
func InBubbles(t *testing.T, opts Options) Options {
	if opts.InMemory == nil {
		opts.InMemory = memnet.New()
	}
	if opts.NewController == nil {
		n, model := opts.InMemory, opts.Model
		opts.NewController = func() (controller.Controller, error) {
			return controller.New("sim", controller.Options{Network: n, Model: model})
		}
	}
	opts.bubbles = t
	return opts
}

// bubble is one scenario's synctest bubble. godog calls the hooks and
// steps on its own goroutine, outside; each is handed to the goroutine
// that runs inside the bubble and waited for. Between two steps that
// goroutine waits on a channel from outside, which is not durable
// blocking: the clock stands still while godog moves on, and runs only
// while a step waits.
type bubble struct {
	calls chan func()
	ended chan struct{}
	err   error // what ended the bubble badly, set before ended closes
}

func startBubble(t *testing.T) *bubble {
	b := &bubble{calls: make(chan func()), ended: make(chan struct{})}
	go func() {
		defer close(b.ended)
		defer func() {
			// synctest panics when goroutines of the bubble are still
			// blocked once the scenario is over: a leak, or a wait that
			// can never end.
			if r := recover(); r != nil {
				b.err = fmt.Errorf("%w: the scenario's bubble: %v", ErrHarness, r)
			}
		}()
		synctest.Test(t, func(*testing.T) {
			for f := range b.calls {
				f()
			}
		})
	}()
	return b
}

// errBubbleEnded is a call made after the bubble ended.
var errBubbleEnded = errors.New("the scenario's bubble has ended")

// do runs f inside the bubble and waits for it. A panic in f is raised
// again on the caller's goroutine, where godog reports it as the step's.
func (b *bubble) do(f func()) error {
	res := make(chan any, 1)
	call := func() {
		defer func() { res <- recover() }()
		f()
	}
	select {
	case b.calls <- call:
	case <-b.ended:
		return b.endedErr()
	}
	select {
	case p := <-res:
		if p != nil {
			panic(p)
		}
		return nil
	case <-b.ended:
		// synctest found every goroutine of the bubble blocked for ever,
		// f's among them.
		return b.endedErr()
	}
}

// endedErr says why a bubble that has ended takes no more calls.
func (b *bubble) endedErr() error {
	if b.err != nil {
		return fmt.Errorf("%w: %w", errBubbleEnded, b.err)
	}
	return errBubbleEnded
}

// end lets the bubble finish once every goroutine of the scenario has;
// it reports a bubble that could not.
func (b *bubble) end() error {
	select {
	case <-b.ended:
		// Ended already, on a deadlock a step reported.
		return nil
	default:
	}
	close(b.calls)
	<-b.ended
	return b.err
}

// inBubble runs f in the scenario's bubble, or right here when the
// scenario has none.
func (w *World) inBubble(f func()) error {
	if w.bubble == nil {
		f()
		return nil
	}
	return w.bubble.do(f)
}
