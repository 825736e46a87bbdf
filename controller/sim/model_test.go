// Tests what the simulated controller does differently under each model
// (controller.Changes), and the Connect/Reconnect codes that come from the
// call itself because the library resolves the host name inside it.
package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

var (
	model11 = sim.Options{Model: controller.MustModel(controller.DefaultModel)}
	model20 = sim.Options{Model: controller.MustModel(controller.LatestModel)}
)

// The value checks that later releases added: 2.0.11 sends the packet.
func TestPropertyValueChecksByModel(t *testing.T) {
	cases := []struct {
		name  string
		props controller.Props
	}{
		{"payload format indicator 2", controller.Props{"PAYLOAD_FORMAT_INDICATOR": 2}},
		{"response topic with +", controller.Props{"RESPONSE_TOPIC": "reply/+"}},
		{"response topic with #", controller.Props{"RESPONSE_TOPIC": "#"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := start(t, setup{version: 5, sim: model11})
			mid := x.pub("t", "x", 1, false, tc.props)
			x.onPublish(mid)
			x.wire(typ(toBroker, "PUBLISH"), 1)

			y := start(t, setup{version: 5, sim: model20})
			if r := y.c.Publish("t", []byte("x"), 1, false, tc.props); r.Code != controller.ErrProtocol || r.MsgID != 0 {
				t.Fatalf("2.0.20: Publish = %+v, want 2 and no id", r)
			}
		})
	}
}

// A QoS 1 packet one byte over the broker's limit: refused early with no
// id by the 2.0.11 model, refused by the send with the id used up by
// 2.0.20.
func TestOversizeWindowByModel(t *testing.T) {
	// Limit 30: topic "t" and 24 bytes of QoS 1 payload make a 31-byte
	// remaining length plus 1 byte of length: 32 bytes, one over limit+1
	// once both id bytes are counted, within the limit when one is.
	opts := emulator.Options{Profile: emulator.Profile{MaximumPacketSize: 30}}
	payload := string(make([]byte, 24))
	for _, tc := range []struct {
		name    string
		sim     sim.Options
		nextMid int
	}{
		{"2.0.11", model11, 2},
		{"2.0.20", model20, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := start(t, setup{version: 5, id: "c", opts: opts, sim: tc.sim})
			first := x.pub("t", "", 0, false, nil)
			if r := x.c.Publish("t", []byte(payload), 1, false, nil); r.Code != controller.ErrOversizePacket || r.MsgID != 0 {
				t.Fatalf("Publish = %+v, want 25 and no id", r)
			}
			if next := x.pub("t", "", 0, false, nil); next != first-1+tc.nextMid {
				t.Fatalf("next id %d, want %d", next, first-1+tc.nextMid)
			}
		})
	}
}

// resolver answers LookupHost from a table; other names do not resolve.
type resolver map[string][]string

func (r resolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if ips, ok := r[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

func TestConnectResolvesInTheCall(t *testing.T) {
	opts := sim.Options{Resolver: resolver{"broker.test": {"127.0.0.1"}}}
	x := start(t, setup{noConn: true, sim: opts})
	_, port := x.hostPort()
	cases := []struct {
		host string
		port int
		want int
	}{
		{"", port, controller.ErrEAI},
		{"no.such.host.test", port, controller.ErrEAI},
		{"broker.test", 0, controller.ErrErrno},
		{"broker.test", -1, controller.ErrInval},
	}
	for _, tc := range cases {
		if r := x.c.Connect(tc.host, tc.port, 60, nil); r.Code != tc.want || r.Err == "" {
			t.Errorf("Connect(%q, %d) = %+v, want %d", tc.host, tc.port, r, tc.want)
		}
	}
	// Reconnect uses the last host that got past the argument checks.
	if r := x.c.Reconnect(); r.Code != controller.ErrErrno {
		t.Errorf("Reconnect after port 0 = %+v, want 14", r)
	}
	_ = x.c.Connect("no.such.host.test", port, 60, nil)
	if r := x.c.Reconnect(); r.Code != controller.ErrEAI {
		t.Errorf("Reconnect after an unknown host = %+v, want 15", r)
	}
	// The name the resolver knows reaches the broker.
	x.ok(x.c.Connect("broker.test", port, 60, nil), "Connect")
	x.waitConnect(1)
	if evs := x.r.Events(); evs[0].Kind != controller.OnConnect {
		t.Fatalf("a failed call was reported by a callback: %v", evs)
	}
	if n := x.count(func(e controller.Event) bool { return e.Kind == controller.OnDisconnect }); n != 0 {
		t.Fatalf("%d onDisconnect for calls that failed", n)
	}
}

func TestReconnectWithoutConnect(t *testing.T) {
	x := start(t, setup{noConn: true})
	if r := x.c.Reconnect(); r.Code != controller.ErrInval {
		t.Fatalf("Reconnect = %+v, want 3", r)
	}
}

// A failed TLS handshake: no callback before 2.0.13, onDisconnect(8) after.
func TestTLSFailureByModel(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("2.0.20", func(t *testing.T) {
		x := start(t, setup{opts: emulator.Options{DUTTLS: certs.WrongName}, noConn: true, sim: model20})
		x.ok(x.c.SetTlsCertificates(certs.CAFile, "", "", ""), "SetTlsCertificates")
		host, port := x.hostPort()
		x.ok(x.c.Connect(host, port, 60, nil), "Connect")
		ev := x.waitEv(func(e controller.Event) bool { return e.Kind == controller.OnDisconnect }, 1)[0]
		if ev.Reason != controller.ErrTLS {
			t.Fatalf("onDisconnect(%d), want 8", ev.Reason)
		}
	})
	t.Run("2.0.11", func(t *testing.T) {
		x := start(t, setup{opts: emulator.Options{DUTTLS: certs.WrongName}, noConn: true, sim: model11})
		x.ok(x.c.SetTlsCertificates(certs.CAFile, "", "", ""), "SetTlsCertificates")
		host, port := x.hostPort()
		x.ok(x.c.Connect(host, port, 60, nil), "Connect")
		// The socket goes without a word: Disconnect finds none.
		deadline := time.Now().Add(10 * time.Second)
		for x.c.Disconnect(nil).Code != controller.ErrNoConn {
			if time.Now().After(deadline) {
				t.Fatal("the failed handshake left a connection")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Events arrive in order: the onConnect of a good connection
		// comes after anything the failure had reported.
		x.ok(x.c.SetTlsInsecure(true), "SetTlsInsecure")
		x.ok(x.c.Reconnect(), "Reconnect")
		x.waitConnect(1)
		if evs := x.r.Events(); evs[0].Kind != controller.OnConnect {
			t.Fatalf("the failed handshake was reported: %v", evs)
		}
	})
}

// A PUBACK reason code the standard does not allow on it: 2.0.11 passes it
// on, 2.0.12 and later end the connection with 2. PUBREC 153 passes both.
func TestAckReasonCheckByModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sim    sim.Options
		qos    int
		reason byte
		closes bool
	}{
		{"2.0.11 puback 1", model11, 1, 1, false},
		{"2.0.20 puback 1", model20, 1, 1, true},
		{"2.0.11 pubrec 153", model11, 2, 153, false},
		{"2.0.20 pubrec 153", model20, 2, 153, false},
		{"2.0.20 pubrec 1", model20, 2, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c, r, ctx := fakeClient(t, true, 60, tc.sim)
			_, id := publishToFake(t, f, c, tc.qos)
			typ := byte(0x40)
			if tc.qos == 2 {
				typ = 0x50
			}
			f.write(typ, 3, id[0], id[1], tc.reason)
			ev, err := r.WaitFor(ctx, func(e controller.Event) bool {
				return e.Kind == controller.OnPublish || e.Kind == controller.OnDisconnect
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.closes {
				if ev.Kind != controller.OnDisconnect || ev.Reason != controller.ErrProtocol {
					t.Fatalf("got %s reason %d, want onDisconnect(2)", ev.Kind, ev.Reason)
				}
				return
			}
			if ev.Kind != controller.OnPublish || ev.Reason != int(tc.reason) {
				t.Fatalf("got %s reason %d, want onPublish with %d", ev.Kind, ev.Reason, tc.reason)
			}
		})
	}
}

// A table's sequence of pairs reaches the checks in order, repeats
// included: a property twice is 22 whichever way the table names it, a
// user property key twice is two user properties on the wire.
func TestPropertySequence(t *testing.T) {
	x := start(t, setup{version: 5})
	for _, tc := range []struct {
		name  string
		props controller.Props
	}{
		{"by name twice", controller.PropSeq(controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 10}, controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 20})},
		{"by name and number", controller.PropSeq(controller.PropEntry{Property: "2", Value: 10}, controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 10})},
		{"in the sequence and as a key", controller.Props{"1": controller.PropEntry{Property: "CONTENT_TYPE", Value: "a"}, "CONTENT_TYPE": "b"}},
	} {
		if r := x.c.Publish("t", []byte("x"), 1, false, tc.props); r.Code != controller.ErrDuplicateProperty || r.MsgID != 0 {
			t.Errorf("%s: Publish = %+v, want 22 and no id", tc.name, r)
		}
	}
	// The first of two faults in list order decides: the sequence comes
	// before the keys.
	mixed := controller.Props{"1": controller.PropEntry{Property: "SESSION_EXPIRY_INTERVAL", Value: 1}, "CONTENT_TYPE": "a", "3": "b"}
	if r := x.c.Publish("t", []byte("x"), 1, false, mixed); r.Code != controller.ErrProtocol {
		t.Errorf("a forbidden property first in the sequence, a duplicate after: Publish = %+v, want 2", r)
	}
	users := controller.PropSeq(
		controller.PropEntry{Property: "USER_PROPERTY", Value: [][2]string{{"k", "1"}}},
		controller.PropEntry{Property: "USER_PROPERTY", Value: [][2]string{{"j", "0"}, {"k", "2"}}},
	)
	mid := x.pub("users", "x", 1, false, users)
	x.onPublish(mid)
	f := typ(toBroker, "PUBLISH")
	f.Topic = "users"
	if got := x.wire(f, 1)[0].Props; got != "user_property=k:1 user_property=j:0 user_property=k:2" {
		t.Errorf("user properties on the wire: %q", got)
	}
}

// C4:MQTT("") makes the object C4:MQTT() makes: no id, and a session
// cannot be kept without one.
func TestEmptyClientID(t *testing.T) {
	ctl := sim.New(sim.Options{})
	closeAtEnd(t, ctl)
	if _, err := ctl.NewClientEmptyID(false); err == nil {
		t.Error(`C4:MQTT("", false) made an object`)
	}
	c, err := ctl.NewClientEmptyID(true)
	if err != nil {
		t.Fatalf(`C4:MQTT("", true): %v`, err)
	}
	c.Destroy()
}
