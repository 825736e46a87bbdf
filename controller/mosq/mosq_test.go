//go:build libmosquitto

package mosq

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

type h struct {
	t   testing.TB
	b   *emulator.Broker
	ctl *Controller
	c   *Client
	r   *controller.Recorder
	ctx context.Context
}

func start(t testing.TB, version int, props controller.Props) *h {
	t.Helper()
	b := emulator.StartTest(t, emulator.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	ctl, c := newBare(t, "mosq-test")
	x := &h{t: t, b: b, ctl: ctl, c: c, r: controller.NewRecorder(c), ctx: ctx}
	x.ok(c.ForceMqttVersion(version), "ForceMqttVersion")
	host, port := x.hostPort()
	x.ok(c.Connect(host, port, 60, props), "Connect")
	ev := x.waitEv(controller.Is(controller.OnConnect, 0), 1)[0]
	if ev.Reason != 0 {
		t.Fatalf("onConnect %+v", ev)
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

func (x *h) ok(r controller.Ret, what string) {
	x.t.Helper()
	if r.Code != 0 {
		x.t.Fatalf("%s returned %d (%s)", what, r.Code, r.Err)
	}
}

func (x *h) waitEv(pred func(controller.Event) bool, n int) []controller.Event {
	x.t.Helper()
	evs, err := x.r.WaitN(x.ctx, pred, n)
	if err != nil {
		x.t.Fatalf("%v; events: %+v", err, x.r.Events())
	}
	return evs
}

func TestSmokeQoS012(t *testing.T) {
	for _, v := range []int{3, 311, 5} {
		t.Run(strconv.Itoa(v), func(t *testing.T) {
			x := start(t, v, nil)
			for qos := 0; qos <= 2; qos++ {
				r := x.c.Publish("a/b", []byte("hello"), qos, false, nil)
				if r.Code != 0 || r.MsgID != qos+1 {
					t.Fatalf("qos %d: Publish %+v", qos, r)
				}
				ev := x.waitEv(controller.Is(controller.OnPublish, r.MsgID), 1)[0]
				if ev.Reason != 0 {
					t.Fatalf("qos %d: onPublish %+v", qos, ev)
				}
			}
			r := x.c.Subscribe("s/#", 2, nil)
			x.ok(r, "Subscribe")
			sub := x.waitEv(controller.Is(controller.OnSubscribe, r.MsgID), 1)[0]
			if len(sub.Granted) != 1 || sub.Granted[0] != 2 {
				t.Fatalf("onSubscribe %+v", sub)
			}
			for qos := 0; qos <= 2; qos++ {
				x.ok(x.c.Publish("s/x", []byte("m"), qos, false, nil), "Publish")
			}
			msgs := x.waitEv(controller.Is(controller.OnMessage, 0), 3)
			for i, m := range msgs {
				if m.QoS != i || m.Topic != "s/x" || string(m.Payload) != "m" {
					t.Fatalf("message %d: %+v", i, m)
				}
			}
			u := x.c.Unsubscribe("s/#", nil)
			x.ok(u, "Unsubscribe")
			x.waitEv(controller.Is(controller.OnUnsubscribe, u.MsgID), 1)
			x.ok(x.c.Disconnect(nil), "Disconnect")
			ev := x.waitEv(controller.Is(controller.OnDisconnect, 0), 1)[0]
			if ev.Reason != 0 {
				t.Fatalf("onDisconnect %+v", ev)
			}
			if r := x.c.Disconnect(nil); r.Code != controller.ErrNoConn {
				t.Fatalf("second Disconnect %+v", r)
			}
		})
	}
}

// Properties go out by their API names and come back in onMessage.
func TestPropertiesBothWays(t *testing.T) {
	x := start(t, 5, controller.Props{"SESSION_EXPIRY_INTERVAL": 30, "USER_PROPERTY": map[string]string{"k": "v"}})
	r := x.c.Subscribe("p/#", 1, controller.Props{"USER_PROPERTY": map[string]string{"s": "1"}})
	x.ok(r, "Subscribe")
	x.waitEv(controller.Is(controller.OnSubscribe, r.MsgID), 1)
	props := controller.Props{
		"CONTENT_TYPE":             "text/plain",
		"PAYLOAD_FORMAT_INDICATOR": 1,
		"RESPONSE_TOPIC":           "p/reply",
		"CORRELATION_DATA":         "abc",
		"USER_PROPERTY":            map[string]string{"a": "1", "b": "2"},
	}
	x.ok(x.c.Publish("p/x", []byte("m"), 1, false, props), "Publish")
	m := x.waitEv(controller.Is(controller.OnMessage, 0), 1)[0]
	for k, v := range props {
		if k == "USER_PROPERTY" {
			got, _ := m.Props[k].(map[string]string)
			if got["a"] != "1" || got["b"] != "2" {
				t.Errorf("USER_PROPERTY %v", m.Props[k])
			}
			continue
		}
		if m.Props[k] != v {
			t.Errorf("%s: got %v (%T), want %v", k, m.Props[k], m.Props[k], v)
		}
	}
	// Checks libmosquitto does on the list: a property not allowed on
	// PUBLISH (2), twice the same (22), a bad type (3).
	if r := x.c.Publish("p/x", nil, 0, false, controller.Props{"SESSION_EXPIRY_INTERVAL": 1}); r.Code != controller.ErrProtocol {
		t.Errorf("session expiry on PUBLISH: %+v", r)
	}
	if r := x.c.Publish("p/x", nil, 0, false, controller.Props{"CONTENT_TYPE": "a", "3": "b"}); r.Code != controller.ErrDuplicateProperty {
		t.Errorf("duplicate: %+v", r)
	}
	// The same property twice through the table's sequence: both reach the
	// library's list, and its own check answers.
	twice := controller.PropSeq(controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 10}, controller.PropEntry{Property: "2", Value: 20})
	if r := x.c.Publish("p/x", nil, 1, false, twice); r.Code != controller.ErrDuplicateProperty {
		t.Errorf("duplicate through the sequence: %+v", r)
	}
	users := controller.Props{"USER_PROPERTY": [][2]string{{"k", "1"}, {"k", "2"}}}
	if r := x.c.Publish("p/users", nil, 0, false, users); r.Code != 0 {
		t.Errorf("a user property key twice: %+v", r)
	}
	if r := x.c.Publish("p/x", nil, 0, false, controller.Props{"CONTENT_TYPE": 5}); r.Code != controller.ErrInval {
		t.Errorf("bad type: %+v", r)
	}
	if r := x.c.Publish("p/x", nil, 0, false, controller.Props{"CONTENT_TYPE": "a\x01"}); r.Code != controller.ErrMalformedUTF8 {
		t.Errorf("bad UTF-8: %+v", r)
	}
	recs := x.b.Journal.Records(journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: "CONNECT"})
	if len(recs) != 1 {
		t.Fatalf("CONNECT records: %v", recs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pubs, err := x.b.Journal.WaitFor(ctx, journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: "PUBLISH", Topic: "p/users"}, 1)
	if err != nil || len(pubs) == 0 || pubs[0].Props != "user_property=k:1 user_property=k:2" {
		t.Errorf("the user properties on the wire: %v (%v)", pubs, err)
	}
}

// A call's return is seen before the callbacks it causes: a QoS 0
// publish's onPublish is never delivered while Publish still holds the
// client.
func TestReturnBeforeCallback(t *testing.T) {
	x := start(t, 311, nil)
	for i := 0; i < 200; i++ {
		r := x.c.Publish("a", []byte("x"), 0, false, nil)
		x.ok(r, "Publish")
	}
	x.waitEv(controller.Is(controller.OnPublish, 0), 200)
	evs := x.r.Filter(controller.Is(controller.OnPublish, 0))
	for i, ev := range evs {
		if ev.MsgID != i+1 {
			t.Fatalf("onPublish %d has id %d", i, ev.MsgID)
		}
	}
}

func TestTextsFromLibmosquitto(t *testing.T) {
	c, err := New().NewClient("t", true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if s := c.ErrorCodeToString(controller.ErrNoConn); s != "The client is not currently connected." {
		t.Errorf("ErrorCodeToString(4) = %q", s)
	}
	if s := c.ReasonCodeToString(135); s != "Not authorized" {
		t.Errorf("ReasonCodeToString(135) = %q", s)
	}
}
