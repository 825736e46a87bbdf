// Duplicate: a packet sent more than once.
package faults

import (
	"math/rand/v2"
)

// MaxCopies bounds Duplicate's count: copies are queued at once, behind
// the original.
const MaxCopies = 100

// Duplicate sends the packet Count extra times, right behind the original.
type Duplicate struct {
	Count int `json:"count,omitempty"` // default 1
}

func (Duplicate) Kind() string { return "duplicate" }

func (d Duplicate) Check(Match) error {
	if d.Count < 0 || d.Count > MaxCopies {
		return fieldErr("count", "%d is outside 0..%d", d.Count, MaxCopies)
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

// DuplicateSpec is duplicate's arguments in plans.
type DuplicateSpec struct {
	Count int `json:"count,omitempty"`
}

func init() {
	RegisterAction("duplicate", 30,
		func(s *DuplicateSpec) Duplicate { return Duplicate{Count: s.Count} },
		func(d Duplicate) *DuplicateSpec { return &DuplicateSpec{Count: d.Count} })
}
