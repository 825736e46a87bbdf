// Restart: the listener bounced, as a broker restarting would.
package faults

import (
	"math/rand/v2"
	"time"
)

// Restart closes the device-under-test listener and every connection on it,
// and opens it again after DownFor. The broker keeps its sessions, as a
// broker restarted with persistence would.
type Restart struct {
	DownFor time.Duration `json:"down_for"`
}

func (Restart) Kind() string { return "restart" }

func (r Restart) Check(Match) error {
	if r.DownFor < 0 {
		return fieldErr("down_for", "must not be negative, got %s", r.DownFor)
	}
	return nil
}

func (r Restart) Apply(_ *Packet, o *Outcome, _ *rand.Rand) {
	o.Drop = true
	o.Restart = r.DownFor
	o.Restarting = true
}

// RestartSpec is restart's arguments in plans.
type RestartSpec struct {
	DownFor Duration `json:"down_for"`
}

func init() {
	RegisterAction("restart", 90,
		func(s *RestartSpec) Restart { return Restart{DownFor: time.Duration(s.DownFor)} },
		func(r Restart) *RestartSpec { return &RestartSpec{DownFor: Duration(r.DownFor)} })
}
