package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/internal/tcptest"
)

// chunk is the i-th write: its number, then filler.
func chunk(i, size int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// A peer that reads nothing must not hold up writes while the backlog has
// room, and what was written must arrive whole and in order.
func TestBacklogTakesWritesAPeerDoesNotRead(t *testing.T) {
	w, peer := tcptest.Pair(t)
	const n, size = 2000, 4096 // 8 MiB: far more than the sockets buffer
	bl := newBacklog(w, n, 64<<20)
	done := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if err := bl.write(chunk(i, size), done); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		close(done)
		t.Fatal("writes waited on a peer that reads nothing, with the backlog not full")
	}
	if bl.pending() == 0 {
		t.Fatal("nothing waits in the backlog: the peer took 8 MiB unread, so the test proves nothing")
	}
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, size)
	for i := range n {
		if _, err := io.ReadFull(peer, got); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if !bytes.Equal(got, chunk(i, size)) {
			t.Fatalf("write %d arrived as write %d", i, binary.BigEndian.Uint32(got))
		}
	}
	if !bl.drain(nil, 10*time.Second) {
		t.Fatal("backlog not empty after the peer read everything")
	}
}

// A full backlog makes the write wait, until the connection ends.
func TestBacklogFullWaits(t *testing.T) {
	w, _ := tcptest.Pair(t)
	const max = 4
	bl := newBacklog(w, max, 64<<20)
	done := make(chan struct{})
	// Fill the socket's buffers, then the backlog: every write but the
	// one past the bound returns.
	for i := 0; bl.pending() < max; i++ {
		if i > 100000 {
			t.Fatal("the backlog never filled")
		}
		if err := bl.write(chunk(i, 64<<10), done); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := bl.write(chunk(0, 16), done); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write to a full backlog: %v, want it to wait until the end (net.ErrClosed)", err)
	}
}

// Closing a spooled connection lets what it queued go out first.
func TestSpooledCloseSendsWhatWasQueued(t *testing.T) {
	w, peer := tcptest.Pair(t)
	s := Spooled(w, 0, 0)
	const n, size = 500, 4096
	for i := range n {
		if _, err := s.Write(chunk(i, size)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	all, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n*size {
		t.Fatalf("peer got %d bytes, want %d", len(all), n*size)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// Draining a backlog whose peer reads nothing gives up once nothing moves,
// well before its timeout: a closing connection is not held up by it.
func TestBacklogDrainGivesUpOnAStuckPeer(t *testing.T) {
	w, _ := tcptest.Pair(t)
	bl := newBacklog(w, 0, 64<<20)
	for i := 0; bl.pending() == 0; i++ {
		if i > 100000 {
			t.Fatal("the backlog never took anything")
		}
		if err := bl.write(chunk(i, 64<<10), nil); err != nil {
			t.Fatal(err)
		}
	}
	const timeout = time.Minute
	start := time.Now()
	if bl.drain(nil, timeout) {
		t.Fatal("drained a backlog nobody reads")
	}
	if took := time.Since(start); took >= timeout {
		t.Fatalf("drain waited out its whole timeout (%s) for a peer that reads nothing", took)
	}
}
