// Delay: a packet held back, and what is behind it with it.
package faults

import (
	"math/rand/v2"
	"time"
)

// Delay holds the packet back for Duration, plus or minus up to Jitter.
// Packets behind it in the same direction wait for it: TCP order is kept.
type Delay struct {
	Duration time.Duration `json:"duration"`
	Jitter   time.Duration `json:"jitter,omitempty"`
}

func (Delay) Kind() string { return "delay" }

func (d Delay) Check(Match) error {
	if d.Duration < 0 || d.Jitter < 0 {
		return fieldErr("duration", "duration and jitter must not be negative")
	}
	if d.Jitter > d.Duration {
		return fieldErr("jitter", "%s is larger than duration %s", d.Jitter, d.Duration)
	}
	return nil
}

func (d Delay) Apply(_ *Packet, o *Outcome, rnd *rand.Rand) {
	v := d.Duration
	if d.Jitter > 0 {
		v += time.Duration(rnd.Int64N(int64(2*d.Jitter)+1)) - d.Jitter
	}
	o.Delay += v
}

// DelaySpec is delay's arguments in plans.
type DelaySpec struct {
	Duration Duration `json:"duration" plan:"required"`
	Jitter   Duration `json:"jitter,omitempty"`
}

func init() {
	RegisterAction("delay", 20,
		func(s *DelaySpec) Delay {
			return Delay{Duration: time.Duration(s.Duration), Jitter: time.Duration(s.Jitter)}
		},
		func(d Delay) *DelaySpec {
			return &DelaySpec{Duration: Duration(d.Duration), Jitter: Duration(d.Jitter)}
		})
}
