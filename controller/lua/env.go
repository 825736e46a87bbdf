// What one Lua state of the driver owns besides Lua values: its variables,
// listeners, events, dynamic bindings and legacy timers. A restart starts
// it afresh, as the controller does, while the Persist store and the
// project stay.

package lua

import (
	glua "github.com/yuin/gopher-lua"
)

type driverEnv struct {
	nextTimer    int
	legacyTimers map[int]*timer

	vars      []*variable // in the order added
	varByName map[string]*variable
	varByID   map[int]*variable

	listeners    map[[2]int]bool // device id, variable id
	deviceEvents map[[2]int]bool // device id, event id
	systemEvents map[[2]int]bool // event id, device id
	events       map[int]eventDef
	dynBindings  map[int]*dynBinding
	addresses    map[int]string // network binding → address

	history      int // RecordHistory records so far
	allowExecute bool
	hidden       map[string]bool
	lists        map[string][]string
}

type variable struct {
	id       int
	name     string
	value    string
	kind     string
	readOnly bool
	hidden   bool
}

type eventDef struct {
	name, description string
}

type dynBinding struct {
	id       int
	kind     string // CONTROL or PROXY
	provider bool
	name     string
	class    string
}

func (r *Runtime) resetDriverState() {
	r.env = &driverEnv{
		legacyTimers: map[int]*timer{},
		varByName:    map[string]*variable{},
		varByID:      map[int]*variable{},
		listeners:    map[[2]int]bool{},
		deviceEvents: map[[2]int]bool{},
		systemEvents: map[[2]int]bool{},
		events:       map[int]eventDef{},
		dynBindings:  map[int]*dynBinding{},
		addresses:    map[int]string{},
		hidden:       map[string]bool{},
		lists:        map[string][]string{},
	}
	if r.proj.names == nil {
		r.proj.names = map[int]string{}
	}
}

// queueEntry calls an entry point from the queue, after the running
// handler has returned: callbacks a handler causes never run nested.
func (r *Runtime) queueEntry(name string, args ...glua.LValue) {
	env := r.env
	r.post(func() {
		if r.env != env {
			return
		}
		if err := r.callEntry(name, args...); err != nil {
			r.addAsyncError(err)
		}
	})
}
