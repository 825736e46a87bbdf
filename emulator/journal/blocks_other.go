//go:build !unix

package journal

// Elsewhere blocks of records come from the heap.
func newBlock() ([]stored, bool) { return make([]stored, chunkLen), false }

func freeBlock([]stored) {}

const canMap = false
