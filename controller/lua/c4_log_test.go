package lua_test

import (
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestLoggingGoesToTheTrace(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.lua": `
print("a", 1, nil)
C4:DebugLog("dbg")
C4:ErrorLog("err")
hexdump("AB\0")
raw = tohex("41 42 43")`})
	var got []string
	for _, e := range rt.Trace().Entries() {
		if e.Kind == lua.KindLog {
			if e.DriverNs <= 0 {
				t.Errorf("log entry without the driver's time: %+v", e)
			}
			got = append(got, e.Name+":"+e.Args[0].(string))
		}
	}
	want := []string{"print:a\t1\tnil", "debug:dbg", "error:err"}
	if len(got) != 4 || strings.Join(got[:3], "|") != strings.Join(want, "|") || !strings.Contains(got[3], "41 42 00") || !strings.Contains(got[3], "|AB.|") {
		t.Errorf("log entries %q", got)
	}
	if v := eval(t, rt, "return raw"); v != "ABC" {
		t.Errorf("tohex = %v", v)
	}
	if logs := rt.Logs(); len(logs) < 3 || logs[1] != "DEBUG: dbg" {
		t.Errorf("Logs() = %q", logs)
	}
}
