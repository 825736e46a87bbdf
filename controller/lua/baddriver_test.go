package lua_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// errorEntries are the trace's KindError messages.
func errorEntries(rt *lua.Runtime) []string {
	var out []string
	for _, e := range rt.Trace().Entries() {
		if e.Kind == lua.KindError {
			out = append(out, e.Args[0].(string))
		}
	}
	return out
}

func TestBadDriverCodeIsNamedAndTheRuntimeGoesOn(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"driver.lua":     `require("lib.broken")`,
		"lib/broken.lua": "local x = \nfunction (",
	})
	rt := newRuntime(t, lua.Options{})
	err := rt.Load(dir)
	var le *lua.Error
	if !errors.As(err, &le) || !strings.HasSuffix(le.File, filepath.Join("lib", "broken.lua")) || le.Line != 2 || !strings.Contains(le.Message, "syntax error") {
		t.Fatalf("syntax error in a module: %v", err)
	}

	rt2 := loaded(t, lua.Options{Deadline: 200 * time.Millisecond, TimeScale: 0.01}, map[string]string{"driver.lua": `
function OnDriverLateInit()
  C4:SetTimer(100, function() local t = nil; return t.field end)
  C4:SetTimer(200, function() after = true end)
end
function ExecuteCommand(cmd)
  if cmd == "loop" then while true do end end
  if cmd == "types" then C4:SetTimer("soon", 3) end
  if cmd == "ok" then fine = true end
end`})
	// Both timers are due within milliseconds at this time scale, and a
	// loaded machine may run them in either order: wait for both.
	err = rt2.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) {
		return L.GetGlobal("after") == glua.LTrue && len(rt2.Errors()) > 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cbErrs := rt2.Errors()
	if len(cbErrs) != 1 || !strings.Contains(cbErrs[0].Error(), "driver.lua:3:") {
		t.Errorf("callback errors %v", cbErrs)
	}
	for cmd, want := range map[string]string{
		"loop":  "driver.lua:7: stopped",
		"types": "driver.lua:8: bad argument #1",
	} {
		err := rt2.ExecuteCommand(cmd, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", cmd, err, want)
		}
	}
	if err := rt2.ExecuteCommand("ok", nil); err != nil || eval(t, rt2, "return fine") != true {
		t.Errorf("the runtime did not go on: %v", err)
	}
	recorded := strings.Join(errorEntries(rt2), "\n")
	for _, want := range []string{"driver.lua:3:", "driver.lua:7:", "driver.lua:8:"} {
		if !strings.Contains(recorded, want) {
			t.Errorf("trace errors lack %q:\n%s", want, recorded)
		}
	}
}
