//go:build libmosquitto

package main

import (
	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/mosq"
)

// The libmosquitto reference client, in builds with the libmosquitto tag;
// the import registers it as "mosq". Its keep-alive runs on libmosquitto's
// own clock: --time-scale shortens the features' times but not its
// keep-alive seconds.
func init() {
	benchClients["mosq"] = func() controller.Controller { return mosq.New() }
}
