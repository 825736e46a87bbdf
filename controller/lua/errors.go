package lua

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Error is a Lua error raised by driver code: a syntax error, a runtime
// error, an error in a callback or a timer, or a runaway script stopped by
// the deadline.
type Error struct {
	// In says what was running: "loading", "OnDriverInit", "callback
	// onPublish of room-sensor-1", "timer", "snippet", ...
	In        string
	File      string // driver file, when the message names one
	Line      int
	Message   string // without the file:line: prefix
	Traceback string // Lua's stack traceback
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	}
	b.WriteString(e.Message)
	if e.In != "" {
		fmt.Fprintf(&b, " (in %s)", e.In)
	}
	if e.Traceback != "" {
		b.WriteString("\n")
		b.WriteString(e.Traceback)
	}
	return b.String()
}

var posRe = regexp.MustCompile(`^(\S+?):(\d+):\s?`)
var tbPosRe = regexp.MustCompile(`(?m)^\s*([^\s\[][^:\s]*):(\d+):`)

// luaError turns what gopher-lua raised into an *Error.
func luaError(in string, err error) *Error {
	e := &Error{In: in}
	msg := err.Error()
	if ae, ok := err.(*glua.ApiError); ok {
		msg = ae.Object.String()
		if ae.Cause != nil && ae.Type == glua.ApiErrorFile {
			msg = ae.Cause.Error()
		}
		e.Traceback = ae.StackTrace
	}
	// gopher-lua wraps syntax errors as "<file> line:N(column:M) near ...".
	if m := regexp.MustCompile(`^(\S+) line:(\d+)\(column:\d+\) (.*)$`).FindStringSubmatch(firstLine(msg)); m != nil {
		e.File, e.Line = m[1], atoiOr(m[2])
		e.Message = "syntax error " + m[3] + rest(msg)
		return e
	}
	if m := posRe.FindStringSubmatch(msg); m != nil && m[1] != "[G]" {
		e.File, e.Line = m[1], atoiOr(m[2])
		e.Message = msg[len(m[0]):]
	} else {
		e.Message = strings.TrimPrefix(msg, "[G]: ")
		// An error raised from Go code: the innermost Lua line of the
		// traceback is where the driver was.
		if m := tbPosRe.FindStringSubmatch(e.Traceback); m != nil {
			e.File, e.Line = m[1], atoiOr(m[2])
		}
	}
	return e
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func rest(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[i:]
	}
	return ""
}

func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// call runs fn(args...) as one entry into Lua, under the deadline, and
// returns every value it returned. Only the loop goroutine calls it.
func (r *Runtime) call(in string, fn glua.LValue, args ...glua.LValue) ([]glua.LValue, error) {
	L := r.L
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	r.lastMissing = ""
	r.wd.arm()
	err := L.PCall(len(args), glua.MultRet, nil)
	r.wd.disarm()
	if err != nil {
		L.SetTop(top)
		e := luaError(in, err)
		if r.lastMissing != "" && strings.Contains(e.Message, callNonFunction) {
			e.Message = fmt.Sprintf("C4:%s is not emulated by the mqtthil DriverWorks environment (calling it: %s)", r.lastMissing, e.Message)
		}
		e.Message = c4ArgNumbers(e.Message)
		r.recordError(e)
		return nil, e
	}
	n := L.GetTop() - top
	out := make([]glua.LValue, n)
	for i := range n {
		out[i] = L.Get(top + 1 + i)
	}
	L.SetTop(top)
	return out, nil
}

// callNonFunction is how gopher-lua says a nil (or other non-function) was
// called.
const callNonFunction = "attempt to call a non-function object"

// nameMissing rewrites the error a driver's own pcall or xpcall catches
// when it called a C4 function the environment does not have, so that the
// message the driver logs names it instead of gopher-lua's generic one. It
// names it only when the error arose on the line that looked the function
// up, so that calling some other nil later is not blamed on it.
func (r *Runtime) nameMissing(v glua.LValue) glua.LValue {
	s, ok := v.(glua.LString)
	if !ok || r.lastMissing == "" || r.lastMissingAt == "" ||
		!strings.Contains(string(s), callNonFunction) || !strings.HasPrefix(string(s), r.lastMissingAt) {
		return v
	}
	msg := strings.TrimSpace(strings.TrimPrefix(string(s), r.lastMissingAt))
	return glua.LString(fmt.Sprintf("%s C4:%s is not emulated by the mqtthil DriverWorks environment (calling it: %s)", r.lastMissingAt, r.lastMissing, msg))
}

// nameMissingInProtectedCalls wraps pcall and xpcall with nameMissing.
func (r *Runtime) nameMissingInProtectedCalls(L *glua.LState) {
	pcall := L.GetGlobal("pcall")
	L.SetGlobal("pcall", L.NewFunction(func(L *glua.LState) int {
		top := L.GetTop()
		n := passThrough(L, pcall)
		if n >= 2 && L.Get(top+1) == glua.LFalse {
			L.Replace(top+2, r.nameMissing(L.Get(top+2)))
		}
		return n
	}))
	xpcall := L.GetGlobal("xpcall")
	L.SetGlobal("xpcall", L.NewFunction(func(L *glua.LState) int {
		handler := L.Get(2)
		if _, ok := handler.(*glua.LFunction); ok {
			L.Replace(2, L.NewFunction(func(L *glua.LState) int {
				L.Push(handler)
				L.Push(r.nameMissing(L.Get(1)))
				L.Call(1, glua.MultRet)
				return L.GetTop() - 1
			}))
		}
		return passThrough(L, xpcall)
	}))
}

var badArgRe = regexp.MustCompile(`bad argument #(\d+) to (\w+)`)

// c4ArgNumbers counts a C4 function's arguments as the driver wrote them:
// C4:SetTimer("x") has "x" as argument #1, not #2 (the C4 table).
func c4ArgNumbers(msg string) string {
	return badArgRe.ReplaceAllStringFunc(msg, func(m string) string {
		sub := badArgRe.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		if !c4Names[sub[2]] || n < 2 {
			return m
		}
		return fmt.Sprintf("bad argument #%d to C4:%s", n-1, sub[2])
	})
}

// recordError adds a driver's Lua error to the trace.
func (r *Runtime) recordError(e *Error) {
	msg := e.Message
	if e.File != "" {
		msg = fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	r.trace.add(Entry{Kind: KindError, Name: e.In, Args: []any{msg}, Phase: r.phase})
}
