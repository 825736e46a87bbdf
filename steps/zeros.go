package steps

import "sync"

// mappedPayloadFrom is the size from which an all-zero payload is mapped
// rather than allocated: larger than any payload MQTT can carry, so the
// client must refuse it (error 9).
const mappedPayloadFrom = 268435456

// zeros is the process's one mapping of zero pages, grown when a larger
// payload is asked for. It is never unmapped: a controller that keeps a
// payload it should have refused (the very bug a scenario may catch) must
// not crash the harness by reading memory that is gone. Mapped, not
// allocated, it costs address space only: reads share the kernel's zero
// page.
var zeros struct {
	sync.Mutex
	b []byte
}

// zeroPayload returns n zero bytes for a publish. A payload over MQTT's
// limit, which only its size matters for, comes from the shared zero
// mapping where the system allows (zeros_unix.go): allocated, its 256 MiB
// were resident and held the heap's collection target up for the rest of
// the run (a suite at concurrency 8 peaked near 300 MB with it alone).
func (w *World) zeroPayload(n int) []byte {
	if n < mappedPayloadFrom {
		return make([]byte, n)
	}
	zeros.Lock()
	defer zeros.Unlock()
	if len(zeros.b) < n {
		b, ok := mapZeros(n)
		if !ok {
			return make([]byte, n)
		}
		zeros.b = b
	}
	return zeros.b[:n:n]
}
