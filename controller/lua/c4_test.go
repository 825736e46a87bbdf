package lua_test

import (
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestCallsTableAndHonestProbing(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.lua": `
hasStatsd = C4.StatsdCounter ~= nil
hasID = C4.GetDeviceID ~= nil
C4:GetDeviceID(); C4:GetDeviceID()
C4:InvalidateState()
ok, err = pcall(function() C4:NoSuchCall() end)
function OnDriverInit() C4:UpdateProperty("x", "y") end
function OnDriverLateInit() dotted = C4.GetDeviceID() end`})
	if eval(t, rt, "return hasStatsd") != false || eval(t, rt, "return hasID") != true {
		t.Error("probing C4.X does not tell the truth")
	}
	if eval(t, rt, "return ok") != false || eval(t, rt, "return dotted") != int64(1001) {
		t.Error("calls misbehave")
	}
	stats := map[string]lua.CallStat{}
	for _, c := range rt.Calls() {
		stats[c.Name] = c
	}
	for name, want := range map[string]lua.CallStat{
		"GetDeviceID":     {Name: "GetDeviceID", Count: 3, Status: lua.StatusEmulated},
		"InvalidateState": {Name: "InvalidateState", Count: 1, Status: lua.StatusRecorded},
		"StatsdCounter":   {Name: "StatsdCounter", Count: 1, Status: lua.StatusMissing},
		"NoSuchCall":      {Name: "NoSuchCall", Count: 1, Status: lua.StatusMissing},
	} {
		if stats[name] != want {
			t.Errorf("Calls()[%s] = %+v, want %+v", name, stats[name], want)
		}
	}
	var warnings []string
	for _, e := range rt.Trace().Entries() {
		if e.Kind == lua.KindC4 && e.Warning != "" {
			warnings = append(warnings, e.Name+"@"+e.Phase+": "+e.Warning)
		}
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "UpdateProperty@init: not safe before OnDriverLateInit") || !strings.Contains(joined, "GetDeviceID@late-init: called as C4.GetDeviceID") {
		t.Errorf("warnings:\n%s", joined)
	}
	_, err := rt.Exec("missing", "C4:SendWOL('00:11:22:33:44:55')")
	if err == nil || !strings.Contains(err.Error(), "C4:SendWOL is not emulated") {
		t.Errorf("calling a missing function: %v", err)
	}
}
