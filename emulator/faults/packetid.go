package faults

import (
	"fmt"
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
		return fmt.Errorf("id %d is outside 1..65535", a.ID)
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
