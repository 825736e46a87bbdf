package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// TestTable1 checks publish-semantics.md table 1 row by row, each on a real
// socket against the emulator.
func TestTable1(t *testing.T) {
	q0, q1 := 0, 1
	_ = q1
	latest := sim.Options{Model: controller.MustModel(controller.LatestModel)}
	// refused rows: the call fails with code and no msgId, and the next
	// good publish gets the id the refused call did not take.
	refused := []struct {
		row     string
		s       setup
		topic   string
		payload []byte
		qos     int
		props   controller.Props
		code    int
	}{
		{"1 qos -1", setup{}, "t", nil, -1, nil, 3},
		{"1 qos 3", setup{}, "t", nil, 3, nil, 3},
		{"2 props on 3.1.1", setup{}, "t", nil, 0, controller.Props{"CONTENT_TYPE": "x"}, 10},
		{"2 props on 3.1", setup{version: 3}, "t", nil, 0, controller.Props{"CONTENT_TYPE": "x"}, 10},
		{"3 qos 1 over maximum QoS 0", setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{MaximumQoS: &q0}}}, "t", nil, 1, nil, 24},
		{"3 before 4", setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{MaximumQoS: &q0}}}, "t", nil, 2, controller.Props{"SESSION_EXPIRY_INTERVAL": 1}, 24},
		{"4 property not for PUBLISH", setup{version: 5}, "t", nil, 0, controller.Props{"SESSION_EXPIRY_INTERVAL": 5}, 2},
		{"4 topic alias 0", setup{version: 5}, "t", nil, 0, controller.Props{"TOPIC_ALIAS": 0}, 2},
		{"4 payload format indicator 2 (2.0.20)", setup{version: 5, sim: latest}, "t", nil, 0, controller.Props{"PAYLOAD_FORMAT_INDICATOR": 2}, 2},
		{"4 response topic with a wildcard (2.0.20)", setup{version: 5, sim: latest}, "t", nil, 0, controller.Props{"RESPONSE_TOPIC": "a/+"}, 2},
		{"5 duplicate property", setup{version: 5}, "t", nil, 0, controller.Props{"CONTENT_TYPE": "a", "3": "b"}, 22},
		{"6 nil topic", setup{}, "", nil, 0, nil, 3},
		{"6 empty topic on MQTT 5 without alias", setup{version: 5}, "", nil, 1, nil, 3},
		{"7 invalid byte", setup{}, "a\xff", nil, 0, nil, 18},
		{"7 control char", setup{}, "a\x01b", nil, 0, nil, 18},
		{"7 NUL", setup{}, "a\x00b", nil, 0, nil, 18},
		{"7 C1 control", setup{}, "a\u0085", nil, 0, nil, 18},
		{"7 non-character", setup{}, "a\ufffe", nil, 0, nil, 18},
		{"7 surrogate", setup{}, "a\xed\xa0\x80", nil, 0, nil, 18},
		{"7 overlong", setup{}, "a\xc0\xaf", nil, 0, nil, 18},
		{"7 longer than 65536", setup{}, strings.Repeat("a", 65537), nil, 0, nil, 18},
		{"8 exactly 65536", setup{}, strings.Repeat("a", 65536), nil, 0, nil, 3},
		{"9 payload too large", setup{}, "t", make([]byte, 268435456), 0, nil, 9},
		{"10 plus", setup{}, "a/+", nil, 0, nil, 3},
		{"10 hash inside a level", setup{}, "a#b", nil, 0, nil, 3},
		{"10 hash", setup{}, "#", nil, 1, nil, 3},
		{"11 packet too large", setup{version: 5, id: "c11", opts: emulator.Options{Profile: emulator.Profile{MaximumPacketSize: 30}}}, "t", make([]byte, 26), 0, nil, 25},
	}
	for _, tc := range refused {
		t.Run("row "+tc.row, func(t *testing.T) {
			x := start(t, tc.s)
			first := x.pub("ok", "", 0, false, nil)
			r := x.c.Publish(tc.topic, tc.payload, tc.qos, false, tc.props)
			if r.Code != tc.code || r.MsgID != 0 || r.Err == "" {
				t.Fatalf("Publish = %+v, want code %d, no msgId, an error string", r, tc.code)
			}
			if next := x.pub("ok", "", 0, false, nil); next != first+1 {
				t.Fatalf("next msgId %d, want %d: the refused call took an id", next, first+1)
			}
		})
	}

	t.Run("row 12 not connected qos 0", func(t *testing.T) {
		x := start(t, setup{noConn: true})
		r := x.c.Publish("t", []byte("x"), 0, false, nil)
		if r.Code != 4 || r.MsgID != 0 {
			t.Fatalf("Publish = %+v, want 4 and no msgId", r)
		}
		x.connect()
		mid := x.pub("t", "y", 0, false, nil)
		if mid != 2 {
			t.Fatalf("msgId %d, want 2: the refused QoS 0 publish consumes id 1", mid)
		}
		x.onPublish(2)
		if n := x.count(controller.Is(controller.OnPublish, 1)); n != 0 {
			t.Fatalf("%d onPublish for the discarded message", n)
		}
		x.wire(typ(toBroker, "PUBLISH"), 1)
		if n := len(x.b.Journal.Records(typ(toBroker, "PUBLISH"))); n != 1 {
			t.Fatalf("%d PUBLISH on the wire, want 1", n)
		}
	})

	for _, qos := range []int{1, 2} {
		t.Run("row 13 not connected qos "+string(rune('0'+qos)), func(t *testing.T) {
			x := start(t, setup{noConn: true})
			r := x.c.Publish("t", []byte("x"), qos, false, nil)
			if r.Code != 4 || r.MsgID != 0 {
				t.Fatalf("Publish = %+v, want 4 and no msgId", r)
			}
			x.connect()
			rec := x.wire(typ(toBroker, "PUBLISH"), 1)[0]
			if rec.PacketID != 1 || !rec.Dup || rec.QoS != qos {
				t.Fatalf("wire: %v, want the queued message with id 1 and DUP=1", rec)
			}
			ev := x.onPublish(1)
			if ev.Reason != 0 {
				t.Fatalf("onPublish %+v", ev)
			}
		})
	}

	t.Run("row 14 before CONNACK", func(t *testing.T) {
		x := start(t, setup{noConn: true})
		x.rule(faults.Rule{Name: "slow-connack", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{2}}, Action: faults.Delay{Duration: 300 * time.Millisecond}})
		host, port := x.hostPort()
		x.ok(x.c.Connect(host, port, 60, nil), "Connect")
		mid := x.pub("t", "x", 1, false, nil)
		pub := x.wire(typ(toBroker, "PUBLISH"), 1)[0]
		connack := x.wire(typ(toClient, "CONNACK"), 1)[0]
		if pub.Seq > connack.Seq || pub.PacketID != mid || pub.Dup {
			t.Fatalf("PUBLISH %v should precede CONNACK %v, with id %d and no DUP", pub, connack, mid)
		}
		x.waitConnect(1)
		x.onPublish(mid)
	})

	t.Run("row 15 window full", func(t *testing.T) {
		x := start(t, setup{noConn: true})
		x.ok(x.c.SetMaxInflightMessages(1), "SetMaxInflightMessages")
		x.connect()
		x.rule(faults.Rule{Name: "slow-puback", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}, Nth: 1}, Action: faults.Delay{Duration: 200 * time.Millisecond}})
		m1 := x.pub("t", "1", 1, false, nil)
		m2 := x.pub("t", "2", 1, false, nil)
		x.onPublish(m2)
		pubs := x.b.Journal.Records(typ(toBroker, "PUBLISH"))
		acks := x.b.Journal.Records(typ(toClient, "PUBACK"))
		if len(pubs) != 2 || len(acks) != 2 || pubs[0].PacketID != m1 || pubs[1].PacketID != m2 || pubs[1].Seq < acks[0].Seq {
			t.Fatalf("second PUBLISH must wait for the first PUBACK: publishes %v, acks %v", pubs, acks)
		}
		evs := x.r.Filter(controller.Is(controller.OnPublish, 0))
		if len(evs) != 2 || evs[0].MsgID != m1 || evs[1].MsgID != m2 {
			t.Fatalf("onPublish order %v", evs)
		}
	})

	t.Run("row 16 retain not available", func(t *testing.T) {
		f := false
		x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{RetainAvailable: &f}}})
		mid := x.pub("t", "x", 0, true, nil)
		rec := x.wire(typ(toBroker, "PUBLISH"), 1)[0]
		if rec.Retain {
			t.Fatalf("retain flag sent: %v", rec)
		}
		x.onPublish(mid)
	})
	_ = journal.Filter{}
}
