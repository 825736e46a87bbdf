// Tests of the corrupt action: from a plan, on packets, and through a
// running broker emulator to a subscriber. An external test package, so
// that it can start the emulator, which imports faults.
package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/faults/wire"
)

// encoded is what one of mochi's encoders writes for a packet.
func encoded(t testing.TB, encode func(*bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func publish(t testing.TB, version byte, qos byte, topic string, payload []byte) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, ProtocolVersion: version,
		TopicName: topic, Payload: payload}
	if qos > 0 {
		pk.PacketID = 9
	}
	if version == 5 {
		pk.Properties = packets.Properties{ContentType: "text/plain"}
	}
	return encoded(t, pk.PublishEncode)
}

func corruptRule(t testing.TB, count int, seed int64) faults.Rule {
	t.Helper()
	r, err := faults.RuleFromJSON([]byte(`{"name":"damage","match":{"packet":"PUBLISH"},"seed":` +
		jsonInt(seed) + `,"corrupt":{"count":` + jsonInt(int64(count)) + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// apply runs raw through a set holding only r and returns what goes on.
func apply(t testing.TB, r faults.Rule, raw []byte, version byte) []byte {
	t.Helper()
	s := faults.NewSet(1)
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	p, err := faults.Parse(raw, faults.ToBroker, version)
	if err != nil {
		t.Fatal(err)
	}
	o := s.Apply(&p)
	if o.Action != "corrupt" {
		t.Fatalf("outcome %+v, want corrupt to act", o)
	}
	return o.Raw
}

func TestCorruptFlipsPayloadBytesOnly(t *testing.T) {
	payload := bytes.Repeat([]byte("payload-"), 32)
	cases := []struct {
		name    string
		version byte
		qos     byte
		count   int
		payload []byte
		flipped int
	}{
		{"3.1.1 qos 0", 4, 0, 1, payload, 1},
		{"3.1.1 qos 1, several", 4, 1, 5, payload, 5},
		{"5 with properties", 5, 2, 3, payload, 3},
		{"count beyond the payload", 4, 1, 10, []byte("abc"), 3},
		{"empty payload", 4, 1, 2, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := publish(t, c.version, c.qos, "home/temp", c.payload)
			got := apply(t, corruptRule(t, c.count, 7), raw, c.version)
			if c.flipped == 0 {
				if got != nil {
					t.Fatalf("empty payload rewritten: % x", got)
				}
				return
			}
			if len(got) != len(raw) {
				t.Fatalf("length %d, want %d", len(got), len(raw))
			}
			start := len(raw) - len(c.payload)
			if !bytes.Equal(got[:start], raw[:start]) {
				t.Errorf("header, topic or properties changed:\n got % x\nwant % x", got[:start], raw[:start])
			}
			diff := 0
			for i := start; i < len(raw); i++ {
				if got[i] != raw[i] {
					diff++
				}
			}
			if diff != c.flipped {
				t.Errorf("%d payload bytes differ, want %d", diff, c.flipped)
			}
			p, err := faults.Parse(got, faults.ToBroker, c.version)
			if err != nil || p.Topic != "home/temp" {
				t.Errorf("damaged packet parses as %+v, %v", p, err)
			}
		})
	}
}

func TestCorruptIsSeeded(t *testing.T) {
	raw := publish(t, 4, 1, "t", bytes.Repeat([]byte{0x55}, 256))
	a := apply(t, corruptRule(t, 4, 11), raw, 4)
	b := apply(t, corruptRule(t, 4, 11), raw, 4)
	c := apply(t, corruptRule(t, 4, 12), raw, 4)
	if !bytes.Equal(a, b) {
		t.Errorf("same seed, different damage:\n% x\n% x", a, b)
	}
	if bytes.Equal(a, c) {
		t.Errorf("seeds 11 and 12 damage the same bytes the same way")
	}
}

func TestCorruptPlan(t *testing.T) {
	p, err := faults.ParsePlan("plan.yaml", []byte("rules:\n  - name: a\n    match: {packet: PUBLISH}\n    corrupt: {count: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Rules[0].Action, (faults.Corrupt{Count: 2}); got != want {
		t.Errorf("action %+v, want %+v", got, want)
	}
	b, err := json.Marshal(faults.RuleToSpec(p.Rules[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"a","match":{"direction":"both","packet":["PUBLISH"]},"corrupt":{"count":2}}`; string(b) != want {
		t.Errorf("listed as %s, want %s", b, want)
	}

	for _, c := range []struct{ name, src, want string }{
		{"not publish", "rules:\n  - name: a\n    match: {packet: PUBACK}\n    corrupt: {count: 1}\n",
			"plan.yaml:4: rules[0].corrupt: corrupt applies to PUBLISH only"},
		{"no packet", "rules:\n  - name: a\n    corrupt: {count: 1}\n", "rules[0].corrupt: corrupt applies to PUBLISH only"},
		{"zero", "rules:\n  - name: a\n    match: {packet: PUBLISH}\n    corrupt:\n      count: 0\n",
			"plan.yaml:5: rules[0].corrupt.count: must be at least 1, got 0"},
		{"missing count", "rules:\n  - name: a\n    match: {packet: PUBLISH}\n    corrupt: {}\n", "rules[0].corrupt.count: missing"},
	} {
		_, err := faults.ParsePlan("plan.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

// A subscriber on the undisturbed control listener receives the damaged
// payload the device under test's PUBLISH was turned into.
func TestCorruptReachesSubscriber(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{corruptRule(t, 3, 5)}})
	sub := dialMQTT(t, b.ControlAddr, "observer")
	subscribe := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: "home/#"}}}
	sub.write(encoded(t, subscribe.SubscribeEncode))
	sub.expect(faults.SUBACK)

	dut := dialMQTT(t, b.DUTAddr, "device")
	sent := bytes.Repeat([]byte("reading=21.5;"), 8)
	dut.write(publish(t, 4, 0, "home/temp", sent))

	raw := sub.expect(faults.PUBLISH)
	p, err := faults.Parse(raw, faults.ToClient, 4)
	if err != nil || p.Topic != "home/temp" {
		t.Fatalf("subscriber got %+v, %v", p, err)
	}
	got := raw[len(raw)-len(sent):]
	diff := 0
	for i := range sent {
		if got[i] != sent[i] {
			diff++
		}
	}
	if diff != 3 {
		t.Errorf("subscriber's payload differs in %d bytes, want 3:\n got %q\nsent %q", diff, got, sent)
	}
}

type mqttConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialMQTT(t testing.TB, addr, clientID string) *mqttConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	m := &mqttConn{t: t, conn: c, br: bufio.NewReader(c)}
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: clientID, Keepalive: 30, Clean: true}}
	m.write(encoded(t, connect.ConnectEncode))
	m.expect(faults.CONNACK)
	return m
}

func (m *mqttConn) write(raw []byte) {
	m.t.Helper()
	if _, err := m.conn.Write(raw); err != nil {
		m.t.Fatal(err)
	}
}

// expect reads the next packet, within a deadline, and checks its type.
func (m *mqttConn) expect(typ byte) []byte {
	m.t.Helper()
	if err := m.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		m.t.Fatal(err)
	}
	raw, err := wire.ReadFrame(m.br)
	if err != nil {
		m.t.Fatalf("waiting for %s: %v", faults.PacketNames[typ], err)
	}
	if raw[0]>>4 != typ {
		m.t.Fatalf("got %s, want %s", faults.PacketNames[raw[0]>>4], faults.PacketNames[typ])
	}
	return raw
}
