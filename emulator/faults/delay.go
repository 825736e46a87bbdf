package faults

import (
	"fmt"
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
		return fmt.Errorf("duration and jitter must not be negative")
	}
	if d.Jitter > d.Duration {
		return fmt.Errorf("jitter %s is larger than duration %s", d.Jitter, d.Duration)
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
