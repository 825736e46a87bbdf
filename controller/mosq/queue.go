//go:build libmosquitto

package mosq

import (
	"sync"

	"github.com/mqtthil/mqtthil/controller"
)

// queue holds a client's callbacks between libmosquitto's network loop,
// which must never block on the driver, and Events().
type queue struct {
	mu      sync.Mutex
	q       []controller.Event
	wake    chan struct{}
	stop    chan struct{}
	stopped bool
	out     chan controller.Event
	done    chan struct{}
}

func newQueue() *queue {
	return &queue{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		out:  make(chan controller.Event, 16),
		done: make(chan struct{}),
	}
}

func (q *queue) push(ev controller.Event) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.q = append(q.q, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// deliver sends the queue on out, one event at a time. It takes callMu
// before it takes an event, so an event queued while a call runs goes
// out only after that call has returned.
func (q *queue) deliver(callMu *sync.Mutex) {
	defer close(q.done)
	defer close(q.out)
	for {
		callMu.Lock()
		q.mu.Lock()
		if q.stopped {
			q.mu.Unlock()
			callMu.Unlock()
			return
		}
		var ev controller.Event
		have := len(q.q) > 0
		if have {
			ev = q.q[0]
			q.q[0] = controller.Event{}
			q.q = q.q[1:]
			if len(q.q) == 0 {
				q.q = nil
			}
		}
		q.mu.Unlock()
		callMu.Unlock()
		if !have {
			select {
			case <-q.wake:
			case <-q.stop:
				return
			}
			continue
		}
		select {
		case q.out <- ev:
		case <-q.stop:
			return
		}
	}
}

// close stops delivery and waits for the delivering goroutine; events not
// yet delivered are dropped.
func (q *queue) close() {
	q.mu.Lock()
	if !q.stopped {
		q.stopped = true
		close(q.stop)
	}
	q.mu.Unlock()
	<-q.done
}
