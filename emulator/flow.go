// Flow control in front of mochi's outbound queues, so that they can be
// short without losing what a bare mochi with long queues delivers.
package emulator

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mochi makes each client's outbound queue, a channel of pointers, at its
// full length when the client connects, and gives up on a message (any
// QoS) for a client whose queue is full. The queue absorbs a publisher
// running ahead of the goroutine that writes to the subscriber: on a busy
// machine that goroutine may not run for tens of milliseconds, and a
// publisher with no window can hand mochi thousands of messages
// meanwhile. mochi's answer is a long queue (8192 entries, 64 KiB a
// client, idle or not); ours is a short one and a publisher that waits.
//
// mochi asks the ACL hooks about every subscriber a message goes to,
// on the publisher's goroutine, just before it queues the message for
// that subscriber. flowHook answers nothing there (it returns false, so
// the next hook decides), but first, when the subscriber's queue is more
// than half full, it waits until the subscriber's writer has taken it
// down to half, woken by that writer's OnPacketSent, for at most
// Options.FlowWait. The publisher's own goroutine waiting means mochi
// stops reading the publisher's socket for that long, and TCP holds the
// publisher back, as a slow subscriber holds back a publisher through any
// broker that queues per connection.
//
// A subscriber whose queue stays full for the whole wait is not keeping
// up at all (its socket takes nothing and its backlog is full, see
// wire.Limits.Writes): publishers stop waiting for it until its queue is
// down to half again, and mochi drops what does not fit, journaled as
// before (drops.go). A fault-layer delay or stall never makes a publisher
// wait: mochi's writer hands such packets to the fault layer's queue and
// goes on.
type flowHook struct {
	mqtt.HookBase
	half int           // a queue longer than this makes a publisher wait
	wait time.Duration // the longest a publisher waits for one subscriber

	waiting atomic.Int32 // publishers waiting, for any subscriber: the writers' fast path
	nstuck  atomic.Int32 // subscribers in state marked stuck: the publishers' fast path
	mu      sync.Mutex
	state   map[*mqtt.Client]*flowState
}

type flowState struct {
	room  chan struct{} // closed once the queue is down to half; nil while nobody waits
	stuck bool          // the last wait for this client ran out
}

// DefaultFlowWait is how long a publisher waits, at most, for a
// subscriber's queue to make room when Options.FlowWait is 0.
const DefaultFlowWait = 500 * time.Millisecond

// outboundField is the path to mochi's unexported per-client queue
// (Client.State.outbound); nil if this mochi has none, and then the
// emulator keeps mochi's long queues and does without flow control.
var outboundField = func() []int {
	st, ok := reflect.TypeFor[mqtt.Client]().FieldByName("State")
	if !ok {
		return nil
	}
	q, ok := st.Type.FieldByName("outbound")
	if !ok || q.Type != reflect.TypeFor[chan *packets.Packet]() {
		return nil
	}
	return append(append([]int{}, st.Index...), q.Index...)
}()

// queued is how many packets wait in cl's outbound queue. reflect reads
// the channel's count the way len does, which races with nothing.
func queued(cl *mqtt.Client) int {
	return reflect.ValueOf(cl).Elem().FieldByIndex(outboundField).Len()
}

func newFlowHook(queue int, wait time.Duration) *flowHook {
	return &flowHook{half: queue / 2, wait: wait, state: map[*mqtt.Client]*flowState{}}
}

func (h *flowHook) ID() string { return "mqtthil-flow" }

func (h *flowHook) Provides(b byte) bool {
	return b == mqtt.OnACLCheck || b == mqtt.OnPacketSent || b == mqtt.OnDisconnect
}

// OnACLCheck waits, for a delivery (write false) to a subscriber whose
// queue is over half full, until it has room. It grants nothing: the
// hooks after it decide.
func (h *flowHook) OnACLCheck(cl *mqtt.Client, _ string, write bool) bool {
	if write || cl.Net.Conn == nil {
		return false
	}
	if queued(cl) <= h.half {
		if h.nstuck.Load() > 0 {
			h.unstick(cl)
		}
		return false
	}
	h.await(cl)
	return false
}

func (h *flowHook) unstick(cl *mqtt.Client) {
	h.mu.Lock()
	if s := h.state[cl]; s != nil && s.stuck {
		s.stuck = false
		h.nstuck.Add(-1)
	}
	h.mu.Unlock()
}

// await waits until cl's queue is down to half, the wait runs out or cl
// disconnects.
func (h *flowHook) await(cl *mqtt.Client) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		h.mu.Lock()
		if cl.Closed() {
			// Its writer has ended: nothing will make room. A session
			// kept after its client left is not waited for either.
			h.forget(cl)
			h.mu.Unlock()
			return
		}
		s := h.state[cl]
		if s == nil {
			s = &flowState{}
			h.state[cl] = s
		}
		if s.stuck {
			h.mu.Unlock()
			return
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		h.waiting.Add(1)
		h.mu.Unlock()
		// Looked at again once the writer can see a waiter: a writer that
		// made room just before would not have woken anyone.
		if queued(cl) <= h.half {
			h.waiting.Add(-1)
			return
		}
		if timer == nil {
			timer = time.NewTimer(h.wait)
		}
		select {
		case <-room:
			h.waiting.Add(-1)
			if queued(cl) <= h.half {
				return
			}
		case <-timer.C:
			h.waiting.Add(-1)
			h.mu.Lock()
			if s := h.state[cl]; s != nil && !s.stuck {
				s.stuck = true
				h.nstuck.Add(1)
			}
			if cl.Closed() { // disconnected while we waited: OnDisconnect may have come first
				h.forget(cl)
			}
			h.mu.Unlock()
			return
		}
	}
}

// OnPacketSent runs on the goroutine that wrote to cl, after the write:
// it wakes the publishers waiting for cl once its queue is down to half.
func (h *flowHook) OnPacketSent(cl *mqtt.Client, _ packets.Packet, _ []byte) {
	if h.waiting.Load() == 0 || queued(cl) > h.half {
		return
	}
	h.wake(cl, false)
}

// OnDisconnect wakes whoever waits for cl, and forgets it.
func (h *flowHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.wake(cl, true)
}

func (h *flowHook) wake(cl *mqtt.Client, forget bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state[cl]
	if s == nil {
		return
	}
	if forget {
		h.forget(cl)
		return
	}
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// forget drops cl's state; called with mu held.
func (h *flowHook) forget(cl *mqtt.Client) {
	s := h.state[cl]
	if s == nil {
		return
	}
	if s.room != nil {
		close(s.room)
	}
	if s.stuck {
		h.nstuck.Add(-1)
	}
	delete(h.state, cl)
}
