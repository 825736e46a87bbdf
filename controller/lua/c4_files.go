// The C4:File* functions, confined to the driver's own folders. Drivers keep
// tokens, caches and certificates in their SANDBOX; the shim maps each path
// alias to a folder of this runtime and refuses every path that leaves it:
// "..", absolute paths outside the aliases, and symbolic links that point
// out.
package lua

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// fileAliases are the documented path aliases. C4Z is the driver's own
// folder and is read-only.
var fileAliases = []string{"SANDBOX", "LOGGING", "MEDIA", "C4Z"}

// fileState is the file area of one runtime; only the loop goroutine uses
// it, except closeAll, which runs after the loop has ended.
type fileState struct {
	r       *Runtime
	base    string            // temporary folder holding the aliases the runtime made
	roots   map[string]string // alias -> real folder, symlinks resolved
	dir     string            // current folder (FileSetDir), inside a root
	handles map[int]*openFile
	next    int
}

type openFile struct {
	f    *os.File
	name string
}

var errOutside = errors.New("outside the driver's folders")

// filesOf returns the file state, making the alias folders on first use.
func (r *Runtime) filesOf() (*fileState, error) {
	s := r.ioOf()
	if s.files != nil {
		return s.files, nil
	}
	fs := &fileState{r: r, roots: map[string]string{}, handles: map[int]*openFile{}, next: 1}
	base, err := os.MkdirTemp("", "mqtthil-files-")
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	fs.base = base
	for _, alias := range []string{"SANDBOX", "LOGGING", "MEDIA"} {
		dir := filepath.Join(base, strings.ToLower(alias))
		if alias == "SANDBOX" && r.opts.FilesDir != "" {
			dir = r.opts.FilesDir
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("files: alias %s: %w", alias, err)
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, fmt.Errorf("files: alias %s: %w", alias, err)
		}
		fs.roots[alias] = real
	}
	fs.dir = fs.roots["SANDBOX"]
	s.files = fs
	return fs, nil
}

// root returns an alias's folder; C4Z is only known once a driver is loaded.
func (fs *fileState) root(alias string) (string, bool) {
	alias = strings.ToUpper(alias)
	if alias == "C4Z" {
		if fs.r.driver == nil || fs.r.driver.dir == "" {
			return "", false
		}
		real, err := filepath.EvalSymlinks(fs.r.driver.dir)
		return real, err == nil
	}
	p, ok := fs.roots[alias]
	return p, ok
}

// rootOf names the alias whose folder holds p ("" when none does).
func (fs *fileState) rootOf(p string) (alias, root string) {
	for _, a := range fileAliases {
		if r, ok := fs.root(a); ok && (p == r || strings.HasPrefix(p, r+string(filepath.Separator))) {
			return a, r
		}
	}
	return "", ""
}

// within resolves name against dir and checks that the result, with every
// symbolic link followed, stays inside one of the alias folders.
func (fs *fileState) within(dir, name string) (string, error) {
	if name == "" {
		return "", errors.New("empty file name")
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	p = filepath.Clean(p)
	// Follow links in the longest part of p that exists; the rest is
	// plain names (Clean has removed every "..").
	existing, rest := p, ""
	for {
		if real, err := filepath.EvalSymlinks(existing); err == nil {
			p = filepath.Join(real, rest)
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return "", fmt.Errorf("%q: no such folder", name)
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	if a, _ := fs.rootOf(p); a == "" {
		return "", fmt.Errorf("%q is %w", name, errOutside)
	}
	return p, nil
}

// path resolves a file name of a File* call in the current folder.
func (fs *fileState) path(name string) (string, error) { return fs.within(fs.dir, name) }

// aliasPath resolves (alias, subpath) for the calls that take both.
func (fs *fileState) aliasPath(alias, sub string) (string, error) {
	root, ok := fs.root(alias)
	if !ok {
		return "", fmt.Errorf("unknown path alias %q", alias)
	}
	if sub == "" {
		return root, nil
	}
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("%q: an absolute path under alias %s", sub, alias)
	}
	return fs.within(root, sub)
}

func (fs *fileState) writable(p string) error {
	if a, _ := fs.rootOf(p); a == "C4Z" {
		return fmt.Errorf("%q is in the driver's read-only C4Z folder", p)
	}
	return nil
}

func (fs *fileState) closeAll() {
	for h, of := range fs.handles {
		of.f.Close()
		delete(fs.handles, h)
	}
	os.RemoveAll(fs.base)
}

func (r *Runtime) fileFunctions() map[string]glua.LGFunction {
	// with wraps a File* function: it gets the file state, and a failure
	// to make the alias folders is a Lua error (it is the host's problem,
	// not the driver's).
	with := func(fn func(L *glua.LState, fs *fileState) int) glua.LGFunction {
		return func(L *glua.LState) int {
			fs, err := r.filesOf()
			if err != nil {
				L.RaiseError("%v", err)
			}
			return fn(L, fs)
		}
	}
	handle := func(L *glua.LState, fs *fileState) *openFile { return fs.handles[int(L.CheckNumber(2))] }
	return map[string]glua.LGFunction{
		"FileSetDir": with(func(L *glua.LState, fs *fileState) int {
			first := L.CheckString(2)
			var p string
			var err error
			if _, ok := fs.root(first); ok && !strings.ContainsAny(first, `/\`) {
				p, err = fs.aliasPath(first, L.OptString(3, ""))
			} else {
				p, err = fs.within(fs.roots["SANDBOX"], first)
			}
			if err == nil && fs.writable(p) == nil {
				err = os.MkdirAll(p, 0o755)
			}
			if err == nil {
				if st, serr := os.Stat(p); serr != nil || !st.IsDir() {
					err = fmt.Errorf("%q is not a folder", first)
				}
			}
			r.fileTrace(L, "FileSetDir", err)
			if err == nil {
				fs.dir = p
			}
			return 0
		}),
		"FileOpen": with(func(L *glua.LState, fs *fileState) int {
			name := L.CheckString(2)
			p, err := fs.path(name)
			var f *os.File
			if err == nil {
				if fs.writable(p) == nil {
					f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
				} else {
					f, err = os.Open(p)
				}
			}
			if err == nil {
				// The controller starts a handle at the end of the file.
				_, err = f.Seek(0, io.SeekEnd)
			}
			if err != nil {
				if f != nil {
					f.Close()
				}
				r.fileTrace(L, "FileOpen", err)
				L.Push(glua.LNumber(-1))
				return 1
			}
			h := fs.next
			fs.next++
			fs.handles[h] = &openFile{f: f, name: name}
			r.fileTrace(L, "FileOpen", nil, h)
			L.Push(glua.LNumber(h))
			return 1
		}),
		"FileClose": with(func(L *glua.LState, fs *fileState) int {
			h := int(L.CheckNumber(2))
			if of, ok := fs.handles[h]; ok {
				of.f.Close()
				delete(fs.handles, h)
			}
			return 0
		}),
		"FileRead": with(func(L *glua.LState, fs *fileState) int {
			of := handle(L, fs)
			n := L.CheckInt(3)
			if of == nil || n <= 0 {
				L.Push(glua.LString(""))
				return 1
			}
			buf := make([]byte, min(n, 64<<20))
			got, _ := io.ReadFull(of.f, buf)
			L.Push(glua.LString(buf[:got]))
			return 1
		}),
		"FileWrite": with(func(L *glua.LState, fs *fileState) int {
			of := handle(L, fs)
			n := L.CheckInt(3)
			data := L.CheckString(4)
			return pushWrite(L, fs, of, data[:max(0, min(n, len(data)))])
		}),
		"FileWriteString": with(func(L *glua.LState, fs *fileState) int {
			return pushWrite(L, fs, handle(L, fs), L.CheckString(3))
		}),
		"FileSetPos": with(func(L *glua.LState, fs *fileState) int {
			if of := handle(L, fs); of != nil {
				of.f.Seek(int64(L.CheckNumber(3)), io.SeekStart)
			}
			return 0
		}),
		"FileGetPos": with(func(L *glua.LState, fs *fileState) int {
			pos := int64(-1)
			if of := handle(L, fs); of != nil {
				pos, _ = of.f.Seek(0, io.SeekCurrent)
			}
			L.Push(glua.LNumber(pos))
			return 1
		}),
		"FileGetSize": with(func(L *glua.LState, fs *fileState) int {
			size := int64(-1)
			if of := handle(L, fs); of != nil {
				if st, err := of.f.Stat(); err == nil {
					size = st.Size()
				}
			}
			L.Push(glua.LNumber(size))
			return 1
		}),
		"FileIsValid": with(func(L *glua.LState, fs *fileState) int {
			valid := false
			if of := handle(L, fs); of != nil {
				pos, _ := of.f.Seek(0, io.SeekCurrent)
				st, err := of.f.Stat()
				valid = err == nil && pos < st.Size()
			}
			L.Push(glua.LBool(valid))
			return 1
		}),
		"FileGetName": with(func(L *glua.LState, fs *fileState) int {
			name := ""
			if of := handle(L, fs); of != nil {
				name = of.name
			}
			L.Push(glua.LString(name))
			return 1
		}),
		"FileExists": with(func(L *glua.LState, fs *fileState) int {
			p, err := fs.path(L.CheckString(2))
			if err == nil {
				_, err = os.Stat(p)
			}
			L.Push(glua.LBool(err == nil))
			return 1
		}),
		"FileDelete": with(func(L *glua.LState, fs *fileState) int {
			var p string
			var err error
			if L.GetTop() >= 3 {
				p, err = fs.aliasPath(L.CheckString(2), L.CheckString(3))
			} else {
				p, err = fs.path(L.CheckString(2))
			}
			if err == nil {
				err = fs.writable(p)
			}
			if err == nil {
				err = os.Remove(p)
			}
			r.fileTrace(L, "FileDelete", err)
			return 0
		}),
		"FileList": with(func(L *glua.LState, fs *fileState) int {
			entries, err := os.ReadDir(fs.dir)
			if err != nil {
				L.Push(glua.LNil)
				return 1
			}
			t := L.NewTable()
			for _, e := range entries {
				if !e.IsDir() {
					t.Append(glua.LString(e.Name()))
				}
			}
			L.Push(t)
			return 1
		}),
		"FileGetOpenedHandles": with(func(L *glua.LState, fs *fileState) int {
			if len(fs.handles) == 0 {
				L.Push(glua.LNil)
				return 1
			}
			t := L.NewTable()
			for h, of := range fs.handles {
				t.RawSetInt(h, glua.LString(of.name))
			}
			L.Push(t)
			return 1
		}),
		// FileFreeSpace: the host's free space says nothing about a
		// controller; the shim answers a fixed 1 GiB.
		"FileFreeSpace": with(func(L *glua.LState, fs *fileState) int {
			L.Push(glua.LNumber(1 << 30))
			return 1
		}),
		"FileCreateDir": with(func(L *glua.LState, fs *fileState) int {
			p, err := fs.aliasPath(L.CheckString(2), L.CheckString(3))
			if err == nil {
				err = fs.writable(p)
			}
			if err == nil {
				err = os.MkdirAll(p, 0o755)
			}
			r.fileTrace(L, "FileCreateDir", err)
			L.Push(glua.LBool(err == nil))
			return 1
		}),
		"FileMove": with(func(L *glua.LState, fs *fileState) int {
			from, err := fs.aliasPath(L.CheckString(2), L.CheckString(3))
			var to string
			if err == nil {
				to, err = fs.aliasPath(L.CheckString(4), L.CheckString(5))
			}
			if err == nil {
				err = errors.Join(fs.writable(from), fs.writable(to))
			}
			if err == nil {
				err = os.Rename(from, to)
			}
			r.fileTrace(L, "FileMove", err)
			L.Push(glua.LBool(err == nil))
			return 1
		}),
		"GetSandboxDir": with(func(L *glua.LState, fs *fileState) int { return pushDir(L, fs, "SANDBOX") }),
		"GetLogDir":     with(func(L *glua.LState, fs *fileState) int { return pushDir(L, fs, "LOGGING") }),
		"GetC4zDir":     with(func(L *glua.LState, fs *fileState) int { return pushDir(L, fs, "C4Z") }),
	}
}

func pushDir(L *glua.LState, fs *fileState, alias string) int {
	p, ok := fs.root(alias)
	if !ok {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(glua.LString(p + string(filepath.Separator)))
	return 1
}

// pushWrite writes data at the handle's position: the byte count, or -1
// for a handle that is not open or a file that cannot be written.
func pushWrite(L *glua.LState, fs *fileState, of *openFile, data string) int {
	if of == nil {
		L.Push(glua.LNumber(-1))
		return 1
	}
	n, err := of.f.WriteString(data)
	if err != nil && n == 0 {
		L.Push(glua.LNumber(-1))
		return 1
	}
	L.Push(glua.LNumber(n))
	return 1
}

// fileTrace records a file call that changes what the driver sees, and
// why it was refused.
func (r *Runtime) fileTrace(L *glua.LState, name string, err error, ret ...any) {
	e := Entry{Client: "files", Kind: KindCall, Name: name, Args: traceArgs(L, 2), Ret: ret}
	if err != nil {
		e.Ret = []any{nil, err.Error()}
		r.logLine(fmt.Sprintf("ERROR: C4:%s: %v", name, err))
	}
	r.trace.add(e)
}
