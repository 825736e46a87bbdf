// Registers the simulated controller by name, so that programs choose it
// through the controller package's registry.
package sim

import "github.com/mqtthil/mqtthil/controller"

func init() {
	controller.Register("sim", func(o controller.Options) (controller.Controller, error) {
		return New(Options{KeepAliveUnit: o.KeepAliveUnit}), nil
	})
}
