// Package journal keeps the wire journal: every MQTT packet that crossed the
// device-under-test listener, in both directions, after faults, and every
// connection opened and closed. It is the evidence that assertions read.
package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unsafe"
)

// Record kinds.
const (
	KindPacket = "packet"
	KindOpen   = "open"
	KindClose  = "close"
	KindFault  = "fault" // a rule acted without a packet to show for it (stall, restart)
	// KindDrop is a message the broker itself gave up on before it reached
	// the wire (a full inflight window or outbound queue, an expired or
	// abandoned inflight message, a packet over the client's size limit):
	// the fault layer never saw it, so without this record a subscriber's
	// missing message would have no explanation. The fault layer writes one
	// too for each packet it had journaled as handed to the socket when the
	// connection closed before the socket took it whole.
	KindDrop = "drop"
)

// Record is one line of the journal.
type Record struct {
	Seq    uint64 `json:"seq"`
	TNs    int64  `json:"t_ns"` // monotonic, since the journal was created
	Kind   string `json:"kind"`
	Conn   uint64 `json:"conn"`
	Client string `json:"client,omitempty"`
	Dir    string `json:"dir,omitempty"` // to_broker, to_client

	Type        string `json:"type,omitempty"` // PUBLISH, PUBACK, ...
	PacketID    int    `json:"packet_id,omitempty"`
	QoS         int    `json:"qos,omitempty"`
	Dup         bool   `json:"dup,omitempty"`
	Retain      bool   `json:"retain,omitempty"`
	Topic       string `json:"topic,omitempty"`
	Size        int    `json:"size,omitempty"` // whole packet, bytes
	PayloadSize int    `json:"payload_size,omitempty"`
	PayloadHash Hash   `json:"payload_hash,omitempty"` // CRC-32C, see HashPayload
	Reason      *int   `json:"reason,omitempty"`       // reason or return code, where the packet has one
	Props       string `json:"props,omitempty"`        // MQTT 5 properties, summarised

	// What the fault layer did: the rule and its action. Dropped packets
	// are journaled too, so a test can tell where a packet was lost.
	Rule    string `json:"rule,omitempty"`
	Action  string `json:"action,omitempty"`
	Dropped bool   `json:"dropped,omitempty"`

	Cause string `json:"cause,omitempty"` // close: why the connection ended
}

func (r Record) String() string {
	switch r.Kind {
	case KindPacket:
		s := fmt.Sprintf("#%d conn %d %s %s %s", r.Seq, r.Conn, r.Client, r.Dir, r.Type)
		if r.PacketID != 0 {
			s += fmt.Sprintf(" id=%d", r.PacketID)
		}
		if r.Type == "PUBLISH" {
			s += fmt.Sprintf(" qos=%d dup=%t retain=%t topic=%q", r.QoS, r.Dup, r.Retain, r.Topic)
		}
		if r.Reason != nil {
			s += fmt.Sprintf(" reason=%d", *r.Reason)
		}
		if r.Rule != "" {
			s += fmt.Sprintf(" [%s by rule %q]", r.Action, r.Rule)
		}
		if r.Dropped {
			s += " DROPPED"
		}
		return s
	default:
		s := fmt.Sprintf("#%d conn %d %s %s", r.Seq, r.Conn, r.Client, r.Kind)
		if r.Cause != "" {
			s += " (" + r.Cause + ")"
		}
		if r.Rule != "" {
			s += fmt.Sprintf(" [%s by rule %q]", r.Action, r.Rule)
		}
		return s
	}
}

// DefaultCap is the number of records kept when Options give none.
const DefaultCap = 1 << 20

// DefaultMaxBytes bounds the memory the kept records take when Options give
// no bound: the record cap alone does not, since every new client id and
// topic is kept as a string of its own.
const DefaultMaxBytes = 256 << 20

// readChunk is how many kept records a reader looks at per hold of the
// lock. Every connection appends under the same lock, so a reader copying
// half a million records in one go would stall the whole broker; a chunk
// this size is copied in well under a millisecond.
const readChunk = 1024

// Journal is safe for concurrent use.
type Journal struct {
	start    time.Time
	cap      int
	maxBytes int64

	mu      sync.Mutex
	seq     uint64
	recs    chunks
	strs    interner // client ids, topics and the rarer strings
	labels  interner // kinds, directions and packet types
	wheres  table[where]
	shapes  table[shape]
	gen     uint64 // bumped by Reset, so waiters rescan
	lost    uint64
	cleared uint64 // records Reset has forgotten, kept or lost, over the journal's life
	sink    *bufio.Writer
	sinkErr error
	waiters []chan struct{}
}

// New makes a journal that keeps at most capacity records in memory
// (DefaultCap when capacity <= 0). Records past the cap are counted as lost
// and reported by Stats; they still go to the sink, if there is one.
func New(capacity int) *Journal {
	if capacity <= 0 {
		capacity = DefaultCap
	}
	return &Journal{start: time.Now(), cap: capacity, maxBytes: DefaultMaxBytes}
}

// SetMaxBytes bounds the memory the kept records take (DefaultMaxBytes when
// n is 0; no bound when n < 0). Records past it are lost as past the cap.
func (j *Journal) SetMaxBytes(n int64) {
	if n == 0 {
		n = DefaultMaxBytes
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.maxBytes = n
}

// Per-record and per-string costs counted against the byte bound: a kept
// record, and an interned string's header, table slot and map entry beside
// its bytes.
const (
	storedBytes = int64(unsafe.Sizeof(stored{}))
	stringBytes = 64
)

// bytes is what the kept records take; called with j.mu held.
func (j *Journal) bytes() int64 {
	return j.recs.bytes() + j.wheres.bytes() + j.shapes.bytes() + j.strs.bytes + j.labels.bytes
}

// full says whether one more record would go past a bound; called with
// j.mu held.
func (j *Journal) full() bool {
	return j.recs.len() >= j.cap || (j.maxBytes > 0 && j.bytes() >= j.maxBytes)
}

// SetSink streams every record, as a JSON line, to w as it is added.
// Flush writes out what is buffered.
func (j *Journal) SetSink(w io.Writer) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sink = bufio.NewWriterSize(w, 64<<10)
}

// Flush writes buffered sink output and returns the first sink error.
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.sink != nil && j.sinkErr == nil {
		j.sinkErr = j.sink.Flush()
	}
	return j.sinkErr
}

// Since returns the journal's clock reading for t.
func (j *Journal) Since(t time.Time) int64 { return int64(t.Sub(j.start)) }

// Add stamps r with its sequence number and time and keeps it.
func (j *Journal) Add(r Record) Record {
	j.Append(&r)
	return r
}

// Append is Add stamping *r in place: the fault layer records every packet,
// and a record is too large to copy in and out for each.
func (j *Journal) Append(r *Record) { j.AppendAt(r, j.Clock()) }

// Clock reads the journal's clock, the time Record.TNs counts.
func (j *Journal) Clock() int64 {
	// time.Since reads only the monotonic clock, half the cost of Now.
	return int64(time.Since(j.start))
}

// AppendAt is Append at a time read from Clock: packets that cross the
// wire together, in one write or one read, share one reading of it.
func (j *Journal) AppendAt(r *Record, tns int64) {
	j.mu.Lock()
	j.seq++
	r.Seq, r.TNs = j.seq, tns
	if !j.full() {
		if j.recs.len() == 0 {
			j.recs.first = j.seq
		}
		j.store(j.recs.grow(), r)
	} else {
		j.lost++
	}
	if j.sink != nil && j.sinkErr == nil {
		b, _ := json.Marshal(*r)
		b = append(b, '\n')
		_, j.sinkErr = j.sink.Write(b)
	}
	waiters := j.waiters
	j.waiters = nil
	j.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
}

// Stats says how many records were kept and how many the bounds cost.
// Every record ever added is accounted for: Seq = Kept + Lost + Cleared.
type Stats struct {
	Kept     int    `json:"kept"`
	Lost     uint64 `json:"lost"` // since the last Reset, past the record cap or the byte bound
	Cap      int    `json:"cap"`
	Bytes    int64  `json:"bytes"` // memory the kept records take, as counted against MaxBytes
	MaxBytes int64  `json:"max_bytes,omitempty"`
	Seq      uint64 `json:"seq"`     // the last sequence number given out
	Cleared  uint64 `json:"cleared"` // records Reset has forgotten (kept or lost), since the journal began
}

// Stats reports the journal's fill.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Kept: j.recs.len(), Lost: j.lost, Cap: j.cap, Bytes: j.bytes(), MaxBytes: max(j.maxBytes, 0), Seq: j.seq, Cleared: j.cleared}
}

// Reset forgets every record kept so far, and the strings they named, so
// that their memory goes back; sequence numbers go on.
func (j *Journal) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cleared += uint64(j.recs.len()) + j.lost
	j.recs = chunks{}
	j.wheres, j.shapes = table[where]{}, table[shape]{}
	j.strs = interner{}
	j.labels = interner{}
	j.lost = 0
	j.gen++
}

// Records returns the kept records that f matches, oldest first. It copies
// them a chunk at a time, so recording goes on while it reads.
func (j *Journal) Records(f Filter) []Record {
	var out []Record
	j.Scan(f, 0, func(r Record) bool { out = append(out, r); return true })
	return out
}

// Page returns at most limit kept records that f matches with sequence
// numbers after the cursor after, oldest first, and the cursor for the
// next page: the last sequence number it looked at. more says whether
// kept records remain past that cursor. limit <= 0 means no limit.
func (j *Journal) Page(f Filter, after uint64, limit int) (recs []Record, next uint64, more bool) {
	next, more = j.Scan(f, after, func(r Record) bool {
		recs = append(recs, r)
		return limit <= 0 || len(recs) < limit
	})
	return recs, next, more
}

// Scan calls fn with each kept record after the cursor after that f
// matches, oldest first, until fn returns false. It copies records a chunk
// at a time and calls fn without the journal's lock, so fn may take its
// time (write to a slow network peer, say) without holding up recording.
// Records added while it runs are included; a Reset while it runs makes it
// go on with the records kept after the Reset. It returns the last sequence
// number it looked at and whether kept records remain past it.
func (j *Journal) Scan(f Filter, after uint64, fn func(Record) bool) (next uint64, more bool) {
	after = max(after, f.AfterSeq)
	buf := make([]Record, 0, readChunk)
	for {
		var end bool
		buf, after, end, _ = j.chunk(f, after, buf[:0], nil)
		for i, r := range buf {
			if !fn(r) {
				return r.Seq, i < len(buf)-1 || !end || j.keptAfter(r.Seq)
			}
		}
		if end {
			return after, false
		}
	}
}

// keptAfter says whether any kept record has a sequence number after seq.
func (j *Journal) keptAfter(seq uint64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.recs.len() > 0 && j.recs.first+uint64(j.recs.len())-1 > seq
}

// chunk appends to buf the records after the cursor after that f matches,
// looking at no more than readChunk of them under one hold of the lock. It
// returns the cursor moved past what it looked at, whether that reached the
// last kept record, and the Reset generation it read. When it reached the
// end and wait is not nil, *wait is set to a channel closed by the next
// Add, registered under the same hold of the lock so that none is missed.
func (j *Journal) chunk(f Filter, after uint64, buf []Record, wait *chan struct{}) ([]Record, uint64, bool, uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.recs.len()
	i := 0
	if after >= j.recs.first {
		i = n // a cursor at or past the last record, however large
		if d := after - j.recs.first; d < uint64(n) {
			i = int(d) + 1
		}
	}
	stop := min(n, i+readChunk)
	for ; i < stop; i++ {
		if r := j.load(i); f.Match(r) {
			buf = append(buf, r)
		}
	}
	if n > 0 && i > 0 {
		after = max(after, j.recs.first+uint64(i)-1)
	}
	end := i == n
	if end && wait != nil {
		ch := make(chan struct{})
		j.waiters = append(j.waiters, ch)
		*wait = ch
	}
	return buf, after, end, j.gen
}

// WaitFor blocks until at least n kept records match f, and returns them.
// It gives up when ctx ends, returning what it saw with an error that says
// what was awaited.
func (j *Journal) WaitFor(ctx context.Context, f Filter, n int) ([]Record, error) {
	var got []Record
	after := f.AfterSeq
	var gen uint64
	first := true
	for {
		var wait chan struct{}
		var end bool
		var g uint64
		before := len(got)
		got, after, end, g = j.chunk(f, after, got, &wait)
		if first {
			gen, first = g, false
		}
		if g != gen {
			// A Reset came between two chunks: what was seen before it is
			// forgotten, as the journal forgot it.
			got, gen = append(got[:0], got[before:]...), g
		}
		if len(got) >= n {
			return got, nil
		}
		if !end {
			continue
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return got, fmt.Errorf("journal: waited for %d record(s) matching %s, saw %d: %w", n, f, len(got), ctx.Err())
		}
	}
}

// WriteJSONL writes the kept records that f matches, one JSON object a
// line, a chunk at a time.
func (j *Journal) WriteJSONL(w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var err error
	j.Scan(f, 0, func(r Record) bool {
		err = enc.Encode(r)
		return err == nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
