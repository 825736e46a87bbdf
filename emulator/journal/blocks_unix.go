//go:build unix

package journal

import (
	"syscall"
	"unsafe"
)

// newBlock maps a block of records outside the collected heap; where the
// system refuses, the block comes from the heap.
func newBlock() ([]stored, bool) {
	b, err := syscall.Mmap(-1, 0, blockBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]stored, chunkLen), false
	}
	return unsafe.Slice((*stored)(unsafe.Pointer(&b[0])), chunkLen), true
}

// freeBlock gives a block made by newBlock back to the system.
func freeBlock(s []stored) {
	// Unmapping fails only for memory that is not a mapping of ours:
	// nothing to give back then.
	_ = syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), blockBytes))
}

const canMap = true
