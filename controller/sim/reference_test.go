package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// maxOutstanding walks the journal in order and returns the largest number
// of PUBLISHes to the broker not yet answered by a completing ack.
func maxOutstanding(recs []journal.Record, done string) int {
	o := newOutstanding(done)
	for _, r := range recs {
		o.add(r)
	}
	return o.peak
}

// outstanding counts QoS 1 and 2 publishes to the broker not yet answered
// with done (or refused with a PUBREC), one record at a time, so that a
// long journal can be scanned rather than copied.
type outstanding struct {
	done string
	out  map[int]bool
	peak int
}

func newOutstanding(done string) *outstanding {
	return &outstanding{done: done, out: map[int]bool{}}
}

func (o *outstanding) add(r journal.Record) {
	if r.Kind != journal.KindPacket {
		return
	}
	switch {
	case r.Dir == "to_broker" && r.Type == "PUBLISH" && r.QoS > 0:
		o.out[r.PacketID] = true
	case r.Dir == "to_client" && r.Type == o.done:
		delete(o.out, r.PacketID)
	case r.Dir == "to_client" && r.Type == "PUBREC" && r.Reason != nil && *r.Reason >= 128:
		delete(o.out, r.PacketID)
	}
	o.peak = max(o.peak, len(o.out))
}

// TestReferenceCases expresses each reference case of publish-semantics.md
// section 7 with the emulator's faults and profiles.
func TestReferenceCases(t *testing.T) {
	q0, q1 := 0, 1

	t.Run("qos 0 publish", func(t *testing.T) {
		x := start(t, setup{})
		for _, payload := range []string{"hello", ""} {
			mid := x.pub("t", payload, 0, false, nil)
			ev := x.onPublish(mid)
			if ev.Reason != 0 || ev.Props != nil {
				t.Fatalf("onPublish %+v", ev)
			}
		}
		recs := x.wire(typ(toBroker, "PUBLISH"), 2)
		if recs[1].PayloadSize != 0 || recs[0].PayloadSize != 5 {
			t.Fatalf("wire %v", recs)
		}
	})

	t.Run("qos 1 socket closed instead of PUBACK", func(t *testing.T) {
		x := start(t, setup{})
		x.rule(faults.Rule{Name: "cut", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}, Nth: 1}, Action: faults.Disconnect{Mode: "close"}})
		mid := x.pub("t", "x", 1, false, nil)
		ev := x.waitEv(controller.Is(controller.OnDisconnect, 0), 1)[0]
		if ev.Reason != 7 {
			t.Fatalf("onDisconnect %d, want 7", ev.Reason)
		}
		if n := x.count(controller.Is(controller.OnPublish, 0)); n != 0 {
			t.Fatalf("onPublish after a lost connection: %d", n)
		}
		x.ok(x.c.Reconnect(), "Reconnect")
		x.waitConnect(2)
		pubs := x.wire(typ(toBroker, "PUBLISH"), 2)
		if pubs[0].Dup || !pubs[1].Dup || pubs[1].PacketID != mid || pubs[1].Conn == pubs[0].Conn {
			t.Fatalf("resend: %v", pubs)
		}
		x.onPublish(mid)
	})

	for _, tc := range []struct {
		name   string
		rule   *faults.Rule
		qos    int
		reason int
	}{
		{"puback without reason byte", nil, 1, 0},
		{"puback with reason 16", &faults.Rule{Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}}, Action: faults.Reason{Code: 16}}, 1, 16},
		{"puback with reason 135", &faults.Rule{Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}}, Action: faults.Reason{Code: 135}}, 1, 135},
		{"pubcomp without reason byte", nil, 2, 0},
		{"pubcomp with reason 146", &faults.Rule{Match: faults.Match{Direction: faults.ToClient, Packets: []byte{7}}, Action: faults.Reason{Code: 146}}, 2, 146},
	} {
		t.Run("ack length "+tc.name, func(t *testing.T) {
			x := start(t, setup{version: 5})
			if tc.rule != nil {
				tc.rule.Name = "reason"
				x.rule(*tc.rule)
			}
			mid := x.pub("t", "x", tc.qos, false, nil)
			ev := x.onPublish(mid)
			if ev.Reason != tc.reason {
				t.Fatalf("onPublish reason %d, want %d", ev.Reason, tc.reason)
			}
		})
	}

	t.Run("receive maximum 3 with 6 qos 1", func(t *testing.T) {
		x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{ReceiveMaximum: 3}}})
		x.rule(faults.Rule{Name: "slow", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}}, Action: faults.Delay{Duration: 20 * time.Millisecond}})
		var mids []int
		for i := 0; i < 6; i++ {
			mids = append(mids, x.pub("t", "x", 1, false, nil))
		}
		evs := x.waitEv(controller.Is(controller.OnPublish, 0), 6)
		for i, ev := range evs {
			if ev.MsgID != mids[i] {
				t.Fatalf("onPublish order: %v", evs)
			}
		}
		all := x.b.Journal.Records(journal.Filter{})
		if p := maxOutstanding(all, "PUBACK"); p != 3 {
			t.Fatalf("at most %d in flight, want 3", p)
		}
		pubs := x.b.Journal.Records(typ(toBroker, "PUBLISH"))
		acks := x.b.Journal.Records(typ(toClient, "PUBACK"))
		for i := 3; i < 6; i++ {
			if pubs[i].Seq < acks[i-3].Seq {
				t.Fatalf("PUBLISH %d went out before PUBACK %d", pubs[i].PacketID, acks[i-3].PacketID)
			}
		}
	})

	t.Run("qos 2 full flow", func(t *testing.T) {
		x := start(t, setup{version: 5})
		x.rule(faults.Rule{Name: "slow-pubcomp", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{7}}, Action: faults.Delay{Duration: 300 * time.Millisecond}})
		mid := x.pub("t", "x", 2, false, nil)
		x.wire(typ(toBroker, "PUBREL"), 1)
		if n := x.count(controller.Is(controller.OnPublish, 0)); n != 0 {
			t.Fatal("onPublish before PUBCOMP")
		}
		x.onPublish(mid)
		var seq []string
		for _, r := range x.b.Journal.Records(journal.Filter{Kind: journal.KindPacket}) {
			if r.PacketID == mid && r.Type != "CONNECT" {
				seq = append(seq, r.Dir+" "+r.Type)
			}
		}
		want := "to_broker PUBLISH,to_client PUBREC,to_broker PUBREL,to_client PUBCOMP"
		if strings.Join(seq, ",") != want {
			t.Fatalf("wire %v", seq)
		}
	})

	t.Run("maximum qos 0", func(t *testing.T) {
		x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{MaximumQoS: &q0}}})
		for _, q := range []int{1, 2} {
			if r := x.c.Publish("t", nil, q, false, nil); r.Code != 24 || r.MsgID != 0 {
				t.Fatalf("qos %d: %+v", q, r)
			}
		}
		if mid := x.pub("t", "x", 0, false, nil); mid != 1 {
			t.Fatalf("qos 0 got id %d, want 1", mid)
		}
		x.onPublish(1)
	})

	t.Run("maximum qos 1", func(t *testing.T) {
		x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{MaximumQoS: &q1}}})
		if r := x.c.Publish("t", nil, 2, false, nil); r.Code != 24 || r.MsgID != 0 {
			t.Fatalf("qos 2: %+v", r)
		}
		if mid := x.pub("t", "x", 1, false, nil); mid != 1 {
			t.Fatalf("qos 1 id %d", mid)
		}
		if mid := x.pub("t", "x", 0, false, nil); mid != 2 {
			t.Fatalf("qos 0 id %d", mid)
		}
		x.onPublish(1)
		x.onPublish(2)
	})

	t.Run("pubrec 128 under receive maximum 1", func(t *testing.T) {
		x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{ReceiveMaximum: 1}}})
		x.rule(faults.Rule{Name: "refuse", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{5}, Nth: 1}, Action: faults.Reason{Code: 128}})
		m1 := x.pub("t", "1", 2, false, nil)
		m2 := x.pub("t", "2", 2, false, nil)
		if ev := x.onPublish(m1); ev.Reason != 128 {
			t.Fatalf("first onPublish %+v, want reason 128", ev)
		}
		// The slot is free: the second PUBLISH goes out at once. mochi
		// never saw its PUBREC rewritten, still counts the first message
		// and ends the connection with 147; the client passes that code on.
		p2 := x.wire(typ(toBroker, "PUBLISH"), 2)[1]
		if p2.PacketID != m2 || p2.Dup {
			t.Fatalf("second PUBLISH %v", p2)
		}
		if ev := x.waitEv(controller.Is(controller.OnDisconnect, 0), 1)[0]; ev.Reason != 147 {
			t.Fatalf("onDisconnect %+v, want the broker's reason 147", ev)
		}
		x.ok(x.c.Reconnect(), "Reconnect")
		x.waitConnect(2)
		if ev := x.onPublish(m2); ev.Reason != 0 {
			t.Fatalf("second onPublish %+v", ev)
		}
		for _, r := range x.b.Journal.Records(typ(toBroker, "PUBREL")) {
			if r.PacketID == m1 {
				t.Fatalf("PUBREL sent after PUBREC 128: %v", r)
			}
		}
		if n := x.count(controller.Is(controller.OnPublish, m1)); n != 1 {
			t.Fatalf("%d onPublish for the first message", n)
		}
	})

	for _, rm := range []int{1, 2} {
		t.Run("receive maximum "+string(rune('0'+rm))+" with 5 qos 2", func(t *testing.T) {
			x := start(t, setup{version: 5, opts: emulator.Options{Profile: emulator.Profile{ReceiveMaximum: rm}}})
			x.rule(faults.Rule{Name: "slow", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{5}}, Action: faults.Delay{Duration: 10 * time.Millisecond}})
			for i := 0; i < 5; i++ {
				x.pub("t", "x", 2, false, nil)
			}
			x.waitEv(controller.Is(controller.OnPublish, 0), 5)
			if p := maxOutstanding(x.b.Journal.Records(journal.Filter{}), "PUBCOMP"); p != rm {
				t.Fatalf("at most %d in flight until PUBCOMP, want %d", p, rm)
			}
		})
	}

	t.Run("retained qos 0", func(t *testing.T) {
		x := start(t, setup{})
		mid := x.pub("t", "x", 0, true, nil)
		if r := x.wire(typ(toBroker, "PUBLISH"), 1)[0]; !r.Retain {
			t.Fatalf("no retain bit: %v", r)
		}
		x.onPublish(mid)
	})

	t.Run("maximum packet size 30", func(t *testing.T) {
		x := start(t, setup{version: 5, id: "mps", opts: emulator.Options{Profile: emulator.Profile{MaximumPacketSize: 30}}})
		mid := x.pub("t", strings.Repeat("x", 25), 0, false, nil)
		if r := x.c.Publish("t", []byte(strings.Repeat("x", 26)), 0, false, nil); r.Code != 25 || r.MsgID != 0 {
			t.Fatalf("32-byte packet: %+v", r)
		}
		if r := x.wire(typ(toBroker, "PUBLISH"), 1)[0]; r.Size != 31 {
			t.Fatalf("sent %d bytes, want 31", r.Size)
		}
		x.onPublish(mid)
	})

	t.Run("properties on the wire", func(t *testing.T) {
		x := start(t, setup{version: 5})
		mid := x.pub("t", "x", 1, false, controller.Props{
			"CONTENT_TYPE":             "text/plain",
			"PAYLOAD_FORMAT_INDICATOR": 1,
			"RESPONSE_TOPIC":           "reply/here",
			"CORRELATION_DATA":         "\x01\x02",
		})
		r := x.wire(typ(toBroker, "PUBLISH"), 1)[0]
		want := "payload_format_indicator=1 content_type=text/plain response_topic=reply/here correlation_data=0102"
		if r.Props != want {
			t.Fatalf("props on the wire %q, want %q", r.Props, want)
		}
		x.onPublish(mid)
		// QoS 0: mochi echoes a PUBLISH's user properties in its PUBACK,
		// with reason code 1, which the client must refuse.
		mid = x.pub("t", "x", 0, false, controller.Props{"USER_PROPERTY": map[string]string{"k": "v", "a": "b"}})
		r = x.wire(typ(toBroker, "PUBLISH"), 2)[1]
		if r.Props != "user_property=a:b user_property=k:v" {
			t.Fatalf("props on the wire %q", r.Props)
		}
		x.onPublish(mid)
	})
}
