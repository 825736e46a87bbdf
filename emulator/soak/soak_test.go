// The soak test: the emulator under hours of mixed work must not grow.
// MQTTHIL_SOAK=30m go test -run Soak -timeout 0 ./emulator/soak/ runs it
// for as long as asked; without the variable it runs for 6 seconds, still
// asserting, as part of go test ./... (soakDefault says what that short
// run proves). It is a package of its own so that its seconds run beside
// the emulator's other tests rather than after them, and so that nothing
// else runs in its process while it measures the heap, the RSS and the
// goroutines.
package soak_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/internal/mqttcodec"
)

// soakDefault is how long the soak runs without MQTTHIL_SOAK: every kind
// of work several times over (resets every 2 s, restarts every 3 s, a
// scenario broker every 500 ms), long enough to catch what leaks per
// event, far too short to catch a slow creep, which is what MQTTHIL_SOAK
// is for.
const soakDefault = 6 * time.Second

// Allowed growth from the baseline taken after warm-up to the end, as
// ratios: memory a long run keeps and goroutines it leaves behind.
const (
	soakHeapRatio      = 1.5
	soakRSSRatio       = 1.5
	soakGoroutineRatio = 1.2
)

// apiBroker starts a broker for the test and serves its HTTP API.
func apiBroker(t *testing.T, opts emulator.Options) (*emulator.Broker, *httptest.Server) {
	t.Helper()
	b := emulator.StartTest(t, opts)
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return b, srv
}

// TestSoak runs mixed traffic against one broker: QoS 0, 1 and 2
// publishers and subscribers that connect, work and leave (cleanly or
// not), fault rules armed and disarmed over the API (drop, delay,
// duplicate, disconnect), the journal read in pages and reset, the DUT
// listener restarted, and whole brokers started and closed beside it as
// scenarios do. After a warm-up it pauses the work, lets the broker go
// quiet and measures the heap, the process's RSS and its goroutines; at the
// end it does the same and compares. It also checks that the journal
// accounts for every record it numbered, and that the paging reader saw
// every record that was neither lost to a bound nor cleared.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	total := soakDefault
	if v := os.Getenv("MQTTHIL_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < soakDefault {
			t.Fatalf("MQTTHIL_SOAK=%q: want a duration of at least %s, such as 30m", v, soakDefault)
		}
		total = d
	}
	warmUp := max(total/4, 2*time.Second)

	// A small journal, so that both bounds are met and their losses
	// counted.
	b, srv := apiBroker(t, emulator.Options{JournalCap: 10_000, JournalBytes: 4 << 20})
	s := &soak{t: t, b: b, srv: srv, gate: &sync.RWMutex{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, every time.Duration, f func(ctx context.Context, rng *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(every)))
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				s.gate.RLock()
				f(ctx, rng)
				s.gate.RUnlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	observer := s.observe(ctx, &wg)
	for i := range soakWorkers {
		run(fmt.Sprintf("client %d", i), time.Millisecond, func(ctx context.Context, rng *rand.Rand) { s.session(ctx, rng, i) })
	}
	run("faults", 150*time.Millisecond, s.faults)
	run("reader", 100*time.Millisecond, func(context.Context, *rand.Rand) { s.readJournal() })
	run("reset", 2*time.Second, func(context.Context, *rand.Rand) { s.post("/reset?journal=1", ""); s.resets.Add(1) })
	run("restart", 3*time.Second, func(context.Context, *rand.Rand) {
		s.post("/broker/restart", `{"down_for":"150ms"}`)
		s.restarts.Add(1)
	})
	run("scenario", 500*time.Millisecond, s.scenario)

	time.Sleep(warmUp) // the length of the warm-up is the point here, not a synchronisation
	base := s.quiet()
	t.Logf("baseline after %s: %s", warmUp, base)
	time.Sleep(total - warmUp) // likewise: the test runs for as long as it was asked to
	end := s.quiet()
	cancel()
	wg.Wait()
	observer()
	s.readJournal()

	st := b.Journal.Stats()
	t.Logf("end after %s: %s", total, end)
	t.Logf("work: %d sessions (%d cut short), %d publishes, %d rules armed, %d journal pages (%d records read, %d not: lost or cleared first), %d resets, %d restarts, %d scenario brokers; journal %+v",
		s.sessions.Load(), s.cut.Load(), s.publishes.Load(), s.rules.Load(), s.pages.Load(), s.seen.Load(), s.gaps.Load(), s.resets.Load(), s.restarts.Load(), s.scenarios.Load(), st)

	ratio := func(what string, now, then float64, limit float64) {
		if then <= 0 {
			t.Errorf("%s: no baseline", what)
			return
		}
		if r := now / then; r > limit {
			t.Errorf("%s grew from %.0f to %.0f (x%.2f, allowed x%.2f)", what, then, now, r, limit)
		}
	}
	ratio("heap", float64(end.heap), float64(base.heap), soakHeapRatio)
	if raceEnabled {
		// The race detector keeps shadow memory for every goroutine and
		// allocation it has seen: its RSS is not the emulator's.
		t.Logf("RSS not checked under the race detector (x%.2f)", float64(end.rss)/float64(base.rss))
	} else {
		ratio("RSS", float64(end.rss), float64(base.rss), soakRSSRatio)
	}
	ratio("goroutines", float64(end.goroutines), float64(base.goroutines), soakGoroutineRatio)

	if st.Seq != uint64(st.Kept)+st.Lost+st.Cleared {
		t.Errorf("journal: %d records numbered, %d kept + %d lost + %d cleared", st.Seq, st.Kept, st.Lost, st.Cleared)
	}
	if s.gaps.Load() > st.Cleared+st.Lost {
		t.Errorf("journal reader missed %d records; only %d were cleared and %d lost", s.gaps.Load(), st.Cleared, st.Lost)
	}
	if s.disorder.Load() != 0 {
		t.Errorf("journal pages went back %d times", s.disorder.Load())
	}
	for what, n := range map[string]int64{"sessions": s.sessions.Load(), "publishes": s.publishes.Load(), "rules": s.rules.Load(),
		"pages": s.pages.Load(), "resets": s.resets.Load(), "restarts": s.restarts.Load(), "scenario brokers": s.scenarios.Load()} {
		if n == 0 {
			t.Errorf("the soak did no %s", what)
		}
	}
}

// Client workers, and the client ids each uses: ids come back, as a
// driver's do from one scenario to the next, and some keep their session.
const (
	soakWorkers           = 8
	soakSessionsPerWorker = 4
)

func soakClientID(worker, k int) string { return fmt.Sprintf("soak-%d-%d", worker, k) }

// soak is the state the soak's workers share.
type soak struct {
	t    *testing.T
	b    *emulator.Broker
	srv  *httptest.Server
	gate *sync.RWMutex // workers hold it shared; quiet takes it whole

	cursor   atomic.Uint64 // the journal reader's
	readMu   sync.Mutex
	seen     atomic.Int64
	gaps     atomic.Uint64
	disorder atomic.Int64

	sessions, cut, publishes, rules, pages, resets, restarts, scenarios atomic.Int64
}

// usage is what quiet measures.
type usage struct {
	heap, rss  uint64
	goroutines int
}

func (u usage) String() string {
	return fmt.Sprintf("heap %.1f MiB, RSS %.1f MiB, %d goroutines", float64(u.heap)/(1<<20), float64(u.rss)/(1<<20), u.goroutines)
}

// quiet stops the work, ends the sessions the workers kept (as a run's
// teardown would), waits for the broker to see every soak client gone,
// clears the journal and the rules, and measures.
func (s *soak) quiet() usage {
	s.gate.Lock()
	defer s.gate.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for worker := range soakWorkers {
		for k := range soakSessionsPerWorker {
			for ctx.Err() == nil {
				// The listener may be down for a restart: try until it is back.
				if c, err := soakDial(s.b.DUTAddr, soakClientID(worker, k), true); err == nil {
					c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
					c.conn.Close()
					break
				}
				wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
				<-wctx.Done() // back off before the next try; the listener's return is not an event here
				wcancel()
			}
		}
	}
	// Clients that left leave the broker in its own time; wait for it.
	for s.dutClients() > 0 && ctx.Err() == nil {
		st := s.b.Journal.Stats()
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, _ = s.b.Journal.WaitFor(wctx, journal.Filter{Kind: journal.KindClose, AfterSeq: st.Seq}, 1)
		wcancel()
	}
	if n := s.dutClients(); n > 0 {
		s.t.Errorf("%d DUT clients still connected after the work stopped", n)
	}
	s.post("/reset?journal=1", "")
	s.srv.Client().CloseIdleConnections()
	// Goroutines of closed connections end a moment after the close, and
	// the heap wobbles with what the collector has not yet returned: take
	// the least of a few readings a collection apart.
	u := usage{goroutines: runtime.NumGoroutine(), heap: ^uint64(0)}
	for range 5 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		u.goroutines = min(u.goroutines, runtime.NumGoroutine())
		u.heap = min(u.heap, m.HeapAlloc)
	}
	u.rss = rss()
	return u
}

func (s *soak) dutClients() int {
	n := 0
	for _, cl := range s.b.Server().Clients.GetAll() {
		if cl.Net.Listener == emulator.DUTListener && !cl.Closed() {
			n++
		}
	}
	return n
}

// rss reads the process's resident set from /proc; 0 where there is none.
func rss() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func (s *soak) post(path, body string) {
	s.do(http.MethodPost, path, body)
}

func (s *soak) do(method, path, body string) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Errorf("%s %s: %v", method, path, err)
		return nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusNotFound {
		s.t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data
}

// readJournal reads the journal from its cursor to the end, a page at a
// time, and counts the sequence numbers it never saw.
func (s *soak) readJournal() {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		cursor := s.cursor.Load()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/journal?after=%d&limit=5000", s.srv.URL, cursor), nil)
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			s.t.Errorf("GET /journal: %v", err)
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		last := cursor
		for sc.Scan() {
			var r struct {
				Seq uint64 `json:"seq"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				s.t.Errorf("journal line %q: %v", sc.Text(), err)
				break
			}
			switch {
			case r.Seq <= last:
				s.disorder.Add(1)
			case r.Seq > last+1:
				s.gaps.Add(r.Seq - last - 1)
			}
			last = r.Seq
			s.seen.Add(1)
		}
		resp.Body.Close()
		next, _ := strconv.ParseUint(resp.Header.Get("X-Journal-Next"), 10, 64)
		// Records past the last one read and up to the cursor were looked
		// at and are gone (cleared by a reset in between).
		if next > last {
			s.gaps.Add(next - last)
		}
		s.cursor.Store(max(next, last))
		s.pages.Add(1)
		if resp.Header.Get("X-Journal-More") != "true" {
			return
		}
	}
}

// faults arms a rule and disarms the oldest once four are armed.
func (s *soak) faults(_ context.Context, rng *rand.Rand) {
	actions := []string{
		`"drop":{}`,
		`"delay":{"duration":"30ms","jitter":"10ms"}`,
		`"duplicate":{"count":1}`,
		`"disconnect":{"mode":"close"}`,
		`"disconnect":{"mode":"reset"}`,
	}
	packetsOf := []string{"PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBACK", "PINGREQ"}
	n := s.rules.Add(1)
	rule := fmt.Sprintf(`{"name":"soak-%d","match":{"packet":%q,"probability":0.05},%s}`, n, packetsOf[rng.IntN(len(packetsOf))], actions[rng.IntN(len(actions))])
	s.do(http.MethodPost, "/faults", rule)
	if n > 4 {
		s.do(http.MethodDelete, fmt.Sprintf("/faults/soak-%d", n-4), "")
	}
}

// observe subscribes to everything on the control listener, as a
// scenario's observers do, until the returned function is called.
func (s *soak) observe(ctx context.Context, wg *sync.WaitGroup) func() {
	c, err := soakDial(s.b.ControlAddr, "observer", true)
	if err != nil {
		s.t.Fatalf("observer: %v", err)
	}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "#", Qos: 1}}})
	done := make(chan struct{})
	go func() { defer close(done); c.serve() }()
	return func() { c.conn.Close(); <-done }
}

// session is one client's visit: it connects with a scenario-like id,
// subscribes, publishes a few messages at QoS 0, 1 and 2, answers what it
// is sent, and leaves cleanly, abruptly or because a fault cut it off.
func (s *soak) session(ctx context.Context, rng *rand.Rand, worker int) {
	if ctx.Err() != nil {
		return
	}
	s.sessions.Add(1)
	id := soakClientID(worker, rng.IntN(soakSessionsPerWorker))
	c, err := soakDial(s.b.DUTAddr, id, rng.IntN(4) != 0)
	if err != nil {
		s.cut.Add(1) // the listener was down, or a fault refused the connection
		return
	}
	served := make(chan struct{})
	go func() { defer close(served); c.serve() }()
	defer func() { c.conn.Close(); <-served }()
	qos := byte(rng.IntN(3))
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: fmt.Sprintf("soak/%d/#", worker%4), Qos: qos}}})
	for i := range 5 + rng.IntN(20) {
		q := byte(rng.IntN(3))
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: q},
			TopicName: fmt.Sprintf("soak/%d/%d", rng.IntN(4), i), Payload: bytes.Repeat([]byte{'x'}, rng.IntN(512))}
		if q > 0 {
			pk.PacketID = uint16(i + 2)
		}
		if !c.send(pk) {
			s.cut.Add(1)
			return
		}
		s.publishes.Add(1)
	}
	if rng.IntN(2) == 0 {
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	}
	// Leave time for acknowledgements to flow, bounded by the session.
	select {
	case <-served:
	case <-time.After(time.Duration(rng.IntN(50)) * time.Millisecond):
	case <-ctx.Done():
	}
}

// scenario starts a broker of its own, puts a client through it and
// closes it, as every scenario of a run does.
func (s *soak) scenario(ctx context.Context, rng *rand.Rand) {
	if ctx.Err() != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := emulator.Start(sctx, emulator.Options{Seed: rng.Int64N(1000) + 1})
	if err != nil {
		s.t.Errorf("scenario broker: %v", err)
		return
	}
	s.scenarios.Add(1)
	if c, err := soakDial(b.DUTAddr, "sensor", true); err == nil {
		served := make(chan struct{})
		go func() { defer close(served); c.serve() }()
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "home/t", PacketID: 1, Payload: []byte("21.5")})
		_, _ = b.Journal.WaitFor(sctx, journal.Filter{Type: "PUBACK"}, 1)
		c.conn.Close()
		<-served
	}
	if err := b.Close(); err != nil {
		s.t.Errorf("scenario broker close: %v", err)
	}
}

// soakClient is a bare MQTT 3.1.1 client that survives its connection
// being cut: every error ends it quietly.
type soakClient struct {
	conn net.Conn
	br   *bufio.Reader
	mu   sync.Mutex // serialises writes from the session and from serve
}

func soakDial(addr, id string, clean bool) (*soakClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c := &soakClient{conn: conn, br: bufio.NewReader(conn)}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Keepalive: 30, Clean: clean}})
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	raw, err := faultwire.ReadFrame(c.br)
	conn.SetReadDeadline(time.Time{})
	if err != nil || raw[0]>>4 != packets.Connack {
		conn.Close()
		return nil, errors.Join(errors.New("no CONNACK"), err)
	}
	return c, nil
}

// send writes pk and reports whether the connection took it.
func (c *soakClient) send(pk packets.Packet) bool {
	pk.ProtocolVersion = 4
	raw, err := mqttcodec.Encode(pk)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err = c.conn.Write(raw)
	return err == nil
}

// serve reads until the connection ends, answering the QoS 1 and 2 flows
// in both directions.
func (c *soakClient) serve() {
	for {
		raw, err := faultwire.ReadFrame(c.br)
		if err != nil {
			return
		}
		var fh packets.FixedHeader
		if fh.Decode(raw[0]) != nil {
			return
		}
		start := 2
		for start < len(raw) && raw[start-1]&0x80 != 0 {
			start++
		}
		fh.Remaining = len(raw) - start
		pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 4}
		body := raw[start:]
		ack := func(typ byte, qos byte, id uint16) {
			c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: typ, Qos: qos}, PacketID: id})
		}
		switch fh.Type {
		case packets.Publish:
			if pk.PublishDecode(body) != nil {
				return
			}
			switch fh.Qos {
			case 1:
				ack(packets.Puback, 0, pk.PacketID)
			case 2:
				ack(packets.Pubrec, 0, pk.PacketID)
			}
		case packets.Pubrec:
			if pk.PubrecDecode(body) == nil {
				ack(packets.Pubrel, 1, pk.PacketID)
			}
		case packets.Pubrel:
			if pk.PubrelDecode(body) == nil {
				ack(packets.Pubcomp, 0, pk.PacketID)
			}
		}
	}
}
