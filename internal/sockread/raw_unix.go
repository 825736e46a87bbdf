//go:build unix

package sockread

import (
	"os"
	"syscall"
)

const canWait = true

var errAgain = syscall.EAGAIN

// rawRead reads the socket once without waiting: errAgain when it has
// nothing.
func rawRead(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			return 0, errAgain
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		}
		return max(n, 0), nil
	}
}
