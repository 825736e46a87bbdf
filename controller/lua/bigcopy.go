package lua

import "unsafe"

// maxPayload is the largest payload MQTT can carry.
const maxPayload = 268435455

// stringOf is string(b), except for a payload larger than MQTT can carry,
// which shares b's bytes instead of copying them. Such a payload is
// there only for its length (Publish refuses it with 9), and copying it
// cost seconds in which other scenarios' clients missed their
// keep-alives: a quarter of a gigabyte of fresh pages faulted in at once
// holds up the whole process. The caller must not change b afterwards.
func stringOf(b []byte) string {
	if len(b) <= maxPayload {
		return string(b)
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// bytesOf is []byte(s), sharing s's bytes when s is larger than MQTT can
// carry (see stringOf); the client refuses such a payload by its length
// and never writes to it.
func bytesOf(s string) []byte {
	if len(s) <= maxPayload {
		return []byte(s)
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
