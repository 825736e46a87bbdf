// The MQTT packet as rules see it. Packet and its parsing live here, in the
// rule language, because actions read and rewrite packets (a reason code,
// a packet identifier, a payload); the wire package beneath, which frames
// the byte stream and runs connections, imports them from here. Framing a
// stream into packets is the wire's business and lives there.
package faults

import (
	"errors"
	"fmt"
	"strings"
)

// MQTT control packet types, by the names rules and users write.
const (
	CONNECT byte = iota + 1
	CONNACK
	PUBLISH
	PUBACK
	PUBREC
	PUBREL
	PUBCOMP
	SUBSCRIBE
	SUBACK
	UNSUBSCRIBE
	UNSUBACK
	PINGREQ
	PINGRESP
	DISCONNECT
	AUTH
)

var errMalformedLength = errors.New("malformed remaining length")

// PacketNames maps MQTT control packet types to the names rules use.
var PacketNames = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// ParsePacketType reads a packet type name such as PUBACK (any case).
func ParsePacketType(s string) (byte, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range PacketNames {
		if i > 0 && n == u {
			return byte(i), nil
		}
	}
	return 0, fmt.Errorf("packet type %q: want one of %s", s, strings.Join(PacketNames[1:], ", "))
}

// Packet is a framed MQTT packet with the fields rules match on. Raw holds
// the whole packet, fixed header included.
type Packet struct {
	Raw       []byte
	Type      byte
	Flags     byte // low nibble of the first byte
	Direction Direction
	Version   byte // protocol version of the connection (3, 4 or 5); 0 before CONNECT
	ClientID  string
	Topic     string // PUBLISH
	PacketID  int    // -1 when the packet has none
	QoS       int
	Dup       bool
	Retain    bool
}

// BodyStart is the offset of the variable header: after the first byte and
// the remaining-length bytes.
func BodyStart(raw []byte) int {
	i := 1
	for i < len(raw) && i < 5 && raw[i]&0x80 != 0 {
		i++
	}
	return i + 1
}

// encodeLength appends MQTT's variable-length encoding of n.
func encodeLength(dst []byte, n int) []byte {
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if n == 0 {
			return dst
		}
	}
}

// withBody rebuilds a packet around a new variable header and payload.
func withBody(first byte, body []byte) []byte {
	out := make([]byte, 0, len(body)+5)
	out = append(out, first)
	out = encodeLength(out, len(body))
	return append(out, body...)
}

// Parse reads the fields rules match on. version is the connection's
// protocol version (3, 4 or 5), 0 before CONNECT has been seen.
func Parse(raw []byte, dir Direction, version byte) (Packet, error) {
	return ParseReusingTopic(raw, dir, version, "")
}

// ParseReusingTopic is Parse, taking the topic from lastTopic when the packet's is the
// same: a connection mostly publishes to a few topics, and this saves a
// string for each packet.
func ParseReusingTopic(raw []byte, dir Direction, version byte, lastTopic string) (Packet, error) {
	p := Packet{Raw: raw, Direction: dir, Version: version, PacketID: -1}
	if len(raw) < 2 {
		return p, fmt.Errorf("packet of %d bytes is too short", len(raw))
	}
	p.Type = raw[0] >> 4
	p.Flags = raw[0] & 0x0f
	body := raw[BodyStart(raw):]
	switch p.Type {
	case PUBLISH:
		p.Dup = p.Flags&0x08 != 0
		p.QoS = int(p.Flags>>1) & 0x03
		p.Retain = p.Flags&0x01 != 0
		if len(body) < 2 {
			return p, fmt.Errorf("PUBLISH without a topic")
		}
		tl := int(body[0])<<8 | int(body[1])
		if len(body) < 2+tl {
			return p, fmt.Errorf("PUBLISH topic length %d runs past the packet", tl)
		}
		if t := body[2 : 2+tl]; string(t) == lastTopic {
			p.Topic = lastTopic
		} else {
			p.Topic = string(t)
		}
		if p.QoS > 0 {
			if len(body) < 4+tl {
				return p, fmt.Errorf("PUBLISH QoS %d without a packet id", p.QoS)
			}
			p.PacketID = int(body[2+tl])<<8 | int(body[3+tl])
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK:
		if len(body) < 2 {
			return p, fmt.Errorf("%s without a packet id", PacketNames[p.Type])
		}
		p.PacketID = int(body[0])<<8 | int(body[1])
	}
	return p, nil
}

// packetIDOffset is where the packet identifier sits in raw, or -1.
func packetIDOffset(p *Packet) int {
	start := BodyStart(p.Raw)
	switch {
	case p.Type == PUBLISH && p.QoS > 0:
		return start + 2 + len(p.Topic)
	case p.Type >= PUBACK && p.Type <= UNSUBACK:
		return start
	}
	return -1
}

// PropsEnd skips an MQTT 5 property block starting at b[0] and returns the
// offset just past it.
func PropsEnd(b []byte) (int, error) {
	n, mult := 0, 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, fmt.Errorf("property length runs past the packet")
		}
		n += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			if i+1+n > len(b) {
				return 0, fmt.Errorf("properties of %d bytes run past the packet", n)
			}
			return i + 1 + n, nil
		}
		mult *= 128
	}
	return 0, errMalformedLength
}
