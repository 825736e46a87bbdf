// Accepting through resource exhaustion: an accept error that says "try
// again later" (too many open files, a connection aborted before it was
// accepted) must not end a listener, or one burst of connections takes the
// broker off the network for good.
package wire

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// AcceptBackoff paces retries after temporary accept errors the way
// net/http does: 5 ms, doubling up to 1 s, back to the start after a
// successful accept. The zero value is ready to use.
type AcceptBackoff struct {
	delay time.Duration
	// Retries counts the temporary errors waited out, for health reports;
	// it is read while the accepting goroutine counts.
	Retries atomic.Uint64
}

// Temporary reports whether an accept error is worth waiting out rather
// than the end of the listener.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
			syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
			syscall.EPROTO, syscall.EPERM:
			return true
		}
		return errno.Temporary()
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Wait sleeps before the next accept after a temporary error, or returns
// false at once when done closes first. It returns the delay it waited.
func (b *AcceptBackoff) Wait(done <-chan struct{}) (time.Duration, bool) {
	if b.delay == 0 {
		b.delay = 5 * time.Millisecond
	} else {
		b.delay = min(2*b.delay, time.Second)
	}
	b.Retries.Add(1)
	t := time.NewTimer(b.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return b.delay, true
	case <-done:
		return b.delay, false
	}
}

// Backing reports whether the last accept failed and was waited out.
func (b *AcceptBackoff) Backing() bool { return b.delay != 0 }

// Reset starts the next run of errors from the shortest delay.
func (b *AcceptBackoff) Reset() { b.delay = 0 }
