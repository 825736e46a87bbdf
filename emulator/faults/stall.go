// Stall: a half-open connection.
package faults

import (
	"math/rand/v2"
	"time"
)

// Stall makes the connection half-open: nothing is read or written for
// Duration, but the socket stays up, so only keep-alive can notice.
type Stall struct {
	Duration time.Duration `json:"duration"`
}

func (Stall) Kind() string { return "stall" }

func (s Stall) Check(Match) error {
	if s.Duration <= 0 {
		return fieldErr("duration", "must be positive, got %s", s.Duration)
	}
	return nil
}

func (s Stall) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	o.Stall = s.Duration
}

// StallSpec is stall's arguments in plans.
type StallSpec struct {
	Duration Duration `json:"duration" plan:"required"`
}

func init() {
	RegisterAction("stall", 70,
		func(s *StallSpec) Stall { return Stall{Duration: time.Duration(s.Duration)} },
		func(s Stall) *StallSpec { return &StallSpec{Duration: Duration(s.Duration)} })
}
