package faults

import (
	"fmt"
	"math/rand/v2"
)

// Duplicate sends the packet Count extra times, right behind the original.
type Duplicate struct {
	Count int `json:"count,omitempty"` // default 1
}

func (Duplicate) Kind() string { return "duplicate" }

func (d Duplicate) Check(Match) error {
	if d.Count < 0 {
		return fmt.Errorf("count must not be negative, got %d", d.Count)
	}
	return nil
}

func (d Duplicate) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	n := d.Count
	if n == 0 {
		n = 1
	}
	o.Copies += n
}
