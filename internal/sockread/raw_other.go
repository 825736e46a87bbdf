//go:build !unix

package sockread

import "errors"

// Elsewhere the reader keeps its buffer and reads through the connection.
const canWait = false

var errAgain = errors.New("would block")

func rawRead(uintptr, []byte) (int, error) { return 0, errAgain }
