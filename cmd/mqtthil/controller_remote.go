package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/remote"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	probedriver "github.com/mqtthil/mqtthil/fixtures/probe-driver"
	"github.com/mqtthil/mqtthil/report"
)

// A real controller reached through the probe driver over the control
// channel (docs/control-channel.md).
//
//   - --station virtual runs the probe driver in the Lua runtime instead of
//     on hardware: every scenario gets a station of its own (a broker
//     emulator for the control channel and the probe in a Lua state), and
//     every call and callback crosses the control channel as on the bench.
//   - --station STATION.yaml (remote.Station) names a bench: the harness
//     hosts the control listener at control.listen, waits for the probe
//     driver, and runs one scenario at a time. A station file with
//     virtual: true is the virtual station with the file's expectations.
//
// Before the first scenario a health check runs (control round trip,
// identity, a publish round trip on a DUT listener); if it fails, no
// scenario runs.
func init() {
	configured["remote"] = remoteController
}

func remoteController(cfg runConfig, note func(format string, a ...any)) (configuredRun, error) {
	if len(cfg.stations) > 1 {
		return poolController(cfg, note)
	}
	var st remote.Station
	switch cfg.station {
	case "":
		return configuredRun{}, errors.New("--controller remote needs --station: virtual, or a station YAML file")
	case "virtual":
		st.Virtual = true
	default:
		var err error
		if st, err = remote.LoadStation(cfg.station); err != nil {
			return configuredRun{}, fmt.Errorf("--station: %w", err)
		}
	}
	if st.Virtual {
		return virtualStations(cfg, st)
	}
	return benchStation(cfg, st)
}

// healthCheck runs remote.HealthCheck against a broker of its own, set up
// as the scenarios' brokers are.
func healthCheck(c *remote.Controller, st remote.Station) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := emulator.Start(ctx, emulator.Options{DUTAddr: st.DUT.Listen, AllowAnonymous: st.AllowAnonymous})
	if err != nil {
		return fmt.Errorf("health check: starting a broker: %w", err)
	}
	defer b.Close()
	if err := st.CheckIdentity(c.Identity()); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	addr := b.DUTAddr
	if st.DUT.Host != "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("health check: the broker's address %q: %w", addr, err)
		}
		addr = net.JoinHostPort(st.DUT.Host, port)
	}
	if err := remote.HealthCheck(ctx, c, addr); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

func virtualStations(cfg runConfig, st remote.Station) (configuredRun, error) {
	dir, err := os.MkdirTemp("", "mqtthil-probe-")
	if err != nil {
		return configuredRun{}, err
	}
	end := func() { os.RemoveAll(dir) }
	c4z := filepath.Join(dir, "probe.c4z")
	data, err := probedriver.C4Z()
	if err == nil {
		err = os.WriteFile(c4z, data, 0o644)
	}
	if err != nil {
		end()
		return configuredRun{}, err
	}
	unit := time.Duration(cfg.timeScale * float64(time.Second))
	rc := st.Config("")
	if rc.Timeout == 0 {
		rc.Timeout = 10 * time.Second
	}
	newController := func() (*remote.VirtualController, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return remote.NewVirtual(ctx, remote.VirtualOptions{Probe: c4z, Lua: lua.Options{Sim: sim.Options{KeepAliveUnit: unit}}}, rc)
	}
	vc, err := newController()
	if err == nil {
		err = healthCheck(vc.Controller, st)
		vc.Close()
	}
	if err != nil {
		end()
		return configuredRun{}, err
	}
	return configuredRun{
		newController: func() (controller.Controller, error) { return newController() },
		end:           end,
		dutListen:     st.DUT.Listen,
		dutHost:       st.DUT.Host,
	}, nil
}

func benchStation(cfg runConfig, st remote.Station) (configuredRun, error) {
	if cfg.concurrency != 1 {
		return configuredRun{}, fmt.Errorf("station %s has one controller: run it with --concurrency 1", st.Name)
	}
	opts := emulator.Options{ControlAddr: st.Control.Listen}
	if st.Control.User != "" {
		opts.ControlAuth = map[string]string{st.Control.User: st.Control.Password}
	}
	// Off loopback without credentials, Start refuses unless the station
	// allows anonymous clients, as `mqtthil broker` does.
	opts.AllowAnonymous = st.AllowAnonymous
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := emulator.Start(ctx, opts)
	if err != nil {
		return configuredRun{}, fmt.Errorf("station %s: the control listener on %s: %w", st.Name, st.Control.Listen, err)
	}
	end := func() { b.Close() }
	rc := st.Config(b.ControlAddr)
	rc.ClientID = "mqtthil-harness-" + st.StationID
	connect := time.Duration(st.Timeouts.Connect)
	if connect <= 0 {
		connect = 60 * time.Second
	}
	wait, cancelWait := context.WithTimeout(context.Background(), connect)
	defer cancelWait()
	rc.Reset = true
	c, err := remote.DialWait(wait, rc)
	if err == nil {
		err = healthCheck(c, st)
		c.Close()
	}
	if err != nil {
		end()
		return configuredRun{}, fmt.Errorf("station %s: %w", st.Name, err)
	}
	unit := time.Duration(cfg.timeScale * float64(time.Second))
	return configuredRun{
		newController: func() (controller.Controller, error) {
			ctx, cancel := context.WithTimeout(context.Background(), connect)
			defer cancel()
			return remote.DialWait(ctx, rc)
		},
		// Observers are the harness's own clients on the control listener
		// of the scenario's broker, which the bench's controller may not
		// reach.
		observer: func() (controller.Controller, error) {
			return sim.New(sim.Options{KeepAliveUnit: unit}), nil
		},
		end:       end,
		dutListen: st.DUT.Listen,
		dutHost:   st.DUT.Host,
	}, nil
}

// stationOf names the station a run was made on for the manifest: the
// station file's name for a bench, else the harness host.
func stationOf(cfg runConfig) string {
	host := report.Station()
	if cfg.controller != "remote" {
		return host
	}
	if len(cfg.stations) > 1 {
		return fmt.Sprintf("a pool of %d stations on %s", len(cfg.stations), host)
	}
	if cfg.station == "virtual" {
		return "virtual on " + host
	}
	st, err := remote.LoadStation(cfg.station)
	if err != nil {
		return host
	}
	if st.Virtual {
		return st.Name + " (virtual) on " + host
	}
	return st.Name + " on " + host
}
