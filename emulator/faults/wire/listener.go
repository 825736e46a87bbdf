// The listener of the device under test, with bounce (restart) support.
package wire

import (
	"github.com/mqtthil/mqtthil/emulator/faults"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtthil/mqtthil/emulator/journal"
)

// Listener wraps the device-under-test listener. Every connection it
// accepts is a Conn that applies the rule set and writes the journal. It can
// be bounced (closed and re-opened on the same address) without mochi
// noticing: while it is down, Accept waits instead of failing, because a
// mochi listener whose Accept fails stops serving for good.
type Listener struct {
	set     *faults.Set
	journal *journal.Journal
	addr    net.Addr
	ids     atomic.Uint64

	mu     sync.Mutex
	inner  net.Listener // nil while down
	up     chan struct{}
	conns  map[*Conn]struct{}
	closed bool
	done   chan struct{}

	// Accept errors: temporary ones are waited out; any other stops the
	// listener, which stopped then reports.
	backoff AcceptBackoff
	stopped chan struct{}
	stopErr error
	log     *slog.Logger // accept trouble, besides the journal; nil: none
	limits  Limits
	// listen binds the address again after a bounce: the network the
	// first listener came from (real sockets unless SetListen says).
	listen ListenFunc
}

// ListenFunc binds a listener, as net.ListenConfig.Listen does; an
// in-memory network offers one of the same shape.
type ListenFunc func(ctx context.Context, network, address string) (net.Listener, error)

// SetListen sets how the listener binds its address again after a bounce;
// by default a real socket. Call it before serving.
func (l *Listener) SetListen(f ListenFunc) {
	if f != nil {
		l.listen = f
	}
}

// Limits bound what one connection may cost before and after it logs in.
// Zero fields take the defaults.
type Limits struct {
	// ConnectTimeout closes a connection that has not sent a whole
	// CONNECT by then (default DefaultConnectTimeout; negative: never).
	ConnectTimeout time.Duration
	// PreConnect is the largest packet taken before CONNECT (default
	// DefaultPreConnect): a CONNECT is small, and nobody has logged in.
	PreConnect int
	// MaxPacket is the broker's Maximum Packet Size, enforced from the
	// fixed header before the body is read (0: only Held bounds it).
	MaxPacket int
	// Held bounds the bytes of packets the fault layer holds for one
	// connection at a time: one packet being read, and packets queued
	// behind a delay or stall (default DefaultHeld). Past it the
	// connection is closed. It also bounds the bytes written towards
	// the client that its socket has not taken yet.
	Held int
	// Writes bounds the writes towards the client that its socket has
	// not taken yet (default DefaultBacklogWrites); past it, or past
	// Held bytes, the broker's write waits.
	Writes int
}

// Defaults of Limits.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultPreConnect     = 64 << 10
	DefaultHeld           = 32 << 20
)

func (lim Limits) withDefaults() Limits {
	if lim.ConnectTimeout == 0 {
		lim.ConnectTimeout = DefaultConnectTimeout
	}
	if lim.PreConnect <= 0 {
		lim.PreConnect = DefaultPreConnect
	}
	if lim.Held <= 0 {
		lim.Held = DefaultHeld
	}
	return lim
}

// SetLimits sets the per-connection limits; call it before serving.
func (l *Listener) SetLimits(lim Limits) { l.limits = lim.withDefaults() }

// NewListener applies set to every connection accepted on inner and
// records them in j.
func NewListener(inner net.Listener, set *faults.Set, j *journal.Journal) *Listener {
	up := make(chan struct{})
	close(up)
	return &Listener{
		set:     set,
		journal: j,
		addr:    inner.Addr(),
		inner:   inner,
		up:      up,
		conns:   make(map[*Conn]struct{}),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		limits:  Limits{}.withDefaults(),
		listen:  new(net.ListenConfig).Listen,
	}
}

// Accept waits for the next connection; while the listener is bounced it
// waits for it to come back.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		inner, up := l.inner, l.up
		l.mu.Unlock()
		if inner == nil {
			select {
			case <-up:
				continue
			case <-l.done:
				return nil, net.ErrClosed
			}
		}
		raw, err := inner.Accept()
		if err != nil {
			l.mu.Lock()
			closed, bounced := l.closed, l.inner != inner
			l.mu.Unlock()
			if closed {
				return nil, net.ErrClosed
			}
			if bounced || errors.Is(err, net.ErrClosed) {
				continue
			}
			if Temporary(err) {
				if !l.backoff.Backing() {
					l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "accept", Cause: "accepting fails, retrying with backoff: " + err.Error()})
					if l.log != nil {
						l.log.Warn("DUT listener: accepting fails, retrying with backoff", "error", err)
					}
				}
				if _, ok := l.backoff.Wait(l.done); !ok {
					return nil, net.ErrClosed
				}
				continue
			}
			l.stop(err)
			return nil, err
		}
		if l.backoff.Backing() {
			l.backoff.Reset()
			l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "accept", Cause: "accepting again"})
			if l.log != nil {
				l.log.Info("DUT listener: accepting again", "retries", l.backoff.Retries.Load())
			}
		}
		c := newConn(raw, l, l.ids.Add(1))
		l.mu.Lock()
		if l.closed || l.inner != inner {
			l.mu.Unlock()
			c.closeWith("listener restarting")
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		c.start()
		return c, nil
	}
}

// stop records that the listener ended on an error it cannot wait out.
func (l *Listener) stop(err error) {
	l.mu.Lock()
	if l.stopErr != nil {
		l.mu.Unlock()
		return
	}
	l.stopErr = err
	close(l.stopped)
	l.mu.Unlock()
	l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "accept", Cause: "listener stopped: " + err.Error()})
	if l.log != nil {
		l.log.Error("DUT listener stopped", "error", err)
	}
}

// SetLogger makes the listener log accept trouble to log as well as
// journal it. Call it before serving.
func (l *Listener) SetLogger(log *slog.Logger) { l.log = log }

// Stopped is closed when the listener has ended on an accept error it
// could not wait out; Err says which. Close does not close it.
func (l *Listener) Stopped() <-chan struct{} { return l.stopped }

// Err is the accept error that stopped the listener, nil while it serves.
func (l *Listener) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopErr
}

// AcceptRetries is the number of temporary accept errors waited out.
func (l *Listener) AcceptRetries() uint64 { return l.backoff.Retries.Load() }

func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Addr is the address the listener is bound to; it stays the same across
// bounces.
func (l *Listener) Addr() net.Addr { return l.addr }

// Up returns a channel that is closed while the listener accepts
// connections: after a Bounce, it is closed again when the listener is back.
func (l *Listener) Up() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// Conns is the number of open connections.
func (l *Listener) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Bounce closes the listener and every connection on it at once, and opens
// it again on the same address after downFor. It returns without waiting
// for the listener to come back; Up tells when it has.
func (l *Listener) Bounce(downFor time.Duration, cause string) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	if l.inner == nil {
		l.mu.Unlock()
		return errors.New("the listener is down already")
	}
	old := l.inner
	l.inner = nil
	up := make(chan struct{})
	l.up = up
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()

	// Closing fails only for a listener closed already: down, as wanted.
	_ = old.Close()
	l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "restart", Cause: fmt.Sprintf("listener down for %s: %s", downFor, cause)})
	for _, c := range conns {
		c.closeWith("listener restart")
	}
	go l.reopen(downFor, up)
	return nil
}

// reopen binds the address again once downFor has passed. Binding can fail
// for a moment while the old socket is torn down, so it retries for a while.
func (l *Listener) reopen(downFor time.Duration, up chan struct{}) {
	t := time.NewTimer(downFor)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.done:
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nl, err := l.listen(context.Background(), l.addr.Network(), l.addr.String())
		if err == nil {
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				_ = nl.Close() // never served; nothing to report to
				return
			}
			l.inner = nl
			close(up)
			l.mu.Unlock()
			l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "restart", Cause: "listener up again"})
			return
		}
		if time.Now().After(deadline) {
			l.journal.Add(journal.Record{Kind: journal.KindFault, Action: "restart", Cause: "could not re-open the listener: " + err.Error()})
			return
		}
		retry := time.NewTimer(20 * time.Millisecond)
		select {
		case <-retry.C:
		case <-l.done:
			retry.Stop()
			return
		}
	}
}

// Close stops the listener for good and closes every connection.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	inner := l.inner
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	var err error
	if inner != nil {
		err = inner.Close()
	}
	for _, c := range conns {
		c.closeWith("broker stopped")
	}
	return err
}
