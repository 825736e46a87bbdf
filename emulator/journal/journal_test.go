package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func pkt(client, typ string, id int) Record {
	return Record{Kind: KindPacket, Client: client, Dir: "to_broker", Type: typ, PacketID: id, PayloadHash: 0xab}
}

func TestCapCountsWhatItLoses(t *testing.T) {
	j := New(3)
	for i := range 5 {
		j.Add(pkt("c", "PUBLISH", i+1))
	}
	st := j.Stats()
	if st.Kept != 3 || st.Lost != 2 || st.Cap != 3 {
		t.Fatalf("stats %+v", st)
	}
	recs := j.Records(Filter{})
	if len(recs) != 3 || recs[2].Seq != 3 {
		t.Fatalf("kept %v", recs)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	j := New(0)
	reason := 135
	in := Record{Kind: KindPacket, Conn: 4, Client: "dev", Dir: "to_client", Type: "PUBACK", PacketID: 65535, QoS: 2,
		Dup: true, Retain: true, Topic: "a/b", Size: 300, PayloadSize: 256, PayloadHash: 0xbeef, Reason: &reason,
		Props: "reason_string=x", Rule: "r", Action: "delay", Dropped: true, Cause: "c"}
	stamped := j.Add(in)
	got := j.Records(Filter{})[0]
	b1, _ := json.Marshal(stamped)
	b2, _ := json.Marshal(got)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("stored and loaded differ:\n%s\n%s", b1, b2)
	}
	var back Record
	if err := json.Unmarshal(b2, &back); err != nil || back.PayloadHash != 0xbeef {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
	if !bytes.Contains(b2, []byte(`"payload_hash":"0000beef"`)) {
		t.Fatalf("hash not written as 8 hex digits: %s", b2)
	}
}

func TestFilter(t *testing.T) {
	j := New(0)
	j.Add(pkt("a", "PUBLISH", 1))
	j.Add(pkt("b", "PUBLISH", 2))
	r := pkt("a", "PUBACK", 1)
	r.Dropped = true
	j.Add(r)
	cases := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 3}, {Filter{Client: "a"}, 2}, {Filter{Type: "publish"}, 2}, {Filter{PacketID: 1}, 2},
		{Filter{Dropped: "yes"}, 1}, {Filter{Dropped: "no"}, 2}, {Filter{AfterSeq: 2}, 1}, {Filter{Dir: "to_client"}, 0},
	}
	for _, c := range cases {
		if got := len(j.Records(c.f)); got != c.want {
			t.Errorf("filter %s: %d records, want %d", c.f, got, c.want)
		}
	}
}

func TestWaitFor(t *testing.T) {
	j := New(0)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			j.Add(pkt("c", "PUBLISH", i+1))
			j.Add(pkt("c", "PUBACK", i+1))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := j.WaitFor(ctx, Filter{Type: "PUBACK"}, 50)
	if err != nil || len(got) != 50 || got[49].PacketID != 50 {
		t.Fatalf("WaitFor: %v, %d records", err, len(got))
	}
	wg.Wait()

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	got, err = j.WaitFor(short, Filter{Type: "PUBREL"}, 1)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Fatalf("waiting for what never comes: %v, %v", got, err)
	}
}

func TestWaitForAcrossReset(t *testing.T) {
	j := New(0)
	j.Add(pkt("c", "PUBLISH", 1))
	done := make(chan []Record)
	go func() {
		got, _ := j.WaitFor(context.Background(), Filter{Type: "PUBLISH"}, 2)
		done <- got
	}()
	j.Reset()
	j.Add(pkt("c", "PUBLISH", 2))
	j.Add(pkt("c", "PUBLISH", 3))
	select {
	case got := <-done:
		if got[0].PacketID != 2 || got[1].PacketID != 3 {
			t.Fatalf("after reset: %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitFor did not see records added after Reset")
	}
}

func TestSinkAndJSONL(t *testing.T) {
	var sink bytes.Buffer
	j := New(1)
	j.SetSink(&sink)
	j.Add(pkt("c", "PUBLISH", 1))
	j.Add(pkt("c", "PUBACK", 1)) // over the cap: lost in memory, kept in the sink
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(&sink)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("sink line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 2 {
		t.Fatalf("sink has %d lines, want 2", lines)
	}
	var out bytes.Buffer
	if err := j.WriteJSONL(&out, Filter{}); err != nil || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("WriteJSONL: %v %q", err, out.String())
	}
}

// BenchmarkAdd measures recording one packet.
func BenchmarkAdd(b *testing.B) {
	j := New(b.N + 1)
	r := pkt("client-1", "PUBLISH", 1)
	r.Topic = "home/kitchen/temp"
	b.ReportAllocs()
	for b.Loop() {
		j.Add(r)
	}
}

// BenchmarkAppendParallel records packets from several goroutines at once,
// as the fault layer does: every connection's reading and writing side
// appends to the one journal.
func BenchmarkAppendParallel(b *testing.B) {
	j := New(0)
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := pkt(fmt.Sprintf("client-%d", next.Add(1)), "PUBLISH", 1)
		r.Topic = "home/kitchen/temp"
		for pb.Next() {
			j.AppendAt(&r, j.Clock())
		}
	})
}

// Records past one storage block keep their order and content.
func TestManyRecords(t *testing.T) {
	j := New(0)
	const n = 3*chunkLen + 17
	for i := range n {
		j.Add(pkt("c", "PUBLISH", i%65535+1))
	}
	recs := j.Records(Filter{})
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) || r.PacketID != i%65535+1 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

// Sequence numbers go on across the cap and a Reset, and the records kept
// after a Reset carry their own.
func TestSeqAcrossCapAndReset(t *testing.T) {
	j := New(3)
	for i := range 5 {
		j.Add(pkt("c", "PUBLISH", i+1))
	}
	if st := j.Stats(); st.Kept != 3 || st.Lost != 2 {
		t.Fatalf("stats %+v, want 3 kept and 2 lost", st)
	}
	j.Reset()
	j.Add(pkt("c", "PUBACK", 9))
	j.Add(pkt("c", "PUBACK", 10))
	recs := j.Records(Filter{})
	if len(recs) != 2 || recs[0].Seq != 6 || recs[1].Seq != 7 || recs[1].PacketID != 10 {
		t.Fatalf("after Reset: %v", recs)
	}
}

// A kept record stays small: at full rate the journal writes one for every
// packet, and its size is much of what recording costs.
// Records come back from packed blocks as they went in, whatever their
// numbers, read in order or hopping between blocks (which the read cache
// holds two of).
func TestPackedBlocksRoundTrip(t *testing.T) {
	j := New(0)
	var want []Record
	tns := int64(1000)
	for i := range 3*chunkLen + 100 {
		switch {
		case i == 10:
			tns -= 500 // a record journaled after one whose clock was read later
		case i == 5000:
			tns += 1 << 60
		default:
			tns += int64(i%97) * 1013
		}
		r := Record{Kind: KindPacket, Conn: uint64(i % 1000), Client: fmt.Sprintf("c%d", i%1000), Dir: "to_broker", Type: "PUBLISH",
			QoS: 1, PacketID: (i * 7) % 65536, Topic: fmt.Sprintf("t/%d", i%3), Size: 20 + i%300, PayloadSize: i % 300,
			PayloadHash: Hash(uint32(i) * 2654435761)}
		j.AppendAt(&r, tns)
		want = append(want, r)
	}
	if len(j.recs.packed) != 3 {
		t.Fatalf("%d packed blocks, want 3", len(j.recs.packed))
	}
	check := func(how string, i int, got Record) {
		t.Helper()
		if got != want[i] {
			t.Fatalf("%s, record %d:\n got %+v\nwant %+v", how, i, got, want[i])
		}
	}
	for i, r := range j.Records(Filter{}) {
		check("in order", i, r)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, i := range []int{0, 5000, 9000, 1, 12300, 4095, 4096, 8191, 8192, 12387, 2} {
		check(fmt.Sprintf("hop %d", k), i, j.load(i))
	}
}

// A run's records pack to little more than half what the block being
// filled takes: a thousand connections publishing at QoS 1 every 50
// microseconds between them, each PUBLISH answered by a PUBACK.
func TestPackedRecordSize(t *testing.T) {
	j := New(0)
	for i := range 8 * chunkLen {
		c := uint64(i / 2 % 1000)
		r := Record{Kind: KindPacket, Conn: c, Client: fmt.Sprintf("scale-%d", c), Dir: "to_broker", Type: "PUBLISH",
			QoS: 1, PacketID: i / 2000, Topic: "bench/scale", Size: 21, PayloadSize: 4, PayloadHash: 0x1234abcd}
		if i%2 == 1 {
			r = Record{Kind: KindPacket, Conn: c, Client: r.Client, Dir: "to_client", Type: "PUBACK", PacketID: i / 2000, Size: 4}
		}
		j.AppendAt(&r, int64(i)*50_000)
	}
	perRecord := float64(j.recs.packedBytes) / float64(len(j.recs.packed)*chunkLen)
	if perRecord > 14 {
		t.Fatalf("packed records take %.1f bytes each, want at most 14 (the block being filled: %d)", perRecord, storedBytes)
	}
	t.Logf("%.1f bytes a packed record", perRecord)
}

func TestStoredRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(stored{}); n > 24 {
		t.Fatalf("a kept record takes %d bytes, want at most 24", n)
	}
}

// Times are kept in 48 bits after a block's base while the block fills;
// one that does not fit (days after the block began, or long before) still
// comes back exact, from that block and once the block is packed, and is
// counted against the byte bound.
func TestRecordTimesOutsideTheirBlocksRange(t *testing.T) {
	const hour = int64(time.Hour)
	times := []int64{5, 5 + 100*hour, 4, 1<<62 + 7, -3, 6}
	for len(times) < chunkLen+3 {
		times = append(times, 1000+int64(len(times)))
	}
	times = append(times, 200*hour, 1000, 200*hour+1)
	j := New(0)
	before := j.Stats().Bytes
	for _, tns := range times {
		j.AppendAt(&Record{Kind: KindPacket, Type: "PINGREQ", PacketID: 65535}, tns)
	}
	got := j.Records(Filter{})
	if len(got) != len(times) {
		t.Fatalf("%d records back, want %d", len(got), len(times))
	}
	for i, r := range got {
		if r.TNs != times[i] || r.PacketID != 65535 {
			t.Errorf("record %d: time %d, packet id %d; want %d, 65535", i, r.TNs, r.PacketID, times[i])
		}
	}
	if wide := len(j.recs.wide); wide != 2 {
		t.Errorf("%d times of the block being filled kept wide, want 2 (the two 200 h on)", wide)
	}
	if grew := j.Stats().Bytes - before; grew < chunkLen*storedBytes+2*wideBytes {
		t.Errorf("bytes grew by %d, less than the block being filled and its two wide times", grew)
	}
}

// Kinds, directions and types come from a few dozen words; a caller that
// makes up more than the label table holds gets a marker, not a wrong word.
func TestLabelOverflow(t *testing.T) {
	j := New(0)
	for i := range maxLabels + 2 {
		j.Add(Record{Kind: KindPacket, Type: fmt.Sprintf("T%d", i)})
	}
	// Scanned rather than copied out with Records: only two of the 65,537
	// records are looked at.
	var at100, last Record
	n := 0
	j.Scan(Filter{}, 0, func(r Record) bool {
		if n == 100 {
			at100 = r
		}
		last = r
		n++
		return true
	})
	if n != maxLabels+2 {
		t.Fatalf("%d records, want %d", n, maxLabels+2)
	}
	if got := at100.Type; got != "T100" {
		t.Fatalf("record 100 has type %q, want T100", got)
	}
	if got := last.Type; got != overflowLabel {
		t.Fatalf("last record has type %q, want %q", got, overflowLabel)
	}
}

// The fixed label numbers and the table that finds them agree, and words
// that only look like known labels are not taken for them.
func TestKnownLabels(t *testing.T) {
	for i, s := range knownLabels {
		if id, ok := knownLabel(s); !ok || int(id) != i {
			t.Errorf("label %q: id %d, %t; want %d", s, id, ok, i)
		}
	}
	for _, s := range []string{"puback", "PUBACK ", "PUBLICH", "P", "to_bXoker", "custom"} {
		if id, ok := knownLabel(s); ok {
			t.Errorf("label %q taken for known label %d (%q)", s, id, knownLabels[id])
		}
	}
	j := New(0)
	j.Add(Record{Kind: KindClose, Dir: "to_client", Type: "UNSUBACK"})
	j.Add(Record{Kind: "custom", Dir: "sideways", Type: "NEWTYPE"})
	recs := j.Records(Filter{})
	if r := recs[0]; r.Kind != KindClose || r.Dir != "to_client" || r.Type != "UNSUBACK" {
		t.Errorf("known labels read back as %q %q %q", r.Kind, r.Dir, r.Type)
	}
	if r := recs[1]; r.Kind != "custom" || r.Dir != "sideways" || r.Type != "NEWTYPE" {
		t.Errorf("other labels read back as %q %q %q", r.Kind, r.Dir, r.Type)
	}
}

// Paging by cursor visits every kept record once, in order, across chunk
// boundaries and with a filter that skips most of them.
func TestPageCursor(t *testing.T) {
	j := New(0)
	const n = 3*readChunk + 5
	for i := range n {
		typ := "PUBLISH"
		if i%3 == 2 {
			typ = "PUBACK"
		}
		j.Add(pkt("c", typ, i%65535+1))
	}
	cases := []struct {
		name  string
		f     Filter
		limit int
		want  int
	}{
		// Pages of 100 end inside a chunk of the scan, as pages of a few
		// records do, in 31 Page calls rather than hundreds (each Page
		// copies a chunk's worth of records).
		{"all, small pages", Filter{}, 100, n},
		{"all, one page", Filter{}, 0, n},
		{"filtered, pages past a chunk", Filter{Type: "PUBACK"}, readChunk + 1, n / 3},
		{"filtered, nothing matches", Filter{Type: "PUBREL"}, 10, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen []uint64
			cursor, pages := uint64(0), 0
			for {
				recs, next, more := j.Page(c.f, cursor, c.limit)
				pages++
				if c.limit > 0 && len(recs) > c.limit {
					t.Fatalf("page of %d records, limit %d", len(recs), c.limit)
				}
				for _, r := range recs {
					if len(seen) > 0 && r.Seq <= seen[len(seen)-1] {
						t.Fatalf("record %d after %d", r.Seq, seen[len(seen)-1])
					}
					seen = append(seen, r.Seq)
				}
				if next < cursor {
					t.Fatalf("cursor went back from %d to %d", cursor, next)
				}
				cursor = next
				if !more {
					break
				}
				if pages > n {
					t.Fatal("paging does not end")
				}
			}
			if len(seen) != c.want {
				t.Fatalf("saw %d records in %d pages, want %d", len(seen), pages, c.want)
			}
		})
	}
}

// A reader's callback runs without the journal's lock: it can record (as
// a reader that is slow to write its output stands for) without deadlock.
func TestScanDoesNotHoldTheLock(t *testing.T) {
	j := New(0)
	for i := range 2 * readChunk {
		j.Add(pkt("c", "PUBLISH", i+1))
	}
	added := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		j.Scan(Filter{Client: "c"}, 0, func(Record) bool {
			if added < 10 {
				j.Add(pkt("other", "PUBACK", 1))
				added++
			}
			return true
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Scan holds the journal's lock while calling its callback")
	}
	if st := j.Stats(); st.Kept != 2*readChunk+10 {
		t.Fatalf("kept %d, want %d", st.Kept, 2*readChunk+10)
	}
}

// The byte bound loses records as the record cap does, and Stats accounts
// for every record ever added: Seq = Kept + Lost + Cleared.
func TestByteBound(t *testing.T) {
	j := New(0)
	j.SetMaxBytes(1 << 20)
	long := string(make([]byte, 200))
	for i := range 20_000 {
		r := pkt(fmt.Sprintf("client-%d", i), "PUBLISH", 1)
		r.Topic = fmt.Sprintf("%s/%d", long, i)
		j.Add(r)
	}
	st := j.Stats()
	if st.Lost == 0 || st.Kept == 0 {
		t.Fatalf("stats %+v: want some kept and some lost to the byte bound", st)
	}
	if st.Bytes > st.MaxBytes+chunkLen*storedBytes+2*(200+stringBytes+16) {
		t.Fatalf("stats %+v: bytes past the bound by more than one record", st)
	}
	accounted := func(st Stats) {
		t.Helper()
		if st.Seq != uint64(st.Kept)+st.Lost+st.Cleared {
			t.Fatalf("stats %+v: seq %d != kept + lost + cleared", st, st.Seq)
		}
	}
	accounted(st)
	j.Reset()
	st = j.Stats()
	accounted(st)
	if st.Kept != 0 || st.Lost != 0 || st.Cleared != 20_000 || st.Bytes != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
	j.Add(pkt("c", "PUBLISH", 1))
	accounted(j.Stats())
	if recs := j.Records(Filter{}); len(recs) != 1 || recs[0].Client != "c" || recs[0].Seq != 20_001 {
		t.Fatalf("after Reset: %v", recs)
	}
}

// Records that share a connection or a shape, and the odd ones a side
// table or the narrow header-size field cannot hold as is, come back as
// they went in, interleaved so that each table's recent slots are reused.
func TestRecordsRoundTripThroughTheSideTables(t *testing.T) {
	r0, r200 := 0, 200
	cases := []Record{
		{Kind: KindPacket, Conn: 1, Client: "a", Dir: "to_broker", Type: "PUBLISH", QoS: 1, PacketID: 7, Topic: "t/1", Size: 40, PayloadSize: 30, PayloadHash: 1},
		{Kind: KindPacket, Conn: 2, Client: "a", Dir: "to_broker", Type: "PUBLISH", QoS: 1, PacketID: 7, Topic: "t/1", Size: 40, PayloadSize: 30, PayloadHash: 1},
		{Kind: KindPacket, Conn: 1, Client: "b", Dir: "to_client", Type: "PUBACK", PacketID: 7, Size: 4, Reason: &r0},
		{Kind: KindPacket, Conn: 1, Client: "b", Dir: "to_client", Type: "PUBACK", PacketID: 8, Size: 4, Reason: &r200},
		{Kind: KindPacket, Conn: 1, Client: "b", Dir: "to_client", Type: "PUBACK", PacketID: 9, Size: 4},
		{Kind: KindPacket, Conn: 3, Dir: "to_broker", Type: "PUBLISH", Topic: "big", Size: 70000 + 5, PayloadSize: 5, Props: "user=long"},
		{Kind: KindPacket, Conn: 3, Dir: "to_broker", Type: "PUBLISH", Topic: "odd", Size: 4, PayloadSize: 9},
		{Kind: KindFault, Conn: 1 << 40, Client: "c", Rule: "r", Action: "drop", Cause: "why", Dropped: true},
		{Kind: "custom kind", Conn: 1, Client: "a", Dir: "sideways", Type: "NOTHING", Dup: true, Retain: true},
	}
	j := New(0)
	var want []string
	for round := range 3 {
		for i, r := range cases {
			r.PacketID += round
			s := j.Add(r)
			b, _ := json.Marshal(s)
			want = append(want, string(b))
			if i%3 == 0 {
				j.Add(Record{Kind: KindPacket, Conn: uint64(100 + i), Client: "filler", Type: "PINGREQ", Dir: "to_broker", Size: 2})
			}
		}
	}
	var got []string
	for _, r := range j.Records(Filter{}) {
		if r.Client == "filler" {
			continue
		}
		b, _ := json.Marshal(r)
		got = append(got, string(b))
	}
	if len(got) != len(want) {
		t.Fatalf("%d records back, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if n := len(j.shapes.vals); n > 20 {
		t.Errorf("%d shapes for %d kinds of record: shapes are not shared", n, len(cases))
	}
}
