package bench

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// Publish keeps every msgId's onPublish in order across a wrap of the
// 16-bit id: 1,000 publishes through the emulator as the bench starts it
// (idle rules, journal on), from a client that starts 100 ids short of
// the wrap (nearWrap). The broker and the controller talk over an
// in-memory network in a bubble; on the bubble's clock no time passes, so
// the rate and the latencies are checked on real sockets, by
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
		c, err := Publish(ctx, nearWrap{Controller: ctl, skip: 65535 - 100}, e.DUTAddr, 1, 16, 1000, 100)
		if err != nil {
			t.Fatal(err)
		}
		if c.Publishes != 1000 || c.Wraps != 1 || c.Mismatches != 0 {
			t.Fatalf("correlation %+v", c)
		}
	})
}

// nearWrap's clients hand out their first skip msgIds before Publish
// connects them: a QoS 0 publish without a connection is refused with 4
// and uses up an id, as libmosquitto's does. Publish's own publishes then
// cross the wrap of the id without 65,000 round trips before it (the
// test's one wrap in 1,000 publishes shows that they did).
type nearWrap struct {
	controller.Controller
	skip int
}

func (w nearWrap) NewClient(id string, clean bool) (controller.Client, error) {
	c, err := w.Controller.NewClient(id, clean)
	if err != nil {
		return nil, err
	}
	for i := range w.skip {
		if r := c.Publish("bench/skip", nil, 0, false, nil); r.Code != controller.ErrNoConn {
			c.Destroy()
			return nil, fmt.Errorf("QoS 0 publish %d without a connection: %+v, want %d", i+1, r, controller.ErrNoConn)
		}
	}
	return c, nil
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
	// A second of publishing at a set rate, mostly waiting: beside the
	// load test. What it checks has no upper bound another test could
	// push it past.
	t.Parallel()
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
