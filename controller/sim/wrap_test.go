package sim_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// wrapSegment is one connection of TestMsgIDWraps: skip ids handed out
// without a connection (QoS 0 publishes refused with 4, which use up an
// id each, as libmosquitto's do), then n QoS 1 publishes on the wire.
type wrapSegment struct{ skip, n int }

// wrapRun is how TestMsgIDWraps takes the 16-bit id round. By default it
// is two connections, each starting 100 ids short of the wrap: ids 1 to
// 65435 handed out without a connection, then 65436 to 65535 and 1 to
// 100 on the wire; disconnected, ids 101 to 65435 without a connection,
// and on the wire again 65436 to 65535 and 1 to 100. That is two wraps of
// the id, each taken with 100 messages in flight, and the ids at both
// ends of the range, 65535 included, handed out again after they were
// answered, in 400 publishes on the wire. The ids between the ends do
// nothing on the wire that the ones around the wrap do not, and each one
// handed out is counted: the first id on the wire after a run of refused
// publishes must be the one after them all. MQTTHIL_WRAPS=N runs N whole
// wraps on the wire from id 1 on one connection (two puts every id on
// the wire twice, three is the 200,000 publishes this test once made
// every time).
func wrapRun(t *testing.T) []wrapSegment {
	t.Helper()
	v := os.Getenv("MQTTHIL_WRAPS")
	if v == "" {
		return []wrapSegment{{65535 - 100, 200}, {65535 - 200, 200}}
	}
	w, err := strconv.Atoi(v)
	if err != nil || w < 1 || w > 100 {
		t.Fatalf("MQTTHIL_WRAPS=%q: want a number of wraps from 1 to 100", v)
	}
	// Every wrap hands out ids 1 to 65535; the last 100 publishes go past
	// the last wrap.
	return []wrapSegment{{0, w*65535 + 100}}
}

// TestMsgIDWraps: QoS 1 publishes across wraps of the 16-bit id, at most
// 100 in flight: every id Publish returned gets exactly one onPublish, in
// order, and the wire never carries more than 100 unanswered. The broker
// and the client talk over an in-memory network in a bubble: the ids are
// the point, not the sockets, and the bubble spares the system calls a
// loopback socket costs.
func TestMsgIDWraps(t *testing.T) {
	segments := wrapRun(t)
	synctest.Test(t, func(t *testing.T) { msgIDWraps(t, segments) })
}

// msgIDWraps runs the segments on one client, one connection each.
func msgIDWraps(t *testing.T, segments []wrapSegment) {
	total := 0
	for _, sg := range segments {
		total += sg.n
	}
	net := memnet.New()
	// Every PUBACK is held back a moment (of the bubble's clock, which
	// stands still until every goroutine waits): the client fills its
	// window of 100 before the first answer comes, so a client that let
	// more through would show it on the wire. The journal holds a
	// publish, its PUBACK and the delay's record of it.
	hold := faults.Rule{Name: "hold-acks", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{packets.Puback}},
		Action: faults.Delay{Duration: 10 * time.Millisecond}}
	b := emulator.StartTest(t, emulator.Options{JournalCap: 3*total + 100*len(segments), Listen: net.Listen, Rules: []faults.Rule{hold}})
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
	x := &h{t: t, b: b, c: c}
	host, port := x.hostPort()
	// One reader of the client's events for the whole test: each
	// onPublish must answer the id the test expects next, and the test
	// hears of each onConnect and onDisconnect.
	expect := make(chan int, 1000)
	result, links := make(chan error, 1), make(chan controller.Event, 1)
	var upTo atomic.Int64 // the publishes of the connections so far
	caughtUp := make(chan struct{}, 1)
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
				if int64(got) == upTo.Load() {
					caughtUp <- struct{}{}
				}
				if got == total {
					result <- nil
				}
			case controller.OnConnect, controller.OnDisconnect:
				links <- ev
			}
		}
	}()
	await := func(kind controller.EventKind, what string) {
		t.Helper()
		select {
		case ev := <-links:
			if ev.Kind != kind || ev.Reason != 0 {
				t.Fatalf("%s: got %+v", what, ev)
			}
		case err := <-result:
			t.Fatalf("%s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		}
	}
	prev, wrapped, sent := 0, 0, 0 // prev: the last id handed out
	for k, sg := range segments {
		if k > 0 {
			if r := c.Disconnect(nil); r.Code != 0 {
				t.Fatal(r)
			}
			await(controller.OnDisconnect, "disconnect")
		}
		for i := range sg.skip {
			if r := c.Publish("w", []byte("p"), 0, false, nil); r.Code != controller.ErrNoConn {
				t.Fatalf("QoS 0 publish %d without a connection: %+v, want %d", i+1, r, controller.ErrNoConn)
			}
		}
		if sg.skip > 0 {
			if prev+sg.skip > 65535 {
				wrapped++
			}
			prev = (prev+sg.skip-1)%65535 + 1
		}
		if r := c.Connect(host, port, 60, nil); r.Code != 0 {
			t.Fatal(r)
		}
		await(controller.OnConnect, "connect")
		upTo.Add(int64(sg.n))
		for range sg.n {
			r := c.Publish("w", []byte("p"), 1, false, nil)
			if r.Code != 0 {
				t.Fatalf("publish %d: %+v", sent, r)
			}
			want := prev%65535 + 1
			if r.MsgID != want {
				t.Fatalf("publish %d: msgId %d, want %d", sent, r.MsgID, want)
			}
			if r.MsgID < prev {
				wrapped++
			}
			prev = r.MsgID
			sent++
			select {
			case expect <- r.MsgID:
			case err := <-result:
				t.Fatalf("after %d publishes: %v", sent, err)
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		// Every message of this connection answered before the next.
		select {
		case <-caughtUp:
		case err := <-result:
			t.Fatalf("connection %d: %v", k+1, err)
		case <-ctx.Done():
			t.Fatalf("connection %d: %d of its publishes unanswered: %v", k+1, len(expect), ctx.Err())
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
	handed := 0
	for _, sg := range segments {
		handed += sg.skip + sg.n
	}
	if want := (handed - 1) / 65535; wrapped != want {
		t.Errorf("the id wrapped %d times in %d ids handed out, want %d", wrapped, handed, want)
	}
	// Scanned, not copied: the journal holds two records a publish.
	o := newOutstanding("PUBACK")
	b.Journal.Scan(journal.Filter{Kind: journal.KindPacket}, 0, func(r journal.Record) bool { o.add(r); return true })
	if o.peak > 100 {
		t.Fatalf("%d in flight at most on the wire, want no more than 100", o.peak)
	}
	if o.peak < 100 {
		t.Errorf("%d in flight at most on the wire: the window of 100 was never full", o.peak)
	}
	if s := b.Journal.Stats(); s.Lost != 0 {
		t.Fatalf("journal lost %d records", s.Lost)
	}
	t.Logf("%d publishes on the wire on %d connections, %d ids handed out, %d wraps, at most %d in flight", total, len(segments), handed, wrapped, o.peak)
}
