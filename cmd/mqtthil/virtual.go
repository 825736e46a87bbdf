// Runs on virtual time, for the tests only: a synctest bubble needs the
// *testing.T of a running test, which a command-line run does not have
// (docs/virtual-time.md says why `mqtthil run` keeps the real clock).
package main

import (
	"context"
	"testing"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/memnet"
	"github.com/mqtthil/mqtthil/steps"
)

// onVirtualTime puts every scenario of the run in a bubble of its own
// under cfg.virtual, brokers and controllers on one in-memory network,
// when a test asked for it; otherwise opts are returned as they are.
func (cfg runConfig) onVirtualTime(opts steps.Options) steps.Options {
	if cfg.virtual == nil {
		return opts
	}
	n := memnet.New()
	opts.InMemory = n
	opts.TimeScale = 1 // time costs nothing in a bubble
	opts.NewController = func() (controller.Controller, error) {
		return controller.New(cfg.controller, controller.Options{Model: cfg.model, Network: n})
	}
	opts.ObserverController = nil
	return steps.InBubbles(cfg.virtual, opts)
}

// virtualRunKey is the context key under which a test hands its
// *testing.T to `mqtthil run` as dispatch starts it, so that a test of the
// command line runs its scenarios on virtual time (sim and lua only).
type virtualRunKey struct{}

// withVirtualRun is ctx for a run whose scenarios go in bubbles under t.
func withVirtualRun(ctx context.Context, t *testing.T) context.Context {
	return context.WithValue(ctx, virtualRunKey{}, t)
}

// virtualRunOf is the test a run's context names, or nil.
func virtualRunOf(ctx context.Context) *testing.T {
	t, _ := ctx.Value(virtualRunKey{}).(*testing.T)
	return t
}
