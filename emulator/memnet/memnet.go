// Package memnet is an in-memory network: listeners, dialers and a name
// resolver that never touch a socket. Its connections are buffered pipes
// with deadlines, so a writer runs ahead of its reader as it would on TCP
// (net.Pipe does not: every write waits for a read).
//
// Everything that waits (a read for bytes, a write for room, Accept for a
// connection, a deadline) waits on a channel of the connection or listener.
// Inside a testing/synctest bubble that is durable blocking: a scenario
// whose broker and clients all talk over one Network lets the bubble's fake
// clock jump over every keep-alive, delay and time-out, and runs the same
// way every time. Outside a bubble it is an ordinary fast loopback.
//
// Addresses look like TCP ones ("127.0.0.1:20001") so that code which
// splits or prints them works unchanged; a port belongs to one listener at
// a time, whatever host it was bound on.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// Defaults of a Network.
const (
	// DefaultBuffer is how many bytes one direction of a connection holds
	// before a writer waits for the reader, about a loopback socket's.
	DefaultBuffer = 64 << 10
	// Backlog is how many dialled connections a listener holds before
	// Accept takes them; past it, dialling is refused, as a full SYN
	// queue would eventually refuse.
	Backlog = 1024

	firstPort      = 20000 // listeners' ports are given from here
	firstEphemeral = 50000 // dialers' own ports are given from here
	lastPort       = 65535
)

// Network is one in-memory network. Its zero value is not ready: use New.
// It is safe for use by many goroutines, and by many bubbles as long as
// each connection and listener stays inside the bubble that made it (a
// listener made in one bubble cannot be dialled from another).
type Network struct {
	buffer int

	mu        sync.Mutex
	listeners map[int]*Listener // by port
	nextPort  int
	nextEph   int
}

// New returns an empty network whose connections buffer DefaultBuffer
// bytes each way.
func New() *Network { return NewBuffered(DefaultBuffer) }

// NewBuffered returns an empty network whose connections buffer size
// bytes each way (at least 1).
func NewBuffered(size int) *Network {
	return &Network{buffer: max(size, 1), listeners: map[int]*Listener{}, nextPort: firstPort, nextEph: firstEphemeral}
}

// Listen binds a listener to address ("host:port"; port 0 picks a free
// one). network must be "tcp", "tcp4" or "tcp6". Its signature is
// net.ListenConfig.Listen's, so it can stand in for it.
func (n *Network) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	l, err := n.listen(network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (n *Network) listen(network, address string) (*Listener, error) {
	if err := checkNetwork(network); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	host, port, err := splitAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	ip, err := n.hostIP(host, true)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if port == 0 {
		if port = n.freePortLocked(); port == 0 {
			return nil, &net.OpError{Op: "listen", Net: network, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
		}
	} else if _, busy := n.listeners[port]; busy {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: tcpAddr(ip, port), Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	l := &Listener{
		n:       n,
		addr:    tcpAddr(ip, port),
		any:     ip.IsUnspecified(),
		backlog: make(chan *Conn, Backlog),
		done:    make(chan struct{}),
	}
	n.listeners[port] = l
	return l, nil
}

// freePortLocked finds a port no listener holds; 0 when every one is taken.
func (n *Network) freePortLocked() int {
	for range lastPort - firstPort + 1 {
		p := n.nextPort
		n.nextPort++
		if n.nextPort > lastPort {
			n.nextPort = firstPort
		}
		if _, busy := n.listeners[p]; !busy {
			return p
		}
	}
	return 0
}

// DialContext connects to a listener of the network. A host name is
// looked up with LookupHost. Nothing listening on the port, or a listener
// bound to another host, refuses the connection (ECONNREFUSED), as TCP
// does. Its signature is net.Dialer.DialContext's.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	opErr := func(addr net.Addr, err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	if err := checkNetwork(network); err != nil {
		return nil, opErr(nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(nil, err)
	}
	host, port, err := splitAddr(address)
	if err != nil {
		return nil, opErr(nil, err)
	}
	ip, err := n.hostIP(host, false)
	if err != nil {
		return nil, opErr(nil, err)
	}
	to := tcpAddr(ip, port)
	refused := opErr(to, os.NewSyscallError("connect", syscall.ECONNREFUSED))
	n.mu.Lock()
	l := n.listeners[port]
	from := n.nextEph
	n.nextEph++
	if n.nextEph > lastPort {
		n.nextEph = firstEphemeral
	}
	n.mu.Unlock()
	if l == nil || (!l.any && !sameHost(l.addr.AddrPort().Addr(), ip)) {
		return nil, refused
	}
	local := tcpAddr(loopbackFor(ip), from)
	client, server := pipe(n.buffer, local, l.addr)
	if !l.enqueue(server) {
		return nil, refused
	}
	return client, nil
}

// Dial is DialContext without a context.
func (n *Network) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

// LookupHost resolves what the network knows: an IP address is itself,
// "localhost" is 127.0.0.1, and any other name does not exist (a
// *net.DNSError with IsNotFound). No name server is asked: a lookup inside
// a bubble must not leave it.
func (n *Network) LookupHost(ctx context.Context, host string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsTimeout: errors.Is(err, context.DeadlineExceeded)}
	}
	ip, err := n.hostIP(host, false)
	if err != nil {
		return nil, err
	}
	return []string{ip.String()}, nil
}

// hostIP is the address a host stands for; "" (listening only) is every
// address.
func (n *Network) hostIP(host string, listening bool) (netip.Addr, error) {
	switch host {
	case "":
		if listening {
			return netip.IPv4Unspecified(), nil
		}
		return netip.Addr{}, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	case "localhost":
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ip.Unmap(), nil
}

func (n *Network) forget(l *Listener) {
	n.mu.Lock()
	if n.listeners[l.addr.Port] == l {
		delete(n.listeners, l.addr.Port)
	}
	n.mu.Unlock()
}

// Listener is a bound in-memory listener.
type Listener struct {
	n    *Network
	addr *net.TCPAddr
	any  bool // bound to the unspecified address: every host reaches it

	mu      sync.Mutex // orders enqueue against Close
	closed  bool
	backlog chan *Conn
	done    chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// enqueue hands a dialled connection to Accept; false if the listener is
// closed or its backlog full.
func (l *Listener) enqueue(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	select {
	case l.backlog <- c:
		return true
	default:
		return false
	}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.backlog:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close unbinds the listener; connections dialled but not yet accepted
// are reset, as the kernel resets them when a listening socket closes.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	l.n.forget(l)
	for {
		select {
		case c := <-l.backlog:
			c.reset()
		default:
			return nil
		}
	}
}

// Addr is where the listener is bound, a *net.TCPAddr.
func (l *Listener) Addr() net.Addr { return l.addr }

func checkNetwork(network string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return net.UnknownNetworkError(network)
}

func splitAddr(address string) (string, int, error) {
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > lastPort {
		return "", 0, fmt.Errorf("address %s: invalid port", address)
	}
	return host, port, nil
}

func tcpAddr(ip netip.Addr, port int) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
}

// sameHost reports whether a dial to b reaches a listener bound to a:
// every loopback address reaches a loopback listener.
func sameHost(a, b netip.Addr) bool {
	return a == b || (a.IsLoopback() && b.IsLoopback())
}

// loopbackFor is the dialer's own address: loopback of the same family.
func loopbackFor(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}
