package sim_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// wrapRun is how TestMsgIDWraps takes the 16-bit id round. By default the
// client first hands out ids 1 to 65435 without a connection (QoS 0
// publishes refused with 4, which use up an id each, as libmosquitto's
// do), so that its QoS 1 publishes on the wire start 100 short of the
// wrap: ids 65436 to 65535, then 1 to 65535, then 1 to 100. That is two
// wraps, every id on the wire, and the ids at both ends of the range,
// 65535 included, handed out again after they were answered, in 65,735
// publishes on the wire rather than 131,170. MQTTHIL_WRAPS=N runs N whole
// wraps on the wire from id 1 (three is the 200,000 publishes this test
// once made every time, two every id twice).
func wrapRun(t *testing.T) (skip, n int) {
	t.Helper()
	v := os.Getenv("MQTTHIL_WRAPS")
	if v == "" {
		return 65535 - 100, 100 + 65535 + 100
	}
	w, err := strconv.Atoi(v)
	if err != nil || w < 1 || w > 100 {
		t.Fatalf("MQTTHIL_WRAPS=%q: want a number of wraps from 1 to 100", v)
	}
	// Every wrap hands out ids 1 to 65535; the last 100 publishes go past
	// the last wrap.
	return 0, w*65535 + 100
}

// TestMsgIDWraps: QoS 1 publishes across wraps of the 16-bit id, at most
// 100 in flight: every id Publish returned gets exactly one onPublish, in
// order, and the wire never carries more than 100 unanswered. The broker
// and the client talk over an in-memory network in a bubble: the ids are
// the point, not the sockets, and the bubble spares the hundreds of
// thousands of system calls a loopback socket costs.
func TestMsgIDWraps(t *testing.T) {
	skip, n := wrapRun(t)
	synctest.Test(t, func(t *testing.T) { msgIDWraps(t, skip, n) })
}

// msgIDWraps hands out skip ids without a connection, then makes n QoS 1
// publishes.
func msgIDWraps(t *testing.T, skip, n int) {
	net := memnet.New()
	b := emulator.StartTest(t, emulator.Options{JournalCap: 2*n + 100, Listen: net.Listen})
	ctl := sim.New(sim.Options{Dial: net.DialContext, Resolver: net})
	closeAtEnd(t, ctl)
	c, err := ctl.NewSimClient("wraps", true)
	if err != nil {
		t.Fatal(err)
	}
	// On the bubble's clock: a hang ends the test at this deadline at once.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if r := c.SetMaxInflightMessages(100); r.Code != 0 {
		t.Fatal(r)
	}
	for i := range skip {
		if r := c.Publish("w", []byte("p"), 0, false, nil); r.Code != controller.ErrNoConn {
			t.Fatalf("QoS 0 publish %d without a connection: %+v, want %d", i+1, r, controller.ErrNoConn)
		}
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
	prev, wrapped := skip, 0
	for i := 0; i < n; i++ {
		r := c.Publish("w", []byte("p"), 1, false, nil)
		if r.Code != 0 {
			t.Fatalf("publish %d: %+v", i, r)
		}
		want := prev%65535 + 1
		if r.MsgID != want {
			t.Fatalf("publish %d: msgId %d, want %d", i, r.MsgID, want)
		}
		if r.MsgID < prev {
			wrapped++
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
	if want := (skip + n - 1) / 65535; wrapped != want {
		t.Errorf("the id wrapped %d times in %d publishes, want %d", wrapped, n, want)
	}
	// Scanned, not copied: the journal holds two records a publish.
	o := newOutstanding("PUBACK")
	b.Journal.Scan(journal.Filter{Kind: journal.KindPacket}, 0, func(r journal.Record) bool { o.add(r); return true })
	if o.peak > 100 {
		t.Fatalf("%d in flight at most on the wire, want no more than 100", o.peak)
	}
	if s := b.Journal.Stats(); s.Lost != 0 {
		t.Fatalf("journal lost %d records", s.Lost)
	}
	t.Logf("%d publishes after %d ids handed out without a connection, %d wraps, at most %d in flight", n, skip, wrapped, o.peak)
}
