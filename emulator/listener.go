package emulator

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/mqtthil/mqtthil/emulator/faults/wire"
)

// mochiListener hands a net.Listener's connections to mochi, like mochi's
// own listeners.Net, and also knows when mochi is done with each of them.
// Broker.Close waits for that before stopping the server: mochi 2.7.9 can
// deadlock when a client is removed while the server closes its listeners
// (Clients.GetByListener takes its read lock twice).
type mochiListener struct {
	id    string
	inner net.Listener
	// event reports accept trouble: a temporary error being waited out
	// (retrying), accepting again (err nil), or the end of the listener.
	event func(id string, err error, retrying bool)

	backoff wire.AcceptBackoff
	done    chan struct{} // closed by shutdown
	stopped chan struct{} // closed when Serve ends on an error
	stopErr error         // under mu

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newMochiListener(id string, inner net.Listener, event func(string, error, bool)) *mochiListener {
	return &mochiListener{id: id, inner: inner, event: event, conns: make(map[net.Conn]struct{}),
		done: make(chan struct{}), stopped: make(chan struct{})}
}

// Err is the accept error that ended the listener, nil while it serves.
func (m *mochiListener) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopErr
}

func (m *mochiListener) ID() string              { return m.id }
func (m *mochiListener) Address() string         { return m.inner.Addr().String() }
func (m *mochiListener) Protocol() string        { return "tcp" }
func (m *mochiListener) Init(*slog.Logger) error { return nil }

func (m *mochiListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := m.inner.Accept()
		if err != nil {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			if wire.Temporary(err) {
				if !m.backoff.Backing() {
					m.event(m.id, err, true)
				}
				if _, ok := m.backoff.Wait(m.done); !ok {
					return
				}
				continue
			}
			m.mu.Lock()
			m.stopErr = err
			m.mu.Unlock()
			close(m.stopped)
			m.event(m.id, err, false)
			return
		}
		if m.backoff.Backing() {
			m.backoff.Reset()
			m.event(m.id, nil, false)
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			conn.Close()
			return
		}
		m.conns[conn] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go func() {
			defer m.wg.Done()
			_ = establish(m.id, conn) // mochi logs and journals what went wrong
			conn.Close()
			m.mu.Lock()
			delete(m.conns, conn)
			m.mu.Unlock()
		}()
	}
}

// shutdown stops accepting, closes every connection and waits, up to
// timeout, for mochi to finish with them. It reports whether they all
// finished.
func (m *mochiListener) shutdown(timeout time.Duration) bool {
	m.mu.Lock()
	if !m.closed {
		close(m.done)
	}
	m.closed = true
	conns := make([]net.Conn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	m.inner.Close()
	for _, c := range conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Close is mochi's call when the server stops; by then shutdown has run.
func (m *mochiListener) Close(closeClients listeners.CloseFn) {
	closeClients(m.id)
	m.inner.Close()
}

// spoolingListener gives each connection it accepts a backlog in front of
// its socket (wire.Spooled), as the fault layer gives the DUT listener's:
// mochi's outbound queue is short for every client.
type spoolingListener struct {
	net.Listener
	writes, bytes int
}

func (l spoolingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wire.Spooled(c, l.writes, l.bytes), nil
}
