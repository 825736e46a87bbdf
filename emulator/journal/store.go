package journal

import "strconv"

// Hash is a payload's FNV-1a 64 hash, written in hex.
type Hash uint64

func (h Hash) String() string { return strconv.FormatUint(uint64(h), 16) }

// MarshalText writes the hash as 16 hex digits.
func (h Hash) MarshalText() ([]byte, error) {
	b := strconv.AppendUint(nil, uint64(h), 16)
	for len(b) < 16 {
		b = append([]byte{'0'}, b...)
	}
	return b, nil
}

// UnmarshalText reads a hash written by MarshalText.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 64)
	*h = Hash(v)
	return err
}

// stored is a record as the journal keeps it: no pointers, strings replaced
// by numbers in the journal's string table. A journal of a million records
// is then one block the garbage collector never has to look through, which
// is what keeps recording cheap at full packet rate.
type stored struct {
	seq, conn   uint64
	tns         int64
	hash        uint64
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

// interner numbers strings; 0 is the empty string.
type interner struct {
	ids  map[string]uint32
	strs []string
}

func (in *interner) id(s string) uint32 {
	if s == "" {
		return 0
	}
	if id, ok := in.ids[s]; ok {
		return id
	}
	if in.ids == nil {
		in.ids = make(map[string]uint32)
		in.strs = []string{""}
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, s)
	in.ids[s] = id
	return id
}

func (in *interner) str(id uint32) string {
	if id == 0 {
		return ""
	}
	return in.strs[id]
}

// store packs r; called with j.mu held.
func (j *Journal) store(r *Record) stored {
	s := stored{
		seq: r.Seq, conn: r.Conn, tns: r.TNs, hash: uint64(r.PayloadHash),
		size: int32(r.Size), psize: int32(r.PayloadSize),
		kind: j.strs.id(r.Kind), dir: j.strs.id(r.Dir), typ: j.strs.id(r.Type), client: j.strs.id(r.Client),
		topic: j.strs.id(r.Topic), props: j.strs.id(r.Props), rule: j.strs.id(r.Rule), action: j.strs.id(r.Action),
		cause: j.strs.id(r.Cause), packetID: uint16(r.PacketID), reason: -1, qos: uint8(r.QoS),
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
	return s
}

// load unpacks s; called with j.mu held.
func (j *Journal) load(s *stored) Record {
	r := Record{
		Seq: s.seq, Conn: s.conn, TNs: s.tns, PayloadHash: Hash(s.hash),
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
