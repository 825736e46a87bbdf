package controller

import (
	"context"
	"fmt"
	"sync"
)

// Recorder drains a client's Events() into an ordered list, so that tests
// and steps can wait for callbacks with a deadline instead of sleeping.
type Recorder struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on every append and at the end
	closed  bool
	done    chan struct{}
}

// NewRecorder starts draining c.Events(). It stops when the channel closes
// (the client was destroyed).
func NewRecorder(c Client) *Recorder {
	return RecordChan(c.Events())
}

// RecordChan records any event channel.
func RecordChan(ch <-chan Event) *Recorder {
	r := &Recorder{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range ch {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}()
	return r
}

// Done is closed once the event channel has closed and every event is recorded.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Len is the number of events recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	return r.Since(0)
}

// Since returns a copy of the events recorded at index i and after.
func (r *Recorder) Since(i int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 {
		i = 0
	}
	if i >= len(r.events) {
		return nil
	}
	return append([]Event(nil), r.events[i:]...)
}

// Filter returns the recorded events that match pred, in order.
func (r *Recorder) Filter(pred func(Event) bool) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.events {
		if pred(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// WaitFor waits until a recorded event matches pred and returns the first
// one that does. It fails when ctx ends or the client is destroyed first.
func (r *Recorder) WaitFor(ctx context.Context, pred func(Event) bool) (Event, error) {
	evs, err := r.WaitN(ctx, pred, 1)
	if err != nil {
		return Event{}, err
	}
	return evs[0], nil
}

// WaitN waits until n recorded events match pred and returns the first n.
func (r *Recorder) WaitN(ctx context.Context, pred func(Event) bool, n int) ([]Event, error) {
	return r.WaitFrom(ctx, 0, pred, n)
}

// WaitFrom is WaitN over the events recorded at index from and after.
func (r *Recorder) WaitFrom(ctx context.Context, from int, pred func(Event) bool, n int) ([]Event, error) {
	var found []Event
	next := from
	for {
		r.mu.Lock()
		for ; next < len(r.events); next++ {
			if pred(r.events[next]) {
				found = append(found, r.events[next])
				if len(found) == n {
					r.mu.Unlock()
					return found, nil
				}
			}
		}
		closed, ch := r.closed, r.changed
		r.mu.Unlock()
		if closed {
			return found, fmt.Errorf("client destroyed after %d of %d matching events", len(found), n)
		}
		select {
		case <-ctx.Done():
			return found, fmt.Errorf("%d of %d matching events: %w", len(found), n, ctx.Err())
		case <-ch:
		}
	}
}

// Is returns a predicate that matches events of one kind, and when msgID is
// not 0, with that message id.
func Is(kind EventKind, msgID int) func(Event) bool {
	return func(ev Event) bool {
		return ev.Kind == kind && (msgID == 0 || ev.MsgID == msgID)
	}
}
