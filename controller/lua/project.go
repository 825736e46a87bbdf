// The world around the driver: its own device and proxy ids, its room,
// the controller's facts and the other devices, rooms and bindings of the
// project. Drivers query it all the time (GetDeviceID, GetDevices,
// GetBoundConsumerDevices...); a small YAML file or a Go value configures
// it and sensible defaults fill the rest.

package lua

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Project configures what project queries answer.
type Project struct {
	// DeviceID is this driver's device id (the protocol id of a proxy
	// driver). 0 means Options.DeviceID.
	DeviceID int `yaml:"device_id"`
	// ProxyIDs are the ids of the driver's proxies, one per <proxy> of
	// driver.xml. Empty means DeviceID+1, DeviceID+2..., or DeviceID
	// itself for a driver with no proxy.
	ProxyIDs []int `yaml:"proxy_ids"`
	// Name is the driver's display name; "" means driver.xml's <name>.
	Name string `yaml:"name"`
	// RoomID is the room the driver is in. 0 means the first room.
	RoomID int `yaml:"room_id"`
	// DriverFile is what C4:GetDriverFileName returns; "" means the
	// .c4z's name, or "<folder>.c4z".
	DriverFile string            `yaml:"driver_file"`
	Controller ControllerFacts   `yaml:"controller"`
	Settings   map[string]string `yaml:"project_properties"`
	Rooms      []Room            `yaml:"rooms"`
	Devices    []Device          `yaml:"devices"`
	Bindings   []Binding         `yaml:"bindings"`
	// Names holds names given with C4:RenameDevice; not configured.
	names map[int]string
}

// ControllerFacts holds the controller facts drivers ask for.
type ControllerFacts struct {
	Address    string `yaml:"address"`
	MAC        string `yaml:"mac"`
	SystemType string `yaml:"system_type"`
	Version    string `yaml:"version"`
	TimeZone   string `yaml:"time_zone"`
	Locale     string `yaml:"locale"`
	Uname      string `yaml:"uname"`
	BootID     string `yaml:"boot_id"`
}

// Room is one room of the project.
type Room struct {
	ID   int    `yaml:"id"`
	Name string `yaml:"name"`
}

// Device is another device of the project.
type Device struct {
	ID         int    `yaml:"id"`
	Name       string `yaml:"name"`
	Room       int    `yaml:"room"`
	DriverFile string `yaml:"driver_file"`
	// Proxy is the proxy type when the device is a proxy (e.g. "uidevice",
	// "light_v2"); ProxyOf is then its protocol device, if any.
	Proxy     string     `yaml:"proxy"`
	ProxyOf   int        `yaml:"proxy_of"`
	Variables []Variable `yaml:"variables"`
	// DeviceData is the device's driver.xml, for GetDeviceData.
	DeviceData string `yaml:"device_data"`
	// Driver is the driver the device runs (its folder, driver.lua or a
	// .c4z; in a project file, relative to the file's folder), started
	// after this runtime's own driver by StartProjectDrivers, with
	// Properties set before its init (peers.go). "" runs nothing.
	Driver     string            `yaml:"driver"`
	Properties map[string]string `yaml:"properties"`
}

// Variable is a variable of another device.
type Variable struct {
	ID    int    `yaml:"id"`
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Binding is one connection between two devices' bindings.
type Binding struct {
	Provider        int    `yaml:"provider"`
	ProviderBinding int    `yaml:"provider_binding"`
	Consumer        int    `yaml:"consumer"`
	ConsumerBinding int    `yaml:"consumer_binding"`
	Class           string `yaml:"class"`
}

// LoadProject reads a project YAML file.
func LoadProject(path string) (*Project, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	var p Project
	dec := yaml.NewDecoder(bytes.NewReader(b))
	// A misspelt key would otherwise be dropped without a word, and the
	// driver would see a project other than the one written.
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("project %s: %w", path, err)
	}
	p.resolveDrivers(filepath.Dir(path))
	return &p, nil
}

func loadProject(opts Options) (*Project, error) {
	var p Project
	switch {
	case opts.Project != nil:
		p = *opts.Project
		p.Devices = append([]Device(nil), p.Devices...)
		p.Bindings = append([]Binding(nil), p.Bindings...)
		p.resolveDrivers("")
	case opts.ProjectFile != "":
		lp, err := LoadProject(opts.ProjectFile)
		if err != nil {
			return nil, err
		}
		p = *lp
	}
	if p.DeviceID == 0 {
		p.DeviceID = opts.DeviceID
	}
	if len(p.Rooms) == 0 {
		p.Rooms = []Room{{ID: 20, Name: "Living Room"}}
	}
	if p.RoomID == 0 {
		p.RoomID = p.Rooms[0].ID
	}
	c := &p.Controller
	c.Address = or(c.Address, "127.0.0.1")
	c.MAC = or(c.MAC, "000FFF102F73")
	c.SystemType = or(c.SystemType, "EA5")
	c.Version = or(c.Version, "3.4.0.0")
	c.TimeZone = or(c.TimeZone, "UTC")
	c.Locale = or(c.Locale, "en_US")
	c.Uname = or(c.Uname, "Linux mqtthil 5.15.0 armv7l")
	c.BootID = or(c.BootID, "6f1c3a52-8a1e-4d2b-9e57-mqtthil00001")
	if p.Settings == nil {
		p.Settings = map[string]string{}
	}
	for k, v := range map[string]string{"ZipCode": "80202", "Latitude": "39.7392", "Longitude": "-104.9903", "CountryCode": "US", "CityName": "Denver", "TemperatureScale": "FAHRENHEIT", "Use24HourClock": "false", "ProjectName": "mqtthil"} {
		if _, ok := p.Settings[k]; !ok {
			p.Settings[k] = v
		}
	}
	return &p, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// roomName is the name of room id, "" when unknown.
func (p *Project) roomName(id int) string {
	for _, r := range p.Rooms {
		if r.ID == id {
			return r.Name
		}
	}
	return ""
}
