// Logging as the driver sees it: print, C4:DebugLog, C4:ErrorLog,
// hexdump and tohex. Every line goes to the runtime's log and the trace,
// stamped with the driver's clock.

package lua

import (
	"encoding/hex"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) logFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"DebugLog": func(L *glua.LState) int { r.driverLog("debug", "DEBUG: ", L.ToStringMeta(L.Get(2)).String()); return 0 },
		"ErrorLog": func(L *glua.LState) int { r.driverLog("error", "ERROR: ", L.ToStringMeta(L.Get(2)).String()); return 0 },
	}
}

// driverLog records one line the driver logged.
func (r *Runtime) driverLog(level, prefix, text string) {
	r.trace.add(Entry{Kind: KindLog, Name: level, Args: []any{text}, Phase: r.phase})
	r.logLine(prefix + text)
}

// installLogGlobals sets print, hexdump and tohex.
func (r *Runtime) installLogGlobals(L *glua.LState) {
	L.SetGlobal("print", L.NewFunction(func(L *glua.LState) int {
		parts := make([]string, L.GetTop())
		for i := range parts {
			parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
		}
		r.driverLog("print", "", strings.Join(parts, "\t"))
		return 0
	}))
	L.SetGlobal("hexdump", L.NewFunction(func(L *glua.LState) int {
		r.driverLog("print", "", strings.TrimRight(hexdump(L.CheckString(1)), "\n"))
		return 0
	}))
	// tohex("DF 80 70") is the bytes the hex digits spell; spaces are
	// ignored. A bad digit raises an error (the controller's answer is
	// undocumented).
	L.SetGlobal("tohex", L.NewFunction(func(L *glua.LState) int {
		s := strings.Map(func(c rune) rune {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				return -1
			}
			return c
		}, L.CheckString(1))
		b, err := hex.DecodeString(s)
		if err != nil {
			L.ArgError(1, "tohex: "+err.Error())
		}
		L.Push(glua.LString(b))
		return 1
	}))
}

// hexdump renders offset, hex and ASCII columns, 16 bytes a line.
func hexdump(s string) string {
	var b strings.Builder
	for off := 0; off < len(s); off += 16 {
		line := s[off:min(off+16, len(s))]
		fmt.Fprintf(&b, "%08x  ", off)
		for i := range 16 {
			if i < len(line) {
				fmt.Fprintf(&b, "%02x ", line[i])
			} else {
				b.WriteString("   ")
			}
			if i == 7 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(" |")
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c < 32 || c > 126 {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteString("|\n")
	}
	return b.String()
}
