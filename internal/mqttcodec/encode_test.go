package mqttcodec

import (
	"bytes"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Every packet type encodes to a frame whose first byte names that type,
// and a type MQTT does not have is refused.
func TestEncode(t *testing.T) {
	for typ := byte(packets.Connect); typ <= packets.Auth; typ++ {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, ProtocolVersion: 5}
		switch typ {
		case packets.Connect:
			pk.Connect = packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: "c"}
		case packets.Publish:
			pk.TopicName = "t"
		case packets.Pubrel, packets.Subscribe, packets.Unsubscribe:
			pk.FixedHeader.Qos = 1
			pk.PacketID = 1
		}
		if typ == packets.Subscribe || typ == packets.Unsubscribe {
			pk.Filters = packets.Subscriptions{{Filter: "t"}}
		}
		b, err := Encode(pk)
		if err != nil {
			t.Errorf("type %d: %v", typ, err)
			continue
		}
		if len(b) < 2 || b[0]>>4 != typ {
			t.Errorf("type %d: frame % x", typ, b)
		}
	}
	if b, err := Encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: 0}}); err == nil || !bytes.Equal(b, nil) && len(b) > 0 {
		t.Errorf("type 0 encoded to % x, %v", b, err)
	}
}
