// sockConn is the socket plumbing shared by network bindings, TCP clients
// and server sockets: a reader goroutine that posts what arrives to the
// loop, a writer goroutine that sends queued bytes in order, and a close
// hook so both end when the runtime closes. Lua is only ever touched from
// the callbacks, which run on the loop.
package lua

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type sockConn struct {
	r *Runtime
	c net.Conn

	// Loop side: set before start, called on the loop.
	onData    func([]byte)
	onWritten func()
	onClosed  func(err error) // once, unless the driver closed it
	gone      bool            // the driver closed it; no more callbacks

	mu       sync.Mutex
	queue    [][]byte
	flushEnd bool // close once the queue is empty
	stopped  bool
	sig      chan struct{}
	unhook   func()

	// written counts writes that completed but whose onWritten has not run
	// yet. The writer's own post can reach the loop after the reader's
	// (the peer's answer to those bytes, or the end of the stream), so
	// every loop callback reports finished writes first: a driver sees
	// OnWrite before the reply it caused, and never loses one to a close.
	written  atomic.Int64
	inflight chan struct{} // under mu; closed when the write in progress returns
}

// writeSettle bounds how long the reader holds what it read while a write
// is in progress. The peer's answer can wake the reader before the writer
// goroutine is scheduled again after its write returned; waiting for the
// writer keeps OnWrite ahead of that answer, as on a controller whose one
// event loop does both. A write that blocks (a peer that is not reading)
// must not hold incoming data back, hence the bound.
const writeSettle = 100 * time.Millisecond

// awaitWrite waits, up to writeSettle, for a write in progress to return.
func (s *sockConn) awaitWrite() {
	s.mu.Lock()
	done := s.inflight
	s.mu.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(writeSettle)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func newSockConn(r *Runtime, c net.Conn) *sockConn {
	return &sockConn{r: r, c: c, sig: make(chan struct{}, 1)}
}

// start begins reading and writing; false when the runtime is closing.
func (s *sockConn) start() bool {
	st := s.r.ioOf()
	s.unhook = st.onClose(s.stop)
	if !st.goIO(s.readLoop) {
		s.stop()
		return false
	}
	if !st.goIO(s.writeLoop) {
		s.stop()
		return false
	}
	return true
}

func (s *sockConn) readLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.c.Read(buf)
		s.awaitWrite()
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			s.r.post(func() {
				s.reportWritten()
				if !s.gone && s.onData != nil {
					s.onData(data)
				}
			})
		}
		if err != nil {
			s.stop()
			s.r.post(func() {
				s.reportWritten()
				if !s.gone && s.onClosed != nil {
					s.gone = true
					s.onClosed(err)
				}
			})
			return
		}
	}
}

func (s *sockConn) writeLoop() {
	for range s.sig {
		for {
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			if len(s.queue) == 0 {
				end := s.flushEnd
				s.mu.Unlock()
				if end {
					s.stop()
					return
				}
				break
			}
			b := s.queue[0]
			s.queue = s.queue[1:]
			done := make(chan struct{})
			s.inflight = done
			s.mu.Unlock()
			_, err := s.c.Write(b)
			if err == nil {
				s.written.Add(1)
				s.r.post(s.reportWritten)
			}
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(done)
			if err != nil {
				s.stop()
				return
			}
		}
	}
}

// reportWritten runs onWritten once for every write finished so far; on
// the loop.
func (s *sockConn) reportWritten() {
	for n := s.written.Swap(0); n > 0; n-- {
		if s.gone || s.onWritten == nil {
			return
		}
		s.onWritten()
	}
}

// signalLocked wakes the writer; the caller holds mu, so that stop cannot
// close sig in between.
func (s *sockConn) signalLocked() {
	if s.stopped {
		return
	}
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

// write queues b; the writer sends it after what was queued before.
func (s *sockConn) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped && !s.flushEnd {
		s.queue = append(s.queue, b)
	}
	s.signalLocked()
}

// close is the driver closing the socket (from the loop): no more
// callbacks. With flush, queued bytes are sent first.
func (s *sockConn) close(flush bool) {
	s.gone = true
	s.shutdown(flush)
}

// shutdown closes the socket and still reports the end through onClosed
// (server sockets tell the driver about connections they close).
func (s *sockConn) shutdown(flush bool) {
	if flush {
		s.mu.Lock()
		s.flushEnd = true
		s.signalLocked()
		s.mu.Unlock()
		return
	}
	s.stop()
}

// stop closes the connection and ends both goroutines; any goroutine may
// call it, more than once.
func (s *sockConn) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.sig)
	s.mu.Unlock()
	s.c.Close()
	if s.unhook != nil {
		s.unhook()
	}
}

// acceptLoop accepts connections on ln until it closes (by the driver or
// when the runtime closes) and hands each to accepted on the loop. A
// connection accepted while the runtime closes is closed.
func (r *Runtime) acceptLoop(ln net.Listener, accepted func(net.Conn)) {
	st := r.ioOf()
	unhook := st.onClose(func() { ln.Close() })
	if !st.goIO(func() {
		defer unhook()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !r.post(func() { accepted(c) }) {
				c.Close()
			}
		}
	}) {
		ln.Close()
	}
}

// splitter cuts a byte stream into frames ending with delim (kept in the
// frame, as CreateServer documents); an empty delim passes data through.
type splitter struct {
	delim []byte
	buf   []byte
}

func (sp *splitter) push(data []byte) [][]byte {
	if len(sp.delim) == 0 {
		return [][]byte{data}
	}
	sp.buf = append(sp.buf, data...)
	var out [][]byte
	for {
		i := bytes.Index(sp.buf, sp.delim)
		if i < 0 {
			return out
		}
		end := i + len(sp.delim)
		out = append(out, append([]byte(nil), sp.buf[:end]...))
		sp.buf = sp.buf[end:]
	}
}

// errnoOf is the system error number behind err (the codes TCP client
// OnError reports), or 0 for a graceful end of stream.
func errnoOf(err error) int {
	var errno syscall.Errno
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return 0
	case errors.As(err, &errno):
		return int(errno)
	case errors.Is(err, net.ErrClosed):
		return int(syscall.ECONNABORTED)
	}
	return int(syscall.EIO)
}
