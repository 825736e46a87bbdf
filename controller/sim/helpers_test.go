package sim_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// h is one test's broker, simulated client and callback record.
type h struct {
	t   testing.TB
	b   *emulator.Broker
	ctl *sim.Controller
	c   *sim.Client
	r   *controller.Recorder
	ctx context.Context
	id  string

	connProps controller.Props
}

type setup struct {
	opts    emulator.Options
	version int // 3, 311, 5; 0 = default
	id      string
	sim     sim.Options
	noConn  bool // do not connect
	keep    bool // cleanSession false (and a session expiry on MQTT 5)
}

func start(t testing.TB, s setup) *h {
	t.Helper()
	b := emulator.StartTest(t, s.opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	ctl := sim.New(s.sim)
	closeAtEnd(t, ctl)
	id := s.id
	if id == "" {
		id = "sim-" + t.Name()
	}
	c, err := ctl.NewSimClient(id, !s.keep)
	if err != nil {
		t.Fatal(err)
	}
	x := &h{t: t, b: b, ctl: ctl, c: c, r: controller.NewRecorder(c), ctx: ctx, id: id}
	if s.keep && s.version == 5 {
		x.connProps = controller.Props{"SESSION_EXPIRY_INTERVAL": 600}
	}
	if s.version != 0 {
		x.ok(c.ForceMqttVersion(s.version), "ForceMqttVersion")
	}
	if !s.noConn {
		x.connect()
	}
	return x
}

func (x *h) hostPort() (string, int) {
	host, p, err := net.SplitHostPort(x.b.DUTAddr)
	if err != nil {
		x.t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		x.t.Fatal(err)
	}
	return host, port
}

// connect connects and waits for a successful onConnect.
func (x *h) connect() {
	x.t.Helper()
	n := len(x.r.Filter(controller.Is(controller.OnConnect, 0)))
	host, port := x.hostPort()
	x.ok(x.c.Connect(host, port, 60, x.connProps), "Connect")
	x.waitConnect(n + 1)
}

func (x *h) waitConnect(n int) controller.Event {
	x.t.Helper()
	evs, err := x.r.WaitN(x.ctx, controller.Is(controller.OnConnect, 0), n)
	if err != nil {
		x.t.Fatalf("onConnect: %v; events: %v", err, x.r.Events())
	}
	ev := evs[n-1]
	if ev.Reason != 0 {
		x.t.Fatalf("onConnect reason %d", ev.Reason)
	}
	return ev
}

func (x *h) ok(r controller.Ret, what string) {
	x.t.Helper()
	if r.Code != 0 {
		x.t.Fatalf("%s returned %d (%s)", what, r.Code, r.Err)
	}
}

// pub publishes and requires code 0 and a msgId.
func (x *h) pub(topic, payload string, qos int, retain bool, props controller.Props) int {
	x.t.Helper()
	r := x.c.Publish(topic, []byte(payload), qos, retain, props)
	if r.Code != 0 || r.MsgID == 0 {
		x.t.Fatalf("Publish(%q, qos %d) = %+v, want 0 and a msgId", topic, qos, r)
	}
	return r.MsgID
}

// waitEv waits for the n-th event matching pred.
func (x *h) waitEv(pred func(controller.Event) bool, n int) []controller.Event {
	x.t.Helper()
	evs, err := x.r.WaitN(x.ctx, pred, n)
	if err != nil {
		x.t.Fatalf("%v; events: %v", err, x.r.Events())
	}
	return evs
}

func (x *h) onPublish(mid int) controller.Event {
	x.t.Helper()
	return x.waitEv(controller.Is(controller.OnPublish, mid), 1)[0]
}

func (x *h) wire(f journal.Filter, n int) []journal.Record {
	x.t.Helper()
	recs, err := x.b.Journal.WaitFor(x.ctx, f, n)
	if err != nil {
		x.t.Fatalf("%v", err)
	}
	return recs
}

func (x *h) rule(r faults.Rule) {
	x.t.Helper()
	if err := x.b.Faults.Add(r); err != nil {
		x.t.Fatal(err)
	}
}

// count counts recorded events matching pred.
func (x *h) count(pred func(controller.Event) bool) int { return len(x.r.Filter(pred)) }

var (
	toBroker = journal.Filter{Kind: journal.KindPacket, Dir: "to_broker"}
	toClient = journal.Filter{Kind: journal.KindPacket, Dir: "to_client"}
)

func typ(f journal.Filter, t string) journal.Filter { f.Type = t; return f }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// closeAtEnd closes the controller when the test ends, failing it when
// Close does.
func closeAtEnd(tb testing.TB, ctl *sim.Controller) {
	tb.Cleanup(func() {
		if err := ctl.Close(); err != nil {
			tb.Error(err)
		}
	})
}
