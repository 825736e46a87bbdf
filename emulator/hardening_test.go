// Hostile conditions on real sockets: exhausted file descriptors, clients
// that never finish CONNECT or claim huge packets.
package emulator_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// fdChildEnv makes the test binary the broker of TestListenersSurviveFDLimit.
const fdChildEnv = "MQTTHIL_TEST_FD_CHILD"

// TestFDLimitChild is not a test on its own: run by
// TestListenersSurviveFDLimit with fdChildEnv set, it serves a broker under
// a limit of 200 open files until its stdin closes.
func TestFDLimitChild(t *testing.T) {
	if os.Getenv(fdChildEnv) == "" {
		t.Skip("the broker process of TestListenersSurviveFDLimit")
	}
	lim := syscall.Rlimit{Cur: 200, Max: 200}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The log goes to stdout, where the test waits for the accept errors.
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	b := emulator.StartTest(t, emulator.Options{Logger: log})
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: b.Handler()}
	go srv.Serve(api)
	defer srv.Close()
	fmt.Printf("addrs %s %s %s\n", b.DUTAddr, b.ControlAddr, api.Addr())
	io.Copy(io.Discard, os.Stdin)
}

func TestListenersSurviveFDLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 1024 {
		t.Skipf("this test needs 1024 open files of its own (limit %d, %v)", lim.Cur, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFDLimitChild$", "-test.v")
	// Under the race detector a process sleeps a second before it exits,
	// for reports from goroutines still running; the child's end comes
	// after everything the test looks at, so it goes at once (a race
	// found before then is still reported, on the test's stderr).
	cmd.Env = append(os.Environ(), fdChildEnv+"=1", "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	var dut, ctl, api string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "addrs %s %s %s", &dut, &ctl, &api); err == nil {
			break
		}
	}
	if api == "" {
		t.Fatal("the broker process printed no addresses")
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // the test reads only until it has seen what it waits for
			}
		}
	}()

	// 300 idle sockets against a limit of 200: the broker runs out of
	// descriptors while accepting them.
	var idle []net.Conn
	for range 300 {
		c, err := net.DialTimeout("tcp", dut, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	late, err := net.DialTimeout("tcp", ctl, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	late.Close()
	// Wait for the broker to meet the limit on the accepts queued above,
	// as its log says (the code before backoff said nothing at all).
	timeout := time.After(10 * time.Second)
wait:
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, "accepting fails") {
				break wait
			}
		case <-timeout:
			t.Error("the broker logged no failing accept")
			break wait
		}
	}
	for _, c := range idle {
		c.Close()
	}

	// Once the sockets are closed, both listeners serve new clients.
	for _, addr := range []string{dut, ctl} {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'x'}
		if _, err := c.Write(connect); err != nil {
			t.Fatal(err)
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 {
			t.Fatalf("%s after the descriptors came back: no CONNACK (% x, %v)", addr, ack, err)
		}
	}
	h := getJSON[emulator.Health](t, "http://"+api+"/healthz")
	t.Logf("health after the descriptors came back: dut_up %v, control_up %v, accept retries %d", h.v.DUTUp, h.v.ControlUp, h.v.AcceptRetries)
	if !h.ok || !h.v.DUTUp || !h.v.ControlUp || h.v.AcceptRetries == 0 {
		t.Errorf("health after exhaustion: %+v (want both up and accept retries counted)", h.v)
	}
	recs := getJSON[[]map[string]any](t, "http://"+api+"/journal?format=json&kind=fault")
	if s := fmt.Sprint(recs.v); !strings.Contains(s, "accepting fails") || !strings.Contains(s, "accepting again") {
		t.Errorf("journal has no record of the failing accepts and the recovery: %s", s)
	}
}

type fetched[T any] struct {
	v  T
	ok bool
}

// getJSON fetches url and decodes its JSON body; ok is false when the
// request fails (the other process may be out of descriptors).
func getJSON[T any](t *testing.T, url string) fetched[T] {
	t.Helper()
	var f fetched[T]
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return f
	}
	defer resp.Body.Close()
	f.ok = json.NewDecoder(resp.Body).Decode(&f.v) == nil
	return f
}

// An idle socket and a half-sent CONNECT are closed once the CONNECT
// deadline passes, and the journal says why. In a bubble on the in-memory
// network: the deadline is the point, not the socket, and its 300 ms and
// the 600 ms a connected client must stay pass at once.
func TestConnectDeadline(t *testing.T) { synctest.Test(t, connectDeadline) }

func connectDeadline(t *testing.T) {
	b, n := startIn(t, emulator.Options{ConnectTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name string
		sent []byte
	}{
		{"idle", nil},
		{"half-sent", []byte{0x10, 13, 0, 4, 'M'}},
	} {
		c := &mqttClient{t: t, conn: dialConn(t, n, b.DUTAddr)}
		c.br = bufio.NewReader(c.conn)
		if _, err := c.conn.Write(tc.sent); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !c.closed(5 * time.Second) {
			t.Errorf("%s: connection still open 5s after a CONNECT deadline of 300ms", tc.name)
		}
	}
	recs := b.Journal.Records(journal.Filter{Kind: journal.KindFault})
	k := 0
	for _, r := range recs {
		if r.Action == "connect-timeout" && strings.Contains(r.Cause, "no CONNECT within 300ms") {
			k++
		}
	}
	if k != 2 {
		t.Errorf("journal: %d connect-timeout records, want 2: %v", k, recs)
	}
	// A client that connects in time stays.
	c := connectV4On(t, dialConn(t, n, b.DUTAddr), "on-time")
	if c.closed(600 * time.Millisecond) {
		t.Error("a connected client was closed by the CONNECT deadline")
	}
}

func rawDial(t *testing.T, addr string) *mqttClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &mqttClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// streamHuge sends the fixed header of a PUBLISH claiming 256 MiB, then
// zeros, until the broker cuts the connection or limit bytes are sent. It
// returns the bytes sent.
func streamHuge(c net.Conn, limit int) int {
	hdr := []byte{0x30, 0xff, 0xff, 0xff, 0x7f} // 268435455 bytes to follow
	c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	n, err := c.Write(hdr)
	chunk := make([]byte, 256<<10)
	for err == nil && n < limit {
		var k int
		k, err = c.Write(chunk)
		n += k
	}
	return n
}

// A client claiming a 256 MiB packet is cut from the header, before and
// after CONNECT, whatever it streams after: the broker's heap stays small.
func TestHugePacketCutEarly(t *testing.T) {
	const maxPacket = 1 << 20
	b := emulator.StartTest(t, emulator.Options{Profile: emulator.Profile{MaximumPacketSize: maxPacket}})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	type result struct {
		name string
		sent int
	}
	results := make(chan result)
	cases := map[string]bool{"before-connect": false, "after-connect": true}
	for name, login := range cases {
		go func() {
			conn, err := net.DialTimeout("tcp", b.DUTAddr, 5*time.Second)
			if err != nil {
				results <- result{name, -1}
				return
			}
			defer conn.Close()
			if login {
				connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, name[0]}
				ack := make([]byte, 4)
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := conn.Write(connect); err != nil {
					results <- result{name, -1}
					return
				}
				if _, err := io.ReadFull(conn, ack); err != nil {
					results <- result{name, -1}
					return
				}
			}
			results <- result{name, streamHuge(conn, 64<<20)}
		}()
	}
	var peak runtime.MemStats
	for range cases {
		r := <-results
		if r.sent < 0 {
			t.Fatalf("%s: could not connect", r.name)
		}
		t.Logf("%s: %d KiB streamed before the cut", r.name, r.sent>>10)
		// Loopback socket buffers take a few MiB before a write fails.
		if r.sent >= 32<<20 {
			t.Errorf("%s: %d MiB streamed without the broker cutting the connection", r.name, r.sent>>20)
		}
	}
	runtime.ReadMemStats(&peak)
	grew := int64(peak.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB", grew>>10)
	if grew > 16<<20 {
		t.Errorf("heap in use grew by %d MiB", grew>>20)
	}
	var causes []string
	for _, r := range b.Journal.Records(journal.Filter{Kind: journal.KindFault}) {
		if r.Action == "packet-too-large" {
			causes = append(causes, r.Cause)
		}
	}
	s := strings.Join(causes, "|")
	if !strings.Contains(s, "before CONNECT, over the limit of 65536") || !strings.Contains(s, "after CONNECT, over the limit of 1048576") {
		t.Errorf("journal packet-too-large causes: %q", s)
	}
}

// Packets held behind a delay count against the connection's bound: a
// client that floods a delayed link is cut off instead of filling memory.
func TestHeldBytesBound(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{
		MaxHeldBytes: 64 << 10,
		Rules:        []faults.Rule{{Name: "slow", Match: faults.Match{Direction: faults.ToBroker, Packets: []byte{faults.PUBLISH}}, Action: faults.Delay{Duration: 10 * time.Second}}},
	})
	c := connectV4(t, b.DUTAddr, "flood")
	payload := strings.Repeat("x", 100)
	for i := range 1000 {
		body := append([]byte{0, 1, 'f'}, payload...)
		pkt := append([]byte{0x30, byte(len(body))}, body...)
		if _, err := c.conn.Write(pkt); err != nil {
			t.Logf("write %d refused: %v", i, err)
			break
		}
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("100 KB held behind a delay, and the connection is still open under a bound of 64 KiB")
	}
	recs, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Kind: journal.KindFault, Client: ""}, 1)
	if err != nil || !strings.Contains(fmt.Sprint(recs), "holds more than 65536 bytes") {
		t.Errorf("journal: %v %v", recs, err)
	}
}
