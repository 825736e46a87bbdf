package lua_test

import (
	"archive/zip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestDriverXMLReadFully(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": "x = 1"})
	info := rt.Info()
	if info.Name != "Test Driver" || info.Version != "7" || !info.JIT || info.Script != "driver.lua" {
		t.Errorf("identity: %+v", info)
	}
	want := []lua.PropertyDef{
		{Name: "Mode", Type: "LIST", Default: "b", Items: []string{"a", "b"}},
		{Name: "Level", Type: "RANGED_INTEGER", Default: "5", Minimum: "0", Maximum: "10"},
		{Name: "Status", Type: "STRING", Default: "idle", ReadOnly: true},
	}
	if !reflect.DeepEqual(info.Properties, want) {
		t.Errorf("properties\n got %+v\nwant %+v", info.Properties, want)
	}
	if len(info.CommandDefs) != 1 || info.CommandDefs[0].Params[0] != "speed" || info.Actions[0].Command != "RESET" {
		t.Errorf("commands %+v actions %+v", info.CommandDefs, info.Actions)
	}
	if len(info.Proxies) != 1 || info.Proxies[0].BindingID != 5001 || info.Proxies[0].Proxy != "thermostatV2" || !info.Proxies[0].Primary {
		t.Errorf("proxies %+v", info.Proxies)
	}
	if len(info.Connections) != 1 || info.Connections[0].Classes[0] != "THERMOSTAT" || info.Connections[0].Consumer {
		t.Errorf("connections %+v", info.Connections)
	}
	for code, want := range map[string]any{
		`return C4:GetDriverConfigInfo("model")`:     "tm",
		`return C4:GetDriverConfigInfo("custom")`:    "hello",
		`return C4:GetDriverConfigInfo("nothing")`:   "",
		`return Properties.Mode .. Properties.Level`: "b5",
	} {
		if got := eval(t, rt, code); got != want {
			t.Errorf("%s = %v, want %v", code, got, want)
		}
	}
}

func TestRequireStaysInsideTheDriver(t *testing.T) {
	outside := writeFiles(t, map[string]string{"secret.lua": "return 'leaked'"})
	extra := writeFiles(t, map[string]string{"shared/util.lua": "return {name = 'util'}"})
	dir := writeFiles(t, map[string]string{
		"driver.lua":           "local a = require('lib.a'); local u = require('shared.util'); loadedName = a.name .. '+' .. u.name",
		"lib/a.lua":            "return {name = 'a'}",
		"lib/pkg/init.lua":     "return 'init'",
		"../escape/secret.lua": "return 'leaked'",
	})
	rt := newRuntime(t, lua.Options{LuaPath: []string{extra}})
	if err := rt.Load(dir); err != nil {
		t.Fatal(err)
	}
	if got := eval(t, rt, "return loadedName"); got != "a+util" {
		t.Errorf("modules = %v", got)
	}
	if got := eval(t, rt, "return require('lib.pkg')"); got != "init" {
		t.Errorf("init.lua module = %v", got)
	}
	for _, code := range []string{
		`package.path = "` + outside + `/?.lua"; return require("secret")`,
		`package.loaders = {function() return function() return "leaked" end end}; return require("secret2")`,
		`return require("..escape.secret")`,
		`package.cpath = "/usr/lib/?.so"; return require("secret3")`,
	} {
		out, err := rt.Exec("escape", code)
		if err == nil {
			t.Errorf("%s: loaded %v from outside the driver", code, out)
		} else if !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "leaves the driver") {
			t.Errorf("%s: %v", code, err)
		}
	}
}

func TestSquishedPreloadAndC4Z(t *testing.T) {
	squished := `package.preload["lib.greet"] = function(...) return {hi = function() return "hi from preload" end} end
local g = require("lib.greet")
greeting = g.hi()`
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(writeDriver(t, squished, "")); err != nil {
		t.Fatal(err)
	}
	if got := eval(t, rt, "return greeting"); got != "hi from preload" {
		t.Errorf("preload: %v", got)
	}

	dir := t.TempDir()
	c4z := filepath.Join(dir, "pkg.c4z")
	f, _ := os.Create(c4z)
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{"driver.xml": minimalXML, "driver.lua": "m = require('mods.m')", "mods/m.lua": "return 'module in c4z'"} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	rt2 := newRuntime(t, lua.Options{})
	if err := rt2.Load(c4z); err != nil {
		t.Fatal(err)
	}
	if got := eval(t, rt2, "return m .. ' ' .. C4:GetDriverFileName()"); got != "module in c4z pkg.c4z" {
		t.Errorf("c4z: %v", got)
	}
}

func TestEncryptedDriverRefused(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"encryption attribute": {"driver.xml": `<devicedata><config><script file="driver.lua" encryption="2"/></config></devicedata>`, "driver.lua": "x=1"},
		"binary source":        {"driver.lua": "\x00\x01\x02encrypted"},
	} {
		rt := newRuntime(t, lua.Options{})
		err := rt.Load(writeFiles(t, files))
		if err == nil || !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("%s: got %v, want a refusal naming encryption", name, err)
		}
	}
}

func TestPlainSourceOfEncryptedDriverOnRequest(t *testing.T) {
	files := map[string]string{"driver.xml": `<devicedata><config><script file="driver.lua" encryption="2"/></config></devicedata>`, "driver.lua": "x = 'plain'"}
	rt := newRuntime(t, lua.Options{PlainSourceOfEncrypted: true})
	if err := rt.Load(writeFiles(t, files)); err != nil {
		t.Fatal(err)
	}
	if got := eval(t, rt, "return x"); got != "plain" {
		t.Errorf("x = %v", got)
	}
	rt2 := newRuntime(t, lua.Options{PlainSourceOfEncrypted: true})
	if err := rt2.Load(writeFiles(t, map[string]string{"driver.xml": files["driver.xml"], "driver.lua": "\x1bLuaQ\x00binary"})); err == nil {
		t.Error("encrypted code loaded")
	}
}
