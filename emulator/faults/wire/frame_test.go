package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/internal/mqttcodec"
)

func encode(t testing.TB, pk packets.Packet) []byte {
	t.Helper()
	b, err := mqttcodec.Encode(pk)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samplePackets(t testing.TB) [][]byte {
	big := bytes.Repeat([]byte{'x'}, 20000) // three length bytes
	return [][]byte{
		encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: "dev-1", Keepalive: 10, Clean: true}}),
		encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Dup: true, Retain: true},
			TopicName: "a/b", PacketID: 513, Payload: []byte("hi"), ProtocolVersion: 4}),
		encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "big", Payload: big, ProtocolVersion: 4}),
		{0xc0, 0}, // PINGREQ
		encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: 7, ProtocolVersion: 5,
			ReasonCode: 0x87, Properties: packets.Properties{ReasonString: "no"}}),
	}
}

// The framer gives back the same packets whichever way the stream is cut.
func TestFramerAnySplit(t *testing.T) {
	pkts := samplePackets(t)
	stream := bytes.Join(pkts, nil)
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(stream)} {
		var f Framer
		var got [][]byte
		for i := 0; i < len(stream); i += chunk {
			out, err := f.Feed(stream[i:min(i+chunk, len(stream))])
			if err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			got = append(got, out...)
		}
		if !slices.EqualFunc(got, pkts, bytes.Equal) || f.Pending() != 0 {
			t.Fatalf("chunk %d: got %d packets, %d bytes pending", chunk, len(got), f.Pending())
		}
	}
}

func TestReadFrame(t *testing.T) {
	pkts := samplePackets(t)
	br := bufio.NewReader(bytes.NewReader(bytes.Join(pkts, nil)))
	for i, want := range pkts {
		got, err := ReadFrame(br)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if _, err := ReadFrame(br); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want EOF", err)
	}
	// Cut inside a packet: unexpected EOF, not EOF.
	br = bufio.NewReader(bytes.NewReader(pkts[1][:5]))
	if _, err := ReadFrame(br); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut packet: %v", err)
	}
	// Five length bytes are malformed.
	br = bufio.NewReader(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}))
	if _, err := ReadFrame(br); err == nil {
		t.Fatal("malformed remaining length accepted")
	}
}

func TestParseFields(t *testing.T) {
	pkts := samplePackets(t)
	v, id, ok := connectInfo(pkts[0])
	if !ok || v != 5 || id != "dev-1" {
		t.Fatalf("connectInfo: %d %q %t", v, id, ok)
	}
	p, err := faults.Parse(pkts[1], faults.ToBroker, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != faults.PUBLISH || p.Topic != "a/b" || p.PacketID != 513 || p.QoS != 1 || !p.Dup || !p.Retain {
		t.Fatalf("PUBLISH parsed as %+v", p)
	}
	p, _ = faults.Parse(pkts[4], faults.ToClient, 5)
	r := describe(&p)
	if r.PacketID != 7 || r.Reason == nil || *r.Reason != 0x87 || r.Props != "reason_string=no" {
		t.Fatalf("PUBACK described as %+v", r)
	}
	raw, err := faults.RewriteReason(&p, 16)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := faults.Parse(raw, faults.ToClient, 5)
	if r2 := describe(&p2); *r2.Reason != 16 || r2.Props != "reason_string=no" {
		t.Fatalf("rewritten PUBACK: %+v", r2)
	}
}

// FuzzFramer feeds any bytes, cut anywhere, and checks that the framer and
// ReadFrame agree, never panic, and that every packet they return has the
// length its header gives.
func FuzzFramer(f *testing.F) {
	for _, p := range samplePackets(f) {
		f.Add(p, uint8(3))
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, uint8(1))
	f.Add([]byte{0x20, 0x02, 0x00, 0x00, 0xd0, 0x00, 0xe0}, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		chunk := int(cut)%16 + 1
		var fr Framer
		var viaFramer [][]byte
		var ferr error
		for i := 0; i < len(data) && ferr == nil; i += chunk {
			var out [][]byte
			out, ferr = fr.Feed(data[i:min(i+chunk, len(data))])
			viaFramer = append(viaFramer, out...)
		}
		br := bufio.NewReader(bytes.NewReader(data))
		var viaRead [][]byte
		for {
			raw, err := ReadFrame(br)
			if err != nil {
				break
			}
			viaRead = append(viaRead, raw)
		}
		if !slices.EqualFunc(viaFramer, viaRead, bytes.Equal) {
			t.Fatalf("framer gave %d packets, ReadFrame %d", len(viaFramer), len(viaRead))
		}
		for _, raw := range viaRead {
			if size, ok, err := frameSize(raw); err != nil || !ok || size != len(raw) {
				t.Fatalf("packet of %d bytes claims %d (%v)", len(raw), size, err)
			}
			for _, v := range []byte{0, 3, 4, 5} {
				p, err := faults.Parse(raw, faults.ToClient, v)
				if err != nil {
					continue
				}
				describe(&p)
				faults.RewriteReason(&p, 0x80)
				var o faults.Outcome
				faults.PacketID{ID: 9}.Apply(&p, &o, nil)
			}
			connectInfo(raw)
		}
	})
}
