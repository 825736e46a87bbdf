package lua_test

import (
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// The expected answers are LuaJIT 2.1's for the same lines.
func TestStdlibAnswersAsLuaJIT(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want []any
	}{
		{`return select('#', ("x"):match("(%d)"))`, []any{int64(1)}},
		{`return tonumber(("x"):match("^(%d+)"))`, []any{nil}},
		{`return ("a12"):match("%d+")`, []any{"12"}},
		{`return ("k=v"):match("(%w)=(%w)")`, []any{"k", "v"}},
		{`return ("a1b2"):gmatch("%d")()`, []any{"1"}},
		{`return select('#', ("ab"):gmatch("%d")())`, []any{int64(0)}},
		{`local t = {} for k, v in ("a=1,b=2"):gmatch("(%w)=(%w)") do t[#t+1] = k .. v end return table.concat(t, ";")`, []any{"a1;b2"}},
		{`local it = string.gmatch("x y", "%a") it() return it()`, []any{"y"}},
		{`return tonumber("1e2")`, []any{int64(100)}},
		{`return tonumber("1E5")`, []any{int64(100000)}},
		{`return tonumber("-0x10")`, []any{int64(-16)}},
		{`return tonumber(" 0x1F ")`, []any{int64(31)}},
		{`return tonumber("0x1p4")`, []any{int64(16)}},
		{`return tonumber("-.5e1")`, []any{int64(-5)}},
		{`return tonumber("5.")`, []any{int64(5)}},
		{`return tonumber("1e400") == math.huge`, []any{true}},
		{`return tonumber("-inf") == -math.huge`, []any{true}},
		{`local n = tonumber("nan") return n ~= n`, []any{true}},
		{`return tonumber("1e")`, []any{nil}},
		{`return tonumber("0x")`, []any{nil}},
		{`return tonumber("12a")`, []any{nil}},
		{`return tonumber("1_0")`, []any{nil}},
		{`return tonumber("")`, []any{nil}},
		{`return tonumber("ff", 16)`, []any{int64(255)}},
		{`return tonumber(7)`, []any{int64(7)}},
		{`return 1/0 == math.huge`, []any{true}},
		{`return math.huge > 1.7976931348623157e308`, []any{true}},
	} {
		got := evalLua(t, rt, tc.code)
		if len(got) != len(tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.code, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s = %#v, want %#v", tc.code, got, tc.want)
			}
		}
	}
}

// A driver's own pcall and xpcall see an error that names the missing
// C4 function, and only when it is what was called.
func TestProtectedCallNamesMissingC4Function(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code, want, notWant string
	}{
		{`local ok, err = pcall(function() C4:SendWOL("x") end) return err`, "C4:SendWOL is not emulated", ""},
		{`local ok, err = pcall(C4.SendWOL, C4, "x") return err`, "", "C4:SendWOL is not emulated"},
		{`local ok, err = xpcall(function() return C4:StatsdCounter("a", 1) end, function(e) return "H:" .. e end) return err`, "H:test:1: C4:StatsdCounter is not emulated", ""},
		{`if C4.StatsdGauge then end
		  local f
		  local ok, err = pcall(function() f() end) return err`, "attempt to call", "StatsdGauge"},
		{`local ok, err = pcall(error, "plain") return err`, "plain", "not emulated"},
		{`local ok, a, b = pcall(function() return 1, 2 end) return tostring(ok) .. a .. b`, "true12", ""},
	} {
		got := evalLua(t, rt, tc.code)
		s, _ := got[0].(string)
		if tc.want != "" && !strings.Contains(s, tc.want) {
			t.Errorf("%s = %q, want it to contain %q", tc.code, s, tc.want)
		}
		if tc.notWant != "" && strings.Contains(s, tc.notWant) {
			t.Errorf("%s = %q, want it not to contain %q", tc.code, s, tc.notWant)
		}
	}
}
