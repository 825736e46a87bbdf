// Package sim is the simulated controller: a pure-Go model of the
// controller's MQTT client, following libmosquitto 2.0.11 as described in
// docs/publish-semantics.md. It speaks MQTT 3.1, 3.1.1 and 5 over TCP or
// TLS, written on mochi-mqtt's packets codec.
//
// Calls return first; callbacks follow on the client's own event loop, one
// at a time and in order, as on the controller.
package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/internal/clientset"
)

// Error codes, as the calls return them.
const (
	errSuccess           = controller.ErrSuccess
	errProtocol          = controller.ErrProtocol
	errInval             = controller.ErrInval
	errNoConn            = controller.ErrNoConn
	errConnRefused       = controller.ErrConnRefused
	errConnLost          = controller.ErrConnLost
	errTLS               = controller.ErrTLS
	errPayloadSize       = controller.ErrPayloadSize
	errNotSupported      = controller.ErrNotSupported
	errErrno             = controller.ErrErrno
	errEAI               = controller.ErrEAI
	errMalformedUTF8     = controller.ErrMalformedUTF8
	errKeepalive         = controller.ErrKeepalive
	errMalformedPacket   = controller.ErrMalformedPacket
	errDuplicateProperty = controller.ErrDuplicateProperty
	errQoSNotSupported   = controller.ErrQoSNotSupported
	errOversizePacket    = controller.ErrOversizePacket
)

// Options tune the model for tests. The zero value is the controller.
type Options struct {
	// KeepAliveUnit is the length of one keep-alive "second"; tests shrink
	// it to see keep-alive behaviour in milliseconds. Default time.Second.
	KeepAliveUnit time.Duration
	// DialTimeout bounds the TCP connect and TLS handshake. Default 30 s.
	DialTimeout time.Duration
	// Model is the libmosquitto release the client follows where
	// releases differ; the zero value is controller.DefaultModel.
	Model controller.Model
	// Resolver looks up host names inside Connect and Reconnect, as the
	// library does; nil is the Go runtime's resolver.
	Resolver interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	}
	// Dial opens the connection to one of the host's addresses, bounded
	// by ctx (DialTimeout); nil dials TCP. With an in-memory network's
	// DialContext and its resolver (memnet.Network serves both), the
	// client stays off the host's network, as a synctest bubble needs.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Controller is the simulated controller.
type Controller struct {
	opts    Options
	clients clientset.Set[*Client]
}

// New returns a simulated controller.
func New(opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.KeepAliveUnit <= 0 {
		o.KeepAliveUnit = time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 30 * time.Second
	}
	if o.Model.Version == "" {
		o.Model = controller.MustModel(controller.DefaultModel)
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Dial == nil {
		o.Dial = new(net.Dialer).DialContext
	}
	return &Controller{opts: o}
}

var _ controller.Controller = (*Controller)(nil)

// Identity reports the model as such.
func (c *Controller) Identity() controller.Identity {
	return controller.Identity{
		Kind:          "sim",
		Model:         "simulated controller",
		Firmware:      c.opts.Model.Name + " model",
		DriverVersion: "sim",
	}
}

// NewClient creates a client object like C4:MQTT(clientId, cleanSession).
// An empty clientID means none was given; then cleanSession must be true.
func (c *Controller) NewClient(clientID string, cleanSession bool) (controller.Client, error) {
	return c.newClient(clientID, cleanSession)
}

// NewClientEmptyID is C4:MQTT("", cleanSession): the controller's binding
// takes an empty id for none, so the object is the one NewClient("")
// makes.
func (c *Controller) NewClientEmptyID(cleanSession bool) (controller.Client, error) {
	return c.newClient("", cleanSession)
}

// NewSimClient is NewClient returning the concrete type.
func (c *Controller) NewSimClient(clientID string, cleanSession bool) (*Client, error) {
	return c.newClient(clientID, cleanSession)
}

func (c *Controller) newClient(clientID string, cleanSession bool) (*Client, error) {
	if clientID == "" && !cleanSession {
		return nil, errors.New("sim: a client without an id must use a clean session (invalid arguments)")
	}
	if clientID != "" && (len(clientID) > 65535 || !validUTF8(clientID)) {
		return nil, errors.New("sim: client id is not valid UTF-8 (malformed UTF-8)")
	}
	cl, err := c.clients.Add(func() (*Client, error) { return newClient(c, clientID, cleanSession), nil })
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return cl, nil
}

func (c *Controller) forget(cl *Client) { c.clients.Forget(cl) }

// Close destroys every client object.
func (c *Controller) Close() error {
	c.clients.Close()
	return nil
}
