// The two ends of an in-memory connection: a bounded byte stream each way,
// deadlines, and the ways a connection ends (close, reset).
package memnet

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stream is one direction of a connection: bytes written by one end and
// not yet read by the other.
type stream struct {
	size int

	mu      sync.Mutex
	buf     bytes.Buffer
	wclosed bool // the writing end closed: the reader drains, then EOF
	rclosed bool // the reading end closed: what is written is discarded
	wreset  bool // the writing end reset: reads fail at once
	rreset  bool // the reading end reset: writes fail at once

	// Tokens, never closed: data (or the end) for the reader, room (or a
	// reader gone) for the writer. A waiter that takes one and leaves
	// something behind passes it on, so several waiters all wake.
	data chan struct{}
	room chan struct{}
}

func newStream(size int) *stream {
	return &stream{size: size, data: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Conn is one end of an in-memory connection. It is a net.Conn; writes
// block while the peer's buffer is full, reads while it is empty, each
// until its deadline.
type Conn struct {
	local, remote net.Addr
	in, out       *stream // in: what the peer wrote to us; out: what we write

	rdl, wdl *deadline

	closeOnce sync.Once
	closed    chan struct{}
	linger0   atomic.Bool // Close resets instead of closing
}

var _ net.Conn = (*Conn)(nil)

// pipe makes a connected pair: client (at local) and server (at remote).
func pipe(size int, local, remote net.Addr) (client, server *Conn) {
	up, down := newStream(size), newStream(size)
	client = &Conn{local: local, remote: remote, in: down, out: up, rdl: makeDeadline(), wdl: makeDeadline(), closed: make(chan struct{})}
	server = &Conn{local: remote, remote: local, in: up, out: down, rdl: makeDeadline(), wdl: makeDeadline(), closed: make(chan struct{})}
	return client, server
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Read reads what the peer wrote, waiting for it until the read deadline.
// Once the peer has closed and everything is read it returns io.EOF; after
// a reset, ECONNRESET.
func (c *Conn) Read(b []byte) (int, error) {
	s := c.in
	for {
		if isClosed(c.closed) {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if isClosed(c.rdl.wait()) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		switch {
		case s.wreset:
			s.mu.Unlock()
			signal(s.data)
			return 0, c.opErr("read", os.NewSyscallError("read", syscall.ECONNRESET))
		case s.buf.Len() > 0:
			if len(b) == 0 {
				s.mu.Unlock()
				return 0, nil
			}
			n, _ := s.buf.Read(b) // cannot fail: bytes are buffered
			more := s.buf.Len() > 0
			if !more && s.buf.Cap() > 4*s.size {
				s.buf = bytes.Buffer{} // let a burst's memory go
			}
			s.mu.Unlock()
			signal(s.room)
			if more {
				signal(s.data)
			}
			return n, nil
		case s.wclosed:
			s.mu.Unlock()
			signal(s.data)
			return 0, io.EOF
		}
		s.mu.Unlock()
		select {
		case <-s.data:
		case <-c.closed:
		case <-c.rdl.wait():
		}
	}
}

// Write writes b for the peer, waiting for room until the write deadline.
// What is written after the peer has closed is discarded, as a socket
// takes it into its buffer before the peer's reset comes back; after the
// peer reset the connection, writing fails with ECONNRESET.
func (c *Conn) Write(b []byte) (int, error) {
	s := c.out
	n := 0
	for {
		if isClosed(c.closed) {
			return n, c.opErr("write", net.ErrClosed)
		}
		if isClosed(c.wdl.wait()) {
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		s.mu.Lock()
		if s.rreset {
			s.mu.Unlock()
			return n, c.opErr("write", os.NewSyscallError("write", syscall.ECONNRESET))
		}
		if s.rclosed {
			s.mu.Unlock()
			return len(b), nil
		}
		if free := s.size - s.buf.Len(); free > 0 {
			k := min(free, len(b)-n)
			s.buf.Write(b[n : n+k])
			n += k
			roomLeft := s.buf.Len() < s.size
			s.mu.Unlock()
			signal(s.data)
			if roomLeft {
				signal(s.room)
			}
			if n == len(b) {
				return n, nil
			}
			continue
		}
		s.mu.Unlock()
		select {
		case <-s.room:
		case <-c.closed:
		case <-c.wdl.wait():
		}
	}
}

// Close closes this end: the peer reads what was written, then EOF. With
// SetLinger(0) it resets instead.
func (c *Conn) Close() error {
	if c.linger0.Load() {
		c.reset()
		return nil
	}
	err := c.opErr("close", net.ErrClosed)
	c.closeOnce.Do(func() {
		err = nil
		close(c.closed)
		c.in.mu.Lock()
		c.in.rclosed = true
		c.in.buf = bytes.Buffer{}
		c.in.mu.Unlock()
		c.out.mu.Lock()
		c.out.wclosed = true
		c.out.mu.Unlock()
		signal(c.in.room)
		signal(c.out.data)
	})
	return err
}

// reset ends the connection at once both ways: the peer's reads and
// writes fail with ECONNRESET, and what it had not read is lost.
func (c *Conn) reset() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.in.mu.Lock()
		c.in.rclosed, c.in.rreset = true, true
		c.in.buf = bytes.Buffer{}
		c.in.mu.Unlock()
		c.out.mu.Lock()
		c.out.wclosed, c.out.wreset = true, true
		c.out.buf = bytes.Buffer{}
		c.out.mu.Unlock()
		signal(c.in.room)
		signal(c.out.data)
	})
}

// SetLinger(0) makes Close reset the connection, as on a TCP socket; other
// values close it normally.
func (c *Conn) SetLinger(sec int) error {
	c.linger0.Store(sec == 0)
	return nil
}

func (c *Conn) LocalAddr() net.Addr  { return c.local }
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

func (c *Conn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// deadline is a channel that closes when the deadline passes. Its timer is
// made by whoever sets the deadline: inside a bubble, on the bubble's
// clock.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func makeDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set moves the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close the channel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait is the channel that closes at the deadline.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}
