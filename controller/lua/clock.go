// The driver's clock: every time a driver can read (C4:GetTime, os.time,
// os.clock, GetTickCount...) and every timer it sets runs on it, so that a
// test can speed a driver up (a 30 s reconnect timer firing after 0.3 s of
// wall time) without the driver seeing anything but a consistent world.

package lua

import (
	"time"
)

// clock maps wall time onto the driver's virtual time. Virtual time runs
// 1/scale times as fast as wall time: scale 0.01 makes one wall second
// worth 100 driver seconds.
type clock struct {
	scale     float64
	wallStart time.Time
	virtStart time.Time
}

func newClock(scale float64, start time.Time) *clock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	if start.IsZero() {
		start = now
	}
	return &clock{scale: scale, wallStart: now, virtStart: start}
}

// Now is the driver's current time.
func (c *clock) Now() time.Time { return c.virtStart.Add(c.Since()) }

// Since is how much driver time has passed since the runtime started.
func (c *clock) Since() time.Duration {
	return time.Duration(float64(time.Since(c.wallStart)) / c.scale)
}

// wallUntil is the wall time left until the driver's clock reads
// virtStart+at (at measured from the start), never negative.
func (c *clock) wallUntil(at time.Duration) time.Duration {
	d := time.Until(c.wallStart.Add(time.Duration(float64(at) * c.scale)))
	return max(d, 0)
}
