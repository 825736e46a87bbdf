// The C4 table is built here from the function maps each area file
// provides, with one wrapper around every function so that calls are
// counted and recorded in one place, and so that probing C4.X tells the
// truth about what the environment implements.

package lua

import (
	"sort"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Status of a C4 function in the Calls table.
const (
	// StatusEmulated: the function does what the controller does, within
	// the offline world (project model, virtual clock, broker).
	StatusEmulated = "emulated"
	// StatusRecorded: the function is accepted and recorded in the trace,
	// but what it would do outside the driver is not modelled.
	StatusRecorded = "recorded"
	// StatusMissing: the driver looked the function up and the
	// environment does not provide it.
	StatusMissing = "missing"
)

// CallStat counts one C4 function's use by the driver.
type CallStat struct {
	Name   string `json:"name"`
	Count  int    `json:"count"`
	Status string `json:"status"`
}

// callBook is the table of C4 functions used, shared with other goroutines.
type callBook struct {
	mu    sync.Mutex
	stats map[string]*CallStat
}

func (b *callBook) add(name, status string) {
	b.mu.Lock()
	s := b.stats[name]
	if s == nil {
		s = &CallStat{Name: name, Status: status}
		b.stats[name] = s
	}
	s.Count++
	b.mu.Unlock()
}

// Calls returns every C4 function the driver called (or, for missing ones,
// looked up) with how often and whether it is emulated, recorded only or
// missing, sorted by name.
func (r *Runtime) Calls() []CallStat {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	out := make([]CallStat, 0, len(r.calls.stats))
	for _, s := range r.calls.stats {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// selfTraced functions write their own trace entries (C4:MQTT).
var selfTraced = map[string]bool{"MQTT": true}

// safeEarly are the functions the controller's safe-usage table allows
// before OnDriverLateInit; a call to any other in the chunk or in
// OnDriverInit is recorded with a warning.
var safeEarly = map[string]bool{
	"AddVariable": true, "AllowExecute": true, "Base64Encode": true, "Base64Decode": true,
	"DebugLog": true, "ErrorLog": true, "Encode": true, "Decode": true, "Encrypt": true,
	"Decrypt": true, "Hash": true, "HMAC": true, "PBKDF2": true, "GetVersionInfo": true,
	"GetUniqueMAC": true, "ParseXml": true, "ParseIso8601DateTime": true,
	"PersistGetValue": true, "PersistSetValue": true, "TEAEncrypt": true, "TEADecrypt": true,
	"AddDynamicBinding": true, "RemoveDynamicBinding": true, "RegisterVariableListener": true,
	// Not in the table but pure reads of the driver's own identity that
	// every public library makes while loading.
	"GetDeviceID": true, "GetDriverConfigInfo": true, "GetDriverFileName": true, "GetProxyDevices": true,
}

// c4Areas returns the function maps of every area. One line per area.
func (r *Runtime) c4Areas() []map[string]glua.LGFunction {
	return []map[string]glua.LGFunction{
		r.mqttFunctions(),
		r.identityFunctions(),
		r.timeFunctions(),
		r.projectFunctions(),
		r.variableFunctions(),
		r.persistFunctions(),
		r.bindingFunctions(),
		r.logFunctions(),
		r.recordedFunctions(),
		r.httpFunctions(),
		r.netFunctions(),
		r.fileFunctions(),
		r.cryptoFunctions(),
		r.colorFunctions(),
	}
}

// c4Names are the names of every C4 function, for error messages. It is
// filled once, before any runtime runs Lua.
var c4Names = map[string]bool{}
var c4NamesOnce sync.Once

// buildC4 makes the C4 table: every area's functions wrapped by record,
// and an __index that answers nil (so `if C4.X then` is honest) while
// remembering the lookup, so that the error of calling it can name it.
func (r *Runtime) buildC4(L *glua.LState) *glua.LTable {
	c4 := L.NewTable()
	areas := r.c4Areas()
	c4NamesOnce.Do(func() {
		for _, area := range areas {
			for name := range area {
				// Two areas answering one name would make the table's
				// contents depend on map order: a programming error.
				if c4Names[name] {
					panic("lua: C4:" + name + " is provided by two areas")
				}
				c4Names[name] = true
			}
		}
	})
	for _, area := range areas {
		for name, fn := range area {
			c4.RawSetString(name, L.NewFunction(r.record(c4, name, fn)))
		}
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		if k, ok := L.Get(2).(glua.LString); ok {
			r.calls.add(string(k), StatusMissing)
			r.lastMissing = string(k)
			r.lastMissingAt = L.Where(1)
		}
		L.Push(glua.LNil)
		return 1
	}))
	L.SetMetatable(c4, mt)
	return c4
}

// record wraps one C4 function: it fixes a '.' call (C4.X(...) passes no
// C4 table, so the arguments are shifted), counts the call and adds it to
// the trace with its arguments, phase and, when the controller would
// object, a warning.
func (r *Runtime) record(c4 *glua.LTable, name string, fn glua.LGFunction) glua.LGFunction {
	status := StatusEmulated
	if recordedOnly[name] {
		status = StatusRecorded
	}
	return func(L *glua.LState) int {
		var warn []string
		if L.Get(1) != c4 {
			// Undocumented what the controller does; the usual Lua
			// mistake, so the call goes through and is flagged.
			L.Insert(c4, 1)
			warn = append(warn, "called as C4."+name+" (with '.'), not C4:"+name)
		}
		r.calls.add(name, status)
		if !selfTraced[name] {
			if (r.phase == PhaseChunk || r.phase == PhaseInit) && !safeEarly[name] {
				warn = append(warn, "not safe before OnDriverLateInit")
			}
			r.trace.add(Entry{Kind: KindC4, Name: name, Args: traceArgs(L, 2), Phase: r.phase, Warning: strings.Join(warn, "; ")})
		}
		return fn(L)
	}
}

// recordedFunctions are functions whose effect lies outside the driver and
// is not modelled: they are accepted, recorded and return nothing.
func (r *Runtime) recordedFunctions() map[string]glua.LGFunction {
	out := map[string]glua.LGFunction{}
	for name := range recordedOnly {
		out[name] = func(*glua.LState) int { return 0 }
	}
	return out
}

// recordedOnly lists the functions recordedFunctions provides.
var recordedOnly = map[string]bool{
	"InvalidateState": true, "SendDataToUI": true, "SetBindingStatus": true, "RegisterEvents": true,
	"SendToSerial": true, "SendIR": true, "SendIRStart": true, "SendIRStop": true,
}
