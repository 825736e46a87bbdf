// Variables and events: the driver's own variables (with the controller's
// id allocation), other devices' variables and listeners on them, the
// driver's events, and device and system events it registers for.

package lua

import (
	"fmt"
	"strconv"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
)

// userVariablesDevice holds the project's user variables.
const userVariablesDevice = 100001

func (r *Runtime) variableFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"AddVariable":                    r.c4AddVariable,
		"SetVariable":                    r.c4SetVariable,
		"DeleteVariable":                 r.c4DeleteVariable,
		"GetVariable":                    r.c4GetVariable,
		"GetDeviceVariable":              r.c4GetVariable,
		"SetDeviceVariable":              r.c4SetDeviceVariable,
		"GetDeviceVariables":             r.c4GetDeviceVariables,
		"RegisterVariableListener":       r.c4RegisterVariableListener,
		"UnregisterVariableListener":     r.pairOff(func() map[[2]int]bool { return r.env.listeners }),
		"UnregisterAllVariableListeners": func(*glua.LState) int { clear(r.env.listeners); return 0 },
		"AddEvent":                       r.c4AddEvent,
		"DeleteEvent":                    func(L *glua.LState) int { delete(r.env.events, L.CheckInt(2)); return 0 },
		"FireEvent":                      r.c4FireEvent,
		"FireEventByID":                  r.c4FireEvent,
		"RegisterDeviceEvent":            r.pairOn(func() map[[2]int]bool { return r.env.deviceEvents }),
		"UnregisterDeviceEvent":          r.pairOff(func() map[[2]int]bool { return r.env.deviceEvents }),
		"UnregisterAllDeviceEvents":      func(*glua.LState) int { clear(r.env.deviceEvents); return 0 },
		"RegisterSystemEvent":            r.pairOn(func() map[[2]int]bool { return r.env.systemEvents }),
		"UnregisterSystemEvent":          r.pairOff(func() map[[2]int]bool { return r.env.systemEvents }),
		"UnregisterAllSystemEvents":      func(*glua.LState) int { clear(r.env.systemEvents); return 0 },
		// The History agent stores the record; offline it is only traced.
		// The return value is the record's UUID (OS 3.4).
		"RecordHistory": func(L *glua.LState) int {
			r.env.history++
			L.Push(glua.LString(fmt.Sprintf("00000000-0000-4000-8000-%012d", r.env.history)))
			return 1
		},
	}
}

func (r *Runtime) pairOn(set func() map[[2]int]bool) glua.LGFunction {
	return func(L *glua.LState) int {
		set()[[2]int{L.CheckInt(2), L.OptInt(3, 0)}] = true
		return 0
	}
}

func (r *Runtime) pairOff(set func() map[[2]int]bool) glua.LGFunction {
	return func(L *glua.LState) int {
		delete(set(), [2]int{L.CheckInt(2), L.OptInt(3, 0)})
		return 0
	}
}

// ownVariable finds one of the driver's variables by name or id.
func (r *Runtime) ownVariable(v glua.LValue) *variable {
	switch k := v.(type) {
	case glua.LNumber:
		return r.env.varByID[int(k)]
	case glua.LString:
		if x := r.env.varByName[string(k)]; x != nil {
			return x
		}
		if n, err := strconv.Atoi(string(k)); err == nil {
			return r.env.varByID[n]
		}
	}
	return nil
}

// c4AddVariable is C4:AddVariable(id, value, type[, readOnly[, hidden]]) →
// true, id; false when the name or id is taken. Names get ids from 1001
// up, skipping ids in use; a numeric id is also the name.
func (r *Runtime) c4AddVariable(L *glua.LState) int {
	v := &variable{value: L.ToStringMeta(L.Get(3)).String(), kind: L.OptString(4, "STRING"), readOnly: L.ToBool(5), hidden: L.ToBool(6)}
	switch k := L.Get(2).(type) {
	case glua.LNumber:
		v.id, v.name = int(k), k.String()
	case glua.LString:
		v.name = string(k)
		for v.id = 1001; r.env.varByID[v.id] != nil; v.id++ {
		}
	default:
		L.ArgError(2, "the variable id must be a name or a number")
	}
	if v.kind == "BOOL" {
		v.value = boolVar(v.value)
	}
	if v.id <= 0 || r.env.varByID[v.id] != nil || r.env.varByName[v.name] != nil {
		L.Push(glua.LFalse)
		return 1
	}
	r.env.vars = append(r.env.vars, v)
	r.env.varByID[v.id], r.env.varByName[v.name] = v, v
	r.setVariablesGlobal(L, v)
	L.Push(glua.LTrue)
	L.Push(glua.LNumber(v.id))
	return 2
}

// boolVar turns what drivers pass for a BOOL variable into "1" or "0".
func boolVar(s string) string {
	switch s {
	case "1", "true", "True", "TRUE":
		return "1"
	}
	return "0"
}

func (r *Runtime) setVariablesGlobal(L *glua.LState, v *variable) {
	if t, ok := L.GetGlobal("Variables").(*glua.LTable); ok {
		t.RawSetString(v.name, glua.LString(v.value))
	}
}

// c4SetVariable updates one of the driver's variables; the driver itself
// gets no OnVariableChanged, listeners do. An unknown variable is ignored
// (the controller's answer is undocumented; drivers call it before adding).
func (r *Runtime) c4SetVariable(L *glua.LState) int {
	v := r.ownVariable(L.Get(2))
	if v == nil {
		return 0
	}
	v.value = L.ToStringMeta(L.Get(3)).String()
	if v.kind == "BOOL" {
		v.value = boolVar(v.value)
	}
	r.setVariablesGlobal(L, v)
	r.notifyVariable(r.proj.DeviceID, v.id, v.value)
	r.noteValue(controller.VariableValue, v.name, v.value)
	return 0
}

func (r *Runtime) c4DeleteVariable(L *glua.LState) int {
	v := r.ownVariable(L.Get(2))
	if v == nil {
		return 0
	}
	delete(r.env.varByID, v.id)
	delete(r.env.varByName, v.name)
	for i, x := range r.env.vars {
		if x == v {
			r.env.vars = append(r.env.vars[:i], r.env.vars[i+1:]...)
			break
		}
	}
	if t, ok := L.GetGlobal("Variables").(*glua.LTable); ok {
		t.RawSetString(v.name, glua.LNil)
	}
	return 0
}

// otherVariable finds a variable of another device, by id or name.
func (r *Runtime) otherVariable(dev int, key glua.LValue) *Variable {
	for i := range r.proj.Devices {
		d := &r.proj.Devices[i]
		if d.ID != dev {
			continue
		}
		for j := range d.Variables {
			v := &d.Variables[j]
			if n, ok := key.(glua.LNumber); ok && v.ID == int(n) {
				return v
			}
			if s, ok := key.(glua.LString); ok && (v.Name == string(s) || strconv.Itoa(v.ID) == string(s)) {
				return v
			}
		}
	}
	return nil
}

func (r *Runtime) c4GetVariable(L *glua.LState) int {
	dev := L.CheckInt(2)
	if dev == r.proj.DeviceID {
		if v := r.ownVariable(L.Get(3)); v != nil {
			L.Push(glua.LString(v.value))
			return 1
		}
	} else if v := r.otherVariable(dev, L.Get(3)); v != nil {
		L.Push(glua.LString(v.Value))
		return 1
	}
	L.Push(glua.LNil)
	return 1
}

func (r *Runtime) c4SetDeviceVariable(L *glua.LState) int {
	dev := L.CheckInt(2)
	if dev == r.proj.DeviceID {
		L.Remove(2)
		return r.c4SetVariable(L)
	}
	if v := r.otherVariable(dev, L.Get(3)); v != nil {
		v.Value = L.ToStringMeta(L.Get(4)).String()
		r.notifyVariable(dev, v.ID, v.Value)
	}
	return 0
}

// c4GetDeviceVariables answers {[tostring(id)] = {name=, value=, ...}}.
func (r *Runtime) c4GetDeviceVariables(L *glua.LState) int {
	dev := L.CheckInt(2)
	t := L.NewTable()
	add := func(id int, name, value, kind string) {
		e := L.NewTable()
		e.RawSetString("name", glua.LString(name))
		e.RawSetString("value", glua.LString(value))
		e.RawSetString("id", glua.LNumber(id))
		if kind != "" {
			e.RawSetString("type", glua.LString(kind))
		}
		t.RawSetString(strconv.Itoa(id), e)
	}
	if dev == r.proj.DeviceID {
		for _, v := range r.env.vars {
			add(v.id, v.name, v.value, v.kind)
		}
	}
	for _, d := range r.proj.Devices {
		if d.ID == dev {
			for _, v := range d.Variables {
				add(v.ID, v.Name, v.Value, "")
			}
		}
	}
	L.Push(t)
	return 1
}

// c4RegisterVariableListener answers false when the variable does not
// exist; otherwise OnWatchedVariableChanged follows at once (queued) with
// the current value, then on every change.
func (r *Runtime) c4RegisterVariableListener(L *glua.LState) int {
	dev := L.CheckInt(2)
	var id int
	var value string
	if dev == r.proj.DeviceID {
		v := r.ownVariable(L.Get(3))
		if v == nil {
			L.Push(glua.LFalse)
			return 1
		}
		id, value = v.id, v.value
	} else {
		v := r.otherVariable(dev, L.Get(3))
		if v == nil {
			L.Push(glua.LFalse)
			return 1
		}
		id, value = v.ID, v.Value
	}
	r.env.listeners[[2]int{dev, id}] = true
	r.queueEntry("OnWatchedVariableChanged", glua.LNumber(dev), glua.LNumber(id), glua.LString(value))
	L.Push(glua.LTrue)
	return 1
}

func (r *Runtime) notifyVariable(dev, id int, value string) {
	if r.env.listeners[[2]int{dev, id}] {
		r.queueEntry("OnWatchedVariableChanged", glua.LNumber(dev), glua.LNumber(id), glua.LString(value))
	}
}

// SetDeviceVariable changes a variable as someone else in the project
// would: one of the driver's own (then OnVariableChanged(name) runs) or
// another device's (then listeners get OnWatchedVariableChanged).
func (r *Runtime) SetDeviceVariable(device int, variable, value string) error {
	return r.Do(func(L *glua.LState) error {
		if device == r.proj.DeviceID {
			v := r.ownVariable(glua.LString(variable))
			if v == nil {
				return errNoVariable(device, variable)
			}
			v.value = value
			r.setVariablesGlobal(L, v)
			r.notifyVariable(device, v.id, value)
			r.queueEntry("OnVariableChanged", glua.LString(v.name))
			return nil
		}
		v := r.otherVariable(device, glua.LString(variable))
		if v == nil {
			return errNoVariable(device, variable)
		}
		v.Value = value
		r.notifyVariable(device, v.ID, value)
		return nil
	})
}

func errNoVariable(dev int, name string) error {
	return &projectError{"device " + strconv.Itoa(dev) + " has no variable " + strconv.Quote(name)}
}

type projectError struct{ msg string }

func (e *projectError) Error() string { return e.msg }

// Variables returns the driver's variables, name → value.
func (r *Runtime) Variables() map[string]string {
	out := map[string]string{}
	r.Do(func(*glua.LState) error {
		for _, v := range r.env.vars {
			out[v.name] = v.value
		}
		return nil
	})
	return out
}

// VariableIDs returns the driver's variables, name → id.
func (r *Runtime) VariableIDs() map[string]int {
	out := map[string]int{}
	r.Do(func(*glua.LState) error {
		for _, v := range r.env.vars {
			out[v.name] = v.id
		}
		return nil
	})
	return out
}

// c4AddEvent adds or updates a dynamic event.
func (r *Runtime) c4AddEvent(L *glua.LState) int {
	r.env.events[L.CheckInt(2)] = eventDef{name: L.ToStringMeta(L.Get(3)).String(), description: L.ToStringMeta(L.Get(4)).String()}
	L.Push(glua.LTrue)
	return 1
}

// c4FireEvent fires an event by name or id; a listener on this device's
// events (RegisterDeviceEvent on itself) gets OnDeviceEvent.
func (r *Runtime) c4FireEvent(L *glua.LState) int {
	id := 0
	switch k := L.Get(2).(type) {
	case glua.LNumber:
		id = int(k)
	case glua.LString:
		for eid, e := range r.env.events {
			if e.name == string(k) {
				id = eid
			}
		}
		if r.driver != nil {
			for _, e := range r.driver.info.Events {
				if e.Name == string(k) {
					id = e.ID
				}
			}
		}
	}
	if id != 0 && r.env.deviceEvents[[2]int{r.proj.DeviceID, id}] {
		r.queueEntry("OnDeviceEvent", glua.LNumber(r.proj.DeviceID), glua.LNumber(id))
	}
	return 0
}

// FireDeviceEvent fires another device's event: OnDeviceEvent runs when
// the driver registered for it.
func (r *Runtime) FireDeviceEvent(device, event int) error {
	return r.Do(func(*glua.LState) error {
		if r.env.deviceEvents[[2]int{device, event}] {
			r.queueEntry("OnDeviceEvent", glua.LNumber(device), glua.LNumber(event))
		}
		return nil
	})
}

// FireSystemEvent fires a system event for a device: OnSystemEvent(data)
// runs when the driver registered for it (for that device or for all, 0).
func (r *Runtime) FireSystemEvent(event, device int, data string) error {
	return r.Do(func(*glua.LState) error {
		if r.env.systemEvents[[2]int{event, device}] || r.env.systemEvents[[2]int{event, 0}] {
			r.queueEntry("OnSystemEvent", glua.LString(data))
		}
		return nil
	})
}

// Events returns the driver's dynamic events, id → name.
func (r *Runtime) Events() map[int]string {
	out := map[int]string{}
	r.Do(func(*glua.LState) error {
		for id, e := range r.env.events {
			out[id] = e.name
		}
		return nil
	})
	return out
}

// systemEvents are the system event ids the controller documents; only
// these are given names in C4SystemEvents.
var systemEvents = map[string]int{
	"OnPIP": 6, "OnNetworkBindingAdded": 17, "OnNetworkBindingRemoved": 18,
	"OnNetworkBindingRegistered": 19, "OnNetworkBindingUnregistered": 20,
	"OnDeviceOnline": 48, "OnDeviceOffline": 49, "OnZipcodeChanged": 52,
	"OnLatitudeChanged": 53, "OnLongitudeChanged": 54, "OnLocaleChanged": 58,
	"OnSDDPDeviceStatus": 78, "OnDirectorIPAddressChanged": 90,
}

func systemEventsTable(L *glua.LState) *glua.LTable {
	t := L.NewTable()
	for _, n := range sortedKeys(systemEvents) {
		t.RawSetString(n, glua.LNumber(systemEvents[n]))
	}
	return t
}
