// What a connection's socket has not taken yet.
package wire

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// backlog sits in front of a socket and makes writing to it wait for
// nothing: what the socket takes at once is written by the caller, the
// rest is kept, in order, and written by a goroutine that lives while
// there is something to write.
//
// It is there so that mochi's own outbound queue can be short. mochi makes
// each client's queue (a channel of pointers) at its full length up front:
// 8,192 entries are 64 KiB a client, idle or not. With writes that return
// at once, mochi's writer drains its queue as fast as it is scheduled, and
// the queue that absorbs a slow reader is this one, which costs nothing
// until it holds something. (What absorbs a writer that is not scheduled
// is the broker's flow control: a publisher waits while a subscriber's
// queue is half full, see emulator/flow.go.) It is bounded, like mochi's:
// past maxWrites writes or maxBytes bytes a write waits, mochi's writer
// with it, and mochi's short queue then fills and drops, journaled as
// mochi's drops are.
type backlog struct {
	raw net.Conn
	rc  syscall.RawConn // nil: the socket cannot be written without blocking

	mu       sync.Mutex
	buf      []byte // bytes waiting, in order
	spare    []byte // the flusher's last buffer, reused
	writes   int    // writes waiting or being written
	bytes    int    // bytes waiting or being written
	flushing bool   // a flusher runs; while it does, every write queues
	err      error  // the write error that ended the connection
	// out is the buffer the flusher is writing, sent how much of it went
	// to the socket; kept when a write fails, for unsent.
	out   []byte
	sent  int
	head  int // bytes at the start of buf already written
	space chan struct{}
	idle  chan struct{} // closed when the flusher ends; nil while none runs

	maxWrites int
	maxBytes  int
}

// Bounds of a backlog.
const (
	// DefaultBacklogWrites is how many writes a connection's backlog
	// keeps before a write waits: bare mochi's default queue length, so
	// that a slow client is dropped messages no sooner than under bare
	// mochi, whose queue is that long.
	DefaultBacklogWrites = 8192
	// spareMax is the largest buffer kept for reuse once written.
	spareMax = 64 << 10
	// flushPiece is the most the flusher writes at once.
	flushPiece = 64 << 10
)

func newBacklog(raw net.Conn, maxWrites, maxBytes int) *backlog {
	b := &backlog{raw: raw, maxWrites: maxWrites, maxBytes: maxBytes, space: make(chan struct{}, 1)}
	if b.maxWrites <= 0 {
		b.maxWrites = DefaultBacklogWrites
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultHeld
	}
	if sc, ok := raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil && canTryWrite {
			b.rc = rc
		}
	}
	return b
}

// write writes p, or what the socket does not take of it now later; it
// waits only while the backlog is full, until done closes. p is the
// caller's again when write returns.
func (b *backlog) write(p []byte, done <-chan struct{}) error {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	head := 0 // bytes of p the socket took at once
	if !b.flushing && b.rc != nil {
		// Not flushing, the backlog is empty: what is kept of p below
		// starts the buffer.
		n, err := tryWrite(b.rc, p)
		if err != nil {
			b.err = err
			b.mu.Unlock()
			return err
		}
		if n == len(p) {
			b.mu.Unlock()
			return nil
		}
		head = n
	}
	for b.writes > 0 && (b.writes >= b.maxWrites || b.bytes+len(p)-head > b.maxBytes) {
		b.mu.Unlock()
		select {
		case <-b.space:
		case <-done:
			return net.ErrClosed
		}
		b.mu.Lock()
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return err
		}
	}
	// The whole of p is kept, the part already written too, so that the
	// buffer starts at a packet's start (see unsent); the flusher skips
	// that part. Only a write into an empty backlog has one.
	if head > 0 {
		b.head = head
	}
	b.buf = append(b.buf, p...)
	b.writes++
	b.bytes += len(p) - head
	if !b.flushing {
		b.flushing = true
		b.idle = make(chan struct{})
		go b.flush()
	}
	b.mu.Unlock()
	return nil
}

// flush writes what waits until nothing does, then ends.
func (b *backlog) flush() {
	for {
		b.mu.Lock()
		if len(b.buf) == 0 || b.err != nil {
			b.flushing = false
			close(b.idle)
			b.idle = nil
			b.mu.Unlock()
			return
		}
		out, writes, skip := b.buf, b.writes, b.head
		b.buf, b.spare, b.head = b.spare[:0], nil, 0
		b.out, b.sent = out, skip
		b.mu.Unlock()

		// In pieces, so that drain sees a slow reader's progress.
		var err error
		for p := out[skip:]; len(p) > 0 && err == nil; {
			k := min(len(p), flushPiece)
			var n int
			n, err = b.raw.Write(p[:k])
			p = p[k:]
			b.mu.Lock()
			b.bytes -= k
			b.sent += n
			b.mu.Unlock()
		}

		b.mu.Lock()
		if err != nil && b.err == nil {
			b.err = err
		}
		b.writes -= writes
		if err == nil {
			b.out = nil
			if cap(out) <= spareMax {
				b.spare = out[:0]
			}
		}
		b.mu.Unlock()
		select {
		case b.space <- struct{}{}:
		default:
		}
	}
}

// unsent gives the packets handed to the backlog that never reached the
// socket whole, once the socket is closed: the one the flusher was in the
// middle of and those after it, and everything still queued. It waits, at
// most wait, for the flusher to see the closed socket.
func (b *backlog) unsent(wait time.Duration) [][]byte {
	b.mu.Lock()
	idle := b.idle
	b.mu.Unlock()
	if idle != nil {
		t := time.NewTimer(wait)
		select {
		case <-idle:
		case <-t.C:
		}
		t.Stop()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.flushing {
		return nil // still writing: what it has not written cannot be told yet
	}
	var lost [][]byte
	end := 0
	for _, p := range packetsIn(b.out) {
		if end += len(p); end > b.sent { // ends past what the socket took
			lost = append(lost, p)
		}
	}
	return append(lost, packetsIn(b.buf)...)
}

// packetsIn splits b, which starts at a packet, into its whole packets.
func packetsIn(b []byte) [][]byte {
	pkts, _ := new(Framer).Feed(b)
	return pkts
}

// drain waits until everything queued is written, the socket failed, done
// closes, the timeout passes, or the peer takes nothing for drainStuck; it
// reports whether the backlog is empty. A peer that reads nothing does not
// hold a closing connection up for the whole timeout.
func (b *backlog) drain(done <-chan struct{}, timeout time.Duration) bool {
	b.mu.Lock()
	idle, left := b.idle, b.bytes
	b.mu.Unlock()
	if idle == nil {
		return true
	}
	end := time.NewTimer(timeout)
	defer end.Stop()
	tick := time.NewTicker(drainStuck)
	defer tick.Stop()
	for {
		select {
		case <-idle:
			return true
		case <-done:
			return false
		case <-end.C:
			return false
		case <-tick.C:
			b.mu.Lock()
			now := b.bytes
			b.mu.Unlock()
			if now >= left {
				return false
			}
			left = now
		}
	}
}

// drainStuck is how long drain waits for a peer that takes nothing.
const drainStuck = 200 * time.Millisecond

// pending is how many writes wait or are being written.
func (b *backlog) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

// errWouldBlock is what tryWrite's callers never see: a socket that takes
// nothing now has taken 0 bytes.
var errWouldBlock = errors.New("would block")

// Spooled wraps a connection so that its writes never wait on the socket
// (up to the backlog's bounds), for the listener whose connections do not
// pass through the fault layer: mochi's outbound queue is short for every
// client of the broker.
func Spooled(raw net.Conn, maxWrites, maxBytes int) net.Conn {
	return &spooled{Conn: raw, bl: newBacklog(raw, maxWrites, maxBytes), done: make(chan struct{})}
}

type spooled struct {
	net.Conn
	bl        *backlog
	done      chan struct{}
	closeOnce sync.Once
}

func (s *spooled) Write(p []byte) (int, error) {
	if err := s.bl.write(p, s.done); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close lets what is queued go out first, for closeGrace at most, as
// closing a socket with data in its send buffer would; it returns at
// once, and the socket closes when the backlog is empty.
func (s *spooled) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.bl.pending() == 0 {
			close(s.done)
			err = s.Conn.Close()
			return
		}
		go func() {
			s.bl.drain(nil, closeGrace)
			close(s.done)
			_ = s.Conn.Close() // nobody is left to tell
		}()
	})
	return err
}
