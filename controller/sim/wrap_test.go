package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// TestMsgIDWraps: 200,000 QoS 1 publishes, three wraps of the 16-bit id,
// at most 100 in flight: every id Publish returned gets exactly one
// onPublish, in order.
func TestMsgIDWraps(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 70000
	}
	b := emulator.StartTest(t, emulator.Options{JournalCap: 2*n + 100})
	ctl := sim.New()
	closeAtEnd(t, ctl)
	c, err := ctl.NewSimClient("wraps", true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if r := c.SetMaxInflightMessages(100); r.Code != 0 {
		t.Fatal(r)
	}
	x := &h{t: t, b: b, c: c}
	host, port := x.hostPort()
	if r := c.Connect(host, port, 60, nil); r.Code != 0 {
		t.Fatal(r)
	}
	expect := make(chan int, 1000)
	result := make(chan error, 1)
	go func() {
		got := 0
		for ev := range c.Events() {
			switch ev.Kind {
			case controller.OnPublish:
				want := <-expect
				if ev.MsgID != want || ev.Reason != 0 {
					result <- errorf("onPublish #%d: msgId %d reason %d, want msgId %d", got+1, ev.MsgID, ev.Reason, want)
					return
				}
				got++
				if got == n {
					result <- nil
					return
				}
			case controller.OnDisconnect:
				result <- errorf("onDisconnect %d after %d onPublish", ev.Reason, got)
				return
			}
		}
		result <- errorf("events closed after %d", got)
	}()
	prev := 0
	for i := 0; i < n; i++ {
		r := c.Publish("w", []byte("p"), 1, false, nil)
		if r.Code != 0 {
			t.Fatalf("publish %d: %+v", i, r)
		}
		want := prev%65535 + 1
		if r.MsgID != want {
			t.Fatalf("publish %d: msgId %d, want %d", i, r.MsgID, want)
		}
		prev = r.MsgID
		select {
		case expect <- r.MsgID:
		case err := <-result:
			t.Fatalf("after %d publishes: %v", i, err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if p := maxOutstanding(b.Journal.Records(journal.Filter{Kind: journal.KindPacket}), "PUBACK"); p > 100 {
		t.Fatalf("%d in flight at most on the wire, want no more than 100", p)
	}
	if s := b.Journal.Stats(); s.Lost != 0 {
		t.Fatalf("journal lost %d records", s.Lost)
	}
}
