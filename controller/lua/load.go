// Loading a driver the way a controller does: from a folder, a .c4z or a
// single (possibly squished) driver.lua, with require confined to the
// driver and encrypted drivers refused.

package lua

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// driverFiles is a loaded driver: where its code is and what driver.xml
// says about it.
type driverFiles struct {
	path    string // what Load was given
	display string // the driver file as messages name it
	dir     string // the driver's folder: the only place it may read files
	tmp     string // extracted .c4z, removed on Close
	src     []byte // the driver's Lua source
	roots   []string
	info    DriverInfo
}

// maxPackage bounds what a .c4z may unpack to.
const maxPackage = 64 << 20

// Load loads a driver as the controller does: a folder with driver.xml and
// driver.lua (and modules), a .c4z package, or a driver.lua file (with its
// modules beside it or squished into package.preload). Properties start
// from driver.xml's defaults, then the driver's top-level code runs; the
// entry points do not (see Init).
func (r *Runtime) Load(path string) error {
	d, err := openDriver(path, r.opts.LuaPath, r.opts.PlainSourceOfEncrypted)
	if err != nil {
		return err
	}
	return r.Do(func(L *glua.LState) error {
		if r.driver != nil {
			d.cleanup()
			return errors.New("lua: a driver is already loaded in this runtime")
		}
		r.driver = d
		return r.runChunk(nil)
	})
}

// openDriver finds a driver's files and reads its source and driver.xml.
func openDriver(path string, luaPath []string, plainOfEncrypted bool) (*driverFiles, error) {
	d := &driverFiles{path: path}
	file := ""
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	switch {
	case strings.EqualFold(filepath.Ext(path), ".c4z"):
		tmp, err := unpack(path)
		if err != nil {
			return nil, err
		}
		d.tmp, d.dir = tmp, tmp
	case st.IsDir():
		d.dir = path
	case filepath.Base(path) == "driver.xml":
		d.dir = filepath.Dir(path)
	default:
		d.dir, file = filepath.Dir(path), path
	}
	fail := func(err error) (*driverFiles, error) {
		d.cleanup()
		return nil, err
	}
	// display names files as the user gave them, inside a package too.
	display := func(name string) string {
		if d.tmp != "" {
			return path + "/" + filepath.ToSlash(name)
		}
		return filepath.Join(d.dir, name)
	}
	if x, err := os.ReadFile(filepath.Join(d.dir, "driver.xml")); err == nil {
		if d.info, err = parseDriverXML(display("driver.xml"), x); err != nil {
			return fail(err)
		}
	}
	if d.info.Encryption != "" && !plainOfEncrypted {
		return fail(fmt.Errorf("%s: the driver is encrypted (<script encryption=%q>); encrypted drivers cannot be run offline: load the driver's plain source instead", display("driver.xml"), d.info.Encryption))
	}
	switch {
	case file != "":
		d.display = file
	case d.info.Script != "":
		if !filepath.IsLocal(filepath.FromSlash(d.info.Script)) {
			return fail(fmt.Errorf("%s: <script file=%q> points outside the driver", display("driver.xml"), d.info.Script))
		}
		file = filepath.Join(d.dir, filepath.FromSlash(d.info.Script))
		d.display = display(d.info.Script)
	case strings.TrimSpace(d.info.inline) != "":
		d.src = []byte(d.info.inline)
		d.display = display("driver.xml")
	default:
		file = filepath.Join(d.dir, "driver.lua")
		d.display = display("driver.lua")
	}
	if d.src == nil {
		if d.src, err = os.ReadFile(file); err != nil {
			if d.tmp != "" {
				return fail(fmt.Errorf("%s: the package has no %s", path, filepath.Base(file)))
			}
			return fail(fmt.Errorf("driver: %w", err))
		}
	}
	if encrypted(d.src) {
		return fail(fmt.Errorf("%s: the driver's code is encrypted or binary, not Lua source; encrypted drivers cannot be run offline", d.display))
	}
	abs, err := filepath.Abs(d.dir)
	if err != nil {
		return fail(err)
	}
	d.roots = []string{abs}
	for _, p := range luaPath {
		if a, err := filepath.Abs(p); err == nil {
			d.roots = append(d.roots, a)
		}
	}
	return d, nil
}

// encrypted reports source that is not text: encrypted drivers, and
// precompiled chunks (which start with ESC "Lua").
func encrypted(src []byte) bool {
	head := src[:min(len(src), 4096)]
	return bytes.HasPrefix(src, []byte("\x1bLua")) || bytes.IndexByte(head, 0) >= 0
}

func (d *driverFiles) cleanup() {
	if d != nil && d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
}

// runChunk puts the driver's globals in place (Properties from defaults
// and then saved values, PersistData) and runs its top-level code.
func (r *Runtime) runChunk(saved map[string]string) error {
	L, d := r.L, r.driver
	r.installRequire(L, d)
	props := L.GetGlobal("Properties").(*glua.LTable)
	for _, p := range d.info.Properties {
		props.RawSetString(p.Name, glua.LString(p.Default))
	}
	for k, v := range saved {
		props.RawSetString(k, glua.LString(v))
	}
	r.restorePersistData(L)
	fn, err := loadChunk(L, d.src, d.display)
	if err != nil {
		e := luaError("loading the driver", err)
		r.recordError(e)
		return e
	}
	r.phase = PhaseChunk
	_, err = r.call("loading the driver", fn)
	return err
}

// loadChunk compiles Lua source; a syntax error at the end of the file
// (gopher-lua says "at EOF" without a line) is given the last line.
func loadChunk(L *glua.LState, src []byte, name string) (*glua.LFunction, error) {
	fn, err := compileChunk(L, string(src), name)
	if err != nil && strings.Contains(err.Error(), name+" at EOF:") {
		line := bytes.Count(src, []byte("\n")) + 1
		return nil, fmt.Errorf("%s line:%d(column:0) near <end of file>: syntax error: unexpected end of file", name, line)
	}
	return fn, err
}

// installRequire makes require resolve inside the driver only: first
// package.preload (squished drivers), then the driver's folder and the
// extra Lua roots, dots mapping to folders. The loaders require uses are
// held where Lua code cannot reach them, so whatever the driver does to
// package.path, package.cpath or package.loaders, require never reads a
// file outside those roots.
func (r *Runtime) installRequire(L *glua.LState, d *driverFiles) {
	pkg := L.GetGlobal("package").(*glua.LTable)
	preload := pkg.RawGetString("preload")
	fromPreload := L.NewFunction(func(L *glua.LState) int {
		name := L.CheckString(1)
		pl := preload
		if p, ok := L.GetGlobal("package").(*glua.LTable); ok {
			if t, ok := p.RawGetString("preload").(*glua.LTable); ok {
				pl = t
			}
		}
		if f := L.GetField(pl, name); f != glua.LNil {
			L.Push(f)
			return 1
		}
		L.Push(glua.LString(fmt.Sprintf("\n\tno field package.preload['%s']", name)))
		return 1
	})
	fromDriver := L.NewFunction(func(L *glua.LState) int {
		name := L.CheckString(1)
		file, tried := d.findModule(name)
		if file == "" {
			L.Push(glua.LString(tried))
			return 1
		}
		src, err := os.ReadFile(file)
		if err != nil {
			L.RaiseError("require %q: %v", name, err)
		}
		fn, err := loadChunk(L, src, d.moduleDisplay(file))
		if err != nil {
			// Level 0: the message names the module's file and line, not
			// the require that loaded it.
			e := luaError("", err)
			L.Error(glua.LString(fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)), 0)
		}
		L.Push(fn)
		return 1
	})
	// Libraries the controller builds in (bit, and the standard ones)
	// are required by name in public drivers: require("bit").
	builtin := L.NewFunction(func(L *glua.LState) int {
		name := L.CheckString(1)
		if mk, ok := requireOnlyModules[name]; ok {
			L.Push(L.NewFunction(func(L *glua.LState) int { L.Push(mk(L)); return 1 }))
			return 1
		}
		if !builtinModules[name] {
			L.Push(glua.LString(""))
			return 1
		}
		lib := L.GetGlobal(name)
		if lib == glua.LNil {
			L.Push(glua.LString(fmt.Sprintf("\n\tno library '%s' in this environment", name)))
			return 1
		}
		L.Push(L.NewFunction(func(L *glua.LState) int { L.Push(lib); return 1 }))
		return 1
	})
	private := L.NewTable()
	private.Append(builtin)
	private.Append(fromPreload)
	private.Append(fromDriver)
	L.SetField(L.Get(glua.RegistryIndex), "_LOADERS", private)
	public := L.NewTable()
	public.Append(builtin)
	public.Append(fromPreload)
	public.Append(fromDriver)
	pkg.RawSetString("loaders", public)
	var paths []string
	for _, root := range d.roots {
		paths = append(paths, filepath.Join(root, "?.lua"), filepath.Join(root, "?", "init.lua"))
	}
	// Informational only: the loaders above do not read it.
	pkg.RawSetString("path", glua.LString(strings.Join(paths, ";")))
	pkg.RawSetString("cpath", glua.LString(""))
}

// requireOnlyModules are built-in modules that are not globals: only
// require reaches them.
var requireOnlyModules = map[string]func(*glua.LState) glua.LValue{"openssl": opensslModule}

var builtinModules = map[string]bool{"bit": true, "string": true, "table": true, "math": true, "os": true, "io": true, "coroutine": true, "debug": true, "package": true}

// findModule maps a module name to a file under one of the driver's roots.
func (d *driverFiles) findModule(name string) (file, tried string) {
	rel := filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))
	if name == "" || !filepath.IsLocal(rel) {
		return "", fmt.Sprintf("\n\tmodule name %q leaves the driver", name)
	}
	var b strings.Builder
	for _, root := range d.roots {
		for _, cand := range []string{rel + ".lua", filepath.Join(rel, "init.lua")} {
			p := filepath.Join(root, cand)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				if real, err := filepath.EvalSymlinks(p); err == nil && within(root, real) {
					return p, ""
				}
			}
			fmt.Fprintf(&b, "\n\tno file '%s'", p)
		}
	}
	return "", b.String()
}

// within reports whether p is root or inside it, symlinks resolved.
func within(root, p string) bool {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// moduleDisplay names a module file in messages like the driver file.
func (d *driverFiles) moduleDisplay(file string) string {
	abs, _ := filepath.Abs(d.dir)
	if rel, err := filepath.Rel(abs, file); err == nil && filepath.IsLocal(rel) {
		if d.tmp != "" {
			return d.path + "/" + filepath.ToSlash(rel)
		}
		return filepath.Join(d.dir, rel)
	}
	return file
}

// unpack extracts a .c4z into a new temporary folder.
func unpack(path string) (string, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", fmt.Errorf("%s: not a .c4z package: %w", path, err)
	}
	defer zr.Close()
	tmp, err := os.MkdirTemp("", "mqtthil-c4z-")
	if err != nil {
		return "", err
	}
	var total int64
	for _, f := range zr.File {
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("%s: entry %q points outside the package", path, f.Name)
		}
		dst := filepath.Join(tmp, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				os.RemoveAll(tmp)
				return "", err
			}
			continue
		}
		if !f.Mode().IsRegular() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		n, err := extract(f, dst, maxPackage-total)
		total += n
		if err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
	}
	return tmp, nil
}

func extract(f *zip.File, dst string, room int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, room+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > room {
		err = fmt.Errorf("the package unpacks to more than %d bytes", maxPackage)
	}
	return n, err
}
