package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/emulator"
)

// VirtualOptions describe a virtual station: the probe driver running in
// the Lua runtime (controller/lua) instead of on a controller.
type VirtualOptions struct {
	// Probe is the probe driver: its folder, driver.lua or a .c4z.
	Probe string
	// ControlAddr is the control listener the probe connects to. Empty
	// starts a broker emulator of the station's own for the channel.
	ControlAddr string
	// Station is the probe's Station ID; empty picks a random one.
	Station string
	// HeartbeatS is the probe's heartbeat period in seconds; 0 means 5.
	HeartbeatS int
	// Lua tunes the runtime the probe runs in.
	Lua lua.Options
	// Properties are set on the probe besides the ones above.
	Properties map[string]string
	// Background returns once the probe has started, without waiting for
	// its control channel (whose listener may not be up yet: the probe
	// retries with backoff).
	Background bool
}

// Virtual is a running virtual station.
type Virtual struct {
	RT      *lua.Runtime
	Station string
	Addr    string // the control listener

	broker *emulator.Broker // the station's own, if it started one
}

// StartVirtual starts the probe driver in the Lua runtime and returns once
// its control channel is online. ctx bounds the start.
func StartVirtual(ctx context.Context, opts VirtualOptions) (*Virtual, error) {
	v := &Virtual{Station: opts.Station, Addr: opts.ControlAddr}
	if v.Station == "" {
		var b [6]byte
		rand.Read(b[:])
		v.Station = "virtual-" + hex.EncodeToString(b[:])
	}
	if v.Addr == "" {
		b, err := emulator.Start(ctx, emulator.Options{})
		if err != nil {
			return nil, fmt.Errorf("%w: the station's broker: %v", ErrBench, err)
		}
		v.broker, v.Addr = b, b.ControlAddr
	}
	host, port, err := net.SplitHostPort(v.Addr)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("%w: control address %q: %v", ErrBench, v.Addr, err)
	}
	if opts.Lua.MaxMemory == 0 {
		// The probe builds the payloads the scenarios ask for itself (the
		// control channel carries only their recipe), up to the 256 MiB
		// of the largest MQTT packet: more than a driver's default bound.
		opts.Lua.MaxMemory = 512 << 20
	}
	rt, err := lua.New(opts.Lua)
	if err != nil {
		v.Close()
		return nil, err
	}
	v.RT = rt
	hb := opts.HeartbeatS
	if hb <= 0 {
		hb = 5
	}
	if err := rt.Load(opts.Probe); err != nil {
		v.Close()
		return nil, fmt.Errorf("%w: loading the probe driver: %v", ErrBench, err)
	}
	props := map[string]string{}
	for k, val := range opts.Properties {
		props[k] = val
	}
	props["Harness Host"], props["Control Port"], props["Station ID"], props["Heartbeat (s)"] = host, port, v.Station, strconv.Itoa(hb)
	if err := rt.SetProperties(props); err != nil {
		v.Close()
		return nil, err
	}
	if err := rt.Init(); err != nil {
		v.Close()
		return nil, fmt.Errorf("%w: starting the probe driver: %v", ErrBench, err)
	}
	if opts.Background {
		return v, nil
	}
	err = rt.Await(ctx, func(*glua.LState) (bool, error) {
		s, _ := rt.Updated("Control Channel")
		return s == "online", rt.NewErrors()
	})
	if err != nil {
		s, _ := rt.Updated("Control Channel")
		v.Close()
		return nil, fmt.Errorf("%w: the probe's control channel is not online (%q): %v", ErrBench, s, err)
	}
	return v, nil
}

// Dial connects the harness side to the station's probe.
func (v *Virtual) Dial(ctx context.Context, cfg Config) (*Controller, error) {
	cfg.Addr, cfg.Station = v.Addr, v.Station
	return Dial(ctx, cfg)
}

// Close stops the probe and the station's broker.
func (v *Virtual) Close() error {
	var err error
	if v.RT != nil {
		err = v.RT.Close()
	}
	if v.broker != nil {
		err = errors.Join(err, v.broker.Close())
	}
	return err
}

// VirtualController is a controller on a station of its own: closing it
// also stops the station.
type VirtualController struct {
	*Controller
	Station *Virtual
}

// NewVirtual starts a virtual station and connects to it.
func NewVirtual(ctx context.Context, opts VirtualOptions, cfg Config) (*VirtualController, error) {
	v, err := StartVirtual(ctx, opts)
	if err != nil {
		return nil, err
	}
	c, err := v.Dial(ctx, cfg)
	if err != nil {
		v.Close()
		return nil, err
	}
	return &VirtualController{Controller: c, Station: v}, nil
}

// Close closes the controller, then the station.
func (vc *VirtualController) Close() error {
	return errors.Join(vc.Controller.Close(), vc.Station.Close())
}

var _ controller.Controller = (*VirtualController)(nil)
