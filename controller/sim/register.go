// Registers the simulated controller by name, so that programs choose it
// through the controller package's registry.
package sim

import (
	"fmt"

	"github.com/mqtthil/mqtthil/controller"
)

func init() {
	controller.Register("sim", func(o controller.Options) (controller.Controller, error) {
		m, err := controller.LookupModel(o.Model)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		so := Options{KeepAliveUnit: o.KeepAliveUnit, Model: m}
		if o.Network != nil {
			so.Dial, so.Resolver = o.Network.DialContext, o.Network
		}
		return New(so), nil
	})
}
