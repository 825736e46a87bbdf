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
// by numbers in the journal's string table. A journal of a million records
// is then one block the garbage collector never has to look through, which
// is what keeps recording cheap at full packet rate.
type stored struct {
	conn        uint64
	tns         int64
	hash        uint32
	size, psize int32
	kind, dir   uint32
	typ, client uint32
	topic       uint32
	props       uint32
	rule        uint32
	action      uint32
	cause       uint32
	packetID    uint16
	reason      int16 // -1: none
	qos         uint8
	flags       uint8
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
}

func (in *interner) id(s string) uint32 {
	if s == "" {
		return 0
	}
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
	return id
}

func (in *interner) str(id uint32) string { return in.strs[id] }

// store packs r into s; called with j.mu held.
func (j *Journal) store(s *stored, r *Record) {
	in := &j.strs
	*s = stored{
		conn: r.Conn, tns: r.TNs, hash: uint32(r.PayloadHash),
		size: int32(r.Size), psize: int32(r.PayloadSize),
		kind: in.id(r.Kind), dir: in.id(r.Dir), typ: in.id(r.Type), client: in.id(r.Client), topic: in.id(r.Topic),
		props: in.id(r.Props), rule: in.id(r.Rule), action: in.id(r.Action), cause: in.id(r.Cause),
		packetID: uint16(r.PacketID), reason: -1, qos: uint8(r.QoS),
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

// load unpacks the i-th record kept; called with j.mu held.
func (j *Journal) load(i int) Record {
	s := j.recs.at(i)
	r := Record{
		Seq: j.recs.first + uint64(i), Conn: s.conn, TNs: s.tns, PayloadHash: Hash(s.hash),
		Size: int(s.size), PayloadSize: int(s.psize),
		Kind: j.strs.str(s.kind), Dir: j.strs.str(s.dir), Type: j.strs.str(s.typ), Client: j.strs.str(s.client),
		Topic: j.strs.str(s.topic), Props: j.strs.str(s.props), Rule: j.strs.str(s.rule), Action: j.strs.str(s.action),
		Cause: j.strs.str(s.cause), PacketID: int(s.packetID), QoS: int(s.qos),
		Dup: s.flags&flagDup != 0, Retain: s.flags&flagRetain != 0, Dropped: s.flags&flagDropped != 0,
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
