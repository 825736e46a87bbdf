package lua

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// setup opens the sandboxed libraries and installs the C4 shim and the
// driver globals. It runs before the loop starts.
func (r *Runtime) setup() error {
	L := r.L
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{
		{glua.BaseLibName, glua.OpenBase},
		{glua.LoadLibName, glua.OpenPackage},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
		{glua.CoroutineLibName, glua.OpenCoroutine},
		{glua.OsLibName, glua.OpenOs},
		{glua.IoLibName, glua.OpenIo},
		{glua.DebugLibName, glua.OpenDebug},
	} {
		if err := L.CallByParam(glua.P{Fn: L.NewFunction(lib.fn), NRet: 0}, glua.LString(lib.name)); err != nil {
			return fmt.Errorf("lua: opening %s: %w", lib.name, err)
		}
	}
	r.sandbox()

	c4 := L.NewTable()
	fns := map[string]glua.LGFunction{
		"MQTT":           r.c4MQTT,
		"SetTimer":       r.c4SetTimer,
		"JsonEncode":     c4JSONEncode,
		"JsonDecode":     c4JSONDecode,
		"GetDeviceID":    func(L *glua.LState) int { L.Push(glua.LNumber(r.opts.DeviceID)); return 1 },
		"GetVersionInfo": c4VersionInfo,
		"UpdateProperty": r.c4UpdateProperty,
		"ErrorLog":       func(L *glua.LState) int { r.logLine("ERROR: " + L.ToStringMeta(L.Get(2)).String()); return 0 },
		"DebugLog":       func(L *glua.LState) int { r.logLine("DEBUG: " + L.ToStringMeta(L.Get(2)).String()); return 0 },
		"GetDriverFileName": func(L *glua.LState) int {
			name := "driver.lua"
			if r.driver != nil {
				name = r.driver.display
			}
			L.Push(glua.LString(name))
			return 1
		},
	}
	for name, fn := range r.ioFunctions() {
		fns[name] = fn
	}
	for name, fn := range fns {
		c4.RawSetString(name, L.NewFunction(fn))
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		name := L.ToStringMeta(L.Get(2)).String()
		L.Push(L.NewFunction(func(L *glua.LState) int {
			L.RaiseError("C4:%s is not emulated by mqtthil's C4 shim", name)
			return 0
		}))
		return 1
	}))
	L.SetMetatable(c4, mt)
	L.SetGlobal("C4", c4)
	L.SetGlobal("Properties", L.NewTable())
	L.SetGlobal("PersistData", L.NewTable())
	r.installIOGlobals()
	L.SetGlobal("print", L.NewFunction(func(L *glua.LState) int {
		parts := make([]string, L.GetTop())
		for i := range parts {
			parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
		}
		r.logLine(strings.Join(parts, "\t"))
		return 0
	}))
	return nil
}

// sandbox takes away what a driver must not do: run programs, leave the
// process, touch files outside its own folder, load native code.
func (r *Runtime) sandbox() {
	L := r.L
	os := L.GetGlobal("os").(*glua.LTable)
	for _, name := range []string{"execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale"} {
		os.RawSetString(name, denied(L, "os."+name))
	}
	io := L.GetGlobal("io").(*glua.LTable)
	open := io.RawGetString("open")
	lines := io.RawGetString("lines")
	sandboxed := L.NewTable()
	sandboxed.RawSetString("open", r.withPath(open, "io.open"))
	sandboxed.RawSetString("lines", r.withPath(lines, "io.lines"))
	sandboxed.RawSetString("type", io.RawGetString("type"))
	sandboxed.RawSetString("write", L.NewFunction(func(L *glua.LState) int {
		var b strings.Builder
		for i := 1; i <= L.GetTop(); i++ {
			b.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		r.logLine(strings.TrimRight(b.String(), "\n"))
		return 0
	}))
	for _, name := range []string{"popen", "input", "output", "read", "close", "tmpfile"} {
		sandboxed.RawSetString(name, denied(L, "io."+name))
	}
	L.SetGlobal("io", sandboxed)
	L.SetGlobal("dofile", r.withPath(L.GetGlobal("dofile"), "dofile"))
	L.SetGlobal("loadfile", r.withPath(L.GetGlobal("loadfile"), "loadfile"))
	pkg := L.GetGlobal("package").(*glua.LTable)
	pkg.RawSetString("cpath", glua.LString(""))
	pkg.RawSetString("path", glua.LString(""))
	pkg.RawSetString("loadlib", denied(L, "package.loadlib"))
	debug := L.GetGlobal("debug").(*glua.LTable)
	kept := L.NewTable()
	for _, name := range []string{"traceback", "getinfo"} {
		kept.RawSetString(name, debug.RawGetString(name))
	}
	L.SetGlobal("debug", kept)
}

func denied(L *glua.LState, name string) *glua.LFunction {
	return L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("%s is not allowed in the driver sandbox", name)
		return 0
	})
}

// withPath wraps a function whose first argument is a file name: the name
// is resolved in the driver's folder and refused outside it.
func (r *Runtime) withPath(fn glua.LValue, name string) *glua.LFunction {
	return r.L.NewFunction(func(L *glua.LState) int {
		if L.GetTop() == 0 || L.Get(1) == glua.LNil {
			L.RaiseError("%s: a file name is required in the driver sandbox", name)
		}
		p, err := r.resolve(L.CheckString(1))
		if err != nil {
			L.RaiseError("%s: %v", name, err)
		}
		args := []glua.LValue{glua.LString(p)}
		for i := 2; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		top := L.GetTop()
		L.Push(fn)
		for _, a := range args {
			L.Push(a)
		}
		L.Call(len(args), glua.MultRet)
		return L.GetTop() - top
	})
}

// resolve maps a file name the driver uses to a path inside its folder.
func (r *Runtime) resolve(name string) (string, error) {
	if r.driver == nil || r.driver.dir == "" {
		return "", fmt.Errorf("%q: the driver has no folder of its own", name)
	}
	root, err := filepath.EvalSymlinks(r.driver.dir)
	if err != nil {
		return "", err
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	p = filepath.Clean(p)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	} else if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is outside the driver's folder", name)
	}
	return p, nil
}

func c4VersionInfo(L *glua.LState) int {
	t := L.NewTable()
	t.RawSetString("version", glua.LString("3.4.0.0"))
	t.RawSetString("buildtype", glua.LString("mqtthil"))
	t.RawSetString("builddate", glua.LString("2024-01-01"))
	t.RawSetString("buildtime", glua.LString("00:00:00"))
	t.RawSetString("brand", glua.LString("mqtthil C4 shim"))
	L.Push(t)
	return 1
}

func (r *Runtime) c4UpdateProperty(L *glua.LState) int {
	name := L.CheckString(2)
	value := L.ToStringMeta(L.Get(3)).String()
	props := L.GetGlobal("Properties")
	if t, ok := props.(*glua.LTable); ok {
		t.RawSetString(name, glua.LString(value))
	}
	r.propMu.Lock()
	r.updated[name] = value
	r.propMu.Unlock()
	return 0
}

// Updated returns the value the driver last gave a property with
// C4:UpdateProperty, and whether it gave one.
func (r *Runtime) Updated(name string) (string, bool) {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	v, ok := r.updated[name]
	return v, ok
}

// timer is one C4:SetTimer.
type timer struct {
	r         *Runtime
	fn        glua.LValue
	ud        *glua.LUserData
	every     time.Duration
	repeating bool
	t         *time.Timer
	cancelled bool
}

func (r *Runtime) c4SetTimer(L *glua.LState) int {
	ms := L.CheckNumber(2)
	fn := L.CheckFunction(3)
	repeating := L.OptBool(4, false)
	if ms < 0 {
		L.ArgError(2, "the interval must be 0 or more milliseconds")
	}
	t := &timer{r: r, fn: fn, every: time.Duration(float64(ms) * float64(time.Millisecond)), repeating: repeating}
	t.ud = L.NewUserData()
	t.ud.Value = t
	mt := L.NewTable()
	methods := L.NewTable()
	methods.RawSetString("Cancel", L.NewFunction(func(L *glua.LState) int {
		t.stop()
		return 0
	}))
	mt.RawSetString("__index", methods)
	L.SetMetatable(t.ud, mt)
	r.timers[t] = struct{}{}
	t.t = time.AfterFunc(t.every, t.expire)
	L.Push(t.ud)
	return 1
}

// expire runs on the timer's goroutine: the callback is posted to the loop.
func (t *timer) expire() {
	t.r.post(func() {
		if t.cancelled {
			return
		}
		if !t.repeating {
			t.cancelled = true
			delete(t.r.timers, t)
		}
		if _, err := t.r.call("timer", t.fn, t.ud, glua.LNumber(0)); err != nil {
			t.r.addAsyncError(err)
		}
		if t.repeating && !t.cancelled {
			t.t.Reset(max(t.every, time.Millisecond))
		}
	})
}

// stop cancels the timer; only the loop goroutine calls it.
func (t *timer) stop() {
	t.cancelled = true
	t.t.Stop()
	delete(t.r.timers, t)
}

// propertyValue is the Lua value of a property as the controller passes it:
// always a string.
func propertyValue(s string) glua.LValue { return glua.LString(s) }
