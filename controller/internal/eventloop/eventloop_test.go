// Tests of the event loop's promises: order, stamping, the gate that holds
// callbacks back until a call returns, the backlog, and Close.
package eventloop

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

const deadline = 10 * time.Second

func next(t *testing.T, l *Loop) controller.Event {
	t.Helper()
	select {
	case ev, ok := <-l.Events():
		if !ok {
			t.Fatal("Events() closed")
		}
		return ev
	case <-time.After(deadline):
		t.Fatal("no event before the deadline")
	}
	return controller.Event{}
}

func TestOrderAndStamp(t *testing.T) {
	l := New(nil)
	defer l.Close()
	before := time.Now()
	for i := 1; i <= 100; i++ {
		l.Emit("c1", controller.Event{Kind: controller.OnPublish, MsgID: i})
	}
	for i := 1; i <= 100; i++ {
		ev := next(t, l)
		if ev.MsgID != i || ev.Client != "c1" || ev.At.Before(before) {
			t.Fatalf("event %d: got msg id %d, client %q, at %v (before %v)", i, ev.MsgID, ev.Client, ev.At, before)
		}
	}
}

// signalLocker reports each attempt to take it before it blocks.
type signalLocker struct {
	mu       sync.Mutex
	attempts chan struct{}
}

func (s *signalLocker) Lock() {
	select {
	case s.attempts <- struct{}{}:
	default:
	}
	s.mu.Lock()
}

func (s *signalLocker) Unlock() { s.mu.Unlock() }

func TestGateHoldsEventsUntilTheCallReturns(t *testing.T) {
	gate := &signalLocker{attempts: make(chan struct{}, 1)}
	gate.mu.Lock() // a call is running
	l := New(gate)
	defer l.Close()
	l.Emit("c", controller.Event{Kind: controller.OnConnect})
	select {
	case <-gate.attempts:
	case <-time.After(deadline):
		t.Fatal("the loop never asked for the gate")
	}
	select {
	case ev := <-l.Events():
		t.Fatalf("%s delivered while the call still runs", ev.Kind)
	default:
	}
	gate.mu.Unlock() // the call returns
	if ev := next(t, l); ev.Kind != controller.OnConnect {
		t.Fatalf("got %s, want onConnect", ev.Kind)
	}
}

func TestWaitRoomReturnsOnceTheDriverCatchesUp(t *testing.T) {
	l := New(nil)
	defer l.Close()
	for i := 0; i < BacklogLimit+100; i++ {
		l.Emit("c", controller.Event{Kind: controller.OnMessage, MsgID: i})
	}
	done := make(chan struct{})
	go func() {
		l.WaitRoom()
		close(done)
	}()
	for i := 0; i < BacklogLimit+100; i++ {
		if ev := next(t, l); ev.MsgID != i {
			t.Fatalf("event %d has msg id %d", i, ev.MsgID)
		}
	}
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("WaitRoom still blocked with an empty backlog")
	}
}

func TestCloseDropsAndEnds(t *testing.T) {
	l := New(nil)
	for i := 0; i < 100; i++ {
		l.Emit("c", controller.Event{Kind: controller.OnMessage})
	}
	l.Close()
	l.Close() // twice is harmless
	l.Emit("c", controller.Event{Kind: controller.OnMessage})
	l.WaitRoom() // returns at once once stopped
	n := 0
	for range l.Events() {
		n++
	}
	// Up to the channel's buffer may have gone out before Close.
	if n > cap(l.out)+1 {
		t.Fatalf("%d events delivered after Close", n)
	}
}

// An idle loop holds no goroutine; the next callback starts one again.
func TestNoGoroutineWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(nil)
		defer l.Close()
		idle := func() bool {
			synctest.Wait() // every goroutine of the bubble has ended or is blocked
			l.mu.Lock()
			defer l.mu.Unlock()
			return !l.running
		}
		if !idle() {
			t.Fatal("a new loop runs a goroutine before any callback")
		}
		for round := range 3 {
			for i := range 5 {
				l.Emit("c", controller.Event{Kind: controller.OnMessage, MsgID: i})
			}
			if idle() {
				t.Fatalf("round %d: five callbacks queued and no goroutine delivers them", round)
			}
			for i := range 5 {
				if ev := next(t, l); ev.MsgID != i {
					t.Fatalf("round %d: event %d has msg id %d", round, i, ev.MsgID)
				}
			}
			if !idle() {
				t.Fatalf("round %d: the loop's goroutine outlives its empty queue", round)
			}
		}
	})
}
