package bench

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// Publish keeps every msgId's onPublish in order across a wrap of the
// 16-bit id: 70,000 publishes through the emulator as the bench starts it
// (idle rules, journal on). The broker and the controller talk over an
// in-memory network in a bubble, which spares the test 140,000 round
// trips through the kernel; on the bubble's clock no time passes, so the
// rate and the latencies are checked on real sockets, by
// TestPublishMeasures.
func TestPublishCorrelatesAcrossWraps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		n := memnet.New()
		e, err := emulator.Start(ctx, emulator.Options{Rules: IdleRules(), JournalCap: JournalCap, Listen: n.Listen})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := e.Close(); err != nil {
				t.Error(err)
			}
		}()
		ctl := sim.New(sim.Options{Dial: n.DialContext, Resolver: n})
		defer ctl.Close()
		c, err := Publish(ctx, ctl, e.DUTAddr, 1, 16, 70000, 100)
		if err != nil {
			t.Fatal(err)
		}
		if c.Publishes != 70000 || c.Wraps != 1 || c.Mismatches != 0 {
			t.Fatalf("correlation %+v", c)
		}
	})
}

// Publish on real sockets measures: a rate, and latencies from Publish to
// onPublish.
func TestPublishMeasures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := StartEmulator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctl := sim.New()
	defer ctl.Close()
	c, err := Publish(ctx, ctl, b.Addr, 1, 16, 2000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if c.Publishes != 2000 || c.Wraps != 0 || c.Mismatches != 0 || c.Rate <= 0 || c.P50 <= 0 || c.P99 < c.P50 {
		t.Fatalf("correlation %+v", c)
	}
}

func TestScale(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := StartEmulator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := Scale(ctx, func() controller.Controller { return sim.New() }, b.Addr, 20, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Controllers != 20 || r.Publishes < 100 || r.Answered != r.Publishes || r.RSSBytes <= 0 || r.P99 <= 0 {
		t.Fatalf("scale %+v", r)
	}
}
