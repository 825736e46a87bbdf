// Package tcptest gives tests a connected pair of real loopback TCP
// sockets, for code that behaves differently on a raw socket than on an
// in-memory pipe.
package tcptest

import (
	"net"
	"testing"
	"time"
)

// Pair is a connected loopback TCP pair: the accepted end and the dialled
// one. Both are closed when the test ends.
func Pair(t testing.TB) (accepted, dialled net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept() // a failed accept sends nil, reported below
		acc <- c
	}()
	dialled, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case accepted = <-acc:
	case <-time.After(10 * time.Second):
		dialled.Close()
		t.Fatal("no connection accepted in 10s")
	}
	if accepted == nil {
		dialled.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { accepted.Close(); dialled.Close() })
	return accepted, dialled
}
