package lua_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestHugeAllocationsFailFast(t *testing.T) {
	rt := loaded(t, lua.Options{Deadline: 2 * time.Second}, map[string]string{"driver.lua": "x = 1"})
	for _, code := range []string{
		`local s = string.rep("x", 512 * 1024 * 1024)`,
		`local s = ("ab"):rep(300 * 1024 * 1024)`,
		`local t = {}; local s = string.rep("y", 1024 * 1024); for i = 1, 80 do t[i] = s end; return #table.concat(t)`,
	} {
		start := time.Now()
		_, err := rt.Exec("alloc", code)
		if err == nil || !strings.Contains(err.Error(), "memory limit") {
			t.Errorf("%s: got %v, want a memory-limit error", code, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: stopped after %v", code, d)
		}
	}
	if got := eval(t, rt, `return #string.rep("ab", 1000)`); got != int64(2000) {
		t.Errorf("small string.rep = %v", got)
	}
}

func TestSandboxKeepsTheDriverIn(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.lua": "x = 1", "data.txt": "inside"})
	for _, c := range []struct{ code, want string }{
		{`io.popen("ls")`, "io.popen is not allowed"},
		{`os.execute("true")`, "os.execute is not allowed"},
		{`os.exit(0)`, "os.exit is not allowed"},
		{`loadfile("/etc/passwd")`, "outside the driver's folder"},
		{`dofile("../../etc/passwd")`, "outside the driver's folder"},
		{`package.loadlib("/lib/libc.so.6", "open")`, "not allowed"},
	} {
		if _, err := rt.Exec("escape", c.code); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.code, err, c.want)
		}
	}
	if got := eval(t, rt, `local f = io.open("data.txt"); local s = f:read("*a"); f:close(); return s`); got != "inside" {
		t.Errorf("reading the driver's own file: %v", got)
	}
	if got := eval(t, rt, `return os.getenv("HOME")`); got != nil {
		t.Errorf("os.getenv = %v", got)
	}
}

func TestRunawayConcatenationStoppedByMemory(t *testing.T) {
	// A small limit (the watch stops the driver past 4 MiB of growth): the
	// doubling string is stopped at a few MiB rather than hundreds, which
	// under the race detector cost seconds of copying and page faults.
	rt := loaded(t, lua.Options{Deadline: 30 * time.Second, MaxMemory: 1 << 20}, map[string]string{"driver.lua": "x = 1"})
	start := time.Now()
	_, err := rt.Exec("double", `local s = "x"; for i = 1, 40 do s = s .. s end; return #s`)
	if err == nil || !strings.Contains(err.Error(), "memory grew") {
		t.Fatalf("got %v, want the memory watch to stop the driver", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopped after %v", d)
	}
	if got := eval(t, rt, "return 1 + 1"); got != int64(2) {
		t.Errorf("the runtime did not go on: %v", got)
	}
}
