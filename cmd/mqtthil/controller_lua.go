package main

import (
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// The Lua runtime: every client call is made by Lua code against the C4
// shim, and every callback comes from a Lua handler.
func init() {
	controllers["lua"] = func(timeScale float64) func() (controller.Controller, error) {
		return func() (controller.Controller, error) {
			return lua.NewController(lua.Options{Sim: sim.Options{KeepAliveUnit: time.Duration(timeScale * float64(time.Second))}})
		}
	}
}
