package wire

import (
	"github.com/mqtthil/mqtthil/emulator/faults"

	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/journal"
)

// BenchmarkRoute measures what the fault layer adds to one packet on its
// way to the client: parse, ten idle rules, journal, batch.
func BenchmarkRoute(b *testing.B) {
	for _, rules := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			set := faults.NewSet(1)
			for i := range rules / 2 {
				set.Add(faults.Rule{Name: fmt.Sprintf("p%d", i), Action: faults.Drop{}, Match: faults.Match{Direction: faults.Both, Packets: []byte{faults.PUBLISH}, Topic: fmt.Sprintf("never/%d/+", i)}})
				set.Add(faults.Rule{Name: fmt.Sprintf("a%d", i), Action: faults.Drop{}, Match: faults.Match{Direction: faults.ToClient, Packets: []byte{faults.PUBACK, faults.PUBREC, faults.PUBREL, faults.PUBCOMP}, Client: fmt.Sprintf("nobody-%d-*", i)}})
			}
			a, bb := net.Pipe()
			defer a.Close()
			defer bb.Close()
			inner, _ := net.Listen("tcp", "127.0.0.1:0")
			defer inner.Close()
			l := NewListener(inner, set, journal.New(b.N+10))
			c := newConn(a, l, 1)
			c.who.Store(&identity{clientID: "bench-sub", version: 4})
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
				TopicName: "bench/0", PacketID: 7, Payload: make([]byte, 256)}
			var buf bytes.Buffer
			pk.PublishEncode(&buf)
			raw := buf.Bytes()
			b.ReportAllocs()
			c.wmu.Lock()
			for b.Loop() {
				c.route(raw, faults.ToClient, false)
				clear(c.pend)
				c.pend = c.pend[:0]
			}
			c.wmu.Unlock()
		})
	}
}
