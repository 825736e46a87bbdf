package lua_test

import (
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

const bindingDriver = `
got = {}
function ReceivedFromProxy(id, cmd, p) got[#got + 1] = "proxy " .. id .. " " .. cmd .. " " .. tostring(p.LEVEL) end
function ExecuteCommand(cmd, p)
  if cmd == "LUA_ACTION" then got[#got + 1] = "action " .. p.ACTION; return end
  got[#got + 1] = "command " .. cmd .. " " .. tostring(p and p.speed) .. " " .. tostring(p and p["2"]) .. " " .. tostring(p and p[2])
end
function OnBindingChanged(id, class, bound, dev, other) got[#got + 1] = "binding " .. id .. " " .. class .. " " .. tostring(bound) .. " " .. dev .. "/" .. other end
function TestCondition(name, p) return name == "IS_ON" and p.VALUE == "1" end
function UIRequest(req, p) return "<reply>" .. req .. "</reply>" end
function OnDriverLateInit()
  C4:AddDynamicBinding(7001, "CONTROL", true, "Extra", "RELAY", false, false)
  C4:SendToProxy(5001, "SET_LEVEL", {LEVEL = 3})
  C4:SendToDevice(C4:GetDeviceID(), "Go", {speed = 9, empty = "", [2] = "two"})
end`

func TestBindingsAndProxies(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": bindingDriver})
	steps := []func() error{
		func() error { return rt.ReceivedFromProxy(5001, "ON", map[string]string{"LEVEL": "100"}) },
		func() error { return rt.ExecuteAction("RESET", nil) },
		func() error { return rt.ChangeBinding(5001, "THERMOSTAT", true, 99, 1) },
		func() error {
			_, err := rt.Exec("bind", "C4:Bind(C4:GetDeviceID(), 7001, 500, 2, 'RELAY')")
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) { return L.ObjLen(L.GetGlobal("got")) >= 5, nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "command Go 9 two nil,proxy 5001 ON 100,action RESET,binding 5001 THERMOSTAT true 99/1,binding 7001 RELAY true 500/2"
	if got := eval(t, rt, "return table.concat(got, ',')"); got != want {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if ok, err := rt.TestCondition("IS_ON", map[string]string{"VALUE": "1", "LOGIC": "EQUAL"}); err != nil || !ok {
		t.Errorf("TestCondition = %v, %v", ok, err)
	}
	if s, err := rt.UIRequest("GET", nil); err != nil || s != "<reply>GET</reply>" {
		t.Errorf("UIRequest = %q, %v", s, err)
	}
	for _, c := range []struct {
		code string
		want any
	}{
		{"local b = C4:GetBindingsByDevice(0).bindings; return #b", int64(2)},
		{"return C4:GetBindingsByDevice(0).bindings[2].bindingid", int64(7001)},
		{"return C4:GetBindingsByDevice(0).bindings[2].isbound", true},
		{"return C4:GetBoundConsumerDevices(0, 7001) ~= nil", true},
		{"return C4:SendUIRequest(C4:GetDeviceID(), 'PING', {})", "<reply>PING</reply>"},
		{"C4:Unbind(500, 2); return C4:GetBoundConsumerDevices(0, 7001)", nil},
	} {
		if got := eval(t, rt, c.code); got != c.want {
			t.Errorf("%s = %#v, want %#v", c.code, got, c.want)
		}
	}
	var proxyArgs []any
	for _, e := range rt.Trace().Entries() {
		if e.Kind == lua.KindC4 && e.Name == "SendToProxy" {
			proxyArgs = e.Args
		}
	}
	if len(proxyArgs) != 3 || proxyArgs[1] != "SET_LEVEL" {
		t.Errorf("SendToProxy trace args %v", proxyArgs)
	}
}
