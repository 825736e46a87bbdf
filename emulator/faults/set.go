package faults

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Set holds the rules armed on a listener. Rules can be added, listed and
// removed while traffic flows.
type Set struct {
	seed int64

	// rules is replaced, never changed in place, so that Apply, which runs
	// for every packet on every connection, reads it without a lock.
	mu    sync.Mutex // serialises writers
	rules atomic.Pointer[snapshot]
	names map[string]bool // armed names, under mu
	lim   Limits          // under mu
}

// Limits bound what a set takes: a client of the HTTP API may be anyone on
// the bench network, and neither memory nor a timer should be theirs to
// exhaust.
type Limits struct {
	MaxRules    int           // rules armed at once; 0: DefaultMaxRules, negative: no limit
	MaxDuration time.Duration // delays, stalls, down times, time windows; 0: DefaultMaxDuration, negative: no limit
}

// Defaults of Limits.
const (
	DefaultMaxRules    = 10000
	DefaultMaxDuration = time.Hour
)

func (l Limits) withDefaults() Limits {
	if l.MaxRules == 0 {
		l.MaxRules = DefaultMaxRules
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	return l
}

// SetLimits changes the set's limits; rules armed already stay.
func (s *Set) SetLimits(l Limits) {
	s.mu.Lock()
	s.lim = l.withDefaults()
	s.mu.Unlock()
}

// Limits are the set's limits, defaults filled in.
func (s *Set) Limits() Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lim
}

// ErrFull is the error of Add when MaxRules rules are armed.
var ErrFull = errors.New("the rule limit is reached")

// snapshot is the armed rules at one moment, with, for each direction and
// packet type, the rules that could match it in arming order: a packet is
// only held against rules that name its type and direction.
type snapshot struct {
	all []*armed
	by  [2][16][]quick // [ToClient?][type]
}

// quick is the part of a rule's match that turns most packets away, kept
// in a few words next to the other candidates': the full rule is several
// cache lines, and every packet meets every candidate.
type quick struct {
	lit    string // with a topic filter: what the topic must start with
	client string // the client id, or its prefix, per cmode
	// The first eight bytes of lit and client, and a mask over the bytes
	// there are: most packets differ from a rule within them, and are
	// turned away without reading the strings themselves.
	litHead, litMask       uint64
	clientHead, clientMask uint64
	topic                  bool
	cmode                  uint8
	a                      *armed
}

// head8 is the first eight bytes of s, little-endian, zero past its end,
// and the mask of the bytes s has.
func head8(s string) (v, mask uint64) {
	if len(s) >= 8 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56, ^uint64(0)
	}
	for i := range len(s) {
		v |= uint64(s[i]) << (8 * i)
		mask |= 0xff << (8 * i)
	}
	return v, mask
}

const (
	clientAny = iota
	clientExact
	clientPrefix
	clientGlob // decided by the full match
)

// rejects reports whether the quick fields alone turn p away; topic and
// client are head8 of the packet's topic and client id.
func (q *quick) rejects(p *Packet, topic, client uint64) bool {
	if q.topic && (p.Type != PUBLISH || topic&q.litMask != q.litHead || !strings.HasPrefix(p.Topic, q.lit)) {
		return true
	}
	switch q.cmode {
	case clientExact:
		return client&q.clientMask != q.clientHead || p.ClientID != q.client
	case clientPrefix:
		return client&q.clientMask != q.clientHead || !strings.HasPrefix(p.ClientID, q.client)
	}
	return false
}

func quickOf(a *armed) quick {
	q := quick{lit: a.lit, topic: a.filter != nil, a: a}
	switch {
	case a.Match.Client == "":
	case a.exact:
		q.cmode, q.client = clientExact, a.Match.Client
	case a.prefix != "":
		q.cmode, q.client = clientPrefix, a.prefix
	default:
		q.cmode = clientGlob
	}
	q.litHead, q.litMask = head8(q.lit)
	q.clientHead, q.clientMask = head8(q.client)
	return q
}

func newSnapshot(rules []*armed) *snapshot {
	sn := &snapshot{all: rules}
	for _, a := range rules {
		sn.index(a)
	}
	return sn
}

// index adds a to the candidate lists of the types and directions it can
// match.
func (sn *snapshot) index(a *armed) {
	for d, dir := range []Direction{ToBroker, ToClient} {
		if a.Match.Direction&dir == 0 {
			continue
		}
		for t := range 16 {
			if a.types&(1<<t) != 0 {
				sn.by[d][t] = append(sn.by[d][t], quickOf(a))
			}
		}
	}
}

// with is the snapshot plus a, at the cost of a alone: the new snapshot
// appends to the old one's arrays. That is safe because readers of the
// old snapshot never look past its lengths, and only the newest snapshot
// is ever appended to (Remove builds fresh arrays).
func (sn *snapshot) with(a *armed) *snapshot {
	next := &snapshot{}
	if sn != nil {
		next.all, next.by = sn.all, sn.by
	}
	next.all = append(next.all, a)
	next.index(a)
	return next
}

// candidates are the rules that could match a packet of type t going dir.
func (sn *snapshot) candidates(dir Direction, t byte) []quick {
	d := 0
	if dir == ToClient {
		d = 1
	}
	return sn.by[d][t&0x0f]
}

type armed struct {
	Rule
	at     time.Time
	filter []string // Topic split into levels
	lit    string   // what every topic the filter matches starts with, see literalPrefix
	types  uint16   // bit per packet type the rule can match
	prefix string   // Client, when it is a plain prefix followed by "*"
	exact  bool     // Client has no glob characters at all

	mu      sync.Mutex
	rnd     *rand.Rand
	matched int // packets that passed the match, before occurrence
	fired   int
}

// Status is a rule with its counters, as listed by the API.
type Status struct {
	Rule    Rule      `json:"-"`
	ArmedAt time.Time `json:"armed_at"`
	Matched int       `json:"matched"`
	Fired   int       `json:"fired"`
}

// NewSet makes an empty set whose rules draw their randomness from seed.
func NewSet(seed int64) *Set {
	return &Set{seed: seed, names: map[string]bool{}, lim: Limits{}.withDefaults()}
}

func (s *Set) load() []*armed {
	if p := s.rules.Load(); p != nil {
		return p.all
	}
	return nil
}

// Seed is the seed rules derive their own from.
func (s *Set) Seed() int64 { return s.seed }

// Validate checks a rule on its own: name, match fields, action arguments.
// Its errors are *FieldError, naming the field as plans write it
// ("match.qos", "delay.jitter").
func Validate(r Rule) error {
	if strings.TrimSpace(r.Name) == "" {
		return fieldErr("name", "rule has no name")
	}
	if r.Action == nil {
		return fieldErr("", "rule %q has no action", r.Name)
	}
	m := r.Match
	if m.Direction == 0 {
		m.Direction = Both
	}
	for _, t := range m.Packets {
		if t < CONNECT || t > AUTH {
			return fieldErr("match.packet", "type %d is not an MQTT packet type", t)
		}
	}
	if m.Client != "" {
		if _, err := path.Match(m.Client, ""); err != nil {
			return fieldErr("match.client", "%q: %w", m.Client, err)
		}
	}
	if m.Topic != "" {
		if err := checkFilter(m.Topic); err != nil {
			return &FieldError{Path: "match.topic", Err: err}
		}
		if len(m.Packets) > 0 && !slices.Equal(m.Packets, []byte{PUBLISH}) {
			return fieldErr("match.topic", "applies to PUBLISH only: set match.packet to PUBLISH")
		}
	}
	if m.QoS != nil && (*m.QoS < 0 || *m.QoS > 2) {
		return fieldErr("match.qos", "%d is outside 0..2", *m.QoS)
	}
	if m.PacketID != nil && (*m.PacketID < 1 || *m.PacketID > 65535) {
		return fieldErr("match.packet_id", "%d is outside 1..65535", *m.PacketID)
	}
	n := 0
	for _, f := range []struct {
		name string
		v    int
	}{{"nth", m.Nth}, {"first", m.First}, {"every", m.Every}} {
		if f.v < 0 {
			return fieldErr("match."+f.name, "must not be negative, got %d", f.v)
		}
		if f.v > 0 {
			n++
		}
	}
	if n > 1 {
		return fieldErr("match", "use only one of nth, first and every")
	}
	if p := m.Probability; p != nil && (*p < 0 || *p > 1 || *p != *p) {
		return fieldErr("match.probability", "%v is outside 0..1", *p)
	}
	if m.After < 0 || m.Until < 0 {
		return fieldErr("match.after", "match.after and match.until must not be negative")
	}
	if m.Until != 0 && m.Until <= m.After {
		return fieldErr("match.until", "%s is not after match.after %s", m.Until, m.After)
	}
	if r.Times < 0 {
		return fieldErr("times", "must not be negative, got %d", r.Times)
	}
	if err := r.Action.Check(m); err != nil {
		return within(r.Action.Kind(), err)
	}
	return nil
}

// Add validates r and arms it now.
func (s *Set) Add(r Rule) error {
	if err := Validate(r); err != nil {
		if r.Name != "" {
			return fmt.Errorf("rule %q: %w", r.Name, err)
		}
		return err
	}
	if r.Match.Direction == 0 {
		r.Match.Direction = Both
	}
	seed := s.seed
	if r.Seed != nil {
		seed = *r.Seed
	}
	h := fnv.New64a()
	h.Write([]byte(r.Name))
	a := &armed{Rule: r, at: time.Now(), rnd: rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
	if r.Match.Topic != "" {
		a.filter = splitFilter(r.Match.Topic)
		a.lit = literalPrefix(a.filter)
	}
	a.types = 0xfffe
	if len(r.Match.Packets) > 0 {
		a.types = 0
		for _, t := range r.Match.Packets {
			a.types |= 1 << t
		}
	}
	if c := r.Match.Client; c != "" {
		switch meta := strings.IndexAny(c, `*?[\`); {
		case meta < 0:
			a.exact = true
		case meta == len(c)-1 && c[meta] == '*':
			a.prefix = c[:meta]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkDurations(r, s.lim.MaxDuration); err != nil {
		return fmt.Errorf("rule %q: %w", r.Name, err)
	}
	if s.names[r.Name] {
		return fmt.Errorf("rule %q: a rule of that name is armed already", r.Name)
	}
	if s.lim.MaxRules > 0 && len(s.names) >= s.lim.MaxRules {
		return fmt.Errorf("rule %q: %w: %d rules are armed", r.Name, ErrFull, len(s.names))
	}
	s.names[r.Name] = true
	s.rules.Store(s.rules.Load().with(a))
	return nil
}

// Has reports whether a rule of that name is armed.
func (s *Set) Has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name]
}

// Len is the number of armed rules.
func (s *Set) Len() int { return len(s.load()) }

// checkDurations refuses a duration over max in the rule's match or its
// action's arguments, naming the field as plans write it.
func checkDurations(r Rule, max time.Duration) error {
	if max <= 0 {
		return nil
	}
	over := func(path string, d time.Duration) error {
		if d > max {
			return fieldErr(path, "%s is longer than the limit of %s", d, max)
		}
		return nil
	}
	if err := over("match.after", r.Match.After); err != nil {
		return err
	}
	if err := over("match.until", r.Match.Until); err != nil {
		return err
	}
	v := reflect.ValueOf(r.Action)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type != reflect.TypeFor[time.Duration]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if err := over(r.Action.Kind()+"."+name, time.Duration(v.Field(i).Int())); err != nil {
			return err
		}
	}
	return nil
}

// Remove disarms the named rule and reports whether it was there.
func (s *Set) Remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.names[name] {
		return false
	}
	delete(s.names, name)
	cur := s.load()
	for i, a := range cur {
		if a.Name == name {
			s.rules.Store(newSnapshot(slices.Delete(slices.Clone(cur), i, i+1)))
			break
		}
	}
	return true
}

// Reset disarms every rule; counters go with them.
func (s *Set) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules.Store(nil)
	clear(s.names)
}

// List returns the armed rules with their counters, in the order they were
// added.
func (s *Set) List() []Status {
	rules := s.load()
	out := make([]Status, 0, len(rules))
	for _, a := range rules {
		a.mu.Lock()
		out = append(out, Status{Rule: a.Rule, ArmedAt: a.at, Matched: a.matched, Fired: a.fired})
		a.mu.Unlock()
	}
	return out
}

// Apply runs every armed rule over p, in the order they were added, and
// returns what they decided together.
func (s *Set) Apply(p *Packet) Outcome {
	var o Outcome
	sn := s.rules.Load()
	if sn == nil {
		return o
	}
	rules := sn.candidates(p.Direction, p.Type)
	if len(rules) == 0 {
		return o
	}
	topic, _ := head8(p.Topic)
	client, _ := head8(p.ClientID)
	var now time.Time // read only when a rule has a time window
	for i := range rules {
		q := &rules[i]
		if q.rejects(p, topic, client) {
			continue
		}
		a := q.a
		if !a.matches(p, &now) { // the rest of the rule
			continue
		}
		a.mu.Lock()
		fire := a.occurs()
		if fire {
			a.fired++
			// Actions get copies: handing p and o to an interface method
			// would put both on the heap for every packet, firing or not.
			pc, oc := new(Packet), new(Outcome)
			*pc, *oc = *p, o
			a.Action.Apply(pc, oc, a.rnd)
			o = *oc
		}
		a.mu.Unlock()
		if fire {
			if o.Rule != "" {
				o.Rule += ","
				o.Action += ","
			}
			o.Rule += a.Name
			o.Action += a.Action.Kind()
		}
	}
	return o
}

// matches checks what a candidate that passed the quick test may still
// fail, occurrence aside; it reads only fields that never change after Add.
func (a *armed) matches(p *Packet, now *time.Time) bool {
	// Direction and type are the candidate list's; the topic's literal
	// prefix and an exact or prefix client id were the quick test's.
	m := &a.Match
	if m.QoS != nil && (p.Type != PUBLISH || p.QoS != *m.QoS) {
		return false
	}
	if m.Dup != nil && (p.Type != PUBLISH || p.Dup != *m.Dup) {
		return false
	}
	if m.PacketID != nil && p.PacketID != *m.PacketID {
		return false
	}
	if a.filter != nil && !topicMatch(a.filter, p.Topic) {
		return false
	}
	switch {
	case a.prefix != "":
		if strings.Contains(p.ClientID[len(a.prefix):], "/") { // * stops at a slash
			return false
		}
	case m.Client != "" && !a.exact:
		if ok, _ := path.Match(m.Client, p.ClientID); !ok {
			return false
		}
	}
	if m.After > 0 || m.Until > 0 {
		if now.IsZero() {
			*now = time.Now()
		}
		since := now.Sub(a.at)
		if since < m.After || (m.Until > 0 && since >= m.Until) {
			return false
		}
	}
	return true
}

// occurs counts a match and decides whether the rule fires on it. Called
// with a.mu held.
func (a *armed) occurs() bool {
	if a.Times > 0 && a.fired >= a.Times {
		return false
	}
	a.matched++
	n := a.matched
	m := &a.Match
	switch {
	case m.Nth > 0 && n != m.Nth:
		return false
	case m.First > 0 && n > m.First:
		return false
	case m.Every > 0 && n%m.Every != 0:
		return false
	}
	if m.Probability != nil && a.rnd.Float64() >= *m.Probability {
		return false
	}
	return true
}

// checkFilter validates an MQTT topic filter.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("topic filter %q: # must be the last level", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "#+"):
			return fmt.Errorf("topic filter %q: + and # must fill a whole level", f)
		}
	}
	return nil
}

func splitFilter(f string) []string { return strings.Split(f, "/") }

// literalPrefix is the part of a filter before its first wildcard, which
// every matching topic starts with: one string comparison turns most
// topics away before they are split into levels. "a/#" also matches "a",
// so the slash before a # is left out.
func literalPrefix(filter []string) string {
	var b strings.Builder
	for i, f := range filter {
		switch f {
		case "+":
			if i > 0 {
				b.WriteByte('/')
			}
			return b.String()
		case "#":
			return b.String()
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(f)
	}
	return b.String()
}

// topicMatch matches a topic name against a filter already split in
// levels, without splitting the topic: it runs on every PUBLISH.
func topicMatch(filter []string, topic string) bool {
	if strings.HasPrefix(topic, "$") && len(filter) > 0 && (filter[0] == "#" || filter[0] == "+") {
		return false // MQTT 4.7.2: wildcards at the first level skip $ topics
	}
	rest, more := topic, true
	for _, f := range filter {
		if f == "#" {
			return true
		}
		if !more {
			return false
		}
		var level string
		level, rest, more = strings.Cut(rest, "/")
		if f != "+" && f != level {
			return false
		}
	}
	return !more
}
