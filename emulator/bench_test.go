package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// startBareMochi runs mochi with nothing of ours in between: the baseline.
func startBareMochi(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: mqtt.NewDefaultServerCapabilities(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(allowAll), nil); err != nil {
		tb.Fatal(err)
	}
	if err := s.AddListener(listeners.NewNet("bare", ln)); err != nil {
		tb.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// neverMatching is ten rules that look at every packet and touch none.
func neverMatching() []faults.Rule {
	var rules []faults.Rule
	for i := range 5 {
		rules = append(rules,
			faults.Rule{Name: fmt.Sprintf("idle-publish-%d", i), Action: faults.Drop{},
				Match: faults.Match{Direction: faults.Both, Packets: []byte{3}, Topic: fmt.Sprintf("never/%d/+", i)}},
			faults.Rule{Name: fmt.Sprintf("idle-ack-%d", i), Action: faults.Drop{},
				Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4, 5, 6, 7}, Client: fmt.Sprintf("nobody-%d-*", i)}})
	}
	return rules
}

// qos1Load pushes n QoS 1 messages of size bytes from one publisher to one
// subscriber, with at most window unacknowledged, and returns the rate.
func qos1Load(tb testing.TB, addr string, n, size, window int) float64 {
	tb.Helper()
	sub := dial(tb, addr, 4)
	sub.connect("bench-sub")
	sub.subscribe("bench/t", 1, 1)
	pub := dial(tb, addr, 4)
	pub.connect("bench-pub")

	payload := make([]byte, size)
	frames := make([][]byte, 65536)
	for id := 1; id <= 65535; id++ {
		if id > n+1 {
			break
		}
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "bench/t",
			PacketID: uint16(id), Payload: payload, ProtocolVersion: 4}
		var buf bytes.Buffer
		pk.PublishEncode(&buf)
		frames[id] = buf.Bytes()
	}

	errs := make(chan error, 2)
	slots := make(chan struct{}, window)
	// Subscriber: ack every message, count them.
	go func() {
		br := bufio.NewReaderSize(sub.conn, 64<<10)
		bw := bufio.NewWriter(sub.conn)
		for got := 0; got < n; {
			sub.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			raw, err := faults.ReadFrame(br)
			if err != nil {
				errs <- fmt.Errorf("subscriber after %d messages: %w", got, err)
				return
			}
			if raw[0]>>4 != 3 {
				continue
			}
			got++
			p, _ := faults.Parse(raw, faults.ToClient, 4)
			bw.Write([]byte{0x40, 2, byte(p.PacketID >> 8), byte(p.PacketID)})
			if br.Buffered() == 0 {
				bw.Flush()
			}
		}
		bw.Flush()
		errs <- nil
	}()
	// Publisher's ack reader frees window slots.
	go func() {
		br := bufio.NewReaderSize(pub.conn, 64<<10)
		for got := 0; got < n; {
			pub.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			raw, err := faults.ReadFrame(br)
			if err != nil {
				errs <- fmt.Errorf("publisher after %d acks: %w", got, err)
				return
			}
			if raw[0]>>4 == 4 {
				got++
				<-slots
			}
		}
		errs <- nil
	}()
	start := time.Now()
	bw := bufio.NewWriterSize(pub.conn, 64<<10)
	for i := range n {
		select {
		case slots <- struct{}{}:
		default:
			bw.Flush()
			slots <- struct{}{}
		}
		bw.Write(frames[i%65535+1])
	}
	bw.Flush()
	for range 2 {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkQoS1EmulatorVsMochi measures QoS 1, 256-byte messages from one
// publisher to one subscriber through the emulator (journal on, ten rules
// armed that never match) and through bare mochi, alternating rounds in one
// process, and reports both rates and their ratio. It also checks that the
// journal kept every packet at that rate.
func BenchmarkQoS1EmulatorVsMochi(b *testing.B) {
	const perRound, size, window = 20000, 256, 64
	var mochiRates, emuRates []float64
	for range b.N {
		e := emulator.StartTest(b, emulator.Options{Rules: neverMatching()})
		emuRates = append(emuRates, qos1Load(b, e.DUTAddr, perRound, size, window))

		bare := startBareMochi(b)
		mochiRates = append(mochiRates, qos1Load(b, bare, perRound, size, window))
		// Every message is four packets on the DUT listener: PUBLISH in,
		// PUBACK out, PUBLISH out, PUBACK in.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := e.Journal.WaitFor(ctx, journal.Filter{Type: "PUBACK", Dir: "to_broker"}, perRound)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		recs := e.Journal.Records(journal.Filter{Kind: journal.KindPacket})
		var pubIn, ackOut, pubOut, ackIn int
		for _, r := range recs {
			switch {
			case r.Type == "PUBLISH" && r.Dir == "to_broker":
				pubIn++
			case r.Type == "PUBACK" && r.Dir == "to_client":
				ackOut++
			case r.Type == "PUBLISH" && r.Dir == "to_client":
				pubOut++
			case r.Type == "PUBACK" && r.Dir == "to_broker":
				ackIn++
			}
		}
		if st := e.Journal.Stats(); st.Lost != 0 || pubIn != perRound || ackOut != perRound || pubOut != perRound || ackIn != perRound {
			b.Fatalf("journal lost records: stats %+v, PUBLISH in %d, PUBACK out %d, PUBLISH out %d, PUBACK in %d, want %d each",
				st, pubIn, ackOut, pubOut, ackIn, perRound)
		}
	}
	m, e := median(mochiRates), median(emuRates)
	b.ReportMetric(m, "mochi-msg/s")
	b.ReportMetric(e, "emulator-msg/s")
	b.ReportMetric(e/m, "ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDelayFidelity asks for 50 ms delays on PUBACK and reports how far
// the observed ack latency strays from 50 ms plus the undelayed round trip
// measured in the same run.
func BenchmarkDelayFidelity(b *testing.B) {
	const delay, msgs = 50 * time.Millisecond, 200
	var errsAll []time.Duration
	for range b.N {
		e := emulator.StartTest(b, emulator.Options{})
		w := dial(b, e.DUTAddr, 4)
		w.connect("fidelity")
		base := ackLatencies(b, w, 1, 50, 0)
		if err := e.Faults.Add(faults.Rule{Name: "delay", Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}},
			Action: faults.Delay{Duration: delay}}); err != nil {
			b.Fatal(err)
		}
		lat := ackLatencies(b, w, 51, msgs, 2*time.Millisecond)
		rtt := medianDur(base)
		for _, l := range lat {
			d := l - delay - rtt
			if d < 0 {
				d = -d
			}
			errsAll = append(errsAll, d)
		}
	}
	slices.Sort(errsAll)
	p99 := errsAll[len(errsAll)*99/100]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-error-ms")
	b.ReportMetric(float64(errsAll[len(errsAll)/2].Microseconds())/1000, "p50-error-ms")
	b.ReportMetric(0, "ns/op")
}

// ackLatencies publishes QoS 1 messages spaced by gap (0: each after the
// previous ack) and returns each one's publish-to-PUBACK time.
func ackLatencies(tb testing.TB, w *wire, firstID, n int, gap time.Duration) []time.Duration {
	got := make([]time.Duration, n)
	if gap == 0 {
		for i := range n {
			start := time.Now()
			w.publish("f", 1, uint16(firstID+i), "x")
			w.expect(4)
			got[i] = time.Since(start)
		}
		return got
	}
	sent := make([]atomic.Int64, n) // unix nanos
	done := make(chan error, 1)
	go func() {
		for range n {
			raw, err := w.next(10 * time.Second)
			if err != nil {
				done <- err
				return
			}
			p, _ := faults.Parse(raw, faults.ToClient, 4)
			idx := p.PacketID - firstID
			if idx < 0 || idx >= n {
				done <- fmt.Errorf("unexpected ack id %d", p.PacketID)
				return
			}
			got[idx] = time.Since(time.Unix(0, sent[idx].Load()))
		}
		done <- nil
	}()
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for i := range n {
		sent[i].Store(time.Now().UnixNano())
		w.publish("f", 1, uint16(firstID+i), "x")
		<-tick.C
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return got
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianDur(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
