// Size limits on the natives that build strings, so that a runaway
// allocation (string.rep of half a gigabyte, a huge table.concat) fails at
// once with a clear error instead of stalling the driver's goroutine
// inside one native call, where the deadline cannot reach it.

package lua

import (
	"fmt"

	glua "github.com/yuin/gopher-lua"
)

// limitStrings wraps string.rep and table.concat with size checks against
// Options.MaxMemory.
func (r *Runtime) limitStrings(L *glua.LState) {
	limit := r.opts.MaxMemory
	tooBig := func(L *glua.LState, fn string, n float64) {
		L.RaiseError("%s: the result would be %s, more than the driver's memory limit of %s", fn, size(n), size(float64(limit)))
	}
	str := L.GetGlobal("string").(*glua.LTable)
	rep := str.RawGetString("rep")
	str.RawSetString("rep", L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		n := float64(L.CheckNumber(2))
		if n > 0 && float64(len(s))*n > float64(limit) {
			tooBig(L, "string.rep", float64(len(s))*n)
		}
		return passThrough(L, rep)
	}))
	tbl := L.GetGlobal("table").(*glua.LTable)
	concat := tbl.RawGetString("concat")
	tbl.RawSetString("concat", L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		sep := float64(len(L.OptString(2, "")))
		total := 0.0
		n := t.Len()
		for i := 1; i <= n; i++ {
			if s, ok := t.RawGetInt(i).(glua.LString); ok {
				total += float64(len(s)) + sep
			} else {
				total += 24 + sep // numbers
			}
			if total > float64(limit) {
				tooBig(L, "table.concat", total)
			}
		}
		return passThrough(L, concat)
	}))
}

func size(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	}
	return fmt.Sprintf("%.0f bytes", n)
}
