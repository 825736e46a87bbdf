package lua_test

import (
	"reflect"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

const lifecycleDriver = `
order = {}
local function note(s) order[#order + 1] = s end
note("chunk:" .. Properties.Mode)
PersistData = PersistData or {}
PersistData.loads = (PersistData.loads or 0) + 1
function OnDriverInit(dit) note("init:" .. tostring(dit) .. ":" .. Properties.Mode); C4:AddVariable("A", "1", "NUMBER"); C4:AddVariable("B", "x", "STRING") end
function OnPropertyChanged(name) note("changed:" .. name) end
function OnDriverLateInit(dit) note("late:" .. tostring(dit)) end
function OnDriverDestroyed(dit) C4:PersistSetValue("destroyed", dit) end
`

func TestEntryPointsInControllerOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		opts lua.Options
		want []any
	}{
		{"default", lua.Options{}, []any{"chunk:b", "init:DIT_ADDING:a", "late:DIT_ADDING"}},
		{"property changes asked for", lua.Options{PropertyChangedOnLoad: true, DIT: "DIT_STARTUP"},
			[]any{"chunk:b", "init:DIT_STARTUP:a", "changed:Mode", "changed:Level", "changed:Status", "late:DIT_STARTUP"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := newRuntime(t, c.opts)
			if err := rt.Load(writeFiles(t, map[string]string{"driver.xml": minimalXML, "driver.lua": lifecycleDriver})); err != nil {
				t.Fatal(err)
			}
			if err := rt.SetProperties(map[string]string{"Mode": "a"}); err != nil {
				t.Fatal(err)
			}
			if err := rt.Init(); err != nil {
				t.Fatal(err)
			}
			if got := eval(t, rt, "return order"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("order\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestReloadKeepsWhatTheControllerKeeps(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": lifecycleDriver})
	eval(t, rt, `C4:UpdateProperty("Mode", "a"); C4:PersistSetValue("k", {1, 2, x = "y"}); stale = true`)
	ids := rt.VariableIDs()
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"return PersistData.loads":               int64(2),
		"return C4:PersistGetValue('k').x":       "y",
		"return C4:PersistGetValue('destroyed')": "DIT_LOADED",
		"return Properties.Mode":                 "a",
		"return stale == nil":                    true,
		"return order[#order]":                   "late:DIT_STARTUP",
		"return order[1]":                        "chunk:a",
	}
	for code, want := range checks {
		if got := eval(t, rt, code); got != want {
			t.Errorf("after reload %s = %v, want %v", code, got, want)
		}
	}
	if got := rt.VariableIDs(); !reflect.DeepEqual(got, ids) || ids["A"] != 1001 || ids["B"] != 1002 {
		t.Errorf("variable ids %v, before reload %v", got, ids)
	}
}

func TestOnDriverDestroyedAtClose(t *testing.T) {
	rt, err := lua.New(lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Load(writeDriver(t, `function OnDriverDestroyed(dit) C4:PersistSetValue("gone", dit) end`, "")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, e := range rt.Trace().Entries() {
		if e.Kind == lua.KindEntryPoint && e.Name == "OnDriverDestroyed" {
			got = e.Args
		}
	}
	if !reflect.DeepEqual(got, []any{"DIT_LOADED"}) {
		t.Errorf("OnDriverDestroyed args %v", got)
	}
}

func TestUpdateKeepsTheState(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": lifecycleDriver})
	eval(t, rt, `survivor = "old globals stay"; C4:UpdateProperty("Mode", "a")`)
	if err := rt.Update(); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]any{
		"return survivor":                        "old globals stay",
		"return order[#order]":                   "late:DIT_UPDATING",
		"return C4:PersistGetValue('destroyed')": "DIT_UPDATING",
		"return Properties.Mode":                 "a",
		"return PersistData.loads":               int64(2),
	} {
		if got := eval(t, rt, code); got != want {
			t.Errorf("after update %s = %v, want %v", code, got, want)
		}
	}
	if ids := rt.VariableIDs(); ids["A"] != 1001 || ids["B"] != 1002 {
		t.Errorf("variable ids after update %v", ids)
	}
}
