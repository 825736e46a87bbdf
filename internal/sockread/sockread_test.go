package sockread

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/internal/tcptest"
)

// pipe is a connection with no raw socket: the reader keeps a buffer.
func pipe(t *testing.T) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestReaderReadsWhatWasSentInOrder(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) (net.Conn, net.Conn){"tcp": func(t *testing.T) (net.Conn, net.Conn) { return tcptest.Pair(t) }, "pipe": pipe} {
		t.Run(name, func(t *testing.T) {
			c, peer := mk(t)
			want := make([]byte, 100<<10)
			for i := range want {
				want[i] = byte(i * 7)
			}
			go func() {
				// In pieces of every size, so reads see partial buffers.
				for p, k := want, 1; len(p) > 0; k = k*3 + 1 {
					k = min(k%9000+1, len(p))
					if _, err := peer.Write(p[:k]); err != nil {
						return
					}
					p = p[k:]
				}
				peer.Close()
			}()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			r := New(c)
			var got bytes.Buffer
			for i := 0; ; i++ {
				switch i % 3 {
				case 0:
					b, err := r.ReadByte()
					if err == io.EOF {
						goto done
					}
					if err != nil {
						t.Fatal(err)
					}
					got.WriteByte(b)
				case 1:
					p, err := r.Peek(3)
					if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if r.Buffered() < 3 {
						t.Fatalf("Peek(3) leaves %d buffered", r.Buffered())
					}
					if !bytes.Equal(p, want[got.Len():got.Len()+3]) {
						t.Fatalf("Peek at %d: % x", got.Len(), p)
					}
				case 2:
					buf := make([]byte, 1+i%(2*Size))
					n, err := r.Read(buf)
					if err == io.EOF {
						goto done
					}
					if err != nil {
						t.Fatal(err)
					}
					got.Write(buf[:n])
				}
			}
		done:
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("read %d bytes, want the %d sent, in order", got.Len(), len(want))
			}
		})
	}
}

// While it waits for the peer, a reader of a raw socket holds no buffer.
func TestReaderHoldsNoBufferWhileWaiting(t *testing.T) {
	c, peer := tcptest.Pair(t)
	r := New(c)
	if r.rc == nil {
		t.Skip("no raw socket here: the reader keeps its buffer")
	}
	got := make(chan byte, 1)
	go func() {
		b, err := r.ReadByte()
		if err != nil {
			close(got)
			return
		}
		got <- b
	}()
	if _, err := peer.Write([]byte{42}); err != nil {
		t.Fatal(err)
	}
	select {
	case b, ok := <-got:
		if !ok || b != 42 {
			t.Fatalf("read %d, %v", b, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing read in 10s")
	}
	if r.buf != nil || r.Buffered() != 0 {
		t.Fatalf("after reading everything the reader holds a buffer (%d buffered)", r.Buffered())
	}
}

func TestReaderDeadlineIsATimeout(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) (net.Conn, net.Conn){"tcp": func(t *testing.T) (net.Conn, net.Conn) { return tcptest.Pair(t) }, "pipe": pipe} {
		t.Run(name, func(t *testing.T) {
			c, _ := mk(t)
			r := New(c)
			c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := r.ReadByte()
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past the deadline: %v, want a timeout", err)
			}
		})
	}
}

func TestReaderClosedConnection(t *testing.T) {
	c, _ := tcptest.Pair(t)
	r := New(c)
	c.Close()
	if _, err := r.ReadByte(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed connection: %v, want net.ErrClosed", err)
	}
}

func TestPeekBeyondTheBuffer(t *testing.T) {
	c, _ := tcptest.Pair(t)
	if _, err := New(c).Peek(Size + 1); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("Peek(Size+1): %v", err)
	}
}
