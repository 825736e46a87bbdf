package journal

import (
	"hash/crc32"
	"strconv"
	"unsafe"
)

// Hash is a payload's CRC-32C, written in hex. CRC-32C because processors
// compute it in hardware: the journal hashes every payload at full packet
// rate, and 4 KiB payloads would otherwise cost more than the rest of the
// fault layer together.
type Hash uint32

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HashPayload is the hash the journal records for a payload.
func HashPayload(b []byte) Hash { return Hash(crc32.Checksum(b, castagnoli)) }

func (h Hash) String() string { return strconv.FormatUint(uint64(h), 16) }

// MarshalText writes the hash as 8 hex digits.
func (h Hash) MarshalText() ([]byte, error) {
	b := strconv.AppendUint(nil, uint64(h), 16)
	for len(b) < 8 {
		b = append([]byte{'0'}, b...)
	}
	return b, nil
}

// UnmarshalText reads a hash written by MarshalText.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 32)
	*h = Hash(v)
	return err
}

// stored is a record as the journal keeps it while its block fills (see
// chunks for what becomes of a full block): no pointers, strings replaced
// by numbers in the journal's tables. A journal of a million records is
// then memory the garbage collector never has to look through, which is
// what keeps recording cheap at full packet rate. It is kept to 24 bytes:
// at full rate the journal writes a record for every packet, and the bytes
// written are a good part of its cost. What packet after packet repeats
// lives in two side tables: where the packet went (the connection, its
// client id and the topic), and the record's shape (kind, direction, type,
// QoS, flags, reason, header size, and the rarely set properties, rule,
// action and cause), of which a run has a few dozen.
type stored struct {
	// tp is the time, in nanoseconds after its block's base, in the high
	// 48 bits (wideTime: the time is in chunks.wide), and the packet id in
	// the low 16.
	tp    uint64
	where uint32 // index in Journal.wheres
	shape uint32 // index in Journal.shapes
	hash  uint32
	size  uint32
}

// overWide marks a record whose header and properties take 65,535 bytes or
// more, or whose payload size is not below its size: its payload size is
// kept in its shape instead.
const overWide = 1<<16 - 1

// where is a connection, the client id it had when a record was added, and
// the record's topic. A connection uses a few topics, and most records
// (acknowledgements, pings) none.
type where struct {
	conn   uint64
	client uint32 // string id
	topic  uint32 // string id
}

// shape is what a record shares with many others.
type shape struct {
	kind, dir, typ             uint16 // ids in the label table
	reason                     int16  // -1: none
	qos, flags                 uint8
	over                       uint16 // size less payload size, or overWide
	props, rule, action, cause uint32 // string ids
	psize                      uint32 // only with overWide
}

const (
	flagDup = 1 << iota
	flagRetain
	flagDropped
)

// table numbers distinct values of a small comparable type, remembering
// the last few it was asked for by a slot the caller picks: a connection
// asks for the same who and a handful of shapes packet after packet.
type table[K comparable] struct {
	ids    map[K]uint32
	vals   []K
	recent [64]struct {
		k  K
		id uint32
		ok bool
	}
}

func (t *table[K]) id(k K, slot uint) uint32 {
	r := &t.recent[slot%uint(len(t.recent))]
	if r.ok && r.k == k {
		return r.id
	}
	id, ok := t.ids[k]
	if !ok {
		if t.ids == nil {
			t.ids = make(map[K]uint32)
		}
		id = uint32(len(t.vals))
		t.vals = append(t.vals, k)
		t.ids[k] = id
	}
	r.k, r.id, r.ok = k, id, true
	return id
}

// bytes is what the table takes against the journal's byte bound: each
// value twice (the slice and the map's key) and the map's overhead.
func (t *table[K]) bytes() int64 {
	var k K
	return int64(len(t.vals)) * (2*int64(unsafe.Sizeof(k)) + 16)
}

// interner numbers strings; 0 is the empty string. The journal's lock
// guards it: one lock for a whole Add, since every connection adds to the
// same journal.
type interner struct {
	// hot holds the strings interned last, compared by address alone: a
	// connection's client id and topic are the same string values packet
	// after packet, and this small table sits by the journal's lock, in
	// memory the journal touches anyway.
	hot     [4]hotStr
	hotNext uint8

	byStr map[string]uint32
	strs  []string
	// recent remembers strings by where they are in memory. The fault layer
	// hands the same few strings (packet type, direction, a connection's
	// client id and last topic) over and over, so this finds most of them
	// with one pointer comparison instead of hashing them for the map.
	recent [256]struct {
		s  string
		id uint32
	}
	bytes int64 // what the strings take, for the journal's byte bound
}

type hotStr struct {
	p  *byte
	n  int
	id uint32
}

func (in *interner) id(s string) uint32 {
	if s == "" {
		return 0
	}
	p := unsafe.StringData(s)
	for i := range in.hot {
		if h := &in.hot[i]; h.p == p && h.n == len(s) {
			return h.id
		}
	}
	id := in.lookup(s)
	in.hot[in.hotNext%uint8(len(in.hot))] = hotStr{p: p, n: len(s), id: id}
	in.hotNext++
	return id
}

func (in *interner) lookup(s string) uint32 {
	slot := &in.recent[(uintptr(unsafe.Pointer(unsafe.StringData(s)))>>3^uintptr(len(s)))%uintptr(len(in.recent))]
	if slot.s == s {
		return slot.id
	}
	if id, ok := in.byStr[s]; ok {
		slot.s, slot.id = s, id
		return id
	}
	if in.byStr == nil {
		in.byStr = make(map[string]uint32)
		in.strs = []string{""}
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, s)
	in.byStr[s] = id
	in.bytes += int64(len(s)) + stringBytes
	return id
}

func (in *interner) str(id uint32) string {
	if id == 0 {
		return "" // also before the first string is kept
	}
	return in.strs[id]
}

// store packs r into s; called with j.mu held.
func (j *Journal) store(s *stored, r *Record) {
	in := &j.strs
	sh := shape{
		kind: j.label(r.Kind), dir: j.label(r.Dir), typ: j.label(r.Type),
		reason: -1, qos: uint8(r.QoS),
	}
	if r.Props != "" || r.Rule != "" || r.Action != "" || r.Cause != "" {
		sh.props, sh.rule, sh.action, sh.cause = in.id(r.Props), in.id(r.Rule), in.id(r.Action), in.id(r.Cause)
	}
	if r.Reason != nil {
		sh.reason = int16(*r.Reason)
	}
	if r.Dup {
		sh.flags |= flagDup
	}
	if r.Retain {
		sh.flags |= flagRetain
	}
	if r.Dropped {
		sh.flags |= flagDropped
	}
	sh.over = overWide
	if d := r.Size - r.PayloadSize; d >= 0 && d < overWide && r.PayloadSize >= 0 {
		sh.over = uint16(d)
	} else {
		sh.psize = uint32(r.PayloadSize)
	}
	topic := in.id(r.Topic)
	*s = stored{
		tp: j.recs.timeOf(r.TNs) | uint64(uint16(r.PacketID)), hash: uint32(r.PayloadHash), size: uint32(r.Size),
		where: j.wheres.id(where{conn: r.Conn, client: in.id(r.Client), topic: topic}, uint(r.Conn)*3^uint(topic)),
		shape: j.shapes.id(sh, uint(sh.typ)<<2^uint(sh.dir)^uint(sh.kind)<<5^uint(sh.flags)<<4^uint(sh.rule)),
	}
}

// knownLabels are the kinds, directions and packet types the emulator
// writes, numbered alike in every journal by their place here.
var knownLabels = [...]string{"", KindPacket, KindOpen, KindClose, KindFault, "to_broker", "to_client",
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// labelTable finds a known label without hashing it for a map: every
// record names three labels, each looked up under the journal's lock, and a
// map lookup there costs more than the rest of storing the record.
// labelSlot gives each known label a slot of its own (the init check below
// panics otherwise), so one comparison confirms the find.
var labelTable = func() (t [labelSlots]uint16) {
	for i, s := range knownLabels[1:] {
		slot := labelSlot(s)
		if t[slot] != 0 {
			panic("journal: known labels " + knownLabels[t[slot]] + " and " + s + " share a slot: change labelSlot")
		}
		t[slot] = uint16(i + 1)
	}
	return t
}()

// labelSlot places a non-empty label in labelTable by its length and its
// first and last bytes: enough to tell the known labels apart.
func labelSlot(s string) int {
	return (len(s)*24 + int(s[0])*2 + int(s[len(s)-1])) % labelSlots
}

const labelSlots = 64

func knownLabel(s string) (uint16, bool) {
	if s == "" {
		return 0, true
	}
	if id := labelTable[labelSlot(s)]; id != 0 && knownLabels[id] == s {
		return id, true
	}
	return 0, false
}

// maxLabels bounds the label table: kinds, directions and packet types are
// a few dozen words, so a table this full means a caller is misusing them.
const maxLabels = 1<<16 - 1

// label numbers a kind, direction or packet type in the label table.
func (j *Journal) label(s string) uint16 {
	if id, ok := knownLabel(s); ok {
		return id
	}
	id := uint32(len(knownLabels)) - 1 + j.labels.id(s)
	if id >= maxLabels {
		return maxLabels // read back as overflowLabel
	}
	return uint16(id)
}

const overflowLabel = "(too many distinct kinds, directions and types)"

func (j *Journal) labelStr(id uint16) string {
	switch {
	case int(id) < len(knownLabels):
		return knownLabels[id]
	case id == maxLabels:
		return overflowLabel
	}
	return j.labels.str(uint32(id) + 1 - uint32(len(knownLabels)))
}

// load unpacks the i-th record kept; called with j.mu held.
func (j *Journal) load(i int) Record {
	s := j.recs.at(i)
	w, sh := &j.wheres.vals[s.where], &j.shapes.vals[s.shape]
	r := Record{
		Seq: j.recs.first + uint64(i), Conn: w.conn, TNs: s.tns, PayloadHash: Hash(s.hash),
		Size: int(s.size), PayloadSize: int(s.size) - int(sh.over),
		Kind: j.labelStr(sh.kind), Dir: j.labelStr(sh.dir), Type: j.labelStr(sh.typ),
		Client: j.strs.str(w.client), Topic: j.strs.str(w.topic),
		PacketID: int(s.packetID), QoS: int(sh.qos),
		Dup: sh.flags&flagDup != 0, Retain: sh.flags&flagRetain != 0, Dropped: sh.flags&flagDropped != 0,
		Props: j.strs.str(sh.props), Rule: j.strs.str(sh.rule), Action: j.strs.str(sh.action), Cause: j.strs.str(sh.cause),
	}
	if sh.over == overWide {
		r.PayloadSize = int(sh.psize)
	}
	if sh.reason >= 0 {
		v := int(sh.reason)
		r.Reason = &v
	}
	return r
}
