// Package sockread is a buffered reader for a socket that holds no buffer
// while it waits. A bufio.Reader keeps its buffer for the life of the
// connection, and a connection that waits for its peer waits inside a
// read into it: a thousand idle connections hold a thousand buffers that
// are empty. This reader waits for the socket to become readable with no
// buffer, takes one from a pool when there is something to read, and
// gives it back once everything in it has been read.
//
// Where the connection offers no raw socket (TLS, an in-memory pipe) it
// reads as bufio does, with a buffer of its own.
package sockread

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// Size is the buffer's size: how much one read from the socket takes.
const Size = 4 << 10

var pool = sync.Pool{New: func() any { return new([Size]byte) }}

// Reader buffers reads from one connection. Like bufio.Reader it is for
// one goroutine at a time.
type Reader struct {
	conn net.Conn
	rc   syscall.RawConn // nil: read through conn, keeping the buffer
	buf  *[Size]byte     // nil while nothing is buffered (raw socket only)
	r, w int             // buf[r:w] is buffered
	err  error           // the error to return once the buffered bytes are read
}

// New returns a reader of conn.
func New(conn net.Conn) *Reader {
	r := &Reader{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok && canWait {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
		}
	}
	return r
}

// Buffered is how many bytes can be read without reading the socket.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadByte reads one byte.
func (r *Reader) ReadByte() (byte, error) {
	for r.r == r.w {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.r]
	r.r++
	r.release()
	return b, nil
}

// Read reads what is buffered, or, when nothing is, what one read of the
// socket brings.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.r == r.w {
		if r.err == nil && len(p) >= Size {
			// Large reads skip the buffer, as bufio's do.
			if r.rc == nil {
				return r.conn.Read(p)
			}
			return r.readRaw(p)
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
		if r.r == r.w {
			return 0, nil
		}
	}
	n := copy(p, r.buf[r.r:r.w])
	r.r += n
	r.release()
	return n, nil
}

// ErrBufferFull is Peek's answer for more than the buffer holds.
var ErrBufferFull = errors.New("sockread: peek beyond the buffer")

// Peek returns the next n bytes without taking them; they are valid until
// the next call. n may not exceed Size.
func (r *Reader) Peek(n int) ([]byte, error) {
	if n > Size {
		return nil, ErrBufferFull
	}
	for r.w-r.r < n {
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	return r.buf[r.r : r.r+n], nil
}

// release gives the buffer back once it is all read.
func (r *Reader) release() {
	if r.r == r.w && r.rc != nil {
		r.r, r.w = 0, 0
		pool.Put(r.buf)
		r.buf = nil
	}
}

// fill reads the socket once into the free end of the buffer, moving what
// is buffered to the front first. It returns the pending error once the
// buffered bytes are gone; a read that brings nothing and no error is
// retried by the callers.
func (r *Reader) fill() error {
	if r.err != nil {
		err := r.err
		r.err = nil
		return err
	}
	if r.buf != nil && r.r > 0 {
		copy(r.buf[:], r.buf[r.r:r.w])
		r.w -= r.r
		r.r = 0
	}
	var n int
	var err error
	if r.rc == nil {
		if r.buf == nil {
			r.buf = new([Size]byte)
		}
		for range 100 { // as bufio: a reader that brings nothing for ever is broken
			if n, err = r.conn.Read(r.buf[r.w:]); n > 0 || err != nil {
				break
			}
		}
		if n == 0 && err == nil {
			err = io.ErrNoProgress
		}
	} else {
		n, err = r.readRaw(nil)
	}
	r.w += n
	if err != nil {
		if n > 0 {
			r.err = err // after the bytes that came with it
			return nil
		}
		return err
	}
	return nil
}

// readRaw waits for the socket to be readable with no buffer taken, then
// reads into dst, or into the buffer when dst is nil.
func (r *Reader) readRaw(dst []byte) (int, error) {
	var n int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		p := dst
		if p == nil {
			if r.buf == nil {
				r.buf = pool.Get().(*[Size]byte)
			}
			p = r.buf[r.w:]
		}
		n, rerr = rawRead(fd, p)
		if rerr == errAgain {
			if dst == nil && r.w == 0 {
				pool.Put(r.buf)
				r.buf = nil
			}
			return false // wait for the socket, holding no buffer
		}
		return true
	})
	if err != nil {
		return 0, err // deadline passed, connection closed
	}
	if rerr != nil {
		return 0, &net.OpError{Op: "read", Net: r.conn.LocalAddr().Network(), Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: rerr}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
