package tcptest

import (
	"io"
	"testing"
)

// What one end writes, the other reads.
func TestPair(t *testing.T) {
	a, d := Pair(t)
	if _, err := a.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(d, b); err != nil || string(b) != "ping" {
		t.Fatalf("read %q, %v", b, err)
	}
}
