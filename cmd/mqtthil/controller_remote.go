package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/remote"
	"github.com/mqtthil/mqtthil/controller/sim"
	probedriver "github.com/mqtthil/mqtthil/fixtures/probe-driver"
)

// A real controller reached through the probe driver over the control
// channel. --station virtual runs the probe driver in the Lua runtime
// instead of on hardware: every scenario gets a station of its own (a
// broker emulator for the control channel and the probe in a Lua state),
// and every call and callback crosses the control channel as it would on
// the bench.
func init() {
	controllers["remote"] = func(float64) func() (controller.Controller, error) {
		return func() (controller.Controller, error) {
			return nil, fmt.Errorf("the remote controller needs --station")
		}
	}
	configured["remote"] = remoteController
}

func remoteController(cfg runConfig) (func() (controller.Controller, error), func(), error) {
	if cfg.station != "virtual" {
		return nil, nil, fmt.Errorf("--controller remote: --station %q: this build knows virtual (the probe driver in the Lua runtime)", cfg.station)
	}
	dir, err := os.MkdirTemp("", "mqtthil-probe-")
	if err != nil {
		return nil, nil, err
	}
	end := func() { os.RemoveAll(dir) }
	c4z := filepath.Join(dir, "probe.c4z")
	data, err := probedriver.C4Z()
	if err == nil {
		err = os.WriteFile(c4z, data, 0o644)
	}
	if err != nil {
		end()
		return nil, nil, err
	}
	unit := time.Duration(cfg.timeScale * float64(time.Second))
	return func() (controller.Controller, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return remote.NewVirtual(ctx,
			remote.VirtualOptions{Probe: c4z, Lua: lua.Options{Sim: sim.Options{KeepAliveUnit: unit}}},
			remote.Config{Timeout: 10 * time.Second})
	}, end, nil
}
