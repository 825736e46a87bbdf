package lua_test

import (
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestVariablesAndListeners(t *testing.T) {
	rt := loaded(t, lua.Options{ProjectFile: "testdata/project.yaml"}, map[string]string{"driver.lua": `
watched = {}
function OnWatchedVariableChanged(dev, id, value) watched[#watched + 1] = dev .. "/" .. id .. "=" .. value end
function OnVariableChanged(name) changed = name .. "=" .. Variables[name] end
function OnDriverInit()
  okA, idA = C4:AddVariable("TEMP", 20, "NUMBER")
  ok9, id9 = C4:AddVariable(1002, "x", "STRING")
  okB, idB = C4:AddVariable("ON", "true", "BOOL")
  okC = C4:AddVariable("TEMP", 1, "NUMBER")
end
function OnDriverLateInit()
  C4:RegisterVariableListener(3001, "LIGHT_LEVEL")
  C4:RegisterVariableListener(C4:GetDeviceID(), idA)
  C4:SetVariable("TEMP", 21.5)
end`})
	for code, want := range map[string]any{
		"return idA":            int64(1001),
		"return idB":            int64(1003), // 1002 was taken by the numeric id
		"return okC":            false,
		"return id9":            int64(1002),
		"return Variables.ON":   "1",
		"return Variables.TEMP": "21.5",
		"return C4:GetVariable(C4:GetDeviceID(), 1001)":               "21.5",
		"return C4:GetDeviceVariables(C4:GetDeviceID())['1001'].name": "TEMP",
		"return C4:RegisterVariableListener(3001, 'NOPE')":            false,
	} {
		if got := eval(t, rt, code); got != want {
			t.Errorf("%s = %#v, want %#v", code, got, want)
		}
	}
	if err := rt.SetDeviceVariable(3001, "LIGHT_LEVEL", "90"); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetDeviceVariable(2001, "TEMP", "25"); err != nil {
		t.Fatal(err)
	}
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) {
		return L.GetGlobal("changed") != glua.LNil && L.GetField(L.GetGlobal("watched"), "n") == glua.LNil && L.ObjLen(L.GetGlobal("watched")) >= 5, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"3001/1000=40", "2001/1001=20", "2001/1001=21.5", "3001/1000=90", "2001/1001=25"}
	got := eval(t, rt, "return watched")
	if gs, ok := got.([]any); !ok || len(gs) != len(want) {
		t.Fatalf("watched = %v, want %v", got, want)
	} else {
		for i := range want {
			if gs[i] != want[i] {
				t.Errorf("watched[%d] = %v, want %v", i, gs[i], want[i])
			}
		}
	}
	if got := eval(t, rt, "return changed"); got != "TEMP=25" {
		t.Errorf("OnVariableChanged: %v", got)
	}
}

func TestEvents(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": `
got = {}
function OnDeviceEvent(dev, id) got[#got + 1] = "device " .. dev .. "/" .. id end
function OnSystemEvent(data) got[#got + 1] = "system " .. data end
function OnDriverLateInit()
  C4:AddEvent(7, "Dyn", "NAME did it")
  C4:RegisterDeviceEvent(C4:GetDeviceID(), 7)
  C4:RegisterDeviceEvent(C4:GetDeviceID(), 1)
  C4:RegisterDeviceEvent(500, 9)
  C4:RegisterSystemEvent(C4SystemEvents.OnPIP, 0)
  C4:FireEvent("Dyn")
  C4:FireEventByID(1)
  C4:FireEvent("Fired")
end`})
	rt.FireDeviceEvent(500, 9)
	rt.FireDeviceEvent(500, 10) // not registered
	rt.FireSystemEvent(6, 42, `<event name="OnPIP"/>`)
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) { return L.ObjLen(L.GetGlobal("got")) >= 5, nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "device 1001/7,device 1001/1,device 1001/1,device 500/9,system <event name=\"OnPIP\"/>"
	if got := eval(t, rt, "return table.concat(got, ',')"); got != want {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	if ev := rt.Events(); ev[7] != "Dyn" {
		t.Errorf("Events() = %v", ev)
	}
}

func TestRecordHistoryAnswersDistinctIDs(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.lua": "x = 1"})
	if got := eval(t, rt, "local a, b = C4:RecordHistory('Info', 'x'), C4:RecordHistory('Info', 'y'); return a ~= b and #a == 36"); got != true {
		t.Errorf("RecordHistory ids: %v", got)
	}
}
