package lua

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Trace kinds.
const (
	KindCall     = "call"
	KindReturn   = "return"
	KindCallback = "callback"
	// KindC4 is a call of a C4 function (C4:MQTT's own calls are KindCall).
	KindC4 = "c4"
	// KindLog is a line the driver printed or logged; Name is the level.
	KindLog = "log"
	// KindEntryPoint is a call into one of the driver's entry points.
	KindEntryPoint = "entry"
	// KindError is a Lua error raised by the driver; Name says where.
	KindError = "error"
)

// Entry is one line of the trace: a call on a C4:MQTT object, what it
// returned, or a callback with its arguments (the object itself left out).
type Entry struct {
	TNs int64 `json:"t_ns"` // monotonic, since the runtime started
	// DriverNs is the driver's clock (Options.TimeScale applied) since the
	// runtime started, for the environment's entries.
	DriverNs int64  `json:"driver_ns,omitempty"`
	Client   string `json:"client"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Args     []any  `json:"args,omitempty"`
	Ret      []any  `json:"ret,omitempty"`
	// Unhandled marks a callback the driver registered no handler for.
	Unhandled bool `json:"unhandled,omitempty"`
	// Phase is the driver's lifecycle phase when the entry was recorded:
	// chunk, init, late-init, runtime or destroy.
	Phase string `json:"phase,omitempty"`
	// Warning flags a call the controller documents as unsafe in this
	// phase (before OnDriverLateInit) or made with '.' instead of ':'.
	Warning string `json:"warning,omitempty"`
}

// Trace is the ordered record of a runtime's C4:MQTT traffic. It is safe
// for use from any goroutine.
type Trace struct {
	start   time.Time
	sink    io.Writer
	sinkAll bool // else only MQTT object entries go to the sink
	driver  func() time.Duration

	mu      sync.Mutex
	chunks  [][]Entry // full chunks of chunkLen entries, then the last one
	n       int
	changed chan struct{} // made by a waiter, closed by the next add
	sinkErr error
}

// chunkLen entries are stored together, so that a long trace grows
// without copying what it holds.
const chunkLen = 1024

func newTrace(start time.Time, sink io.Writer) *Trace {
	return &Trace{start: start, sink: sink}
}

func (t *Trace) add(e Entry) {
	e.TNs = int64(time.Since(t.start))
	if t.driver != nil && !isMQTTKind(e.Kind) {
		e.DriverNs = int64(t.driver())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.chunks) == 0 || len(t.chunks[len(t.chunks)-1]) == chunkLen {
		t.chunks = append(t.chunks, make([]Entry, 0, chunkLen))
	}
	last := &t.chunks[len(t.chunks)-1]
	*last = append(*last, e)
	t.n++
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
	if t.sink != nil && t.sinkErr == nil && (t.sinkAll || isMQTTKind(e.Kind)) {
		line, err := json.Marshal(e)
		if err == nil {
			_, err = t.sink.Write(append(line, '\n'))
		}
		t.sinkErr = err
	}
}

func isMQTTKind(k string) bool { return k == KindCall || k == KindReturn || k == KindCallback }

// Entries returns a copy of the trace so far.
func (t *Trace) Entries() []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.copyLocked()
}

func (t *Trace) copyLocked() []Entry {
	out := make([]Entry, 0, t.n)
	for _, c := range t.chunks {
		out = append(out, c...)
	}
	return out
}

// Len is the number of entries so far.
func (t *Trace) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// WriteJSONL writes the trace as JSON lines.
func (t *Trace) WriteJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, e := range t.Entries() {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// Wait waits until cond holds for the entries so far, or ctx ends. cond
// gets a copy of the entries and is called again after each new entry.
func (t *Trace) Wait(ctx context.Context, cond func([]Entry) bool) error {
	seen := -1
	for {
		t.mu.Lock()
		if t.n == seen {
			// Nothing new since cond last said no.
		} else {
			seen = t.n
			entries := t.copyLocked()
			t.mu.Unlock()
			if cond(entries) {
				return nil
			}
			t.mu.Lock()
			if t.n != seen {
				t.mu.Unlock()
				continue
			}
		}
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Outstanding is a Publish, Subscribe or Unsubscribe that returned 0 with a
// message id and has had no callback with that id since.
type Outstanding struct {
	Client string `json:"client"`
	Call   string `json:"call"`
	MsgID  int    `json:"msg_id"`
	TNs    int64  `json:"t_ns"`
}

// Unexpected is a callback with a message id that no call returned (or
// that a callback had already answered).
type Unexpected struct {
	Client string `json:"client"`
	Name   string `json:"name"`
	MsgID  int    `json:"msg_id"`
	TNs    int64  `json:"t_ns"`
}

// Correlation matches each Publish, Subscribe and Unsubscribe that returned
// 0 and a message id with the callback that carries the same id on the
// same object: onPublish, onSubscribe, onUnsubscribe.
type Correlation struct {
	Outstanding []Outstanding `json:"outstanding,omitempty"`
	Unexpected  []Unexpected  `json:"unexpected,omitempty"`
	Matched     int           `json:"matched"`
}

var answers = map[string]string{"Publish": "onPublish", "Subscribe": "onSubscribe", "Unsubscribe": "onUnsubscribe"}

// Correlate matches calls and callbacks by message id.
func Correlate(entries []Entry) Correlation {
	type key struct {
		client, cb string
		id         int
	}
	open := map[key][]int{} // indexes of outstanding returns, oldest first
	var c Correlation
	for i, e := range entries {
		switch e.Kind {
		case KindReturn:
			cb, ok := answers[e.Name]
			if !ok || len(e.Ret) < 2 || asInt(e.Ret[0]) != 0 {
				continue
			}
			id := asInt(e.Ret[1])
			if id == 0 {
				continue
			}
			k := key{e.Client, cb, id}
			open[k] = append(open[k], i)
		case KindCallback:
			if e.Name != "onPublish" && e.Name != "onSubscribe" && e.Name != "onUnsubscribe" {
				continue
			}
			if len(e.Args) == 0 {
				continue
			}
			id := asInt(e.Args[0])
			k := key{e.Client, e.Name, id}
			if len(open[k]) == 0 {
				c.Unexpected = append(c.Unexpected, Unexpected{Client: e.Client, Name: e.Name, MsgID: id, TNs: e.TNs})
				continue
			}
			open[k] = open[k][1:]
			c.Matched++
		}
	}
	for k, idx := range open {
		for _, i := range idx {
			c.Outstanding = append(c.Outstanding, Outstanding{Client: k.client, Call: entries[i].Name, MsgID: k.id, TNs: entries[i].TNs})
		}
	}
	sort.Slice(c.Outstanding, func(i, j int) bool { return c.Outstanding[i].TNs < c.Outstanding[j].TNs })
	return c
}

func asInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

// Summary counts a trace: calls by name, returns by name and code,
// callbacks by name, and the message ids left unmatched.
type Summary struct {
	Calls       map[string]int            `json:"calls"`
	Returns     map[string]map[string]int `json:"returns"` // call name → first return value → count
	Callbacks   map[string]int            `json:"callbacks"`
	Correlation Correlation               `json:"correlation"`
}

// Summarize counts the entries.
func Summarize(entries []Entry) Summary {
	s := Summary{Calls: map[string]int{}, Returns: map[string]map[string]int{}, Callbacks: map[string]int{}}
	for _, e := range entries {
		switch e.Kind {
		case KindCall:
			s.Calls[e.Name]++
		case KindReturn:
			code := "none"
			if len(e.Ret) > 0 {
				code = fmt.Sprint(e.Ret[0])
			}
			if s.Returns[e.Name] == nil {
				s.Returns[e.Name] = map[string]int{}
			}
			s.Returns[e.Name][code]++
		case KindCallback:
			s.Callbacks[e.Name]++
		}
	}
	s.Correlation = Correlate(entries)
	return s
}

// Write prints the summary in plain words.
func (s Summary) Write(w io.Writer) {
	fmt.Fprintln(w, "calls:")
	for _, name := range sortedKeys(s.Calls) {
		fmt.Fprintf(w, "  %-24s %d\n", name, s.Calls[name])
	}
	fmt.Fprintln(w, "returns by code:")
	for _, name := range sortedKeys(s.Returns) {
		var parts []string
		for _, code := range sortedKeys(s.Returns[name]) {
			parts = append(parts, fmt.Sprintf("%s×%d", code, s.Returns[name][code]))
		}
		fmt.Fprintf(w, "  %-24s %s\n", name, strings.Join(parts, " "))
	}
	fmt.Fprintln(w, "callbacks:")
	for _, name := range sortedKeys(s.Callbacks) {
		fmt.Fprintf(w, "  %-24s %d\n", name, s.Callbacks[name])
	}
	c := s.Correlation
	fmt.Fprintf(w, "message ids: %d matched, %d unmatched, %d unexpected\n", c.Matched, len(c.Outstanding), len(c.Unexpected))
	for _, o := range c.Outstanding {
		fmt.Fprintf(w, "  unmatched: %s %s id %d at %v has no %s\n", o.Client, o.Call, o.MsgID, time.Duration(o.TNs).Round(time.Microsecond), answers[o.Call])
	}
	for _, u := range c.Unexpected {
		fmt.Fprintf(w, "  unexpected: %s %s id %d at %v answers no call\n", u.Client, u.Name, u.MsgID, time.Duration(u.TNs).Round(time.Microsecond))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
