// The driver's identity, configuration and properties as the controller
// shows them: driver.xml's config, the version facts, and the property
// calls that change what Composer displays.

package lua

import (
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
)

func (r *Runtime) identityFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"AllowExecute": func(L *glua.LState) int { r.env.allowExecute = L.ToBool(2); return 0 },
		"GetDriverConfigInfo": func(L *glua.LState) int {
			var v string
			if r.driver != nil {
				v = r.driver.info.ConfigInfo(L.CheckString(2))
			}
			L.Push(glua.LString(v))
			return 1
		},
		"GetCapability": func(L *glua.LState) int {
			var v string
			if r.driver != nil {
				v = deviceData(r.driver.info.raw, L.CheckString(2))
			}
			L.Push(glua.LString(v))
			return 1
		},
		"GetVersionInfo":     r.c4VersionInfo,
		"GetDriverFileName":  func(L *glua.LState) int { L.Push(glua.LString(r.driverFileName())); return 1 },
		"UpdateProperty":     r.c4UpdateProperty,
		"UpdatePropertyList": r.c4UpdatePropertyList,
		"SetPropertyAttribs": func(L *glua.LState) int {
			// 1 hides the property, 0 shows it.
			r.env.hidden[L.CheckString(2)] = L.OptInt(3, 0) == 1
			return 0
		},
		"EvaluateExpression": c4EvaluateExpression,
	}
}

func (r *Runtime) c4VersionInfo(L *glua.LState) int {
	t := L.NewTable()
	t.RawSetString("version", glua.LString(r.proj.Controller.Version))
	t.RawSetString("buildtype", glua.LString("mqtthil"))
	t.RawSetString("builddate", glua.LString("2024-01-01"))
	t.RawSetString("buildtime", glua.LString("00:00:00"))
	t.RawSetString("brand", glua.LString("mqtthil"))
	L.Push(t)
	return 1
}

// c4UpdateProperty sets Properties[name] at once (drivers read it back
// straight away) and never calls OnPropertyChanged. Numbers and booleans
// are shown as their tostring.
func (r *Runtime) c4UpdateProperty(L *glua.LState) int {
	name := L.CheckString(2)
	value := L.ToStringMeta(L.Get(3)).String()
	if t, ok := L.GetGlobal("Properties").(*glua.LTable); ok {
		t.RawSetString(name, glua.LString(value))
	}
	r.propMu.Lock()
	r.updated[name] = value
	r.propMu.Unlock()
	r.noteValue(controller.PropertyValue, name, value)
	return 0
}

// c4UpdatePropertyList replaces a dynamic list's items (comma separated);
// a third argument sets the value too.
func (r *Runtime) c4UpdatePropertyList(L *glua.LState) int {
	name := L.CheckString(2)
	items := strings.Split(L.ToStringMeta(L.Get(3)).String(), ",")
	r.env.lists[name] = items
	if L.GetTop() >= 4 && L.Get(4) != glua.LNil {
		L.SetTop(4)
		L.Remove(3)
		return r.c4UpdateProperty(L)
	}
	return 0
}

// Updated returns the value the driver last gave a property with
// C4:UpdateProperty, and whether it gave one.
func (r *Runtime) Updated(name string) (string, bool) {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	v, ok := r.updated[name]
	return v, ok
}

// PropertyState is what Composer would show of a property beyond its value.
type PropertyState struct {
	Hidden bool
	Items  []string // set by UpdatePropertyList
}

// PropertyState reports whether the driver hid a property and the list
// items it gave it.
func (r *Runtime) PropertyState(name string) PropertyState {
	var s PropertyState
	r.Do(func(*glua.LState) error {
		s = PropertyState{Hidden: r.env.hidden[name], Items: append([]string(nil), r.env.lists[name]...)}
		return nil
	})
	return s
}

// c4EvaluateExpression compares a and b with a programming operator:
// numerically when both are numbers, as strings otherwise.
func c4EvaluateExpression(L *glua.LState) int {
	op := strings.ToUpper(L.CheckString(2))
	a, b := L.ToStringMeta(L.Get(3)).String(), L.ToStringMeta(L.Get(4)).String()
	cmp := strings.Compare(a, b)
	fa, ea := strconv.ParseFloat(strings.TrimSpace(a), 64)
	fb, eb := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if ea == nil && eb == nil {
		switch {
		case fa < fb:
			cmp = -1
		case fa > fb:
			cmp = 1
		default:
			cmp = 0
		}
	}
	var ok bool
	switch op {
	case "EQUAL", "=", "==":
		ok = cmp == 0
	case "NOT_EQUAL", "!=", "~=":
		ok = cmp != 0
	case "LESS_THAN", "<":
		ok = cmp < 0
	case "LESS_THAN_OR_EQUAL", "<=":
		ok = cmp <= 0
	case "GREATER_THAN", ">":
		ok = cmp > 0
	case "GREATER_THAN_OR_EQUAL", ">=":
		ok = cmp >= 0
	default:
		L.ArgError(2, "unknown logic "+op+" (EQUAL, NOT_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL)")
	}
	L.Push(glua.LBool(ok))
	return 1
}
