package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
)

// Station describes one bench: a harness host and one controller running
// the probe driver. It is read from a station YAML file:
//
//	name: bench-1                # shown in reports
//	station_id: bench-1          # the probe driver's Station ID property
//	control:
//	  listen: 0.0.0.0:1884       # the control listener the harness hosts for the probe
//	  user: probe                # credentials the probe must give (optional)
//	  password: secret
//	dut:                         # the scenarios' brokers (optional; default loopback)
//	  listen: 0.0.0.0:0          # where each scenario's DUT listener binds
//	  host: 192.168.1.10         # the address the controller connects to
//	expect:                      # the controller the run must be made against (optional)
//	  model: EA-5
//	  firmware: 3.4.0.0
//	  device_id: "1001"
//	  probe_version: "1"
//	timeouts:
//	  request: 5s                # every request's deadline
//	  connect: 60s               # how long to wait for the probe to come online
//	  heartbeat_misses: 3
//	virtual: false               # true: the probe runs in the Lua runtime, one station per scenario
//	allow_anonymous: false       # true: listeners off loopback may go without credentials
//
// As with `mqtthil broker`, a listener bound off loopback must require
// credentials unless allow_anonymous is true: control.listen needs
// control.user, and the scenarios' DUT listeners (dut.listen), which the
// station gives no credentials, need allow_anonymous.
type Station struct {
	Name      string `yaml:"name"`
	StationID string `yaml:"station_id"`
	Control   struct {
		Listen   string `yaml:"listen"`
		User     string `yaml:"user"`
		Password string `yaml:"password"`
	} `yaml:"control"`
	DUT struct {
		Listen string `yaml:"listen"`
		Host   string `yaml:"host"`
	} `yaml:"dut"`
	Expect struct {
		Model        string `yaml:"model"`
		Firmware     string `yaml:"firmware"`
		DeviceID     string `yaml:"device_id"`
		ProbeVersion string `yaml:"probe_version"`
	} `yaml:"expect"`
	Timeouts struct {
		Request         duration `yaml:"request"`
		Connect         duration `yaml:"connect"`
		HeartbeatMisses int      `yaml:"heartbeat_misses"`
	} `yaml:"timeouts"`
	Virtual        bool `yaml:"virtual"`
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (5s, 1m): %v", n.Line, n.Value, err)
	}
	*d = duration(v)
	return nil
}

// LoadStation reads a station YAML file; unknown keys are errors.
func LoadStation(path string) (Station, error) {
	var s Station
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("%s: %v", path, err)
	}
	if s.StationID == "" && !s.Virtual {
		return s, fmt.Errorf("%s: station_id is required", path)
	}
	if s.Control.Listen == "" && !s.Virtual {
		return s, fmt.Errorf("%s: control.listen is required (the address the probe driver connects to)", path)
	}
	if err := s.checkCredentials(); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if s.Name == "" {
		s.Name = s.StationID
	}
	return s, nil
}

// checkCredentials applies the rule of `mqtthil broker`: no listener off
// loopback without credentials, unless anonymous clients are allowed.
func (s Station) checkCredentials() error {
	if s.AllowAnonymous {
		return nil
	}
	if s.Control.Listen != "" && !emulator.IsLoopback(s.Control.Listen) && s.Control.User == "" {
		return fmt.Errorf("control.listen %s is not on loopback: set control.user and control.password, or allow_anonymous: true", s.Control.Listen)
	}
	if s.Control.User != "" && s.Control.Password == "" {
		return errors.New("control.user needs control.password")
	}
	if s.DUT.Listen != "" && !emulator.IsLoopback(s.DUT.Listen) {
		return fmt.Errorf("dut.listen %s is not on loopback and the scenarios' DUT listeners take any client: set allow_anonymous: true to run on a trusted bench network", s.DUT.Listen)
	}
	return nil
}

// Config is the harness side's configuration for the station, given the
// address of its control listener.
func (s Station) Config(addr string) Config {
	return Config{
		Addr: addr, Station: s.StationID, Username: s.Control.User, Password: s.Control.Password,
		Timeout: time.Duration(s.Timeouts.Request), HeartbeatMisses: s.Timeouts.HeartbeatMisses,
	}
}

// CheckIdentity compares what the device reported with what the station
// expects.
func (s Station) CheckIdentity(id controller.Identity) error {
	for _, c := range []struct{ what, want, got string }{
		{"model", s.Expect.Model, id.Model},
		{"firmware", s.Expect.Firmware, id.Firmware},
		{"device id", s.Expect.DeviceID, id.DeviceID},
		{"probe driver", s.Expect.ProbeVersion, id.DriverVersion},
	} {
		want := c.want
		if c.what == "probe driver" && want != "" {
			want = "probe " + want
		}
		if want != "" && want != c.got {
			return fmt.Errorf("the controller reports %s %q; station %s expects %q", c.what, c.got, s.Name, want)
		}
	}
	return nil
}

// HealthCheck is what a certification run does before its first
// scenario: a control round trip, the identity read, and a publish round
// trip on the DUT listener at dutAddr (connect, a QoS 1 publish and its
// onPublish). The object it creates is destroyed again.
func HealthCheck(ctx context.Context, c *Controller, dutAddr string) error {
	if _, err := c.request(&request{Op: "ping"}, nil); err != nil {
		return fmt.Errorf("control round trip: %w", err)
	}
	if id := c.Identity(); id.DriverVersion == "" || id.DriverVersion == "probe " {
		return fmt.Errorf("identity: the probe driver reported no version")
	}
	host, p, err := net.SplitHostPort(dutAddr)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(p)
	cl, err := c.NewClient("mqtthil-health-"+c.cfg.Station, true)
	if err != nil {
		return fmt.Errorf("creating a C4:MQTT object: %w", err)
	}
	defer cl.Destroy()
	rec := controller.NewRecorder(cl)
	if r := cl.Connect(host, port, 30, nil); r.Code != 0 {
		return fmt.Errorf("Connect to the DUT listener %s returned %d (%s)", dutAddr, r.Code, r.Err)
	}
	ev, err := rec.WaitFor(ctx, func(e controller.Event) bool {
		return e.Kind == controller.OnConnect || e.Kind == controller.OnDisconnect
	})
	if err != nil {
		return fmt.Errorf("no onConnect from the DUT listener %s: %w", dutAddr, err)
	}
	if ev.Kind != controller.OnConnect || ev.Reason != 0 {
		return fmt.Errorf("connecting to the DUT listener %s: %s %d (%s)", dutAddr, ev.Kind, ev.Reason, ev.Message)
	}
	// Not under emulator.ControlTopics: DUT clients may not publish there.
	r := cl.Publish("hil-health/"+c.cfg.Station, []byte("ok"), 1, false, nil)
	if r.Code != 0 || !r.HasMsgID() {
		return fmt.Errorf("Publish returned %d (%s)", r.Code, r.Err)
	}
	ev, err = rec.WaitFor(ctx, controller.Is(controller.OnPublish, r.MsgID))
	if err != nil {
		return fmt.Errorf("no onPublish for msgId %d: %w", r.MsgID, err)
	}
	if ev.Reason != 0 {
		return fmt.Errorf("onPublish for msgId %d reported %d (%s)", r.MsgID, ev.Reason, ev.Message)
	}
	cl.Disconnect(nil)
	return c.Err()
}
