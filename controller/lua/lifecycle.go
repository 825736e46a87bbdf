// The driver's life as the controller runs it: top-level chunk,
// OnDriverInit, OnDriverLateInit, then properties, commands, actions,
// proxy messages and bindings from outside, OnDriverDestroyed at the end,
// and a restart that builds a new Lua state but keeps what the controller
// keeps (properties, PersistData, the Persist store).

package lua

import (
	"errors"
	"fmt"
	"sort"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
)

// Lifecycle phases, as recorded in the trace.
const (
	PhaseChunk    = "chunk"
	PhaseInit     = "init"
	PhaseLateInit = "late-init"
	PhaseRuntime  = "runtime"
	PhaseDestroy  = "destroy"
)

// Info is what the loaded driver's driver.xml declares.
func (r *Runtime) Info() DriverInfo {
	var info DriverInfo
	r.Do(func(*glua.LState) error {
		if r.driver != nil {
			info = r.driver.info
		}
		return nil
	})
	return info
}

// SetProperties sets property values without telling the driver, as the
// controller does with saved values before OnDriverInit.
func (r *Runtime) SetProperties(values map[string]string) error {
	return r.Do(func(L *glua.LState) error {
		props := L.GetGlobal("Properties").(*glua.LTable)
		for k, v := range values {
			props.RawSetString(k, propertyValue(v))
		}
		return nil
	})
}

// Init runs OnDriverInit(dit) and OnDriverLateInit(dit), where the driver
// defines them, with Options.DIT (DIT_ADDING by default). OnPropertyChanged
// runs for every property in between only when Options.PropertyChangedOnLoad
// asks for it: the controller itself does not call it on load.
func (r *Runtime) Init() error {
	return r.Do(func(*glua.LState) error { return r.initSequence(r.opts.DIT) })
}

func (r *Runtime) initSequence(dit string) error {
	r.phase = PhaseInit
	if err := r.callEntry("OnDriverInit", glua.LString(dit)); err != nil {
		r.phase = PhaseRuntime
		return err
	}
	if r.opts.PropertyChangedOnLoad {
		for _, name := range r.propertyNames() {
			if err := r.callEntry("OnPropertyChanged", glua.LString(name)); err != nil {
				r.phase = PhaseRuntime
				return err
			}
		}
	}
	r.phase = PhaseLateInit
	err := r.callEntry("OnDriverLateInit", glua.LString(dit))
	r.phase = PhaseRuntime
	return err
}

// propertyNames are driver.xml's properties in order, then any other key
// of Properties, sorted.
func (r *Runtime) propertyNames() []string {
	var names []string
	seen := map[string]bool{}
	if r.driver != nil {
		for _, p := range r.driver.info.Properties {
			names = append(names, p.Name)
			seen[p.Name] = true
		}
	}
	var more []string
	if t, ok := r.L.GetGlobal("Properties").(*glua.LTable); ok {
		t.ForEach(func(k, _ glua.LValue) {
			if s, ok := k.(glua.LString); ok && !seen[string(s)] {
				more = append(more, string(s))
			}
		})
	}
	sort.Strings(more)
	return append(names, more...)
}

// SetProperty changes a property as a user would in Composer: Properties
// gets the value, then OnPropertyChanged(name) runs.
func (r *Runtime) SetProperty(name, value string) error {
	return r.Do(func(L *glua.LState) error {
		props := L.GetGlobal("Properties").(*glua.LTable)
		pv := propertyValue(value)
		props.RawSetString(name, pv)
		r.noteValue(controller.PropertyValue, name, pv.String())
		return r.callEntry("OnPropertyChanged", glua.LString(name))
	})
}

// Property is the current value of Properties[name] in the driver.
func (r *Runtime) Property(name string) (string, error) {
	var v string
	err := r.Do(func(L *glua.LState) error {
		props, ok := L.GetGlobal("Properties").(*glua.LTable)
		if !ok {
			return errors.New("the driver replaced its Properties table")
		}
		lv := props.RawGetString(name)
		if lv == glua.LNil {
			return fmt.Errorf("the driver has no property %q", name)
		}
		v = lv.String()
		return nil
	})
	return v, err
}

// ExecuteCommand runs ExecuteCommand(name, params) in the driver, as
// Composer programming does. params are passed as strings.
func (r *Runtime) ExecuteCommand(name string, params map[string]string) error {
	return r.Do(func(L *glua.LState) error {
		if L.GetGlobal("ExecuteCommand").Type() != glua.LTFunction {
			return fmt.Errorf("the driver defines no ExecuteCommand, so it cannot run the command %q", name)
		}
		return r.callEntry("ExecuteCommand", glua.LString(name), stringTable(L, params))
	})
}

// ExecuteAction presses an Actions-tab button: ExecuteCommand("LUA_ACTION",
// {ACTION=command, ...params}).
func (r *Runtime) ExecuteAction(command string, params map[string]string) error {
	p := map[string]string{}
	for k, v := range params {
		p[k] = v
	}
	p["ACTION"] = command
	return r.ExecuteCommand("LUA_ACTION", p)
}

// stringTable is a Lua table of string values, keys set in sorted order so
// that iteration in the driver does not depend on Go's map order.
func stringTable(L *glua.LState, m map[string]string) *glua.LTable {
	t := L.NewTable()
	for _, k := range sortedKeys(m) {
		t.RawSetString(k, glua.LString(m[k]))
	}
	return t
}

// callEntry calls the driver's global entry point name if it defines one,
// recording the call in the trace.
func (r *Runtime) callEntry(name string, args ...glua.LValue) error {
	fn := r.L.GetGlobal(name)
	if fn.Type() != glua.LTFunction {
		return nil
	}
	r.trace.add(Entry{Kind: KindEntryPoint, Name: name, Args: valuesForTrace(args), Phase: r.phase})
	_, err := r.call(name, fn, args...)
	return err
}

// callGlobal is callEntry for callers that predate the entry-point trace.
func (r *Runtime) callGlobal(name string, args ...glua.LValue) error {
	return r.callEntry(name, args...)
}

func valuesForTrace(args []glua.LValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = fromLua(a, 0)
	}
	return out
}

// Reload restarts the driver as a controller reboot does: OnDriverDestroyed
// ("DIT_LOADED"), then a new Lua state that keeps the Properties values,
// PersistData and the Persist store, the top-level chunk again, and
// OnDriverInit and OnDriverLateInit with DIT_STARTUP. Timers and C4:MQTT
// objects of the old state are gone; variables start empty and get the
// same ids when the driver adds them again in the same order.
func (r *Runtime) Reload() error { return r.restart("DIT_LOADED", "DIT_STARTUP", true) }

// Update replaces the driver as a driver update does: OnDriverDestroyed
// ("DIT_UPDATING"), then the script runs again in the same Lua state (so
// globals of the old code survive), then OnDriverInit and OnDriverLateInit
// with DIT_UPDATING. Timers, C4:MQTT objects and variables go as on Reload.
func (r *Runtime) Update() error { return r.restart("DIT_UPDATING", "DIT_UPDATING", false) }

func (r *Runtime) restart(destroyDIT, initDIT string, freshState bool) error {
	return r.Do(func(*glua.LState) error {
		if r.driver == nil {
			return errors.New("lua: no driver is loaded, so there is nothing to restart")
		}
		r.phase = PhaseDestroy
		derr := r.callEntry("OnDriverDestroyed", glua.LString(destroyDIT))
		saved := map[string]string{}
		if t, ok := r.L.GetGlobal("Properties").(*glua.LTable); ok {
			t.ForEach(func(k, v glua.LValue) {
				if ks, ok := k.(glua.LString); ok {
					saved[string(ks)] = v.String()
				}
			})
		}
		r.savePersistData(r.L)
		r.teardown()
		r.resetDriverState()
		if freshState {
			old := r.L
			if err := r.newState(); err != nil {
				return err
			}
			old.Close()
		} else if t, ok := r.L.GetGlobal("Variables").(*glua.LTable); ok {
			t.ForEach(func(k, _ glua.LValue) { t.RawSet(k, glua.LNil) })
		}
		if err := r.runChunk(saved); err != nil {
			return errors.Join(derr, err)
		}
		return errors.Join(derr, r.initSequence(initDIT))
	})
}

// teardown destroys what the driver's state owns outside Lua: C4:MQTT
// objects and timers. The controller kills all of a driver's timers when
// it is destroyed.
func (r *Runtime) teardown() {
	for _, o := range r.objs {
		o.destroy()
	}
	r.objs = nil
	for t := range r.timers {
		t.stop()
	}
	r.stopLegacyTimers()
}

// Exec runs a Lua snippet in the driver's global environment and returns
// what it returned, converted to Go values.
func (r *Runtime) Exec(name, code string) ([]any, error) {
	var out []any
	err := r.Do(func(*glua.LState) error {
		var err error
		out, err = r.Run(name, code)
		return err
	})
	return out, err
}

// Run is Exec for code already on the Lua state's goroutine: inside Do or
// an Await condition. It runs under the runaway deadline.
func (r *Runtime) Run(name, code string) ([]any, error) {
	L := r.L
	fn, err := compileChunk(L, code, name)
	if err != nil {
		return nil, luaError(name, err)
	}
	rets, err := r.call(name, fn)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(rets))
	for _, v := range rets {
		out = append(out, fromLua(v, 0))
	}
	return out, nil
}
