package lua_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/emulator"
)

const exampleDir = "../../fixtures/drivers/zone-bridge"
const exampleSquished = "../../fixtures/drivers/zone-bridge-squished"

func TestSquishedExampleIsUpToDate(t *testing.T) {
	packed, err := lua.Squish(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(exampleSquished, "driver.lua"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(packed, shipped) {
		t.Errorf("%s/driver.lua is not what Squish makes of %s: repack it", exampleSquished, exampleDir)
	}
	xml1, _ := os.ReadFile(filepath.Join(exampleDir, "driver.xml"))
	xml2, _ := os.ReadFile(filepath.Join(exampleSquished, "driver.xml"))
	if !bytes.Equal(xml1, xml2) {
		t.Error("the squished example's driver.xml differs from the folder's")
	}
}

// runExample runs the example driver against b, has its proxy change the
// setpoint, and returns the runtime once that publish is acknowledged.
func runExample(t *testing.T, b *emulator.Broker, dir string) *lua.Runtime {
	t.Helper()
	host, port := hostPort(t, b)
	rt := newRuntime(t, lua.Options{TimeScale: 0.01})
	if err := rt.Load(dir); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetProperties(map[string]string{"Broker Host": host, "Broker Port": strconv.Itoa(port), "Reconnect Delay (s)": "5", "Client ID": "zone-" + filepath.Base(dir)}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	online := func(L *glua.LState) (bool, error) {
		return L.GetField(L.GetGlobal("Properties"), "Connection").String() == "online", nil
	}
	if err := rt.Await(ctxFor(t, 10*time.Second), online); err != nil {
		t.Fatalf("never online: %v (errors %v)", err, rt.Errors())
	}
	if err := rt.ReceivedFromProxy(5001, "SET_SETPOINT_HEAT", map[string]string{"SETPOINT": "23.5"}); err != nil {
		t.Fatal(err)
	}
	acked := func(L *glua.LState) (bool, error) {
		n, _ := strconv.Atoi(L.GetField(L.GetGlobal("Properties"), "Published").String())
		return n >= 2, nil // the state published on connect, then the setpoint
	}
	if err := rt.Await(ctxFor(t, 10*time.Second), acked); err != nil {
		t.Fatalf("setpoint not published: %v", err)
	}
	return rt
}

func TestExampleDriverFolderAndSquishedAlike(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	folder := runExample(t, b, exampleDir)
	squished := runExample(t, b, exampleSquished)
	for _, rt := range []*lua.Runtime{folder, squished} {
		if v := rt.Variables()["SETPOINT"]; v != "23.5" {
			t.Errorf("SETPOINT variable = %q", v)
		}
		exerciseExample(t, rt)
	}
	calls := func(rt *lua.Runtime) map[string]string {
		out := map[string]string{}
		for _, c := range rt.Calls() {
			out[c.Name] = c.Status
		}
		return out
	}
	cf, cs := calls(folder), calls(squished)
	if !reflect.DeepEqual(cf, cs) {
		t.Errorf("the two forms call different functions:\nfolder   %v\nsquished %v", cf, cs)
	}
	if len(cf) < 40 {
		t.Errorf("the example uses %d C4 functions, want at least 40: %v", len(cf), cf)
	}
	for name, status := range cf {
		if status == lua.StatusMissing {
			t.Errorf("the example needs %s, which is missing", name)
		}
	}
	for _, rt := range []*lua.Runtime{folder, squished} {
		if errs := rt.Errors(); len(errs) > 0 {
			t.Errorf("Lua errors: %v", errs)
		}
	}
}

// exerciseExample drives the rest of the example's entry points, then
// closes it (OnDriverDestroyed).
func exerciseExample(t *testing.T, rt *lua.Runtime) {
	t.Helper()
	if err := rt.SetProperty("Debug", "On"); err != nil {
		t.Fatal(err)
	}
	if ok, err := rt.TestCondition("SETPOINT_ABOVE", map[string]string{"VALUE": "20", "LOGIC": "GREATER_THAN"}); err != nil || !ok {
		t.Errorf("TestCondition = %v, %v", ok, err)
	}
	if s, err := rt.UIRequest("GET_SETPOINT", nil); err != nil || s != "<setpoint>23.5</setpoint>" {
		t.Errorf("UIRequest = %q, %v", s, err)
	}
	for _, step := range []error{
		rt.ReceivedFromProxy(5001, "SET_MODE_HVAC", map[string]string{"MODE": "cool"}),
		rt.ExecuteCommand("Set Setpoint", map[string]string{"value": "22"}),
		rt.ExecuteCommand("No Such Command", nil),
		rt.ExecuteAction("RESET_COUNTERS", nil),
		rt.ChangeBinding(5001, "THERMOSTAT", true, 4000, 1),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := rt.Idle(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExampleDriverReconnectsAfterBrokerRestart(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	rt := runExample(t, b, exampleDir)
	if err := b.Restart(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err := rt.Await(ctxFor(t, 15*time.Second), func(L *glua.LState) (bool, error) {
		c := L.GetField(L.GetGlobal("Properties"), "Connection").String()
		seen[c] = true
		return c == "online" && seen["waiting to reconnect"], nil
	})
	if err != nil {
		t.Fatalf("not back online after the broker restart: %v (states %v, errors %v)", err, seen, rt.Errors())
	}
	if err := rt.ExecuteCommand("Publish State", nil); err != nil {
		t.Fatal(err)
	}
	err = rt.Await(ctxFor(t, 10*time.Second), func(L *glua.LState) (bool, error) {
		n, _ := strconv.Atoi(L.GetField(L.GetGlobal("Properties"), "Published").String())
		return n >= 4, nil // + the publish on reconnect + the command's
	})
	if err != nil {
		t.Fatalf("no publish after reconnecting: %v", err)
	}
}
