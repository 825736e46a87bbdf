package journal

import (
	"encoding/binary"
	"slices"
)

// chunks holds the records in blocks of chunkLen. The block records are
// added to is kept as written, 24 bytes a record (stored); once full it is
// packed, to about 13: each field as a variable-length number, the time as
// the difference from the record before it. A long run's records are
// nearly all in packed blocks, and the garbage collector lets the heap grow
// to twice what is live, so each byte saved here is two of the process's.
// Packing a block takes tens of microseconds, once every 4,096 records;
// reading one back unpacks the whole block into a small cache, which the
// readers (a scan goes through the records in order) mostly hit.
//
// A growing journal never copies what it has, as a doubling slice would
// at twice the memory for the moment of the copy, and every block is one
// pointer-free allocation the garbage collector never looks through.
type chunks struct {
	packed      [][]byte
	packedBytes int64
	last        []stored // the block being filled
	// A record's time in last is kept in 48 bits after base, 78 hours
	// centred on the block's first record; one outside that (a journal idle
	// for days between two records of a block) keeps its time in wide.
	// Packed, a time is the difference from the one before, of any size.
	base    int64
	wide    map[int]int64 // by index in last
	n       int
	first   uint64 // the sequence number of the first record: the rest follow without gaps
	scratch []byte // where a block is packed before it is copied out at its size
	cache   [2]unpacked
	tick    uint8 // which cache slot the next unpacking replaces
}

// entry is a record's numbers, unpacked.
type entry struct {
	tns                      int64
	where, shape, hash, size uint32
	packetID                 uint16
}

// unpacked is a packed block, unpacked for reading.
type unpacked struct {
	block int // the block's index plus one; 0: none
	recs  []entry
}

const (
	chunkLen  = 4096
	tShift    = 16
	wideTime  = 1<<48 - 1
	baseAhead = 1 << 47 // a block's base is this far before its first record
	wideBytes = 48      // a wide time's map entry, against the byte bound
	// entryBytes is an unpacked record in the read cache.
	entryBytes = 32
)

// grow adds a record at the end and returns it to be filled in; timeOf
// then packs its time.
func (c *chunks) grow() *stored {
	if c.last == nil {
		c.last = make([]stored, 0, chunkLen)
	}
	if len(c.last) == chunkLen {
		c.pack()
	}
	c.last = c.last[:len(c.last)+1]
	c.n++
	return &c.last[len(c.last)-1]
}

// timeOf packs tns for the record grow added last, shifted into place.
func (c *chunks) timeOf(tns int64) uint64 {
	i := len(c.last) - 1
	if i == 0 {
		c.base = tns - baseAhead
	}
	if d := tns - c.base; d >= 0 && d < wideTime {
		return uint64(d) << tShift
	}
	if c.wide == nil {
		c.wide = make(map[int]int64)
	}
	c.wide[i] = tns
	return wideTime << tShift
}

// entryOf unpacks the i-th record of the block being filled.
func (c *chunks) entryOf(i int) entry {
	s := &c.last[i]
	e := entry{where: s.where, shape: s.shape, hash: s.hash, size: s.size, packetID: uint16(s.tp)}
	if d := s.tp >> tShift; d == wideTime {
		e.tns = c.wide[i]
	} else {
		e.tns = c.base + int64(d)
	}
	return e
}

// pack moves the full block being filled to the packed blocks.
func (c *chunks) pack() {
	b := c.scratch[:0]
	var prev int64
	for i := range c.last {
		e := c.entryOf(i)
		b = binary.AppendVarint(b, e.tns-prev)
		prev = e.tns
		b = binary.AppendUvarint(b, uint64(e.packetID))
		b = binary.AppendUvarint(b, uint64(e.where))
		b = binary.AppendUvarint(b, uint64(e.shape))
		b = binary.LittleEndian.AppendUint32(b, e.hash)
		b = binary.AppendUvarint(b, uint64(e.size))
	}
	c.scratch = b
	c.packed = append(c.packed, slices.Clone(b))
	c.packedBytes += int64(len(b)) + 24
	c.last = c.last[:0]
	c.wide = nil
}

// unpack reads packed block k into u.
func (c *chunks) unpack(k int, u *unpacked) {
	if u.recs == nil {
		u.recs = make([]entry, chunkLen)
	}
	b := c.packed[k]
	var t int64
	for i := range u.recs {
		d, n := binary.Varint(b)
		t += d
		b = b[n:]
		e := &u.recs[i]
		e.tns = t
		e.packetID = uint16(uvarint(&b))
		e.where = uint32(uvarint(&b))
		e.shape = uint32(uvarint(&b))
		e.hash = binary.LittleEndian.Uint32(b)
		b = b[4:]
		e.size = uint32(uvarint(&b))
	}
	u.block = k + 1
}

func uvarint(b *[]byte) uint64 {
	v, n := binary.Uvarint(*b)
	*b = (*b)[n:]
	return v
}

func (c *chunks) len() int { return c.n }

// at is the i-th record kept.
func (c *chunks) at(i int) entry {
	k := i / chunkLen
	if k == len(c.packed) {
		return c.entryOf(i % chunkLen)
	}
	for j := range c.cache {
		if u := &c.cache[j]; u.block == k+1 {
			return u.recs[i%chunkLen]
		}
	}
	u := &c.cache[c.tick%uint8(len(c.cache))]
	c.tick++
	c.unpack(k, u)
	return u.recs[i%chunkLen]
}

// bytes is what the records take against the byte bound: the packed
// blocks, the block being filled, its wide times and the read cache.
func (c *chunks) bytes() int64 {
	n := c.packedBytes + int64(cap(c.last))*storedBytes + int64(cap(c.scratch)) + int64(len(c.wide))*wideBytes
	for _, u := range c.cache {
		n += int64(len(u.recs)) * entryBytes
	}
	return n
}
