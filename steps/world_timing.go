// The scenario's clock: times written in features scaled to the run, and
// waits bounded by the scenario's own limit.
package steps

import (
	"context"
	"time"
)

// timing is the scenario's clock and its limit.
type timing struct {
	ctx    context.Context // ends when the scenario runs past its limit, or has ended
	cancel context.CancelFunc

	scale    float64       // Options.TimeScale
	deadline time.Duration // Options.Deadline
	minWait  time.Duration // Options.MinWait
}

// scaled is a time written in a feature, on this run's clock.
func (t *timing) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * t.scale)
}

// within is how long to wait for something that should happen within d.
func (t *timing) within(d time.Duration) time.Duration {
	return max(t.scaled(d), t.minWait)
}

// waitCtx bounds one wait; d 0 means the default deadline.
func (t *timing) waitCtx(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = t.deadline
	}
	return context.WithTimeout(t.ctx, d)
}
