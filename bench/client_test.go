package bench

import (
	"context"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

func TestPublishCorrelatesAcrossWraps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := StartEmulator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctl := sim.New()
	defer ctl.Close()
	c, err := Publish(ctx, ctl, b.Addr, 1, 16, 70000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if c.Publishes != 70000 || c.Wraps != 1 || c.Mismatches != 0 || c.Rate <= 0 {
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
