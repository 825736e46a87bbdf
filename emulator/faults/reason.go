// Reason: an ack, CONNACK or DISCONNECT that says something else.
package faults

import (
	"fmt"
	"math/rand/v2"
)

// Reason rewrites the reason code of an ack, CONNACK, SUBACK, UNSUBACK,
// DISCONNECT or AUTH. The packet is rebuilt byte by byte rather than through
// mochi's encoder, which leaves out MQTT 5 ack reason codes below 128 when
// the ack has no properties: the rewritten code always reaches the wire.
type Reason struct {
	Code int `json:"code"`
}

func (Reason) Kind() string { return "reason" }

func (r Reason) Check(m Match) error { return CheckReason(m.Packets, r.Code) }

func (r Reason) Apply(p *Packet, o *Outcome, _ *rand.Rand) {
	if raw, err := RewriteReason(p, byte(r.Code)); err == nil {
		o.Raw = raw
	}
}

// RewriteReason returns p with its reason code(s) set to code. Packets of
// MQTT 3.1.1 that carry no reason code (acks, DISCONNECT) come back with an
// error and are left as they were.
func RewriteReason(p *Packet, code byte) ([]byte, error) {
	start := BodyStart(p.Raw)
	body := append([]byte(nil), p.Raw[start:]...)
	v5 := p.Version == 5
	switch p.Type {
	case CONNACK: // flags, code[, properties]
		if len(body) < 2 {
			return nil, fmt.Errorf("short CONNACK")
		}
		body[1] = code
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		if !v5 {
			return nil, fmt.Errorf("%s has no reason code before MQTT 5", PacketNames[p.Type])
		}
		if len(body) == 2 {
			body = append(body, code)
		} else {
			body[2] = code
		}
	case SUBACK, UNSUBACK: // packet id[, properties], one code per filter
		if p.Type == UNSUBACK && !v5 {
			return nil, fmt.Errorf("UNSUBACK has no reason code before MQTT 5")
		}
		off := 2
		if v5 {
			n, err := PropsEnd(body[2:])
			if err != nil {
				return nil, err
			}
			off += n
		}
		for i := off; i < len(body); i++ {
			body[i] = code
		}
	case DISCONNECT, AUTH:
		if !v5 {
			return nil, fmt.Errorf("%s has no reason code before MQTT 5", PacketNames[p.Type])
		}
		if len(body) == 0 {
			body = append(body, code)
		} else {
			body[0] = code
		}
	default:
		return nil, fmt.Errorf("%s has no reason code", PacketNames[p.Type])
	}
	return withBody(p.Raw[0], body), nil
}

// ReasonSpec is reason's arguments in plans.
type ReasonSpec struct {
	Code int `json:"code" plan:"required"`
}

func init() {
	RegisterAction("reason", 40,
		func(s *ReasonSpec) Reason { return Reason{Code: s.Code} },
		func(r Reason) *ReasonSpec { return &ReasonSpec{Code: r.Code} })
}
