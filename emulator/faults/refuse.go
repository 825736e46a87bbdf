// Refuse: a client turned away at CONNECT.
package faults

import (
	"fmt"
	"math/rand/v2"
)

// Refuse answers CONNECT with a CONNACK carrying Code and closes the
// connection; the broker never sees the client. The code is given in either
// numbering and sent in the one the client speaks: MQTT 3.1/3.1.1 return
// codes (1..5) or MQTT 5 reason codes (128 and up).
type Refuse struct {
	Code int `json:"code"`
}

func (Refuse) Kind() string { return "refuse" }

func (r Refuse) Check(m Match) error {
	if len(m.Packets) != 1 || m.Packets[0] != CONNECT {
		return fmt.Errorf("refuse applies to CONNECT only: set match.packet to CONNECT")
	}
	if m.Direction == ToClient {
		return fmt.Errorf("refuse applies to CONNECT on its way to the broker, not direction to_client")
	}
	if r.Code == 0 {
		return fieldErr("code", "0 accepts the connection; give a refusal code (1..5, or an MQTT 5 code of 128 or more)")
	}
	return CheckReason([]byte{CONNACK}, r.Code)
}

// v5 reason codes that have a 3.1.1 return code of their own.
var v5ToV3 = map[int]byte{132: 1, 133: 2, 136: 3, 134: 4, 135: 5}

func (r Refuse) Apply(p *Packet, o *Outcome, _ *rand.Rand) {
	o.Drop = true
	o.Disconnect = "close"
	o.DisconnectWhen = "after"
	o.Reply = connack(p.Version, r.Code)
}

func connack(version byte, code int) []byte {
	if version == 5 {
		if code < 128 {
			for v5, v3 := range v5ToV3 {
				if int(v3) == code {
					code = v5
				}
			}
		}
		return []byte{0x20, 3, 0, byte(code), 0}
	}
	if code >= 128 {
		v3, ok := v5ToV3[code]
		if !ok {
			v3 = 3 // server unavailable: the closest 3.1.1 has
		}
		code = int(v3)
	}
	return []byte{0x20, 2, 0, byte(code)}
}

// RefuseSpec is refuse's arguments in plans.
type RefuseSpec struct {
	Code int `json:"code" plan:"required"`
}

func init() {
	RegisterAction("refuse", 80,
		func(s *RefuseSpec) Refuse { return Refuse{Code: s.Code} },
		func(r Refuse) *RefuseSpec { return &RefuseSpec{Code: r.Code} })
}
