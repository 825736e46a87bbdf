package lua

import (
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// valueChange is one value the driver gave a property or variable (or the
// harness gave a property), and when.
type valueChange struct {
	kind  controller.ValueKind
	name  string
	value string
	at    time.Time
}

// maxValueHistory bounds the history a runtime keeps: a driver that
// updates a property in a tight loop keeps the newest changes only.
const maxValueHistory = 4096

// noteValue records a change for HadValue.
func (r *Runtime) noteValue(kind controller.ValueKind, name, value string) {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	if len(r.history) >= 2*maxValueHistory {
		r.history = append(r.history[:0], r.history[len(r.history)-maxValueHistory:]...)
	}
	r.history = append(r.history, valueChange{kind: kind, name: name, value: value, at: time.Now()})
}

// HadValue reports whether the property or variable was given the value
// want at or after since. A check of a state the driver holds only
// briefly (offline between two reconnects) then does not depend on
// looking at the right moment.
func (r *Runtime) HadValue(kind controller.ValueKind, name, want string, since time.Time) bool {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	for i := len(r.history) - 1; i >= 0; i-- {
		c := r.history[i]
		if c.at.Before(since) {
			return false
		}
		if c.kind == kind && c.name == name && c.value == want {
			return true
		}
	}
	return false
}
