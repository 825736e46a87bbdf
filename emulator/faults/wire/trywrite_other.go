//go:build !unix

package wire

import "syscall"

// Elsewhere every write past the socket goes through the backlog's
// flusher.
const canTryWrite = false

func tryWrite(syscall.RawConn, []byte) (int, error) { return 0, errWouldBlock }
