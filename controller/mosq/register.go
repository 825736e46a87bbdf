//go:build libmosquitto

// Registers the libmosquitto reference client by name. Its keep-alive runs
// on libmosquitto's own clock, so the run's keep-alive unit does not apply.
package mosq

import "github.com/mqtthil/mqtthil/controller"

func init() {
	controller.Register("mosq", func(controller.Options) (controller.Controller, error) { return New(), nil })
}
