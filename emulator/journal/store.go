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

// stored is a record as the journal keeps it: no pointers, strings replaced
// by numbers in the journal's string tables. A journal of a million records
// is then one block the garbage collector never has to look through, which
// is what keeps recording cheap at full packet rate. It is kept to 48
// bytes: at full rate the journal writes a record for every packet, and
// the bytes written are a good part of its cost. Fields most packets leave
// empty (properties, rule, action, cause) live in a side table.
type stored struct {
	tns      int64
	conn     uint32 // connection numbers past 2^32 wrap: one emulator never gets near
	hash     uint32
	size     uint32
	psize    uint32
	client   uint32
	topic    uint32
	extra    uint32 // 0: none; else 1 + index in Journal.extras
	kind     uint16 // kind, dir and typ: ids in the journal's label table
	dir      uint16
	typ      uint16
	packetID uint16
	reason   int16 // -1: none
	qos      uint8
	flags    uint8
}

// extras are the rarely set string fields of a record, as string ids.
type extras struct {
	props, rule, action, cause uint32
}

const (
	flagDup = 1 << iota
	flagRetain
	flagDropped
)

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
	*s = stored{
		tns: r.TNs, conn: uint32(r.Conn), hash: uint32(r.PayloadHash),
		size: uint32(r.Size), psize: uint32(r.PayloadSize),
		client: in.id(r.Client), topic: in.id(r.Topic),
		kind: j.label(r.Kind), dir: j.label(r.Dir), typ: j.label(r.Type),
		packetID: uint16(r.PacketID), reason: -1, qos: uint8(r.QoS),
	}
	if r.Props != "" || r.Rule != "" || r.Action != "" || r.Cause != "" {
		j.extras = append(j.extras, extras{props: in.id(r.Props), rule: in.id(r.Rule), action: in.id(r.Action), cause: in.id(r.Cause)})
		s.extra = uint32(len(j.extras))
	}
	if r.Reason != nil {
		s.reason = int16(*r.Reason)
	}
	if r.Dup {
		s.flags |= flagDup
	}
	if r.Retain {
		s.flags |= flagRetain
	}
	if r.Dropped {
		s.flags |= flagDropped
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
	r := Record{
		Seq: j.recs.first + uint64(i), Conn: uint64(s.conn), TNs: s.tns, PayloadHash: Hash(s.hash),
		Size: int(s.size), PayloadSize: int(s.psize),
		Kind: j.labelStr(s.kind), Dir: j.labelStr(s.dir), Type: j.labelStr(s.typ),
		Client: j.strs.str(s.client), Topic: j.strs.str(s.topic),
		PacketID: int(s.packetID), QoS: int(s.qos),
		Dup: s.flags&flagDup != 0, Retain: s.flags&flagRetain != 0, Dropped: s.flags&flagDropped != 0,
	}
	if s.extra != 0 {
		x := &j.extras[s.extra-1]
		r.Props, r.Rule, r.Action, r.Cause = j.strs.str(x.props), j.strs.str(x.rule), j.strs.str(x.action), j.strs.str(x.cause)
	}
	if s.reason >= 0 {
		v := int(s.reason)
		r.Reason = &v
	}
	return r
}

// chunks holds the records in fixed-size blocks: a growing journal never
// copies what it has (as a doubling slice would, at twice the memory for
// the moment of the copy), and each block is one pointer-free allocation.
type chunks struct {
	blocks [][]stored
	n      int
	first  uint64 // the sequence number of the first record: the rest follow without gaps
}

const chunkLen = 4096

// grow adds a record at the end and returns it to be filled in.
func (c *chunks) grow() *stored {
	if c.n%chunkLen == 0 {
		c.blocks = append(c.blocks, make([]stored, chunkLen))
	}
	s := &c.blocks[c.n/chunkLen][c.n%chunkLen]
	c.n++
	return s
}

func (c *chunks) len() int { return c.n }

func (c *chunks) at(i int) *stored { return &c.blocks[i/chunkLen][i%chunkLen] }
