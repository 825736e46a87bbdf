package emulator

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/internal/syncbuf"
)

func TestRateHandlerCountsWhatItHolds(t *testing.T) {
	var buf syncbuf.Buffer
	h := newRateHandler(slog.NewTextHandler(&buf, nil), 3)
	now := time.Unix(1000, 0)
	h.state.now = func() time.Time { return now }
	log := slog.New(h).With("listener", "dut")
	for range 10 {
		log.Warn("same kind")
	}
	log.Warn("other kind")
	now = now.Add(time.Second)
	log.Warn("same kind")
	out := buf.String()
	if n := strings.Count(out, "same kind"); n != 4 {
		t.Errorf("%d lines of one kind through, want 3 in the first second and 1 after:\n%s", n, out)
	}
	if !strings.Contains(out, "other kind") || !strings.Contains(out, "suppressed=7") {
		t.Errorf("want the other kind through and 7 counted as held back:\n%s", out)
	}
}

func TestRedactHandler(t *testing.T) {
	var buf syncbuf.Buffer
	log := slog.New(newRedactHandler(slog.NewTextHandler(&buf, nil), []string{"hunter2"}))
	log.Warn("login", "user", "driver", "note", "password hunter2", "bytes", []byte("hunter2"), slog.Group("g", "p", "xhunter2x"))
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "104 117 110 116 101 114 50") {
		t.Errorf("secret in the log: %s", out)
	}
	if strings.Count(out, redacted) != 3 {
		t.Errorf("want three redactions: %s", out)
	}
}

// Against a real broker: a client that logs in and then breaks the
// protocol makes mochi log its CONNECT, password included, as a list of
// bytes; and a hundred of them make a hundred lines.
func TestBrokerLogRedactedAndBounded(t *testing.T) {
	const secret = "s3cret-pw"
	var buf syncbuf.Buffer
	b := StartTest(t, Options{
		DUTAuth: map[string]string{"driver": secret},
		Logger:  slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	start := time.Now()
	const clients = 100
	for i := range clients {
		secondConnect(t, b.DUTAddr, "driver", secret, i)
	}
	elapsed := time.Since(start)
	out := buf.String()
	if strings.Contains(out, secret) || strings.Contains(out, "115 51 99 114 101 116") {
		t.Errorf("the password is in the log:\n%s", out)
	}
	lines := strings.Count(out, "error processing packet")
	if lines == 0 {
		t.Fatalf("mochi logged no protocol error:\n%s", out)
	}
	limit := DefaultLogRate * (int(elapsed/time.Second) + 2)
	t.Logf("%d clients in %s: %d lines of the kind logged", clients, elapsed.Round(time.Millisecond), lines)
	if lines > limit {
		t.Errorf("%d lines of one kind in %s, want at most %d", lines, elapsed, limit)
	}
}

// secondConnect logs in, sends a second CONNECT (a protocol violation
// mochi logs with the packet) and waits for the broker to hang up.
func secondConnect(t *testing.T, addr, user, pass string, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	id := []byte{'c', byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60, 0, byte(len(id))}
	body = append(body, id...)
	body = append(body, 0, byte(len(user)))
	body = append(body, user...)
	body = append(body, 0, byte(len(pass)))
	body = append(body, pass...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x, %v", ack, err)
	}
	conn.Write(pkt)
	rest := make([]byte, 64)
	for {
		if _, err := conn.Read(rest); err != nil {
			return // closed by the broker (or the deadline, which the log check then shows)
		}
	}
}
