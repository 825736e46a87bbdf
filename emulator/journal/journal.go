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
)

// Record kinds.
const (
	KindPacket = "packet"
	KindOpen   = "open"
	KindClose  = "close"
	KindFault  = "fault" // a rule acted without a packet to show for it (stall, restart)
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

// Journal is safe for concurrent use.
type Journal struct {
	start time.Time
	cap   int

	mu      sync.Mutex
	seq     uint64
	recs    chunks
	strs    interner // client ids, topics and the rarer strings
	labels  interner // kinds, directions and packet types
	extras  []extras
	gen     uint64 // bumped by Reset, so waiters rescan
	lost    uint64
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
	return &Journal{start: time.Now(), cap: capacity}
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
	if j.recs.len() < j.cap {
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

// Stats says how many records were kept and how many the cap cost.
type Stats struct {
	Kept int    `json:"kept"`
	Lost uint64 `json:"lost"`
	Cap  int    `json:"cap"`
}

// Stats reports the journal's fill.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Kept: j.recs.len(), Lost: j.lost, Cap: j.cap}
}

// Reset forgets every record kept so far; sequence numbers go on.
func (j *Journal) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = chunks{}
	j.extras = nil
	j.lost = 0
	j.gen++
}

// Records returns the kept records that f matches, oldest first.
func (j *Journal) Records(f Filter) []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Record
	for i := range j.recs.len() {
		if r := j.load(i); f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor blocks until at least n kept records match f, and returns them.
// It gives up when ctx ends, returning what it saw with an error that says
// what was awaited.
func (j *Journal) WaitFor(ctx context.Context, f Filter, n int) ([]Record, error) {
	var got []Record
	scanned, gen := 0, uint64(0)
	for {
		j.mu.Lock()
		if j.gen != gen || scanned > j.recs.len() {
			got, scanned, gen = nil, 0, j.gen
		}
		for ; scanned < j.recs.len(); scanned++ {
			if r := j.load(scanned); f.Match(r) {
				got = append(got, r)
			}
		}
		if len(got) >= n {
			j.mu.Unlock()
			return got, nil
		}
		ch := make(chan struct{})
		j.waiters = append(j.waiters, ch)
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return got, fmt.Errorf("journal: waited for %d record(s) matching %s, saw %d: %w", n, f, len(got), ctx.Err())
		}
	}
}

// WriteJSONL writes the kept records that f matches, one JSON object a line.
func (j *Journal) WriteJSONL(w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range j.Records(f) {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return bw.Flush()
}
