package memnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// connected returns both ends of a fresh connection on n.
func connected(t *testing.T, n *Network) (client, server net.Conn) {
	t.Helper()
	l, err := n.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	client, err = n.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", l.Addr(), err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestAddresses(t *testing.T) {
	n := New()
	ctx := context.Background()
	l, err := n.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok || a.Port == 0 || !a.IP.IsLoopback() {
		t.Fatalf("listener address %v: want a loopback *net.TCPAddr with a port", l.Addr())
	}
	if _, err := n.Listen(ctx, "tcp", l.Addr().String()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second listener on %s: %v, want EADDRINUSE", l.Addr(), err)
	}
	port := a.Port
	for _, tc := range []struct {
		addr string
		want error // nil: connects
	}{
		{net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil},
		{net.JoinHostPort("localhost", strconv.Itoa(port)), nil},
		{net.JoinHostPort("127.0.0.2", strconv.Itoa(port)), nil}, // loopback reaches loopback
		{net.JoinHostPort("10.0.0.1", strconv.Itoa(port)), syscall.ECONNREFUSED},
		{net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)), syscall.ECONNREFUSED},
		{net.JoinHostPort("no-such-host.invalid", strconv.Itoa(port)), &net.DNSError{}},
	} {
		c, err := n.DialContext(ctx, "tcp", tc.addr)
		switch want := tc.want.(type) {
		case nil:
			if err != nil {
				t.Errorf("dial %s: %v", tc.addr, err)
				continue
			}
			if c.RemoteAddr().String() != l.Addr().String() {
				t.Errorf("dial %s: remote %v, want %v", tc.addr, c.RemoteAddr(), l.Addr())
			}
			c.Close()
		case *net.DNSError:
			var dns *net.DNSError
			if !errors.As(err, &dns) || !dns.IsNotFound {
				t.Errorf("dial %s: %v, want a not-found DNS error", tc.addr, err)
			}
		default:
			if !errors.Is(err, want) {
				t.Errorf("dial %s: %v, want %v", tc.addr, err, want)
			}
		}
	}
	if _, err := n.Listen(ctx, "udp", "127.0.0.1:0"); err == nil {
		t.Error("a udp listener was made")
	}
	// A closed listener's port is free again, and refuses meanwhile.
	l.Close()
	if _, err := n.Dial("tcp", l.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed listener: %v, want ECONNREFUSED", err)
	}
	l2, err := n.Listen(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("listen again on %s: %v", l.Addr(), err)
	}
	l2.Close()
}

func TestLookupHost(t *testing.T) {
	n := New()
	for host, want := range map[string]string{"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"} {
		got, err := n.LookupHost(context.Background(), host)
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("LookupHost(%q) = %v, %v; want [%s]", host, got, err, want)
		}
	}
	for _, host := range []string{"", "example.com", "no-such-host.invalid"} {
		var dns *net.DNSError
		if _, err := n.LookupHost(context.Background(), host); !errors.As(err, &dns) || !dns.IsNotFound {
			t.Errorf("LookupHost(%q): %v, want not found", host, err)
		}
	}
}

// A transfer far larger than the buffer arrives whole and in order.
func TestStream(t *testing.T) {
	c, s := connected(t, NewBuffered(1000))
	want := make([]byte, 1<<20)
	rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		errc <- errors.Join(err, c.Close())
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
}

func TestEnds(t *testing.T) {
	t.Run("close: the peer drains then reads EOF; writes to it vanish", func(t *testing.T) {
		c, s := connected(t, New())
		c.Write([]byte("bye"))
		c.Close()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "bye" {
			t.Fatalf("read %q, %v; want bye, EOF", got, err)
		}
		if n, err := s.Write([]byte("late")); n != 4 || err != nil {
			t.Errorf("write to a closed peer: %d, %v; want it taken", n, err)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("read on the closed end: %v, want net.ErrClosed", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("write on the closed end: %v, want net.ErrClosed", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second close: %v, want net.ErrClosed", err)
		}
	})
	t.Run("linger 0: the peer's reads and writes fail with ECONNRESET", func(t *testing.T) {
		c, s := connected(t, New())
		c.Write([]byte("lost"))
		c.(*Conn).SetLinger(0)
		c.Close()
		if _, err := s.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read after reset: %v, want ECONNRESET", err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("write after reset: %v, want ECONNRESET", err)
		}
	})
	t.Run("listener close resets what was not accepted", func(t *testing.T) {
		n := New()
		l, _ := n.Listen(context.Background(), "tcp", "127.0.0.1:0")
		c, err := n.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read: %v, want ECONNRESET", err)
		}
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept after close: %v, want net.ErrClosed", err)
		}
	})
}

// Inside a bubble every wait is durable: a ten-second read deadline, a
// writer stuck on a full buffer and an idle Accept all let the fake clock
// move, and the deadline fires at exactly its time.
func TestDurableInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewBuffered(4)
		l, err := n.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		c, err := n.DialContext(t.Context(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted

		start := time.Now()
		s.SetReadDeadline(start.Add(10 * time.Second))
		_, err = s.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a time-out", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("time-out %v is not a net.Error with Timeout", err)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("deadline passed after %s of bubble time, want 10s", got)
		}
		// A deadline moved away again lets the read wait for data.
		s.SetReadDeadline(time.Time{})

		// The writer fills the 4-byte buffer and waits; Wait returns only
		// when it waits durably.
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write([]byte("0123456789"))
			wrote <- err
		}()
		synctest.Wait()
		select {
		case err := <-wrote:
			t.Fatalf("a 10-byte write into a 4-byte buffer returned (%v) before anything was read", err)
		default:
		}
		got := make([]byte, 0, 10)
		buf := make([]byte, 3)
		for len(got) < 10 {
			k, err := s.Read(buf)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, buf[:k]...)
		}
		if err := <-wrote; err != nil || string(got) != "0123456789" {
			t.Fatalf("got %q, write %v", got, err)
		}

		// A write deadline ends a write stuck on a full buffer.
		c.SetWriteDeadline(time.Now().Add(time.Second))
		k, err := c.Write([]byte("abcdefgh"))
		if k != 4 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write past its deadline: %d, %v; want 4 bytes and a time-out", k, err)
		}
		c.Close()
		s.Close()
		l.Close()
		if _, ok := <-accepted; ok {
			t.Error("Accept gave a connection after Close")
		}
	})
}

// A close wakes a read that waits, on either end.
func TestCloseWakesReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s := connected(t, New())
		errs := make(chan error, 2)
		go func() { _, err := s.Read(make([]byte, 1)); errs <- err }()
		go func() { _, err := c.Read(make([]byte, 1)); errs <- err }()
		synctest.Wait()
		c.Close()
		for range 2 {
			if err := <-errs; err != io.EOF && !errors.Is(err, net.ErrClosed) {
				t.Errorf("read woken by close: %v, want EOF or net.ErrClosed", err)
			}
		}
	})
}
