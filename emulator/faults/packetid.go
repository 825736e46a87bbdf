// PacketID: a packet under the wrong identifier.
package faults

import (
	"math/rand/v2"
)

// PacketID rewrites the packet identifier, to send an ack for the wrong
// message or a PUBLISH under an id the client does not expect.
type PacketID struct {
	ID int `json:"id"`
}

func (PacketID) Kind() string { return "packet_id" }

func (a PacketID) Check(Match) error {
	if a.ID < 1 || a.ID > 65535 {
		return fieldErr("id", "%d is outside 1..65535", a.ID)
	}
	return nil
}

func (a PacketID) Apply(p *Packet, o *Outcome, _ *rand.Rand) {
	off := packetIDOffset(p)
	if off < 0 || off+2 > len(p.Raw) {
		return
	}
	raw := append([]byte(nil), p.Raw...)
	raw[off] = byte(a.ID >> 8)
	raw[off+1] = byte(a.ID)
	o.Raw = raw
}

// PacketIDSpec is packet_id's arguments in plans.
type PacketIDSpec struct {
	ID int `json:"id" plan:"required"`
}

func init() {
	RegisterAction("packet_id", 50,
		func(s *PacketIDSpec) PacketID { return PacketID{ID: s.ID} },
		func(a PacketID) *PacketIDSpec { return &PacketIDSpec{ID: a.ID} })
}
