// Drop: the simplest fault, a packet lost on the way.
package faults

import "math/rand/v2"

// Drop loses the packet: the other side never sees it.
type Drop struct{}

func (Drop) Kind() string      { return "drop" }
func (Drop) Check(Match) error { return nil }
func (Drop) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	o.Drop = true
}

// DropSpec is drop's arguments in plans: none.
type DropSpec struct{}

func init() {
	RegisterAction("drop", 10,
		func(*DropSpec) Drop { return Drop{} },
		func(Drop) *DropSpec { return &DropSpec{} })
}
