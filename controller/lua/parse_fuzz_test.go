package lua

import (
	"os"
	"path/filepath"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// Every file a driver or a project hands the runtime is outside input: a
// driver.xml, a project file and the JSON a driver decodes (often a
// broker's payload) must give an error, never a panic or a hang.

func FuzzDriverXML(f *testing.F) {
	for _, p := range []string{"../../fixtures/drivers/zone-bridge/driver.xml", "../../fixtures/drivers/mqtt-hub/driver.xml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<devicedata><config><properties><property><name>a</name><items><item>x</item></items></property></properties></config></devicedata>`))
	f.Add([]byte(`<devicedata><name><![CDATA[x]]></name><connections><connection><id>9999999999999999999</id></connection></connections></devicedata>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseDriverXML("driver.xml", data)
		if err != nil {
			return
		}
		for _, tag := range []string{"name", "version", "model"} {
			_ = info.ConfigInfo(tag)
		}
	})
}

func FuzzLoadProject(f *testing.F) {
	if b, err := os.ReadFile("testdata/project.yaml"); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile("../../fixtures/projects/hub.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("devices:\n  - {id: 2, driver: x, properties: {a: b}}\nbindings: [{provider: 1}]\n"))
	f.Add([]byte("device_id: -1\nrooms: []\ncontroller: {address: '::1'}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "project.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProject(file)
		if err != nil {
			return
		}
		full, err := loadProject(Options{Project: p, DeviceID: 1001})
		if err != nil {
			t.Fatalf("a project LoadProject took is refused: %v", err)
		}
		_ = full.roomName(full.RoomID)
	})
}

func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[":index:1"]`, `{":index:NaN": 1, ":index:1e400": 2}`, `{":number:": 5}`, `"x" "y"`, `[[[[[]]]]]`, `1e999`} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, withNull bool) {
		L := glua.NewState()
		defer L.Close()
		installC4JSON(L)
		L.SetGlobal("decode", L.NewFunction(c4JSONDecode))
		L.Push(L.GetGlobal("decode"))
		L.Push(glua.LNil)
		L.Push(glua.LString(s))
		L.Push(glua.LBool(withNull))
		if err := L.PCall(3, glua.MultRet, nil); err != nil {
			t.Fatalf("decoding %q raised %v", s, err)
		}
	})
}
