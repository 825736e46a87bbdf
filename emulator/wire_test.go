package emulator_test

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/faults"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/memnet"
	"github.com/mqtthil/mqtthil/internal/mqttcodec"
)

// wire is a bare MQTT client for tests: it writes packets built with
// mochi's codec and reads back whole frames, so a test sees exactly what
// crossed the socket.
type wire struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	version byte
}

func dial(t testing.TB, addr string, version byte) *wire {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, conn: c, br: bufio.NewReader(c), version: version}
}

// dialIn is dial on an in-memory network, for a test in a bubble.
func dialIn(t testing.TB, n *memnet.Network, addr string, version byte) *wire {
	t.Helper()
	c := dialConn(t, n, addr)
	return &wire{t: t, conn: c, br: bufio.NewReader(c), version: version}
}

// dialConn connects to addr on the in-memory network n.
func dialConn(t testing.TB, n *memnet.Network, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (w *wire) send(pk packets.Packet) {
	w.t.Helper()
	pk.ProtocolVersion = w.version
	raw, err := mqttcodec.Encode(pk)
	if err != nil {
		w.t.Fatalf("encode: %v", err)
	}
	if _, err := w.conn.Write(raw); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next reads one frame within d; ok is false on timeout or close.
func (w *wire) next(d time.Duration) (raw []byte, err error) {
	w.conn.SetReadDeadline(time.Now().Add(d))
	return faultwire.ReadFrame(w.br)
}

// expect reads one frame and fails unless it has the given type.
func (w *wire) expect(typ byte) []byte {
	w.t.Helper()
	raw, err := w.next(5 * time.Second)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v", faults.PacketNames[typ], err)
	}
	if raw[0]>>4 != typ {
		w.t.Fatalf("got %s, want %s (% x)", faults.PacketNames[raw[0]>>4], faults.PacketNames[typ], raw)
	}
	return raw
}

// silent fails if a frame arrives within d.
func (w *wire) silent(d time.Duration) {
	w.t.Helper()
	raw, err := w.next(d)
	if err == nil {
		w.t.Fatalf("expected nothing, got %s (% x)", faults.PacketNames[raw[0]>>4], raw)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		w.t.Fatalf("expected nothing, connection ended: %v", err)
	}
}

func (w *wire) connect(clientID string) []byte {
	w.t.Helper()
	name := "MQTT"
	if w.version == 3 {
		name = "MQIsdp"
	}
	w.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{
			ProtocolName:     []byte(name),
			ClientIdentifier: clientID,
			Keepalive:        30,
			Clean:            true,
		},
	})
	return w.expect(packets.Connack)
}

func (w *wire) publish(topic string, qos byte, id uint16, payload string) {
	w.t.Helper()
	w.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic,
		PacketID:    id,
		Payload:     []byte(payload),
	})
}

func (w *wire) subscribe(filter string, qos byte, id uint16) {
	w.t.Helper()
	w.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    id,
		Filters:     packets.Subscriptions{{Filter: filter, Qos: qos}},
	})
	w.expect(packets.Suback)
}

// decode parses a frame read from the broker with mochi's codec.
func (w *wire) decode(raw []byte) packets.Packet {
	w.t.Helper()
	var fh packets.FixedHeader
	if err := fh.Decode(raw[0]); err != nil {
		w.t.Fatalf("fixed header: %v", err)
	}
	start := 2
	for raw[start-1]&0x80 != 0 {
		start++
	}
	fh.Remaining = len(raw) - start
	pk := packets.Packet{FixedHeader: fh, ProtocolVersion: w.version}
	body := raw[start:]
	var err error
	switch fh.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	if err != nil {
		w.t.Fatalf("decode %s: %v", faults.PacketNames[fh.Type], err)
	}
	return pk
}
