// Package eventloop is the callback queue and event loop that every
// in-process client object shares (controller/sim and controller/mosq):
// the network side queues callbacks without waiting for the driver, and a
// goroutine of the client's delivers them on Events(), in order and one at a
// time, as the controller runs a driver's callbacks on its own loop.
package eventloop

import (
	"sync"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// BacklogLimit is how many undelivered callbacks WaitRoom lets the network
// side pile up before it waits for the driver, as a slow driver holds up
// the controller's event loop.
const BacklogLimit = 4096

// smallQueue is the most events an empty queue keeps room for.
const smallQueue = 8

// Loop is one client's callback queue and the goroutine that delivers it.
// The goroutine lives only while there is something to deliver: a
// thousand idle clients would otherwise hold a thousand parked goroutines
// and their stacks, several KB each, for nothing.
type Loop struct {
	// gate, when set, is the client's call lock: the loop takes it before
	// it takes each event, so that an event queued while a call runs goes
	// out only after that call has returned.
	gate sync.Locker

	mu      sync.Mutex
	room    *sync.Cond // signalled when the backlog shrinks or the loop stops
	q       []controller.Event
	head    int
	running bool // a delivering goroutine is alive; set and cleared under mu
	stop    chan struct{}
	stopped bool
	out     chan controller.Event

	wg       sync.WaitGroup // the delivering goroutine, while it runs
	closeOut sync.Once
}

// New makes a client's event loop. gate may be nil when no event can be
// queued while a call runs.
func New(gate sync.Locker) *Loop {
	l := &Loop{
		gate: gate,
		stop: make(chan struct{}),
		// One event in hand is enough: the queue is q. An event is some
		// 200 bytes, and a thousand clients each kept sixteen of them.
		out: make(chan controller.Event, 1),
	}
	l.room = sync.NewCond(&l.mu)
	return l
}

// Events is the channel the callbacks are delivered on; it is closed when
// the loop stops.
func (l *Loop) Events() <-chan controller.Event { return l.out }

// Emit queues a callback of the named client object, stamped with the time
// it happened. It never waits for the driver, so callers may hold their
// client's lock. After Close it does nothing.
func (l *Loop) Emit(client string, ev controller.Event) {
	ev.At = time.Now()
	ev.Client = client
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.q = append(l.q, ev)
	if !l.running {
		// Only one goroutine delivers at a time, so order holds; Close
		// sets stopped under mu before it waits, so none starts after.
		l.running = true
		l.wg.Add(1)
		go l.run()
	}
	l.mu.Unlock()
}

// WaitRoom blocks while more than BacklogLimit callbacks wait for the
// driver. The network side calls it between packets, holding no lock.
func (l *Loop) WaitRoom() {
	l.mu.Lock()
	for !l.stopped && len(l.q)-l.head > BacklogLimit {
		l.room.Wait()
	}
	l.mu.Unlock()
}

// run delivers until the queue is empty, then ends; the next Emit starts
// another.
func (l *Loop) run() {
	defer l.wg.Done()
	for {
		ev, have := l.take()
		if !have {
			return
		}
		select {
		case l.out <- ev:
		case <-l.stop:
			return
		}
	}
}

// take removes the next event, under the gate when there is one. With
// nothing to take, or the loop stopped, it reports have false and the
// goroutine that called it is no longer the loop's.
func (l *Loop) take() (ev controller.Event, have bool) {
	if l.gate != nil {
		l.gate.Lock()
		defer l.gate.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		l.running = false
		return ev, false
	}
	if l.head == len(l.q) {
		// Empty: start again at the front. A queue a burst grew gives its
		// memory back: events are some 200 bytes each, and a thousand
		// clients each kept what their largest burst left.
		if cap(l.q) > smallQueue {
			l.q = nil
		} else {
			l.q = l.q[:0]
		}
		l.head = 0
		l.running = false
		return ev, false
	}
	ev = l.q[l.head]
	l.q[l.head] = controller.Event{}
	l.head++
	if len(l.q)-l.head <= BacklogLimit/2 {
		l.room.Broadcast()
	}
	return ev, true
}

// Close stops delivery and waits for the loop's goroutine, if one runs, to
// end; events not yet delivered are dropped, and Events() is closed.
func (l *Loop) Close() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
		l.room.Broadcast()
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.closeOut.Do(func() { close(l.out) })
}
