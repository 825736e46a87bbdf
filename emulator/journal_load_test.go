// Tests of the journal under load, through a running broker: a reader of a
// large journal must not stall the broker's publishing, and clearing the
// journal must give its memory back.
package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// fillJournal adds n records as a long run of scenarios leaves them: each
// client id and topic new, the way churning clients and per-message topics
// make them; a client has a connection of its own.
func fillJournal(j *journal.Journal, round, n int) { fillJournalTopics(j, round, n, n) }

// fillJournalTopics is fillJournal with at most topics distinct topics
// and topics/4 clients, which come back in turn: where the journal's
// length is what counts, not its strings, the fill costs a fraction of
// the time under the race detector (the journal's tables of strings and
// of client-topic pairs stay small).
func fillJournalTopics(j *journal.Journal, round, n, topics int) {
	// Built with strconv, not fmt: a million Sprintf calls under the race
	// detector cost seconds that say nothing about the journal.
	// Names that come back are built once.
	r := strconv.Itoa(round)
	clientNames, topicNames := make([]string, max(topics/4, 1)), make([]string, min(topics, n))
	for c := range clientNames {
		clientNames[c] = "client-" + r + "-" + strconv.Itoa(c)
	}
	for i := range topicNames {
		topicNames[i] = "dev/" + r + "/" + strconv.Itoa(i) + "/state"
	}
	for i := range n {
		c := i / 4 % len(clientNames)
		j.Add(journal.Record{Kind: journal.KindPacket, Conn: uint64(c), Client: clientNames[c],
			Dir: "to_broker", Type: "PUBLISH", QoS: 1, PacketID: i%65535 + 1, Topic: topicNames[i%len(topicNames)], Size: 40, PayloadSize: 20})
	}
}

// TestJournalReadDoesNotStallPublishing reads a journal of 600k records
// over the API while a client publishes QoS 1 messages and times each
// PUBACK. The reader may take as long as it likes; the publisher must not
// wait on it: its longest round trip during the read is held to a small
// share of the read's time. The read that is checked filters for a client
// that is not there, so that it is all scanning and no writing: a reader
// that scans under the journal's lock then stalls publishing for its whole
// length. With MQTTHIL_JOURNAL_LOAD=N the journal holds N records and whole
// reads in both formats are measured too.
func TestJournalReadDoesNotStallPublishing(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a large journal")
	}
	b, srv := apiBroker(t, emulator.Options{})
	n := 600_000
	paths := []string{"/journal?client=nobody"}
	if v, err := strconv.Atoi(os.Getenv("MQTTHIL_JOURNAL_LOAD")); err == nil && v > 0 {
		n = v
		paths = append(paths, "/journal", "/journal?format=json")
	}
	fillJournalTopics(b.Journal, 0, n, 1000)
	pub := dial(t, b.DUTAddr, 4)
	pub.connect("pub")

	id := uint16(0)
	for _, path := range paths {
		readDone := make(chan time.Duration, 1)
		peak := watchHeap()
		start := time.Now()
		go func() {
			resp, err := srv.Client().Get(srv.URL + path)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				t.Errorf("GET %s: %v", path, err)
			}
			readDone <- time.Since(start)
		}()
		var lat []time.Duration
		var readTook time.Duration
		for readTook == 0 {
			if id++; id == 0 {
				id = 1
			}
			t0 := time.Now()
			pub.publish("load/x", 1, id, "x")
			pub.expect(packets.Puback)
			lat = append(lat, time.Since(t0))
			select {
			case readTook = <-readDone:
			default:
			}
		}
		grew := peak()
		slices.Sort(lat)
		worst := lat[len(lat)-1]
		t.Logf("GET %s of %d records: %s; %d publishes meanwhile (%.0f/s), p50 %s, max %s; heap peak +%.0f MiB",
			path, n, readTook, len(lat), float64(len(lat))/readTook.Seconds(), lat[len(lat)/2], worst, float64(grew)/(1<<20))
		// A publish stuck behind the reader waits about as long as the
		// read; half of it leaves room for a loaded machine's scheduling
		// hiccups, which are not stalls.
		if worst > readTook/2 {
			t.Errorf("GET %s: publishing stalled behind the reader: longest PUBACK %s of a %s read (%d publishes)", path, worst, readTook, len(lat))
		}
	}
}

// watchHeap samples the live heap until the returned function is called,
// which returns how far the heap rose above where it started. It reads
// runtime/metrics, which does not stop the world as ReadMemStats does.
func watchHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return max(peak.Load(), base) - base
	}
}

// TestJournalResetReleasesMemory fills the journal and clears it over the
// API five times; the heap after the fifth clear must be close to the heap
// after the first, measured against what one fill costs.
func TestJournalResetReleasesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a journal five times")
	}
	b, srv := apiBroker(t, emulator.Options{})
	// Every round names n/4 new clients and n new topics: a reset that
	// kept the strings would grow the heap by about as much as a fill each
	// round, whatever n is. n only has to lift one fill (about 5 MiB here)
	// well above the collector's noise.
	const n = 25_000
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var base, filled, after []uint64
	base = append(base, heap())
	for round := range 5 {
		fillJournal(b.Journal, round, n)
		filled = append(filled, heap())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/reset?journal=1", nil)
		resp, err := srv.Client().Do(req)
		cancel()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /reset?journal=1: %v %v", err, resp)
		}
		resp.Body.Close()
		after = append(after, heap())
	}
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	var trail []string
	for i := range after {
		trail = append(trail, mib(filled[i])+" -> "+mib(after[i]))
	}
	t.Logf("heap before %s; fill -> reset: %s", mib(base[0]), strings.Join(trail, ", "))
	oneFill := float64(filled[0]) - float64(after[0])
	growth := float64(after[4]) - float64(after[0])
	if oneFill <= 0 || growth > oneFill/4 {
		t.Errorf("reset keeps memory: heap after reset grew %s over five rounds, one fill costs %s", mib(uint64(max(growth, 0))), mib(uint64(max(oneFill, 0))))
	}
}

// TestAPIJournalPages pages through the journal over the API with a
// cursor, in both formats, and checks that the pages join up exactly.
func TestAPIJournalPages(t *testing.T) {
	b, srv := apiBroker(t, emulator.Options{})
	const n = 2500
	fillJournal(b.Journal, 0, n)
	for _, format := range []string{"jsonl", "json"} {
		t.Run(format, func(t *testing.T) {
			cursor, pages, total := "0", 0, 0
			for {
				r := call(t, srv, http.MethodGet, "/journal?type=PUBLISH&limit=1000&format="+format+"&after="+cursor, "")
				r.expect(t, http.StatusOK, "")
				var recs []journal.Record
				if format == "json" {
					r.decode(t, &recs)
				} else {
					for _, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
						var rec journal.Record
						if err := json.Unmarshal([]byte(line), &rec); err != nil {
							t.Fatalf("line %q: %v", line, err)
						}
						recs = append(recs, rec)
					}
				}
				pages++
				for i, rec := range recs {
					if want := uint64(total + i + 1); rec.Seq != want {
						t.Fatalf("page %d record %d: seq %d, want %d", pages, i, rec.Seq, want)
					}
				}
				total += len(recs)
				next, more := r.header.Get("X-Journal-Next"), r.header.Get("X-Journal-More")
				if next == "" || more == "" {
					t.Fatalf("page %d: no cursor headers: %v", pages, r.header)
				}
				cursor = next
				if more == "false" {
					break
				}
				if pages > n {
					t.Fatal("paging does not end")
				}
			}
			if total != n || pages != 3 {
				t.Fatalf("%d records in %d pages, want %d in 3", total, pages, n)
			}
		})
	}
	// A cursor past the end, however far, is an empty last page.
	r := call(t, srv, http.MethodGet, "/journal?limit=10&after=18446744073709551615", "")
	if r.expect(t, http.StatusOK, ""); len(r.body) != 0 || r.header.Get("X-Journal-More") != "false" {
		t.Fatalf("page past the end: %q %v", r.body, r.header)
	}
	for _, bad := range []string{"limit=0", "limit=100001", "limit=x", "after=-1"} {
		call(t, srv, http.MethodGet, "/journal?"+bad, "").expect(t, http.StatusBadRequest, strings.SplitN(bad, "=", 2)[0])
	}
}
