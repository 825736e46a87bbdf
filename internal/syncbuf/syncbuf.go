// Package syncbuf is a text buffer one goroutine writes while others read
// it: a child process's standard error, copied in by exec's goroutine, or
// a log the code under test writes, read by the test that waits on it.
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer is a strings.Builder behind a lock. The zero value is empty and
// ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
