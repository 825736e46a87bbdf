// Places where gopher-lua's standard library answers differently from the
// Lua 5.1 / LuaJIT a controller runs, found by running public drivers:
// a driver written against the controller must see the controller's
// answers, or it fails here for reasons of ours.

package lua

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// fixStdlib replaces the standard functions that differ:
//   - string.match answers one nil when nothing matches (gopher-lua answers
//     no value at all, so tonumber(s:match(p)) raises "value expected");
//   - the iterator string.gmatch returns can be called directly
//     (s:gmatch(p)() is a common "first match" idiom; gopher-lua's iterator
//     needs the state the generic for passes it);
//   - tonumber reads every numeral Lua reads: exponents without a point
//     ("1e2"), signed hexadecimal ("-0x10"), overflow to infinity, inf and
//     nan;
//   - math.huge is infinity, not the largest finite number.
func (r *Runtime) fixStdlib(L *glua.LState) {
	str := L.GetGlobal("string").(*glua.LTable)
	match := str.RawGetString("match")
	str.RawSetString("match", L.NewFunction(func(L *glua.LState) int {
		if n := passThrough(L, match); n > 0 {
			return n
		}
		L.Push(glua.LNil)
		return 1
	}))
	gmatch := str.RawGetString("gmatch")
	str.RawSetString("gmatch", L.NewFunction(func(L *glua.LState) int {
		L.Push(gmatch)
		L.Push(L.Get(1))
		L.Push(L.Get(2))
		L.Call(2, 2)
		iter, state := L.Get(-2), L.Get(-1)
		L.Pop(2)
		L.Push(L.NewFunction(func(L *glua.LState) int {
			top := L.GetTop()
			L.Push(iter)
			L.Push(state)
			L.Call(1, glua.MultRet)
			return L.GetTop() - top
		}))
		return 1
	}))
	tonumber := L.GetGlobal("tonumber")
	L.SetGlobal("tonumber", L.NewFunction(func(L *glua.LState) int {
		if s, ok := L.Get(1).(glua.LString); ok && (L.GetTop() < 2 || L.Get(2) == glua.LNil || L.Get(2) == glua.LNumber(10)) {
			if f, ok := parseLuaNumber(string(s)); ok {
				L.Push(glua.LNumber(f))
			} else {
				L.Push(glua.LNil)
			}
			return 1
		}
		return passThrough(L, tonumber)
	}))
	L.GetGlobal("math").(*glua.LTable).RawSetString("huge", glua.LNumber(math.Inf(1)))
}

var (
	decimalRe = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	hexRe     = regexp.MustCompile(`^([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?$`)
	specialRe = regexp.MustCompile(`(?i)^[+-]?(inf|infinity|nan)$`)
)

// parseLuaNumber reads a numeral the way LuaJIT's tonumber does: spaces
// around it allowed, decimal with optional exponent, hexadecimal with an
// optional fraction and binary exponent, inf and nan in any case.
func parseLuaNumber(s string) (float64, bool) {
	s = strings.Trim(s, " \t\n\r\v\f")
	switch {
	case decimalRe.MatchString(s):
		f, err := strconv.ParseFloat(s, 64)
		// ParseFloat reports overflow but answers ±Inf, which is Lua's value.
		return f, err == nil || math.IsInf(f, 0)
	case hexRe.MatchString(s):
		m := hexRe.FindStringSubmatch(s)
		exp := m[3]
		if exp == "" {
			exp = "p0"
		}
		f, err := strconv.ParseFloat(m[1]+"0x"+m[2]+exp, 64)
		return f, err == nil || math.IsInf(f, 0)
	case specialRe.MatchString(s):
		if strings.HasSuffix(strings.ToLower(s), "nan") {
			return math.NaN(), true
		}
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	return 0, false
}
