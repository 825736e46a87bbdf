package lua_test

import (
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestProjectQueriesFromYAML(t *testing.T) {
	rt := loaded(t, lua.Options{ProjectFile: "testdata/project.yaml"}, map[string]string{"driver.xml": minimalXML, "driver.lua": "x = 1"})
	for code, want := range map[string]any{
		"return C4:GetDeviceID()":                                             int64(2001),
		"return C4:GetProxyDevices()":                                         int64(2002),
		"return C4:GetDeviceDisplayName()":                                    "Hall Thermostat",
		"return C4:GetDeviceDisplayName(3001)":                                "Kitchen Light",
		"return C4:RoomGetId()":                                               int64(31),
		"return C4:GetRoomID(3001)":                                           int64(30),
		"return C4:GetControllerNetworkAddress()":                             "192.168.1.50",
		"return C4:GetUniqueMAC()":                                            "000FFF0000AA",
		"return C4:GetDevicesByC4iName('light.c4z')[3001]":                    "Kitchen Light",
		"return C4:GetDevicesByC4iName('nothing.c4z') == nil":                 true,
		"return C4:GetProxyDevicesByName('uidevice')[3003]":                   "Hall Remote",
		"return C4:GetDevices({DeviceIds = '3001'})[3001].roomName":           "Kitchen",
		"return C4:GetDevices(nil, '31')[3003].deviceName":                    "Hall Remote",
		"return C4:GetDeviceData(2001, 'model')":                              "tm",
		"return C4:GetProxyDevicesById(3001)":                                 int64(3002),
		"return C4:GetBoundConsumerDevices(0, 5001)[3001]":                    "Kitchen Light",
		"return C4:GetBoundProviderDevice(3001, 1)":                           int64(2001),
		"return C4:GetVariable(3001, 'LIGHT_LEVEL')":                          "40",
		"return C4:GetProjectItems():find('<name>Hall Remote</name>') ~= nil": true,
		"return C4:GetProjectProperty('CountryCode')":                         "US",
		"return C4:GetSystemType()":                                           "EA5",
	} {
		if got := eval(t, rt, code); got != want {
			t.Errorf("%s = %#v, want %#v", code, got, want)
		}
	}
	if got := eval(t, rt, "C4:RenameDevice(3001, 'Pantry'); return C4:GetDeviceDisplayName(3001)"); got != "Pantry" {
		t.Errorf("renamed device is %v", got)
	}
}

func TestProjectDefaults(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": "x = 1"})
	for code, want := range map[string]any{
		"return C4:GetDeviceID()":          int64(1001),
		"return C4:GetProxyDevices()":      int64(1002), // one per <proxy>, after the device
		"return C4:GetDeviceDisplayName()": "Test Driver",
		"return C4:RoomGetId()":            int64(20),
	} {
		if got := eval(t, rt, code); got != want {
			t.Errorf("%s = %#v, want %#v", code, got, want)
		}
	}
}

func TestAddDeviceAndRegistry(t *testing.T) {
	rt := loaded(t, lua.Options{ProjectFile: "testdata/project.yaml"}, map[string]string{"driver.lua": `
function OnDriverLateInit()
  C4:AddDevice("child.c4z", 30, "Child", function(id, info) added = id; addedName = info.deviceName end)
  C4:RegistrySetValue("shared", {a = 1})
end`})
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) { return L.GetGlobal("added") != glua.LNil, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code string
		want any
	}{
		{"return added", int64(3004)},
		{"return addedName", "Child"},
		{"return C4:GetDevicesByC4iName('child.c4z')[added]", "Child"},
		{"return C4:RegistryGetValue('shared').a", int64(1)},
		{"C4:RegistryDeleteValue('shared'); return C4:RegistryGetValue('shared')", nil},
		{"return C4:GetDriverConfigInfoById(C4:GetDeviceID(), 'nothing')", ""},
	} {
		if got := eval(t, rt, c.code); got != c.want {
			t.Errorf("%s = %#v, want %#v", c.code, got, c.want)
		}
	}
}
