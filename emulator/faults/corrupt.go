// Corrupt: a PUBLISH whose payload arrives damaged, as from a faulty link
// or a buggy bridge, while the MQTT framing around it stays intact so the
// receiver accepts the packet and has to notice on its own.
package faults

import "math/rand/v2"

// Corrupt flips Count bytes of a PUBLISH payload (each XORed with a
// non-zero value), at places drawn from the rule's seeded source: a plan
// replayed with the same seed damages the same bytes the same way. A
// payload shorter than Count has all its bytes flipped; an empty one is
// left alone.
type Corrupt struct {
	Count int `json:"count"`
}

func (Corrupt) Kind() string { return "corrupt" }

func (c Corrupt) Check(m Match) error {
	if len(m.Packets) != 1 || m.Packets[0] != PUBLISH {
		return fieldErr("", "corrupt applies to PUBLISH only: set match.packet to PUBLISH")
	}
	if c.Count < 1 {
		return fieldErr("count", "must be at least 1, got %d", c.Count)
	}
	return nil
}

func (c Corrupt) Apply(p *Packet, o *Outcome, rnd *rand.Rand) {
	raw := p.Raw
	if o.Raw != nil { // another rule rewrote it already: damage that
		raw = o.Raw
	}
	start := payloadStart(p)
	if p.Type != PUBLISH || start < 0 || start >= len(raw) {
		return
	}
	out := append([]byte(nil), raw...)
	payload := out[start:]
	n := min(c.Count, len(payload))
	// The first n of a random permutation: n distinct places, so that
	// Count bytes really differ.
	for _, at := range rnd.Perm(len(payload))[:n] {
		payload[at] ^= byte(1 + rnd.IntN(255))
	}
	o.Raw = out
}

// payloadStart is the offset of a PUBLISH payload in p.Raw, or -1 when the
// packet is too short to have one where its header says.
func payloadStart(p *Packet) int {
	off := BodyStart(p.Raw) + 2 + len(p.Topic)
	if p.QoS > 0 {
		off += 2
	}
	if p.Version == 5 {
		if off > len(p.Raw) {
			return -1
		}
		n, err := PropsEnd(p.Raw[off:])
		if err != nil {
			return -1
		}
		off += n
	}
	if off > len(p.Raw) {
		return -1
	}
	return off
}

// CorruptSpec is corrupt's arguments in plans.
type CorruptSpec struct {
	Count int `json:"count" plan:"required"`
}

func init() {
	RegisterAction("corrupt", 100,
		func(s *CorruptSpec) Corrupt { return Corrupt{Count: s.Count} },
		func(c Corrupt) *CorruptSpec { return &CorruptSpec{Count: c.Count} })
}
