package lua_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// Two drivers of one project reach each other as on a controller:
// SendToDevice becomes the other's ExecuteCommand, SendToProxy the
// ReceivedFromProxy at the binding's other end, with the other end's
// binding id and the parameters as strings; each knows the other as a
// device of the project.
func TestProjectDriversMessageEachOther(t *testing.T) {
	child := writeDriver(t, `
		got = {}
		function ExecuteCommand(cmd, p) got[#got+1] = 'cmd ' .. cmd .. ' ' .. tostring(p.n) .. ' ' .. type(p.n) end
		function ReceivedFromProxy(b, cmd, p) got[#got+1] = 'rfp ' .. b .. ' ' .. cmd .. ' ' .. tostring(p.flag) end
		function OnDriverLateInit()
			C4:SendToProxy(7, 'HELLO', {from = C4:GetDeviceID()})
			local hubs = C4:GetDevicesByC4iName('hub.c4z') or {}
			for id in pairs(hubs) do hub = id end
		end`, "")
	hub := writeDriver(t, `
		heard = {}
		function ReceivedFromProxy(b, cmd, p) heard[#heard+1] = b .. ' ' .. cmd .. ' ' .. p.from end`, "")
	rt := hubRuntime(t, hub, child)
	if err := rt.StartProjectDrivers(); err != nil {
		t.Fatal(err)
	}
	awaitLua(t, rt, "#heard == 1")
	if out := evalLua(t, rt, `return heard[1]`); out[0] != "5001 HELLO 1002" {
		t.Errorf("the hub heard %v", out)
	}
	evalLua(t, rt, `
		C4:SendToDevice(1002, 'PING', {n = 5})
		C4:SendToProxy(5001, 'STATUS', {flag = true})
		C4:SendToDevice(4242, 'NOBODY', {})`)
	peer := rt.Peer(1002)
	if peer == nil {
		t.Fatal("no runtime for device 1002")
	}
	awaitLua(t, peer, "#got == 2")
	out := evalLua(t, peer, `return table.concat(got, '|'), hub`)
	if out[0] != "cmd PING 5 string|rfp 7 STATUS true" || out[1] != int64(1001) {
		t.Errorf("the child got %v", out)
	}
	if got := rt.PeerDevices(); len(got) != 1 || got[0] != 1002 {
		t.Errorf("peer devices %v", got)
	}
}

// An error in another driver of the project counts, naming its device;
// closing the project's driver closes the others.
func TestProjectDriverErrorsAndClose(t *testing.T) {
	child := writeDriver(t, `
		function ExecuteCommand(cmd) error('child broke on ' .. cmd) end
		function OnDriverDestroyed() C4:SendToDevice(1001, 'BYE', {}) end`, "")
	rt, err := lua.New(lua.Options{Project: &lua.Project{Devices: []lua.Device{{ID: 1002, Driver: child}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Load(writeDriver(t, `function ExecuteCommand() end`, "")); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartProjectDrivers(); err != nil {
		t.Fatal(err)
	}
	evalLua(t, rt, `C4:SendToDevice(1002, 'GO', {})`)
	peer := rt.Peer(1002)
	err = peer.Await(ctxFor(t, 5*time.Second), func(*glua.LState) (bool, error) { return len(peer.Errors()) == 1, nil })
	if err != nil {
		t.Fatalf("waiting for the child's error: %v", err)
	}
	errs := rt.ProjectErrors()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "device 1002") || !strings.Contains(errs[0].Error(), "child broke on GO") {
		t.Errorf("project errors %v", errs)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := peer.Do(func(*glua.LState) error { return nil }); err != lua.ErrClosed {
		t.Errorf("the child still runs after its project closed: %v", err)
	}
}

// A project file's driver paths are relative to the file; a key the
// project format does not have is refused, naming it, not dropped.
func TestProjectFileDrivers(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "drivers", "lamp")
	os.MkdirAll(child, 0o755)
	os.WriteFile(filepath.Join(child, "driver.lua"), []byte(`function ExecuteCommand() ran = true end`), 0o644)
	file := filepath.Join(dir, "project.yaml")
	os.WriteFile(file, []byte("devices:\n  - id: 1002\n    driver: drivers/lamp\n    properties: {Level: '3'}\n"), 0o644)
	p, err := lua.LoadProject(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Devices[0]; d.Driver != child || d.DriverFile != "lamp.c4z" || d.Properties["Level"] != "3" {
		t.Errorf("device %+v", d)
	}
	os.WriteFile(file, []byte("devices:\n  - id: 1002\n    drvier: drivers/lamp\n"), 0o644)
	if _, err := lua.LoadProject(file); err == nil || !strings.Contains(err.Error(), "drvier") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("a misspelt key: %v", err)
	}
	os.WriteFile(file, []byte("devices:\n  - id: 1002\n    driver: drivers/none\n"), 0o644)
	rt := newRuntime(t, lua.Options{ProjectFile: file})
	if err := rt.StartProjectDrivers(); err == nil || !strings.Contains(err.Error(), "project device 1002") {
		t.Errorf("a missing driver: %v", err)
	}
}

// The driver under test runs before the project's other drivers start, and
// may message them from a timer while they do: the project's drivers come
// into being under its feet, without a data race (run with -race).
func TestProjectDriversStartWhileTheDriverRuns(t *testing.T) {
	child := writeDriver(t, `
		ticks = 0
		function ReceivedFromProxy(b, cmd, p) if cmd == 'TICK' then ticks = ticks + 1 end end`, "")
	hub := writeDriver(t, `
		sent = 0
		function OnDriverLateInit()
			C4:SetTimer(1, function()
				C4:SendToProxy(5001, 'TICK', {})
				C4:SendToDevice(1002, 'PING', {})
				sent = sent + 1
			end, true)
		end`, "")
	rt := hubRuntime(t, hub, child)
	awaitLua(t, rt, "sent >= 3") // the timer runs before the peers exist
	if err := rt.StartProjectDrivers(); err != nil {
		t.Fatal(err)
	}
	peer := rt.Peer(1002)
	if peer == nil {
		t.Fatal("no runtime for device 1002")
	}
	awaitLua(t, peer, "ticks >= 3")
	if errs := rt.ProjectErrors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
}

// hubRuntime runs hub as device 1001 of a project whose device 1002 runs
// child, the hub's binding 5001 connected to the child's 7; the hub's
// driver is loaded and initialised, the child's not started.
func hubRuntime(t *testing.T, hub, child string) *lua.Runtime {
	t.Helper()
	rt := newRuntime(t, lua.Options{Project: &lua.Project{
		DeviceID:   1001,
		DriverFile: "hub.c4z",
		Devices:    []lua.Device{{ID: 1002, Name: "Child", Driver: child}},
		Bindings:   []lua.Binding{{Provider: 1001, ProviderBinding: 5001, Consumer: 1002, ConsumerBinding: 7, Class: "X"}},
	}})
	if err := rt.Load(hub); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	return rt
}
