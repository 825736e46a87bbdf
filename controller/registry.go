// The registry lets a program choose controllers and driver runtimes by
// name without importing them: each concrete package registers itself from
// an init function, and only the program's main package imports the ones
// it offers.
package controller

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options are what a run tells every kind of controller it makes.
type Options struct {
	// KeepAliveUnit is the length of one keep-alive second on the run's
	// clock (the run's time scale); 0 means a second. A controller with a
	// clock of its own may ignore it.
	KeepAliveUnit time.Duration
	// Model names the libmosquitto release a model follows
	// (controller.Models); "" is DefaultModel. A controller that is
	// libmosquitto itself, or real hardware, ignores it.
	Model string
	// Network, when set, is the network the controller's clients dial and
	// look host names up on instead of the host's: an in-memory one
	// (emulator/memnet) for runs on virtual time. A kind of controller
	// that cannot use it refuses to start rather than use real sockets.
	Network Network
}

// Network is a network other than the host's, as a controller's clients
// use it: memnet.Network is one.
type Network interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Factory makes one controller.
type Factory func(Options) (Controller, error)

var registry = struct {
	sync.Mutex
	controllers map[string]Factory
	drivers     map[string]DriverFactory
}{controllers: map[string]Factory{}, drivers: map[string]DriverFactory{}}

// Register makes a kind of controller available by name. Registering a
// name twice is a programming error and panics.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	add(registry.controllers, "controller", name, f)
}

// Lookup finds a registered kind of controller.
func Lookup(name string) (Factory, bool) {
	registry.Lock()
	defer registry.Unlock()
	f, ok := registry.controllers[name]
	return f, ok
}

// New makes a controller of a registered kind.
func New(name string, opts Options) (Controller, error) {
	f, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("controller %q: this build has %s", name, strings.Join(Names(), ", "))
	}
	return f(opts)
}

// Names lists the registered kinds of controller, sorted.
func Names() []string {
	registry.Lock()
	defer registry.Unlock()
	return sortedKeys(registry.controllers)
}

// RegisterDriver makes a driver runtime available by name. Registering a
// name twice is a programming error and panics.
func RegisterDriver(name string, f DriverFactory) {
	registry.Lock()
	defer registry.Unlock()
	add(registry.drivers, "driver runtime", name, f)
}

func add[V any](m map[string]V, kind, name string, v V) {
	if _, dup := m[name]; dup {
		panic("controller: " + kind + " " + name + " registered twice")
	}
	m[name] = v
}

// NewDriver starts a driver runtime of a registered kind.
func NewDriver(name string, opts DriverOptions) (Driver, error) {
	registry.Lock()
	f, ok := registry.drivers[name]
	names := sortedKeys(registry.drivers)
	registry.Unlock()
	if !ok {
		if len(names) == 0 {
			return nil, fmt.Errorf("driver runtime %q: this build has none (import controller/lua)", name)
		}
		return nil, fmt.Errorf("driver runtime %q: this build has %s", name, strings.Join(names, ", "))
	}
	return f(opts)
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
