// The Lua state the driver runs in: the sandboxed standard libraries, the
// C4 table and the globals a controller pre-populates.

package lua

import (
	"fmt"
	"path/filepath"
	"strings"

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
	r.limitStrings(L)
	r.fixStdlib(L)
	r.nameMissingInProtectedCalls(L)
	installLoadstring(L)
	r.installTime(L)
	L.SetGlobal("C4", r.buildC4(L))
	L.SetGlobal("Properties", L.NewTable())
	L.SetGlobal("PersistData", L.NewTable())
	L.SetGlobal("Variables", L.NewTable())
	L.SetGlobal("C4SystemEvents", systemEventsTable(L))
	r.installLogGlobals(L)
	r.installIOGlobals()
	return nil
}

// mqttFunctions are C4:MQTT and the JSON helpers its drivers lean on.
func (r *Runtime) mqttFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"MQTT":       r.c4MQTT,
		"JsonEncode": c4JSONEncode,
		"JsonDecode": c4JSONDecode,
	}
}

// sandbox takes away what a driver must not do: run programs, leave the
// process, touch files outside its own folder, load native code.
func (r *Runtime) sandbox() {
	L := r.L
	os := L.GetGlobal("os").(*glua.LTable)
	for _, name := range []string{"execute", "exit", "remove", "rename", "tmpname", "setlocale"} {
		os.RawSetString(name, denied(L, "os."+name))
	}
	// The controller's environment has nothing a driver could rely on;
	// libraries probe it (for debug switches) and must get nil.
	os.RawSetString("getenv", L.NewFunction(func(L *glua.LState) int { L.Push(glua.LNil); return 1 }))
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

// propertyValue is the Lua value of a property as the controller passes it:
// always a string.
func propertyValue(s string) glua.LValue { return glua.LString(s) }
