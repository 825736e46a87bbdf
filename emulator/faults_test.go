package emulator_test

import (
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

const (
	tPUBLISH = 3
	tPUBACK  = 4
	tPUBREC  = 5
	tPUBCOMP = 7
	tSUBACK  = 9
)

// startIn starts a broker on an in-memory network, for a test in a
// synctest bubble. The fault tests that wait out quiet lines (a PUBACK a
// rule drops, a stall, a delay) run in bubbles: the quiet passes at once
// on the bubble's clock, and a PUBACK cannot come "late" because the
// machine is loaded, so none is taken for dropped. The fault layer on
// real sockets is exercised by the other tests, TestMatchFields among
// them (its "until already passed" needs time to pass while the client
// works, which a bubble's clock does not).
func startIn(t *testing.T, opts emulator.Options) (*emulator.Broker, *memnet.Network) {
	t.Helper()
	n := memnet.New()
	opts.Listen = n.Listen
	return emulator.StartTest(t, opts), n
}

// ackedIDs publishes QoS 1 messages with ids 1..n on topic and returns the
// ids of the PUBACKs that came back before the line went quiet.
func ackedIDs(t *testing.T, w *wire, topic string, n int, quiet time.Duration) []int {
	t.Helper()
	for i := 1; i <= n; i++ {
		w.publish(topic, 1, uint16(i), "m")
	}
	var ids []int
	for {
		raw, err := w.next(quiet)
		if err != nil {
			return ids
		}
		if raw[0]>>4 == tPUBACK {
			ids = append(ids, int(w.decode(raw).PacketID))
		}
	}
}

// Each match field picks out exactly the packets it names: a drop rule on
// PUBACK with that field set loses the acks the field selects.
func TestMatchFields(t *testing.T) {
	cases := []struct {
		name   string
		match  faults.Match
		client string
		topic  string
		lost   []int // PUBACK ids that must not arrive, of 1..6
	}{
		{"packet_id", faults.Match{PacketID: ptr(3)}, "c", "t", []int{3}},
		{"nth", faults.Match{Nth: 2}, "c", "t", []int{2}},
		{"first", faults.Match{First: 2}, "c", "t", []int{1, 2}},
		{"every", faults.Match{Every: 3}, "c", "t", []int{3, 6}},
		{"client glob matches", faults.Match{Client: "dev-*"}, "dev-7", "t", []int{1, 2, 3, 4, 5, 6}},
		{"client glob misses", faults.Match{Client: "dev-*"}, "other", "t", nil},
		{"probability 0", faults.Match{Probability: ptr(0.0)}, "c", "t", nil},
		{"probability 1", faults.Match{Probability: ptr(1.0)}, "c", "t", []int{1, 2, 3, 4, 5, 6}},
		{"until already passed", faults.Match{Until: time.Nanosecond}, "c", "t", nil},
		{"after not reached", faults.Match{After: time.Hour}, "c", "t", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.match
			m.Direction = faults.ToClient
			m.Packets = []byte{tPUBACK}
			b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "r", Match: m, Action: faults.Drop{}}}})
			w := dial(t, b.DUTAddr, 4)
			w.connect(tc.client)
			got := ackedIDs(t, w, tc.topic, 6, 300*time.Millisecond)
			var want []int
			for i := 1; i <= 6; i++ {
				if !slices.Contains(tc.lost, i) {
					want = append(want, i)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("PUBACKs received %v, want %v", got, want)
			}
			dropped := b.Journal.Records(journal.Filter{Type: "PUBACK", Dropped: "yes"})
			if len(dropped) != len(tc.lost) {
				t.Fatalf("journal shows %d dropped PUBACKs, want %d", len(dropped), len(tc.lost))
			}
		})
	}
}

// Fields of PUBLISH: direction, topic filter, QoS, DUP. A drop rule on
// PUBLISH towards the broker keeps the matching messages from the
// subscriber.
func TestMatchPublishFields(t *testing.T) {
	type msg struct {
		topic string
		qos   byte
		dup   bool
	}
	msgs := []msg{{"home/a/temp", 0, false}, {"home/b/temp", 1, false}, {"office/a/temp", 1, true}, {"home/a/hum", 2, false}}
	cases := []struct {
		name  string
		match faults.Match
		lost  []string
	}{
		{"topic filter +", faults.Match{Topic: "home/+/temp"}, []string{"home/a/temp", "home/b/temp"}},
		{"topic filter #", faults.Match{Topic: "home/#"}, []string{"home/a/temp", "home/b/temp", "home/a/hum"}},
		{"qos", faults.Match{QoS: ptr(1)}, []string{"home/b/temp", "office/a/temp"}},
		{"dup", faults.Match{Dup: ptr(true)}, []string{"office/a/temp"}},
		{"direction to_client spares the way in", faults.Match{Direction: faults.ToClient}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.match
			if m.Direction == 0 {
				m.Direction = faults.ToBroker
			}
			m.Packets = []byte{tPUBLISH}
			b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "r", Match: m, Action: faults.Drop{}}}})
			obs := dial(t, b.ControlAddr, 4)
			obs.connect("observer")
			obs.subscribe("#", 0, 1)
			w := dial(t, b.DUTAddr, 4)
			w.connect("c")
			for i, m := range msgs {
				w.send(packets.Packet{
					FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.qos, Dup: m.dup},
					TopicName:   m.topic, PacketID: uint16(i + 1), Payload: []byte("x"),
				})
			}
			w.publish("end", 0, 0, "")
			var got []string
			for {
				p := obs.decode(obs.expect(tPUBLISH))
				if p.TopicName == "end" {
					break
				}
				got = append(got, p.TopicName)
			}
			var want []string
			for _, m := range msgs {
				if !slices.Contains(tc.lost, m.topic) {
					want = append(want, m.topic)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("subscriber got %v, want %v", got, want)
			}
		})
	}
}

func TestProbabilityIsSeeded(t *testing.T) { synctest.Test(t, probabilityIsSeeded) }

func probabilityIsSeeded(t *testing.T) {
	run := func(seed int64) []int {
		b, n := startIn(t, emulator.Options{Seed: seed, Rules: []faults.Rule{{Name: "coin",
			Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}, Probability: ptr(0.5)},
			Action: faults.Drop{}}}})
		w := dialIn(t, n, b.DUTAddr, 4)
		w.connect("c")
		return ackedIDs(t, w, "t", 40, 300*time.Millisecond)
	}
	a, a2, c := run(7), run(7), run(8)
	if !slices.Equal(a, a2) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", a, a2)
	}
	if len(a) < 8 || len(a) > 32 {
		t.Fatalf("probability 0.5 kept %d of 40 acks", len(a))
	}
	if slices.Equal(a, c) {
		t.Fatalf("seeds 7 and 8 gave the same outcome %v", a)
	}
}

func TestTimesBoundsFiring(t *testing.T) { synctest.Test(t, timesBoundsFiring) }

func timesBoundsFiring(t *testing.T) {
	b, n := startIn(t, emulator.Options{Rules: []faults.Rule{{Name: "twice", Times: 2,
		Match: faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}}, Action: faults.Drop{}}}})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	if got := ackedIDs(t, w, "t", 5, 300*time.Millisecond); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("PUBACKs %v, want [3 4 5]", got)
	}
	st := b.Faults.List()
	if len(st) != 1 || st[0].Fired != 2 {
		t.Fatalf("rule status %+v, want fired 2", st)
	}
}

func TestRulesChangeWhileTrafficFlows(t *testing.T) { synctest.Test(t, rulesChangeWhileTrafficFlows) }

func rulesChangeWhileTrafficFlows(t *testing.T) {
	b, n := startIn(t, emulator.Options{})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	if got := ackedIDs(t, w, "t", 1, 200*time.Millisecond); len(got) != 1 {
		t.Fatalf("before: %v", got)
	}
	rule := faults.Rule{Name: "lose", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}}, Action: faults.Drop{}}
	if err := b.Faults.Add(rule); err != nil {
		t.Fatal(err)
	}
	if err := b.Faults.Add(rule); err == nil {
		t.Fatal("a second rule of the same name was accepted")
	}
	if got := ackedIDs(t, w, "t", 1, 200*time.Millisecond); len(got) != 0 {
		t.Fatalf("with rule: %v", got)
	}
	if !b.Faults.Remove("lose") {
		t.Fatal("remove reported the rule absent")
	}
	if got := ackedIDs(t, w, "t", 1, 200*time.Millisecond); len(got) != 1 {
		t.Fatalf("after removal: %v", got)
	}
}

func TestDelayKeepsOrderAndTakesItsTime(t *testing.T) {
	synctest.Test(t, delayKeepsOrderAndTakesItsTime)
}

func delayKeepsOrderAndTakesItsTime(t *testing.T) {
	const d = 150 * time.Millisecond
	b, n := startIn(t, emulator.Options{Rules: []faults.Rule{{Name: "slow-first",
		Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}, Nth: 1},
		Action: faults.Delay{Duration: d}}}})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	start := time.Now()
	w.publish("t", 1, 1, "a")
	w.publish("t", 1, 2, "b")
	first := w.decode(w.expect(tPUBACK))
	elapsed := time.Since(start)
	second := w.decode(w.expect(tPUBACK))
	if first.PacketID != 1 || second.PacketID != 2 {
		t.Fatalf("order: got ids %d then %d", first.PacketID, second.PacketID)
	}
	if elapsed < d {
		t.Fatalf("delayed PUBACK came after %s, want at least %s", elapsed, d)
	}
	recs := b.Journal.Records(journal.Filter{Type: "PUBACK"})
	if len(recs) != 2 || recs[0].Action != "delay" || recs[1].Action != "" {
		t.Fatalf("journal: %v", recs)
	}
}

func TestDuplicate(t *testing.T) { synctest.Test(t, duplicate) }

func duplicate(t *testing.T) {
	b, n := startIn(t, emulator.Options{Rules: []faults.Rule{{Name: "twice",
		Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}},
		Action: faults.Duplicate{Count: 2}}}})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	if got := ackedIDs(t, w, "t", 1, 300*time.Millisecond); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("PUBACKs %v, want three of id 1", got)
	}
}

func TestReasonRewrite(t *testing.T) {
	t.Run("MQTT 5 PUBACK below 128 reaches the wire", func(t *testing.T) {
		b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "no-subscribers",
			Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}},
			Action: faults.Reason{Code: 16}}}})
		w := dial(t, b.DUTAddr, 5)
		w.connect("c")
		w.publish("t", 1, 9, "x")
		raw := w.expect(tPUBACK)
		pk := w.decode(raw)
		if pk.PacketID != 9 || pk.ReasonCode != 16 || len(raw) != 5 {
			t.Fatalf("PUBACK % x: id %d reason %d", raw, pk.PacketID, pk.ReasonCode)
		}
		recs := b.Journal.Records(journal.Filter{Type: "PUBACK"})
		if len(recs) != 1 || recs[0].Reason == nil || *recs[0].Reason != 16 {
			t.Fatalf("journal: %v", recs)
		}
	})
	t.Run("MQTT 3.1.1 SUBACK failure", func(t *testing.T) {
		b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "refuse-sub",
			Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tSUBACK}},
			Action: faults.Reason{Code: 128}}}})
		w := dial(t, b.DUTAddr, 4)
		w.connect("c")
		w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3,
			Filters: packets.Subscriptions{{Filter: "x", Qos: 1}}})
		pk := w.decode(w.expect(tSUBACK))
		if !slices.Equal(pk.ReasonCodes, []byte{0x80}) {
			t.Fatalf("SUBACK codes % x", pk.ReasonCodes)
		}
	})
	t.Run("CONNACK", func(t *testing.T) {
		b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "busy",
			Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{2}},
			Action: faults.Reason{Code: 137}}}})
		w := dial(t, b.DUTAddr, 5)
		if pk := w.decode(w.connect("c")); pk.ReasonCode != 137 {
			t.Fatalf("CONNACK reason %d", pk.ReasonCode)
		}
	})
}

func TestPacketIDRewrite(t *testing.T) { synctest.Test(t, packetIDRewrite) }

func packetIDRewrite(t *testing.T) {
	b, n := startIn(t, emulator.Options{Rules: []faults.Rule{{Name: "wrong-id",
		Match:  faults.Match{Direction: faults.ToClient, Packets: []byte{tPUBACK}},
		Action: faults.PacketID{ID: 4242}}}})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	if got := ackedIDs(t, w, "t", 1, 300*time.Millisecond); !slices.Equal(got, []int{4242}) {
		t.Fatalf("PUBACK ids %v", got)
	}
	if recs := b.Journal.Records(journal.Filter{Type: "PUBACK", PacketID: 4242}); len(recs) != 1 {
		t.Fatalf("journal shows the rewritten id %d times", len(recs))
	}
}

func TestDisconnect(t *testing.T) {
	cases := []struct {
		name       string
		action     faults.Disconnect
		version    byte
		delivered  bool // the PUBLISH reached the subscriber
		wantPacket byte // packet the client reads before the end, 0 for none
		reset      bool
	}{
		{"close before", faults.Disconnect{Mode: "close"}, 4, false, 0, false},
		{"close after", faults.Disconnect{Mode: "close", When: "after"}, 4, true, 0, false},
		{"reset", faults.Disconnect{Mode: "reset"}, 4, false, 0, true},
		{"mqtt 5 DISCONNECT", faults.Disconnect{Mode: "mqtt", Reason: 139}, 5, false, 14, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "cut",
				Match: faults.Match{Direction: faults.ToBroker, Packets: []byte{tPUBLISH}}, Action: tc.action}}})
			obs := dial(t, b.ControlAddr, 4)
			obs.connect("observer")
			obs.subscribe("t", 0, 1)
			w := dial(t, b.DUTAddr, tc.version)
			w.connect("c")
			w.publish("t", 0, 0, "x")
			if tc.wantPacket != 0 {
				pk := w.decode(w.expect(tc.wantPacket))
				if pk.ReasonCode != byte(tc.action.Reason) {
					t.Fatalf("DISCONNECT reason %d, want %d", pk.ReasonCode, tc.action.Reason)
				}
			}
			_, err := w.next(5 * time.Second)
			switch {
			case tc.reset && !errors.Is(err, syscall.ECONNRESET):
				t.Fatalf("want a TCP reset, got %v", err)
			case !tc.reset && !errors.Is(err, io.EOF):
				t.Fatalf("want the connection closed, got %v", err)
			}
			if tc.delivered {
				obs.expect(tPUBLISH)
			} else {
				obs.silent(200 * time.Millisecond)
			}
			closes, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Kind: journal.KindClose, Client: "c"}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if closes[0].Cause == "" {
				t.Fatal("close record has no cause")
			}
		})
	}
}

func TestStallHoldsBothDirections(t *testing.T) { synctest.Test(t, stallHoldsBothDirections) }

func stallHoldsBothDirections(t *testing.T) {
	const d = 200 * time.Millisecond
	b, n := startIn(t, emulator.Options{Rules: []faults.Rule{{Name: "freeze",
		Match:  faults.Match{Direction: faults.ToBroker, Packets: []byte{12}, Nth: 1},
		Action: faults.Stall{Duration: d}}}})
	w := dialIn(t, n, b.DUTAddr, 4)
	w.connect("c")
	start := time.Now()
	w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	w.publish("t", 1, 1, "x")
	w.expect(13) // PINGRESP, after the stall
	if el := time.Since(start); el < d {
		t.Fatalf("PINGRESP after %s, during a stall of %s", el, d)
	}
	w.expect(tPUBACK)
	if recs := b.Journal.Records(journal.Filter{Kind: journal.KindFault}); len(recs) != 1 || recs[0].Action != "stall" {
		t.Fatalf("journal: %v", recs)
	}
}

func TestRefuseConnect(t *testing.T) {
	for _, tc := range []struct {
		version byte
		code    int
		want    byte
	}{{4, 135, 5}, {5, 135, 135}, {5, 5, 135}, {4, 3, 3}} {
		b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{{Name: "no",
			Match: faults.Match{Packets: []byte{1}}, Action: faults.Refuse{Code: tc.code}}}})
		w := dial(t, b.DUTAddr, tc.version)
		if pk := w.decode(w.connect("c")); pk.ReasonCode != tc.want {
			t.Errorf("v%d refuse %d: CONNACK code %d, want %d", tc.version, tc.code, pk.ReasonCode, tc.want)
		}
		if _, err := w.next(2 * time.Second); !errors.Is(err, io.EOF) {
			t.Errorf("v%d: connection not closed after refusal: %v", tc.version, err)
		}
		if n := len(b.Journal.Records(journal.Filter{Type: "CONNECT", Dropped: "yes"})); n != 1 {
			t.Errorf("journal: %d dropped CONNECTs", n)
		}
	}
}

func TestRestartKeepsSessions(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	w := dial(t, b.DUTAddr, 4)
	w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: "keeper", Keepalive: 30, Clean: false}})
	w.expect(2)
	w.subscribe("kept", 1, 1)

	b.Faults.Add(faults.Rule{Name: "bounce", Match: faults.Match{Direction: faults.ToBroker, Packets: []byte{tPUBLISH}, Nth: 1},
		Action: faults.Restart{DownFor: 100 * time.Millisecond}})
	w.publish("trigger", 0, 0, "")
	if _, err := w.next(5 * time.Second); err == nil {
		t.Fatal("connection survived the restart")
	}
	// While down, connections are refused.
	if c, err := net.DialTimeout("tcp", b.DUTAddr, time.Second); err == nil {
		c.Close()
		select {
		case <-b.Listener().Up():
		default:
			t.Fatal("listener accepted a connection while down")
		}
	}
	select {
	case <-b.Listener().Up():
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not come back")
	}
	w2 := dial(t, b.DUTAddr, 4)
	w2.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: "keeper", Keepalive: 30, Clean: false}})
	if ack := w2.decode(w2.expect(2)); !ack.SessionPresent {
		t.Fatal("session not kept across the restart")
	}
	obs := dial(t, b.ControlAddr, 4)
	obs.connect("observer")
	obs.publish("kept", 1, 1, "still subscribed")
	if p := w2.decode(w2.expect(tPUBLISH)); string(p.Payload) != "still subscribed" {
		t.Fatalf("got %q", p.Payload)
	}
}

func TestProfileAdvertisedInConnack(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{Profile: emulator.Profile{
		MaximumQoS: ptr(1), ReceiveMaximum: 3, RetainAvailable: ptr(false), MaximumPacketSize: 30, TopicAliasMaximum: 5}})
	w := dial(t, b.DUTAddr, 5)
	ack := w.decode(w.connect("c"))
	p := ack.Properties
	if !p.MaximumQosFlag || p.MaximumQos != 1 || p.ReceiveMaximum != 3 || !p.RetainAvailableFlag || p.RetainAvailable != 0 ||
		p.MaximumPacketSize != 30 || p.TopicAliasMaximum != 5 {
		t.Fatalf("CONNACK properties %+v", p)
	}
	recs := b.Journal.Records(journal.Filter{Type: "CONNACK"})
	if len(recs) != 1 || recs[0].Props == "" {
		t.Fatalf("journal CONNACK: %v", recs)
	}
}

func TestAuthPerListener(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{DUTAuth: map[string]string{"drv": "secret"}})
	w := dial(t, b.DUTAddr, 4)
	if ack := w.decode(w.connect("anon")); ack.ReasonCode == 0 {
		t.Fatal("anonymous client accepted on a listener with credentials")
	}
	w2 := dial(t, b.DUTAddr, 4)
	w2.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: "ok", Keepalive: 30, Clean: true,
		UsernameFlag: true, Username: []byte("drv"), PasswordFlag: true, Password: []byte("secret")}})
	if ack := w2.decode(w2.expect(2)); ack.ReasonCode != 0 {
		t.Fatalf("good credentials refused with %d", ack.ReasonCode)
	}
	ctl := dial(t, b.ControlAddr, 4)
	if ack := ctl.decode(ctl.connect("observer")); ack.ReasonCode != 0 {
		t.Fatal("control listener without credentials refused a client")
	}
}

func TestNonLoopbackNeedsCredentials(t *testing.T) {
	_, err := emulator.Start(waitCtx(t), emulator.Options{DUTAddr: "0.0.0.0:0"})
	if err == nil {
		t.Fatal("anonymous broker on 0.0.0.0 started")
	}
}

// mochi's own mistakes are put right before the client sees them.
func TestBrokerCorrections(t *testing.T) {
	t.Run("PUBACK to a PUBLISH with properties", func(t *testing.T) {
		b := emulator.StartTest(t, emulator.Options{})
		w := dial(t, b.DUTAddr, 5)
		w.connect("c")
		w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "t", PacketID: 3,
			Payload: []byte("x"), Properties: packets.Properties{User: []packets.UserProperty{{Key: "k", Val: "v"}}}})
		if pk := w.decode(w.expect(tPUBACK)); pk.ReasonCode != 0 {
			t.Fatalf("PUBACK reason %d, want 0", pk.ReasonCode)
		}
	})
	t.Run("PUBREC to a QoS 2 PUBLISH resent with DUP", func(t *testing.T) {
		b := emulator.StartTest(t, emulator.Options{})
		w := dial(t, b.DUTAddr, 5)
		w.connect("resender")
		w.publish("t", 2, 5, "x")
		w.expect(tPUBREC)
		w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2, Dup: true}, TopicName: "t", PacketID: 5, Payload: []byte("x")})
		if pk := w.decode(w.expect(tPUBREC)); pk.ReasonCode != 0 || pk.PacketID != 5 {
			t.Fatalf("PUBREC id %d reason %d, want id 5 reason 0", pk.PacketID, pk.ReasonCode)
		}
	})
}

// A session taken over on MQTT 3.1.1: the old connection is closed without
// the DISCONNECT mochi would send, which 3.1.1 does not have.
func TestTakeoverOn311SendsNoDisconnect(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	old := dial(t, b.DUTAddr, 4)
	old.connect("same")
	again := dial(t, b.DUTAddr, 4)
	again.connect("same")
	raw, err := old.next(5 * time.Second)
	if err == nil {
		t.Fatalf("the old connection got %s (% x), want it closed", faults.PacketNames[raw[0]>>4], raw)
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("want the old connection closed, got %v", err)
	}
}
