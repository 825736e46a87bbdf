package lua

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// driverFiles is a loaded driver: where its code is and what driver.xml
// says about it.
type driverFiles struct {
	display string // the driver file as messages name it
	dir     string // the driver's folder: the only place it may read files
	tmp     string // extracted .c4z, removed on Close
	info    DriverInfo
}

// DriverInfo is what driver.xml declares.
type DriverInfo struct {
	Name       string
	Version    string
	Properties []PropertyDef
	Commands   []string
}

// PropertyDef is one property of driver.xml.
type PropertyDef struct {
	Name    string
	Type    string
	Default string
}

type driverXML struct {
	Name    string `xml:"name"`
	Version string `xml:"version"`
	Config  struct {
		Properties []struct {
			Name    string `xml:"name"`
			Type    string `xml:"type"`
			Default string `xml:"default"`
		} `xml:"properties>property"`
		Commands []struct {
			Name string `xml:"name"`
		} `xml:"commands>command"`
	} `xml:"config"`
}

func parseDriverXML(name string, data []byte) (DriverInfo, error) {
	var d driverXML
	if err := xml.Unmarshal(data, &d); err != nil {
		return DriverInfo{}, fmt.Errorf("%s: %w", name, err)
	}
	info := DriverInfo{Name: strings.TrimSpace(d.Name), Version: strings.TrimSpace(d.Version)}
	for _, p := range d.Config.Properties {
		info.Properties = append(info.Properties, PropertyDef{Name: strings.TrimSpace(p.Name), Type: strings.TrimSpace(p.Type), Default: p.Default})
	}
	for _, c := range d.Config.Commands {
		info.Commands = append(info.Commands, strings.TrimSpace(c.Name))
	}
	return info, nil
}

// maxPackage bounds what a .c4z may unpack to.
const maxPackage = 64 << 20

// Load loads a driver: a driver.lua file, a folder holding one, or a .c4z
// package (a zip with driver.xml and driver.lua). Property defaults come
// from driver.xml when there is one. The driver's top-level code runs;
// the entry points do not (see Init).
func (r *Runtime) Load(path string) error {
	d := &driverFiles{}
	file := path
	switch {
	case strings.EqualFold(filepath.Ext(path), ".c4z"):
		tmp, err := unpack(path)
		if err != nil {
			return err
		}
		d.tmp, d.dir = tmp, tmp
		file = filepath.Join(tmp, "driver.lua")
		d.display = path + "/driver.lua"
	default:
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			file = filepath.Join(path, "driver.lua")
		}
		d.dir = filepath.Dir(file)
		d.display = file
	}
	src, err := os.ReadFile(file)
	if err != nil {
		if d.tmp != "" {
			os.RemoveAll(d.tmp)
			return fmt.Errorf("%s: the package has no driver.lua", path)
		}
		return fmt.Errorf("driver: %w", err)
	}
	if x, err := os.ReadFile(filepath.Join(d.dir, "driver.xml")); err == nil {
		if d.info, err = parseDriverXML(filepath.Join(filepath.Dir(d.display), "driver.xml"), x); err != nil {
			return err
		}
	}
	return r.Do(func(L *glua.LState) error {
		if r.driver != nil {
			return errors.New("lua: a driver is already loaded in this runtime")
		}
		r.driver = d
		abs, _ := filepath.Abs(d.dir)
		pkg := L.GetGlobal("package").(*glua.LTable)
		pkg.RawSetString("path", glua.LString(filepath.Join(abs, "?.lua")+";"+filepath.Join(abs, "?", "init.lua")))
		props := L.GetGlobal("Properties").(*glua.LTable)
		for _, p := range d.info.Properties {
			props.RawSetString(p.Name, glua.LString(p.Default))
		}
		fn, err := L.Load(strings.NewReader(string(src)), d.display)
		if err != nil {
			return luaError("loading the driver", err)
		}
		_, err = r.call("loading the driver", fn)
		return err
	})
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

// Info is what the loaded driver's driver.xml declares.
func (r *Runtime) Info() DriverInfo {
	var info DriverInfo
	r.Do(func(*glua.LState) error {
		if r.driver != nil {
			info = r.driver.info
		}
		return nil
	})
	return info
}

// SetProperties sets property values without telling the driver, as the
// controller does before OnDriverInit.
func (r *Runtime) SetProperties(values map[string]string) error {
	return r.Do(func(L *glua.LState) error {
		props := L.GetGlobal("Properties").(*glua.LTable)
		for k, v := range values {
			props.RawSetString(k, propertyValue(v))
		}
		return nil
	})
}

// Init runs OnDriverInit and OnDriverLateInit, where the driver defines them.
func (r *Runtime) Init() error {
	return r.Do(func(*glua.LState) error {
		if err := r.callGlobal("OnDriverInit", glua.LString("DIT_ADDING")); err != nil {
			return err
		}
		return r.callGlobal("OnDriverLateInit", glua.LString("DIT_ADDING"))
	})
}

// SetProperty changes a property as a user would in Composer: Properties
// gets the value, then OnPropertyChanged(name) runs.
func (r *Runtime) SetProperty(name, value string) error {
	return r.Do(func(L *glua.LState) error {
		props := L.GetGlobal("Properties").(*glua.LTable)
		props.RawSetString(name, propertyValue(value))
		return r.callGlobal("OnPropertyChanged", glua.LString(name))
	})
}

// Property is the current value of Properties[name] in the driver.
func (r *Runtime) Property(name string) (string, error) {
	var v string
	err := r.Do(func(L *glua.LState) error {
		props, ok := L.GetGlobal("Properties").(*glua.LTable)
		if !ok {
			return errors.New("the driver replaced its Properties table")
		}
		lv := props.RawGetString(name)
		if lv == glua.LNil {
			return fmt.Errorf("the driver has no property %q", name)
		}
		v = lv.String()
		return nil
	})
	return v, err
}

// ExecuteCommand runs ExecuteCommand(name, params) in the driver.
func (r *Runtime) ExecuteCommand(name string, params map[string]string) error {
	return r.Do(func(L *glua.LState) error {
		fn := L.GetGlobal("ExecuteCommand")
		if fn.Type() != glua.LTFunction {
			return fmt.Errorf("the driver defines no ExecuteCommand, so it cannot run the command %q", name)
		}
		t := L.NewTable()
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.RawSetString(k, glua.LString(params[k]))
		}
		_, err := r.call("ExecuteCommand "+name, fn, glua.LString(name), t)
		return err
	})
}

// Exec runs a Lua snippet in the driver's global environment and returns
// what it returned, converted to Go values.
func (r *Runtime) Exec(name, code string) ([]any, error) {
	var out []any
	err := r.Do(func(*glua.LState) error {
		var err error
		out, err = r.Run(name, code)
		return err
	})
	return out, err
}

// Run is Exec for code already on the Lua state's goroutine: inside Do or
// an Await condition. It runs under the runaway deadline.
func (r *Runtime) Run(name, code string) ([]any, error) {
	L := r.L
	fn, err := L.Load(strings.NewReader(code), name)
	if err != nil {
		return nil, luaError(name, err)
	}
	rets, err := r.call(name, fn)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(rets))
	for _, v := range rets {
		out = append(out, fromLua(v, 0))
	}
	return out, nil
}
