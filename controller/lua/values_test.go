package lua

import (
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// A value the driver held only briefly is found from a time before it was
// taken, and not from a time after it was replaced.
func TestHadValue(t *testing.T) {
	r := &Runtime{}
	before := time.Now()
	r.noteValue(controller.PropertyValue, "Connection", "waiting to reconnect")
	r.noteValue(controller.VariableValue, "CONNECTED", "0")
	r.noteValue(controller.PropertyValue, "Connection", "online")
	after := time.Now().Add(time.Nanosecond)
	cases := []struct {
		kind        controller.ValueKind
		name, value string
		since       time.Time
		want        bool
	}{
		{controller.PropertyValue, "Connection", "waiting to reconnect", before, true},
		{controller.PropertyValue, "Connection", "online", before, true},
		{controller.VariableValue, "CONNECTED", "0", before, true},
		{controller.VariableValue, "Connection", "online", before, false}, // another kind
		{controller.PropertyValue, "Connection", "offline", before, false},
		{controller.PropertyValue, "Connection", "waiting to reconnect", after, false},
	}
	for _, c := range cases {
		if got := r.HadValue(c.kind, c.name, c.value, c.since); got != c.want {
			t.Errorf("HadValue(%s %q = %q) = %v, want %v", c.kind, c.name, c.value, got, c.want)
		}
	}
}

// The history keeps the newest changes when a driver updates a value in a
// tight loop.
func TestValueHistoryIsBounded(t *testing.T) {
	r := &Runtime{}
	start := time.Now()
	for i := range 3 * maxValueHistory {
		r.noteValue(controller.PropertyValue, "N", string(rune('a'+i%26)))
	}
	r.noteValue(controller.PropertyValue, "N", "last")
	if n := len(r.history); n > 2*maxValueHistory {
		t.Fatalf("history holds %d changes, want at most %d", n, 2*maxValueHistory)
	}
	if !r.HadValue(controller.PropertyValue, "N", "last", start) {
		t.Error("the newest change is gone")
	}
}
