package lua_test

import (
	"testing"

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
