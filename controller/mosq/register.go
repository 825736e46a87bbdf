//go:build libmosquitto

// Registers the libmosquitto reference client by name. Its keep-alive runs
// on libmosquitto's own clock, so the run's keep-alive unit does not apply.
package mosq

import (
	"errors"

	"github.com/mqtthil/mqtthil/controller"
)

func init() {
	controller.Register("mosq", func(o controller.Options) (controller.Controller, error) {
		if o.Network != nil {
			// libmosquitto opens its own sockets in C, on its own threads:
			// no Go network or clock reaches it.
			return nil, errors.New("the mosq controller cannot use an in-memory network: libmosquitto opens real sockets itself")
		}
		return New(), nil
	})
}
