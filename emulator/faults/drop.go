package faults

import "math/rand/v2"

// Drop loses the packet: the other side never sees it.
type Drop struct{}

func (Drop) Kind() string      { return "drop" }
func (Drop) Check(Match) error { return nil }
func (Drop) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	o.Drop = true
}
