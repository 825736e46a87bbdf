package steps

// mappedPayloadFrom is the size from which an all-zero payload is mapped
// rather than allocated: larger than any payload MQTT can carry, so the
// client must refuse it (error 9) and keep nothing of it.
const mappedPayloadFrom = 268435456

// zeroPayload returns n zero bytes for a publish. A payload over MQTT's
// limit, which only its size matters for, is taken from the kernel's zero
// pages where the system allows (zeros_unix.go): allocated, its 256 MiB
// were resident and held the heap's collection target up for the rest of
// the run (a suite at concurrency 8 peaked near 300 MB with it alone).
// The mapping is released when the scenario ends, after its clients.
func (w *World) zeroPayload(n int) []byte {
	if n < mappedPayloadFrom {
		return make([]byte, n)
	}
	b, release, ok := mapZeros(n)
	if !ok {
		return make([]byte, n)
	}
	w.cleanup = append(w.cleanup, release)
	return b
}
