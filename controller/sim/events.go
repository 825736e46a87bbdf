package sim

import (
	"sync"

	"github.com/mqtthil/mqtthil/controller"
)

// backlogLimit is how many undelivered callbacks the network side may pile
// up before it waits for the driver, as a slow driver holds up the
// controller's event loop.
const backlogLimit = 4096

// events is a client's callback queue and the event loop that delivers it:
// one goroutine, in order, never two callbacks at once.
type events struct {
	mu      sync.Mutex
	room    *sync.Cond // signalled when the backlog shrinks or the queue stops
	q       []controller.Event
	head    int
	wake    chan struct{}
	stop    chan struct{}
	stopped bool
	out     chan controller.Event
	done    chan struct{}
}

func newEvents() *events {
	e := &events{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		out:  make(chan controller.Event, 16),
		done: make(chan struct{}),
	}
	e.room = sync.NewCond(&e.mu)
	go e.loop()
	return e
}

func (e *events) push(ev controller.Event) {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// waitRoom blocks while the backlog is over the limit.
func (e *events) waitRoom() {
	e.mu.Lock()
	for !e.stopped && len(e.q)-e.head > backlogLimit {
		e.room.Wait()
	}
	e.mu.Unlock()
}

func (e *events) loop() {
	defer close(e.done)
	defer close(e.out)
	for {
		e.mu.Lock()
		if e.stopped {
			e.mu.Unlock()
			return
		}
		if e.head == len(e.q) {
			e.q = e.q[:0]
			e.head = 0
			e.mu.Unlock()
			select {
			case <-e.wake:
			case <-e.stop:
			}
			continue
		}
		ev := e.q[e.head]
		e.q[e.head] = controller.Event{}
		e.head++
		if len(e.q)-e.head <= backlogLimit/2 {
			e.room.Broadcast()
		}
		e.mu.Unlock()
		select {
		case e.out <- ev:
		case <-e.stop:
			return
		}
	}
}

// close stops delivery; events not yet delivered are dropped.
func (e *events) close() {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.stop)
		e.room.Broadcast()
	}
	e.mu.Unlock()
	<-e.done
}
