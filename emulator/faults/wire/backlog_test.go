package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
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

// publishPacket is a QoS 1 PUBLISH with packet id id and a payload of size
// bytes, whole.
func publishPacket(id, size int) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
		TopicName: "a/b", PacketID: uint16(id), Payload: bytes.Repeat([]byte{byte(id)}, size)}
	var buf bytes.Buffer
	pk.PublishEncode(&buf)
	return buf.Bytes()
}

// Once the socket is closed, what the backlog never wrote whole is
// exactly what the peer did not get: the packets the peer reads, whole,
// and the packets unsent gives, are every packet written, in order, each
// once. Packets of many sizes, so that the socket takes some only in part.
func TestBacklogUnsentIsWhatThePeerNeverGot(t *testing.T) {
	w, peer := tcptest.Pair(t)
	const n = 3000
	var all [][]byte
	bl := newBacklog(w, n, 64<<20)
	done := make(chan struct{})
	defer close(done)
	for i := range n {
		p := publishPacket(i+1, 100+(i*7919)%9000)
		all = append(all, p)
		if err := bl.write(p, done); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	waiting := func() int { // bytes not yet written
		bl.mu.Lock()
		defer bl.mu.Unlock()
		return bl.bytes
	}
	before := waiting()
	if before == 0 {
		t.Fatal("nothing waits in the backlog: the test proves nothing")
	}
	// The peer reads a little, and the flusher gets part of the way
	// through the buffer it writes: the close then catches it in the
	// middle of one.
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(peer, first); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); waiting() > before-2*flushPiece; {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog wrote nothing more after the peer read 1 MiB (%d bytes wait)", waiting())
		}
		time.Sleep(time.Millisecond) // polling the backlog's count, under a deadline
	}
	w.Close()
	lost := bl.unsent(5 * time.Second)
	rest, err := io.ReadAll(peer)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("reading what was sent: %v", err)
	}
	got := append(first, rest...)
	var whole int
	for len(got) > 0 {
		k, ok, _ := frameSize(got)
		if !ok {
			break // the packet the socket took only in part
		}
		if whole >= n || !bytes.Equal(got[:k], all[whole]) {
			t.Fatalf("packet %d arrived wrong", whole)
		}
		got, whole = got[k:], whole+1
	}
	if len(lost) == 0 {
		t.Fatal("nothing unsent, with packets still queued at the close")
	}
	if whole+len(lost) != n {
		t.Fatalf("%d packets arrived whole and %d are unsent: %d, want %d", whole, len(lost), whole+len(lost), n)
	}
	for i, p := range lost {
		if !bytes.Equal(p, all[whole+i]) {
			t.Fatalf("unsent packet %d is not packet %d", i, whole+i)
		}
	}
	t.Logf("%d packets arrived whole, %d unsent", whole, len(lost))
}

// A connection that closes with packets for the client still in its
// backlog journals each of them as a drop: the journal showed them handed
// to the socket, and without that would show them sent.
func TestCloseJournalsWhatTheSocketNeverTook(t *testing.T) {
	w, peer := tcptest.Pair(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	j := journal.New(0)
	c := newConn(w, NewListener(inner, faults.NewSet(1), j), 1)
	c.who.Store(&identity{clientID: "slow", version: 4})
	const n = 3000
	var all [][]byte
	for i := range n {
		p := publishPacket(i+1, 100+(i*7919)%9000)
		all = append(all, p)
		if _, err := c.Write(p); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	c.closeWith("test: closed with the client reading nothing")
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	whole := 0
	for len(got) > 0 {
		k, ok, _ := frameSize(got)
		if !ok {
			break
		}
		got, whole = got[k:], whole+1
	}
	sent := j.Records(journal.Filter{Kind: journal.KindPacket, Dir: "to_client", Type: "PUBLISH"})
	drops := j.Records(journal.Filter{Kind: journal.KindDrop})
	if len(sent) != n {
		t.Fatalf("%d PUBLISH journaled as handed to the socket, want %d", len(sent), n)
	}
	if len(drops) == 0 || whole+len(drops) != n {
		t.Fatalf("%d packets reached the client whole and %d are journaled as dropped: want %d together, some dropped", whole, len(drops), n)
	}
	for i, d := range drops {
		if d.Type != "PUBLISH" || d.PacketID != whole+i+1 || d.Client != "slow" || !d.Dropped || d.Cause == "" {
			t.Fatalf("drop %d: %s (cause %q), want PUBLISH id=%d of slow", i, d, d.Cause, whole+i+1)
		}
	}
}
