// Disconnect: the connection cut at a chosen packet.
package faults

import (
	"math/rand/v2"
)

// Disconnect ends the connection at the matched packet: a plain close
// (FIN), a TCP reset (RST), or, for MQTT 5 clients, a DISCONNECT with a
// reason code first. When is "before" (the packet is lost with the
// connection) or "after" (the packet goes through, then the cut).
type Disconnect struct {
	Mode   string `json:"mode"`             // close, reset, mqtt
	Reason int    `json:"reason,omitempty"` // for mqtt; default 128
	When   string `json:"when,omitempty"`   // before (default), after
}

func (Disconnect) Kind() string { return "disconnect" }

func (d Disconnect) Check(Match) error {
	switch d.Mode {
	case "close", "reset":
		if d.Reason != 0 {
			return fieldErr("reason", "is only for mode mqtt, not %q", d.Mode)
		}
	case "mqtt":
		if d.Reason != 0 {
			if err := checkCode([]byte{DISCONNECT}, d.Reason); err != nil {
				return &FieldError{Path: "reason", Err: err}
			}
		}
	default:
		return fieldErr("mode", "%q: want close, reset or mqtt", d.Mode)
	}
	switch d.When {
	case "", "before", "after":
	default:
		return fieldErr("when", "%q: want before or after", d.When)
	}
	return nil
}

func (d Disconnect) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	o.Disconnect = d.Mode
	o.DisconnectCode = byte(d.Reason)
	if d.Mode == "mqtt" && d.Reason == 0 {
		o.DisconnectCode = 128
	}
	o.DisconnectWhen = d.When
	if o.DisconnectWhen == "" {
		o.DisconnectWhen = "before"
	}
}

// DisconnectPacket is an MQTT 5 DISCONNECT with a reason code and an empty
// property block. The standard lets the property length go when it is
// zero, but some decoders (mochi's among them) then skip the reason too.
func DisconnectPacket(code byte) []byte { return []byte{0xe0, 2, code, 0} }

// DisconnectSpec is disconnect's arguments in plans.
type DisconnectSpec struct {
	Mode   string `json:"mode" plan:"required"`
	Reason int    `json:"reason,omitempty"`
	When   string `json:"when,omitempty"`
}

func init() {
	RegisterAction("disconnect", 60,
		func(s *DisconnectSpec) Disconnect { return Disconnect{Mode: s.Mode, Reason: s.Reason, When: s.When} },
		func(d Disconnect) *DisconnectSpec {
			return &DisconnectSpec{Mode: d.Mode, Reason: d.Reason, When: d.When}
		})
}
