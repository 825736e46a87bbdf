// The scenario's clients: the controller under test and the client objects
// steps made on it, the messages they published, and the observer that
// watches the broker's control listener.
package steps

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/record"
)

// clientsPart is the controller under test and what steps made with it.
type clientsPart struct {
	ctl      controller.Controller
	identity controller.Identity
	clients  map[string]*client
	order    []*client

	msgs  []*message // every Publish call, in order
	burst []*message // the Publish calls of the last publishing step
	subs  []*subscription

	observer *client
	obsCtl   controller.Controller
}

// callLog is every call the steps made on client objects, in order.
type callLog struct {
	mu    sync.Mutex
	calls []record.Call
	last  *record.Call
}

// client is a named controller client object.
type client struct {
	name      string
	id        string
	c         controller.Client
	rec       *controller.Recorder
	version   int // 3, 311 or 5 once forced; 0 = default 3.1.1
	keepalive int
	clean     bool

	connSeen, discSeen int // onConnect / onDisconnect events already claimed by steps
	destroyed          bool
	idCalls            []int // msgIds returned, in call order (Publish, Subscribe, Unsubscribe)
}

// message is one Publish call.
type message struct {
	n       int // 1-based within the scenario
	cl      *client
	topic   string
	payload []byte
	qos     int
	retain  bool
	props   controller.Props
	ret     controller.Ret
	at      time.Time
	lost    string // why the scenario allows no onPublish
	size    int
	hash    journal.Hash
}

type subscription struct {
	cl    *client
	topic string
	ret   controller.Ret
	unsub bool
}

// client returns a named client; it must exist.
func (p *clientsPart) client(name string) (*client, error) {
	cl, ok := p.clients[name]
	if !ok {
		known := make([]string, 0, len(p.order))
		for _, c := range p.order {
			known = append(known, strconv.Quote(c.name))
		}
		if len(known) == 0 {
			return nil, fmt.Errorf("%w: there is no client %q: create it first, with a step like `a client %q`", ErrHarness, name, name)
		}
		return nil, fmt.Errorf("%w: there is no client %q: the clients are %s", ErrHarness, name, strings.Join(known, ", "))
	}
	return cl, nil
}

// clientID is the MQTT client id a name stands for in a fault rule.
func (p *clientsPart) clientID(name string) string {
	if cl, ok := p.clients[name]; ok {
		return cl.id
	}
	return name
}

// note records a call and makes it "the call".
func (l *callLog) note(cl *client, call, args string, r controller.Ret) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, record.Call{At: time.Now(), Client: cl.name, Call: call, Args: args, Ret: r})
	l.last = &l.calls[len(l.calls)-1]
	if r.Code == 0 && r.MsgID != 0 {
		cl.idCalls = append(cl.idCalls, r.MsgID)
	}
}

func (l *callLog) lastCall() (*record.Call, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		return nil, errors.New("no call has been made yet in this scenario")
	}
	c := *l.last
	return &c, nil
}

// snapshot is a copy of the calls so far.
func (l *callLog) snapshot() []record.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// thatMessage is the message most recently published.
func (p *clientsPart) thatMessage() (*message, error) {
	if len(p.msgs) == 0 {
		return nil, errors.New("no message has been published yet in this scenario")
	}
	return p.msgs[len(p.msgs)-1], nil
}

// messageN is the nth message of the scenario, 1-based.
func (p *clientsPart) messageN(n int) (*message, error) {
	if n < 1 || n > len(p.msgs) {
		return nil, fmt.Errorf("there is no message %d: %d messages were published so far", n, len(p.msgs))
	}
	return p.msgs[n-1], nil
}

func (m *message) String() string {
	s := fmt.Sprintf("message %d (%q on %q, QoS %d", m.n, abbreviate(m.payload), m.topic, m.qos)
	if m.ret.MsgID != 0 {
		s += fmt.Sprintf(", id %d", m.ret.MsgID)
	}
	return s + ")"
}

func abbreviate(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%s… %d bytes", b[:16], len(b))
	}
	return string(b)
}
