package emulator_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/bench"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// BenchmarkQoS1EmulatorVsMochi measures QoS 1, 256-byte messages from one
// publisher to one subscriber through the emulator (journal on, ten rules
// armed that never match) and through bare mochi, in pairs of rounds in one
// process, and reports both median rates and the median of the pairs'
// ratios. Each pair runs the two back to back, in turns which first, so
// that the load of a shared machine, which drifts, weighs on both alike. It
// also checks that the journal kept every packet at that rate.
func BenchmarkQoS1EmulatorVsMochi(b *testing.B) {
	const perRound = 20000
	load := bench.BrokerLoad(1, 256, 1, perRound) // as mqtthil bench puts it
	ctx := context.Background()
	var mochiRates, emuRates, ratios []float64
	round := 0
	for range b.N {
		var emuRate, mochiRate float64
		// Each run starts from a collected heap, so that the garbage of the
		// one before (the journal check makes plenty) is not charged to it.
		runEmu := func() {
			runtime.GC()
			// Started and closed here, not with StartTest: its clean-up
			// would keep every round's broker, and its journal, alive to
			// the end of the benchmark.
			e, err := emulator.Start(ctx, emulator.Options{Rules: bench.IdleRules()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			r, err := bench.Run(ctx, e.DUTAddr, load)
			if err != nil {
				b.Fatal(err)
			}
			emuRate = r.Rate
			checkJournalKeptAll(b, e, perRound)
		}
		runMochi := func() {
			runtime.GC()
			bare, err := bench.StartMochi(ctx)
			if err != nil {
				b.Fatal(err)
			}
			r, err := bench.Run(ctx, bare.Addr, load)
			bare.Close()
			if err != nil {
				b.Fatal(err)
			}
			mochiRate = r.Rate
		}
		if round%2 == 0 {
			runEmu()
			runMochi()
		} else {
			runMochi()
			runEmu()
		}
		round++
		emuRates = append(emuRates, emuRate)
		mochiRates = append(mochiRates, mochiRate)
		ratios = append(ratios, emuRate/mochiRate)
	}
	b.ReportMetric(bench.Median(mochiRates), "mochi-msg/s")
	b.ReportMetric(bench.Median(emuRates), "emulator-msg/s")
	b.ReportMetric(bench.Median(ratios), "ratio")
	b.ReportMetric(0, "ns/op")
}

// checkJournalKeptAll fails unless the journal holds every packet of n
// messages: each is four packets on the DUT listener, PUBLISH in, PUBACK
// out, PUBLISH out, PUBACK in.
func checkJournalKeptAll(b *testing.B, e *emulator.Broker, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Journal.WaitFor(ctx, journal.Filter{Type: "PUBACK", Dir: "to_broker"}, n); err != nil {
		b.Fatal(err)
	}
	var pubIn, ackOut, pubOut, ackIn int
	for _, r := range e.Journal.Records(journal.Filter{Kind: journal.KindPacket}) {
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
	if st := e.Journal.Stats(); st.Lost != 0 || pubIn != n || ackOut != n || pubOut != n || ackIn != n {
		b.Fatalf("journal lost records: stats %+v, PUBLISH in %d, PUBACK out %d, PUBLISH out %d, PUBACK in %d, want %d each",
			st, pubIn, ackOut, pubOut, ackIn, n)
	}
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
		rtt := bench.Median(base)
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
