package lua_test

import (
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// Every expected value is what Lua 5.1 and LuaJIT answer: all expressions
// are evaluated before any target is assigned.
func TestMultipleAssignmentEvaluatesFirst(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want any
	}{
		{`local a, b = 1, 2 a, b = b, a return a .. b`, "21"},
		{`local a, b = 0, 0 a, b = a + 1, a + b return a .. b`, "10"},
		{`local x, y = 1, 2 local s = 1 for i = 1, 1 do if s == 1 then x, y = y, x end end return x .. y`, "21"},
		{`local function f() local p, q = "p", "q" p, q = q, p return p .. q end return f()`, "qp"},
		{`local t = {1, 2} t[1], t[2] = t[2], t[1] return t[1] .. t[2]`, "21"},
		{`local i, a = 3, {} i, a[i] = i + 1, 20 return tostring(a[3]) .. tostring(a[4]) .. i`, "20nil4"},
		{`local a = {} local d, f = "e", 1 f, a.d = f, d return f .. a.d`, "1e"},
		{`local function two() return 1, 2 end local a, b, c = 9, 9, 9 a, b, c = two() return tostring(a) .. tostring(b) .. tostring(c)`, "12nil"},
		{`local a, b = 1, 2 a, b = 5 return tostring(a) .. tostring(b)`, "5nil"},
		{`g1, g2 = 1, 2 g1, g2 = g2, g1 return g1 .. g2`, "21"},
		{`local a, b = 1, 2 local f = function() a, b = b, a end f() return a .. b`, "21"},
		{`return loadstring("local a, b = 1, 2 a, b = b, a return a .. b")()`, "21"},
		{`local f, err = loadstring("return +", "chunk") return f == nil and err:find("chunk") ~= nil`, true},
	} {
		got := evalLua(t, rt, tc.code)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s = %#v, want %#v", tc.code, got, tc.want)
		}
	}
	// Errors still name the driver's line.
	_, err := rt.Exec("test", "local a\n\na, b = nil .. 1, 2")
	if err == nil || !strings.Contains(err.Error(), "test:3:") {
		t.Errorf("error = %v, want it at test:3", err)
	}
}
