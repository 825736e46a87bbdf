// The per-direction queue of a connection.
package wire

import (
	"sync"
	"sync/atomic"
	"time"
)

// fifo is one direction's queue. It grows while packets are held back (a
// delay, a stall) and is a few words while empty: thousands of idle
// connections must not each carry a large preallocated buffer. A producer
// waits once maxQueued items are waiting, as a writer would on a full TCP
// window.
type fifo struct {
	n     atomic.Int32 // items waiting, read without the lock
	mu    sync.Mutex
	items []item
	head  int
	ready chan struct{} // a token when items may be waiting
	space chan struct{} // a token when a full queue shrank
}

const maxQueued = 8192

func newFifo() fifo {
	return fifo{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// push adds it at the tail; it waits while the queue is full, unless done
// closes.
func (f *fifo) push(it *item, done <-chan struct{}) {
	for {
		f.mu.Lock()
		if len(f.items)-f.head < maxQueued {
			f.items = append(f.items, *it)
			f.n.Add(1)
			f.mu.Unlock()
			select {
			case f.ready <- struct{}{}:
			default:
			}
			return
		}
		f.mu.Unlock()
		select {
		case <-f.space:
		case <-done:
			return
		}
	}
}

// pop takes the head, if there is one.
func (f *fifo) pop() (item, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.items) {
		return item{}, false
	}
	it := f.items[f.head]
	f.items[f.head] = item{}
	f.head++
	f.n.Add(-1)
	if f.head == len(f.items) {
		// Empty: start again at the front, and let a large backlog's
		// memory go.
		f.head = 0
		if cap(f.items) > 64 {
			f.items = nil
		} else {
			f.items = f.items[:0]
		}
	}
	select {
	case f.space <- struct{}{}:
	default:
	}
	return it, true
}

// empty reports whether nothing is waiting.
func (f *fifo) empty() bool { return f.n.Load() == 0 }

// peekDue reports the head's due time (zero: at once), if there is a head.
func (f *fifo) peekDue() (time.Time, bool) {
	if f.empty() {
		return time.Time{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.items) {
		return time.Time{}, false
	}
	return f.items[f.head].due, true
}
