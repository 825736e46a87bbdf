// The scenario's broker: its options while steps set it up, then the
// running broker the clients connect to.
package steps

import (
	"fmt"

	"github.com/mqtthil/mqtthil/emulator"
)

// brokerPart is the scenario's broker.
type brokerPart struct {
	bopts  emulator.Options // what steps set before it starts
	b      *emulator.Broker // nil until first needed
	rules  int              // fault rules armed by steps, to name each
	armed  []*armedRule     // every fault rule armed, with how often it fired
	tlsDir string           // the scenario's throw-away CA and certificates, when the broker speaks TLS
}

// broker starts the scenario's broker on first use.
func (w *World) broker() (*emulator.Broker, error) {
	if w.b != nil {
		return w.b, nil
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	b, err := emulator.Start(ctx, w.bopts)
	if err != nil {
		w.harness = fmt.Errorf("%w: starting the broker: %v", ErrHarness, err)
		return nil, w.harness
	}
	w.b = b
	return b, nil
}

// brokerNotStarted refuses settings that only apply before the broker runs.
func (p *brokerPart) brokerNotStarted(what string) error {
	if p.b != nil {
		return fmt.Errorf("%s must be set before any client connects or any fault is armed", what)
	}
	return nil
}

func (w *World) dutHostPort() (string, int, error) {
	b, err := w.broker()
	if err != nil {
		return "", 0, err
	}
	host, port, err := splitHostPort(b.DUTAddr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: the broker's listener address %q: %v", ErrHarness, b.DUTAddr, err)
	}
	if w.opts.DUTHost != "" {
		host = w.opts.DUTHost
	}
	return host, port, nil
}

// clientOnBroker is the MQTT client id a name stands for and the broker.
// A name no step made a client for may be the client id of a client the
// scenario runs without making it itself, a driver's: the broker must know
// that id.
func (w *World) clientOnBroker(name string) (string, *emulator.Broker, error) {
	b, err := w.broker()
	if err != nil {
		return "", nil, err
	}
	if cl, ok := w.clients[name]; ok {
		return cl.id, b, nil
	}
	if _, ok := b.Server().Clients.Get(name); ok {
		return name, b, nil
	}
	_, err = w.client(name)
	return "", nil, fmt.Errorf("%w, and no client with that id has connected to the broker", err)
}
