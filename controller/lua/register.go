// Registers the Lua runtime by name, as a controller (every client call made
// by Lua code against the C4 shim) and as the runtime drivers run in.
package lua

import (
	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

func init() {
	controller.Register("lua", func(o controller.Options) (controller.Controller, error) {
		m, err := controller.LookupModel(o.Model)
		if err != nil {
			return nil, err
		}
		so := sim.Options{KeepAliveUnit: o.KeepAliveUnit, Model: m}
		if o.Network != nil {
			// The MQTT clients dial it; the driver's own network
			// functions (C4:CreateNetworkConnection, C4:urlGet) still
			// use real sockets.
			so.Dial, so.Resolver = o.Network.DialContext, o.Network
		}
		return NewController(Options{Sim: so})
	})
	controller.RegisterDriver("lua", func(o controller.DriverOptions) (controller.Driver, error) {
		return NewDriverHost(o)
	})
}
