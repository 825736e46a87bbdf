// Registers the remote controller by name. It cannot be made from the
// run's options alone: a program that offers it sets it up from a station
// (Station, NewVirtual, DialWait) and uses the registry entry only to list
// and validate the name.
package remote

import (
	"errors"

	"github.com/mqtthil/mqtthil/controller"
)

func init() {
	controller.Register("remote", func(o controller.Options) (controller.Controller, error) {
		if o.Network != nil {
			return nil, errors.New("the remote controller cannot use an in-memory network: it talks to hardware over real sockets")
		}
		return nil, errors.New("the remote controller needs --station")
	})
}
