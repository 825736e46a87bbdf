//go:build libmosquitto

package main

import (
	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/mosq"
)

// The libmosquitto reference client, in builds with the libmosquitto tag.
// Its keep-alive runs on libmosquitto's own clock: --time-scale shortens
// the features' times but not its keep-alive seconds.
func init() {
	controllers["mosq"] = func(float64) func() (controller.Controller, error) {
		return func() (controller.Controller, error) { return mosq.New(), nil }
	}
	benchClients["mosq"] = func() controller.Controller { return mosq.New() }
}
