// The connection seen through the fault layer: reading, routing and
// writing packets, in order and on time.
package wire

import (
	"github.com/mqtthil/mqtthil/emulator/faults"

	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/internal/sockread"
)

// Conn is one client connection seen through the fault layer. mochi reads
// and writes it like a net.Conn; underneath, the byte stream is cut into
// MQTT packets in both directions, each packet runs through the rule set,
// and what survives is delivered in order, on time, and journaled.
//
// Each direction is a queue of packets with the time each is due. The
// client's packets are read off the socket by a goroutine of their own (so a
// delay does not hold up reading, and arrival times are true) and handed to
// mochi by Read; the broker's packets come in through Write and go out on a
// writer goroutine. A delayed packet holds back the ones behind it: TCP
// order is kept.
type Conn struct {
	raw net.Conn
	l   *Listener
	id  uint64

	// who is set once, from the CONNECT, and read for every packet in
	// both directions: atomic, so reading it takes no lock.
	who atomic.Pointer[identity]

	mu      sync.Mutex
	cause   string       // why the connection is ending, first one wins
	dupQoS2 map[int]bool // ids of QoS 2 PUBLISHes resent with DUP, see correct.go

	in, out    pipe
	outPending atomic.Int64 // items queued for the writer and not yet written
	writer     atomic.Bool  // writeLoop runs: started by the first item queued for it
	heldBytes  atomic.Int64 // bytes of packets queued in either direction
	connected  atomic.Bool  // a whole CONNECT has arrived
	connTimer  *time.Timer  // closes the connection if no CONNECT comes
	stall      atomic.Int64 // unix nanos until which nothing moves

	// Read side, used by mochi's reading goroutine only, except br, which
	// belongs to readLoop once async is set.
	br      *sockread.Reader // holds no buffer while the client sends nothing
	async   atomic.Bool
	scratch []byte // inline reads reuse it: the queue is empty when they read
	rbuf    []byte
	rerr    error // an error to report once the bytes before it are taken
	head    *item // a packet that was due when a read deadline passed
	headSet bool
	// slot carries the packet just read inline straight to Read when it
	// goes to mochi at once, as nearly every packet does: the queue is for
	// packets that wait. rin, cur and head are made when first needed and
	// kept: an item is 300 bytes, and an idle connection needs none of
	// them.
	slot     item
	rin      *item // a packet from the client being routed when slot is taken
	cur      *item // the packet Read is handing over, when it came off the queue
	slotted  bool
	rclock   int64        // journal time of the packets this Read hands over, 0 until read
	inTopic  string       // the last topic the client published to, see parse
	deadline atomic.Int64 // read deadline, unix nanos; 0 none
	rtimer   *time.Timer  // made when a read first waits with a deadline

	wmu      sync.Mutex // everything queued towards the client, in order
	framer   Framer
	wclock   int64    // journal time of the batch being gathered, 0 until read
	outTopic string   // the last topic published to the client
	wout     item     // the packet for the client being routed, see route
	pend     [][]byte // packets for the client to write at the end of Write, in order
	batch    []byte   // pend in one piece, when it holds more than one
	bl       *backlog // what the socket has not taken yet

	done      chan struct{}
	closed    atomic.Bool // done is closed; cheaper to ask for every write
	closeOnce sync.Once
	// backstop closes the connection if what mochi wrote before Close is
	// still stuck after the grace period. Stopped once closed: a pending
	// timer would keep the connection, and through it the journal, alive.
	backstop atomic.Pointer[time.Timer]
}

// spare returns *p, making it first if it is nil.
func spare(p **item) *item {
	if *p == nil {
		*p = new(item)
	}
	return *p
}

// item is one entry of a direction's queue: a packet to deliver, a cut to
// make, or the error that ended the reading side.
type item struct {
	raw []byte
	due time.Time
	rec journal.Record
	cut *cut
	err error
}

type cut struct {
	mode  string // close, reset, mqtt
	code  byte
	rule  string
	cause string
}

type pipe struct {
	q fifo

	mu   sync.Mutex
	last time.Time // due time of the last item queued, while in the future
	// lastSet says last is set: most packets are queued with no delay and
	// nothing held back, and they find that out without the lock.
	lastSet atomic.Bool
}

// dueAfter is when an item queued now with delay falls due: never before
// the item queued last; zero for at once.
func (p *pipe) dueAfter(delay time.Duration) time.Time {
	if delay <= 0 && !p.lastSet.Load() {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if delay <= 0 && !p.last.After(now) {
		// What was held back is due by now: nothing holds this one.
		p.last = time.Time{}
		p.lastSet.Store(false)
		return time.Time{}
	}
	due := now.Add(delay)
	if due.Before(p.last) {
		due = p.last
	}
	p.last = due
	p.lastSet.Store(true)
	return due
}

// heldUntil is the due time of the last item queued, if it is still to
// come.
func (p *pipe) heldUntil() time.Time {
	if !p.lastSet.Load() {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func newConn(raw net.Conn, l *Listener, id uint64) *Conn {
	c := &Conn{raw: raw, l: l, id: id, done: make(chan struct{})}
	c.in.q = newFifo()
	c.out.q = newFifo()
	c.br = sockread.New(raw)
	c.bl = newBacklog(raw, l.limits.Writes, l.limits.Held)
	return c
}

func (c *Conn) start() {
	c.l.journal.Add(journal.Record{Kind: journal.KindOpen, Conn: c.id, Cause: "from " + c.raw.RemoteAddr().String()})
	if d := c.l.limits.ConnectTimeout; d > 0 {
		c.mu.Lock()
		c.connTimer = time.AfterFunc(d, func() { c.connectExpired(d) })
		c.mu.Unlock()
	}
}

// toWriter queues it for writeLoop, starting the loop the first time:
// nearly every packet for the client is written by mochi's own Write call,
// so an idle connection, or one nothing delays, carries no writer
// goroutine and its stack.
func (c *Conn) toWriter(it *item) {
	if c.writer.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
	c.out.q.push(it, c.done)
}

// connectExpired ends a connection that sent no whole CONNECT in time: an
// idle or half-sent one would otherwise hold its socket for ever.
func (c *Conn) connectExpired(d time.Duration) {
	if c.connected.Load() || c.closed.Load() {
		return
	}
	cause := fmt.Sprintf("no CONNECT within %s", d)
	c.l.journal.Add(journal.Record{Kind: journal.KindFault, Conn: c.id, Action: "connect-timeout", Cause: cause})
	c.closeWith(cause)
}

// frameLimit is the largest packet the client may send now.
func (c *Conn) frameLimit() int {
	lim := c.l.limits
	if !c.connected.Load() {
		return lim.PreConnect
	}
	if lim.MaxPacket > 0 && lim.MaxPacket < lim.Held {
		return lim.MaxPacket
	}
	return lim.Held
}

// tooLarge ends the connection of a client that announced a packet over
// the limit: an MQTT 5 client that has logged in is told why (0x95, Packet
// too large), as the standard asks.
func (c *Conn) tooLarge(e *TooLargeError) {
	when := "after CONNECT"
	if !c.connected.Load() {
		when = "before CONNECT"
	}
	cause := fmt.Sprintf("client sent a packet of %d bytes %s, over the limit of %d", e.Size, when, e.Limit)
	c.l.journal.Add(journal.Record{Kind: journal.KindFault, Conn: c.id, Action: "packet-too-large", Cause: cause})
	mode := "close"
	if _, v := c.info(); v == 5 && c.connected.Load() {
		mode = "mqtt"
	}
	c.doCut(&cut{mode: mode, code: 0x95, cause: cause})
}

// hold counts n more bytes queued for this connection; past the limit the
// connection is closed and hold reports false.
func (c *Conn) hold(n int) bool {
	if c.heldBytes.Add(int64(n)) <= int64(c.l.limits.Held) {
		return true
	}
	cause := fmt.Sprintf("fault layer holds more than %d bytes for this connection", c.l.limits.Held)
	c.l.journal.Add(journal.Record{Kind: journal.KindFault, Conn: c.id, Action: "held-bytes", Cause: cause})
	c.closeWith(cause)
	return false
}

// ID is the connection's number in the journal.
func (c *Conn) ID() uint64 { return c.id }

// identity is what the CONNECT said: the client id and protocol version.
type identity struct {
	clientID string
	version  byte
}

func (c *Conn) info() (string, byte) {
	if w := c.who.Load(); w != nil {
		return w.clientID, w.version
	}
	return "", 0
}

// noteCause remembers why the connection is ending, unless a reason is
// known already.
func (c *Conn) noteCause(cause string) {
	c.mu.Lock()
	if c.cause == "" {
		c.cause = cause
	}
	c.mu.Unlock()
}

// The client's packets are read in one of two ways. Until a packet towards
// the broker is held back (a delay or a stall), mochi's own Read call reads
// the socket, as it would without us: no extra goroutine, no hand-over.
// From the first held-back packet on, readLoop reads the socket as packets
// arrive, so that packets behind a delayed one are timed from their own
// arrival, and Read takes them from the queue.

// readLoop reads the client's packets off the socket as they arrive.
func (c *Conn) readLoop() {
	for {
		if !c.waitStall() {
			return
		}
		if err := c.readOne(false); err != nil {
			c.enqueue(&c.in, &item{err: io.EOF})
			return
		}
	}
}

// readOne reads one packet from the socket and routes it. Inline, the
// packet is read into scratch: readInline reads only once everything
// queued before has been handed to mochi.
func (c *Conn) readOne(inline bool) error {
	var raw []byte
	var err error
	if inline {
		raw, err = readFrameInto(c.br, c.scratch, c.frameLimit())
		if err == nil && cap(raw) <= 64<<10 {
			c.scratch = raw
		}
	} else {
		raw, err = readFrameInto(c.br, nil, c.frameLimit())
	}
	if err != nil {
		var ne net.Error
		var big *TooLargeError
		switch {
		case errors.As(err, &big):
			c.tooLarge(big)
		case errors.As(err, &ne) && ne.Timeout():
			c.noteCause("broker keep-alive expired")
			return os.ErrDeadlineExceeded
		case errors.Is(err, io.EOF):
			c.noteCause("client closed the connection")
		case errors.Is(err, net.ErrClosed):
		default:
			c.noteCause("client side: " + err.Error())
		}
		return io.EOF
	}
	if raw[0]>>4 == faults.CONNECT { // CONNECT: learn who this is before matching
		if v, id, ok := connectInfo(raw); ok {
			c.who.Store(&identity{clientID: id, version: v})
		}
		if !c.connected.Swap(true) {
			c.mu.Lock()
			if c.connTimer != nil {
				c.connTimer.Stop()
				c.connTimer = nil // nothing left for it to do: let it go
			}
			c.mu.Unlock()
		}
	}
	c.route(raw, faults.ToBroker, inline)
	return nil
}

// readInline reads and routes packets in mochi's Read call until one is
// queued, and switches to readLoop when one is held back.
func (c *Conn) readInline() error {
	for !c.slotted && c.in.q.empty() {
		if err := c.readOne(true); err != nil {
			return err
		}
	}
	if c.held(c.in.heldUntil()) {
		c.async.Store(true)
		// Read keeps mochi's deadline now. A socket that refuses to clear
		// its deadline is broken: readLoop's next read says so, and ends
		// the connection with the cause.
		_ = c.raw.SetReadDeadline(time.Time{})
		go c.readLoop()
	}
	return nil
}

// held reports whether a packet is held back: one due after now (last is
// the latest due time queued), or a stall in force. Most packets are
// neither, and then the clock is not read.
func (c *Conn) held(last time.Time) bool {
	s := c.stall.Load()
	if last.IsZero() && s == 0 {
		return false
	}
	now := time.Now()
	return last.After(now) || s > now.UnixNano()
}

// route runs one packet through the rules and queues what comes of it.
// inline is true when mochi's own Read call is routing a client packet.
func (c *Conn) route(raw []byte, dir faults.Direction, inline bool) {
	clientID, version := c.info()
	last := &c.inTopic // the reading goroutine's
	if dir == faults.ToClient {
		last = &c.outTopic // under wmu
	}
	p, err := faults.ParseReusingTopic(raw, dir, version, *last)
	p.ClientID = clientID
	if p.Topic != "" {
		*last = p.Topic
	}
	if err != nil {
		c.routeUnparsed(raw, dir, inline, &p)
		return
	}
	if dir == faults.ToClient {
		if !c.correct(&p) {
			c.dropUncorrectable(&p)
			return
		}
		raw = p.Raw
	} else {
		c.noteDup(&p)
	}
	o := c.l.set.Apply(&p)
	if o.Rule == "" {
		// Nearly every packet: described in place, in an item of the
		// connection's own, since queue copies only the few that wait.
		var it *item
		switch {
		case dir == faults.ToClient:
			it = &c.wout // under wmu
		case inline && !c.slotted:
			it = &c.slot // where queue will most likely put it
		default:
			it = spare(&c.rin)
		}
		it.raw, it.due, it.cut, it.err = raw, time.Time{}, nil, nil
		c.describe(&it.rec, &p) // sets the whole record
		c.queue(dir, it, 0, inline)
		return
	}
	c.routeRule(raw, dir, inline, &p, &o)
}

// routeUnparsed passes on a packet the fault layer cannot read: not ours
// to judge, the receiver refuses it. Apart from route, as routeRule is.
//
//go:noinline
func (c *Conn) routeUnparsed(raw []byte, dir faults.Direction, inline bool, p *faults.Packet) {
	c.queue(dir, &item{raw: raw, rec: c.record(p)}, 0, inline)
}

// dropUncorrectable journals a packet for the client that its protocol
// version cannot carry. Apart from route, as routeRule is.
//
//go:noinline
func (c *Conn) dropUncorrectable(p *faults.Packet) {
	rec := c.record(p)
	rec.Action = "not sent: MQTT 3.1.1 has no DISCONNECT from the broker"
	c.drop(rec)
}

// routeRule carries out what a rule made of a packet. Apart from route,
// whose frame is on every connection's reading stack when it parks: the
// rare path's locals would make that stack twice as large.
//
//go:noinline
func (c *Conn) routeRule(raw []byte, dir faults.Direction, inline bool, pp *faults.Packet, op *faults.Outcome) {
	p, o := pp, op
	clientID, version := c.info()
	rec := c.record(p)
	rec.Rule, rec.Action = o.Rule, o.Action
	if o.Stall > 0 {
		until := time.Now().Add(o.Stall)
		c.stall.Store(until.UnixNano())
		c.l.journal.Add(journal.Record{Kind: journal.KindFault, Conn: c.id, Client: clientID, Rule: o.Rule, Action: "stall", Cause: fmt.Sprintf("stalled for %s", o.Stall)})
	}
	cutAt := func(d faults.Direction) {
		c.queue(d, &item{cut: &cut{mode: o.Disconnect, code: o.DisconnectCode, rule: o.Rule,
			cause: fmt.Sprintf("rule %q: disconnect (%s) %s %s", o.Rule, o.Disconnect, o.DisconnectWhen, rec.Type)}}, o.Delay, false)
	}
	switch {
	case o.Reply != nil:
		c.drop(rec)
		// Replies are built by actions (a CONNACK) and always parse; one
		// that did not would still be sent, journaled as far as it reads.
		reply, _ := faults.Parse(o.Reply, faults.ToClient, version)
		reply.ClientID = clientID
		rr := c.record(&reply)
		rr.Rule, rr.Action = o.Rule, o.Action
		back := faults.Both &^ dir
		if back == faults.ToClient {
			c.wmu.Lock()
			defer func() {
				c.flushBatch()
				c.wmu.Unlock()
			}()
		}
		c.queue(back, &item{raw: o.Reply, rec: rr}, 0, false)
		if o.Disconnect != "" {
			c.queue(back, &item{cut: &cut{mode: o.Disconnect, rule: o.Rule, cause: fmt.Sprintf("rule %q: %s", o.Rule, o.Action)}}, 0, false)
		}
		return
	case o.Disconnect != "" && o.DisconnectWhen == "before":
		c.drop(rec)
		cutAt(dir)
		return
	case o.Restart > 0 || o.Restarting:
		c.drop(rec)
		// Bounce refuses only when the listener is down already (another
		// rule bounced it) or closed for good: down, as the rule wants.
		_ = c.l.Bounce(o.Restart, fmt.Sprintf("rule %q at %s", o.Rule, rec.Type))
		return
	case o.Drop:
		c.drop(rec)
		return
	}
	if o.Raw != nil {
		np, err := faults.Parse(o.Raw, dir, version)
		if err == nil {
			np.ClientID = clientID
			r2 := c.record(&np)
			r2.Rule, r2.Action = rec.Rule, rec.Action
			rec = r2
		}
		raw = o.Raw
	}
	c.queue(dir, &item{raw: raw, rec: rec}, o.Delay, inline)
	for range o.Copies {
		c.queue(dir, &item{raw: raw, rec: rec}, o.Delay, inline)
	}
	if o.Disconnect != "" {
		cutAt(dir)
	}
}

func (c *Conn) record(p *faults.Packet) journal.Record {
	var r journal.Record
	c.describe(&r, p)
	return r
}

// describe writes the journal record of a packet on this connection into r.
func (c *Conn) describe(r *journal.Record, p *faults.Packet) {
	describeInto(r, p)
	r.Conn = c.id
}

// drop journals a packet that the fault layer kept from its receiver.
func (c *Conn) drop(rec journal.Record) {
	rec.Dropped = true
	c.l.journal.Add(rec)
}

// queue puts an item on the direction's queue, due after delay but never
// before the item ahead of it. Towards the client it is called with wmu
// held; inline, as route's.
func (c *Conn) queue(dir faults.Direction, it *item, delay time.Duration, inline bool) {
	p := &c.in
	if dir == faults.ToClient {
		p = &c.out
	}
	it.due = p.dueAfter(delay) // zero: nothing holds it back, deliver at once
	atOnce := it.due.IsZero() && it.cut == nil && c.notStalled()
	switch {
	case atOnce && dir == faults.ToClient && c.outPending.Load() == 0:
		c.gather(&it.rec, it.raw)
		return
	case atOnce && dir == faults.ToBroker && inline && !c.slotted && p.q.empty():
		if it != &c.slot {
			c.slot = *it
		}
		c.slotted = true
		return
	}
	if dir == faults.ToClient {
		c.flushBatch()
		c.outPending.Add(1)
		it.raw = bytes.Clone(it.raw) // Write's bytes are mochi's again when it returns
	}
	c.enqueue(p, it)
}

// clock reads the journal's clock once per batch: *t holds the reading
// until the batch is handed over.
func (c *Conn) clock(t *int64) int64 {
	if *t == 0 {
		*t = c.l.journal.Clock()
	}
	return *t
}

// gather journals a packet for the client and adds it to the batch that
// Write sends in one piece, as mochi would have on its own socket; called
// with wmu held when nothing is queued ahead of it. It is journaled as it
// is handed to the socket, so that a client reacting to it never finds the
// journal behind.
func (c *Conn) gather(rec *journal.Record, raw []byte) {
	c.l.journal.AppendAt(rec, c.clock(&c.wclock))
	c.pend = append(c.pend, raw)
}

// flushBatch writes what the fast path gathered; called with wmu held,
// before Write returns: pend may hold slices of mochi's bytes.
func (c *Conn) flushBatch() {
	c.wclock = 0 // the next batch reads the clock afresh
	var err error
	switch len(c.pend) {
	case 0:
		return
	case 1: // mostly: one packet a write, sent from mochi's own bytes
		err = c.writeRaw(c.pend[0])
	default:
		for _, raw := range c.pend {
			c.batch = append(c.batch, raw...)
		}
		err = c.writeRaw(c.batch)
		if cap(c.batch) > 64<<10 {
			c.batch = nil
		} else {
			c.batch = c.batch[:0]
		}
	}
	clear(c.pend)
	c.pend = c.pend[:0]
	if err != nil {
		c.noteCause("writing to the client: " + err.Error())
		c.closeWith("")
	}
}

// send journals a packet for the client and writes it.
func (c *Conn) send(it *item) bool {
	c.l.journal.Append(&it.rec)
	if err := c.writeRaw(it.raw); err != nil {
		c.noteCause("writing to the client: " + err.Error())
		c.closeWith("")
		return false
	}
	return true
}

func (c *Conn) enqueue(p *pipe, it *item) {
	if !c.hold(len(it.raw)) {
		return
	}
	if p == &c.out {
		c.toWriter(it)
		return
	}
	p.q.push(it, c.done)
}

// next waits for the head of q, or for done or (when given) the deadline.
func (c *Conn) next(q *fifo, deadline func() <-chan time.Time) (item, error) {
	for {
		if it, ok := q.pop(); ok {
			c.heldBytes.Add(-int64(len(it.raw)))
			return it, nil
		}
		var dl <-chan time.Time
		if deadline != nil {
			dl = deadline()
		}
		select {
		case <-q.ready:
		case <-c.done:
			return item{}, io.EOF
		case <-dl:
			return item{}, os.ErrDeadlineExceeded
		}
	}
}

// notStalled reports whether no stall is in force.
func (c *Conn) notStalled() bool {
	s := c.stall.Load()
	return s == 0 || s < time.Now().UnixNano()
}

// waitStall waits out a stall; it reports false if the connection ended
// meanwhile.
func (c *Conn) waitStall() bool {
	until := c.stall.Load()
	if until == 0 {
		return true
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// dueAt is when an item may move: its own due time, or the end of a stall.
func (c *Conn) dueAt(it *item) time.Time {
	due := it.due
	if s := c.stall.Load(); s != 0 {
		if st := time.Unix(0, s); st.After(due) {
			due = st
		}
	}
	return due
}

// Read hands mochi the client's packets as they fall due.
func (c *Conn) Read(b []byte) (int, error) {
	c.rclock = 0 // the packets this call hands over share one reading
	n := 0
	for n < len(b) {
		if len(c.rbuf) == 0 {
			if n > 0 && !c.moreNow() {
				break // hand over what there is rather than wait for more
			}
			raw, err := c.nextPacket()
			if err != nil {
				if n > 0 {
					c.rerr = err // after the bytes already taken
					break
				}
				return 0, err
			}
			c.rbuf = raw
		}
		k := copy(b[n:], c.rbuf)
		c.rbuf = c.rbuf[k:]
		n += k
	}
	return n, nil
}

// nextPacket waits for the client's next packet that is due and journals
// it as it is handed to mochi.
func (c *Conn) nextPacket() ([]byte, error) {
	if err := c.rerr; err != nil {
		c.rerr = nil
		return nil, err
	}
	if !c.async.Load() && !c.headSet {
		if err := c.readInline(); err != nil {
			return nil, err
		}
	}
	it, err := c.nextIn()
	if err != nil {
		return nil, err
	}
	if it.cut != nil {
		c.doCut(it.cut)
		return nil, io.EOF
	}
	if it.err != nil {
		return nil, it.err
	}
	c.l.journal.AppendAt(&it.rec, c.clock(&c.rclock))
	return it.raw, nil
}

// moreNow reports whether another packet can be handed to mochi without
// waiting: one is queued and due, or, reading inline, a whole one sits in
// the read buffer. mochi then gets several packets from one Read, as it
// would from its own socket.
func (c *Conn) moreNow() bool {
	if c.rerr != nil || c.headSet {
		return false
	}
	if c.slotted {
		return c.notStalled()
	}
	if due, ok := c.in.q.peekDue(); ok {
		return !time.Now().Before(due) && c.notStalled()
	}
	if c.async.Load() || c.br.Buffered() == 0 {
		return false
	}
	buf, _ := c.br.Peek(c.br.Buffered()) // cannot fail: no more than is buffered
	_, whole, err := frameSize(buf)
	return whole && err == nil && c.notStalled()
}

// nextIn waits for the next client packet that is due, within the read
// deadline mochi set for keep-alive.
func (c *Conn) nextIn() (*item, error) {
	var it *item
	switch {
	case c.headSet:
		c.headSet = false
		it = c.head
	case c.slotted:
		c.slotted = false
		it = &c.slot
	default:
		v, err := c.next(&c.in.q, c.deadlineC)
		if err != nil {
			return nil, err
		}
		it = spare(&c.cur)
		*it = v
	}
	for {
		due := c.dueAt(it)
		if due.IsZero() {
			return it, nil // the usual case, without reading the clock
		}
		wait := time.Until(due)
		if wait <= 0 {
			return it, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return nil, io.EOF
		case <-c.deadlineC():
			t.Stop()
			h := spare(&c.head)
			*h, c.headSet = *it, true
			return nil, os.ErrDeadlineExceeded
		}
	}
}

// deadlineC arms the read timer for the current deadline; nil (block
// forever) when there is none.
func (c *Conn) deadlineC() <-chan time.Time {
	d := c.deadline.Load()
	if d == 0 {
		return nil
	}
	if c.rtimer == nil {
		c.rtimer = time.NewTimer(time.Until(time.Unix(0, d)))
	} else {
		c.rtimer.Reset(time.Until(time.Unix(0, d)))
	}
	return c.rtimer.C
}

// Write takes mochi's bytes, which may hold several packets or part of
// one, and queues each whole packet for the client.
func (c *Conn) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	pkts, err := c.framer.Feed(b)
	for _, raw := range pkts {
		c.route(raw, faults.ToClient, false)
	}
	c.flushBatch()
	if err != nil {
		return 0, fmt.Errorf("fault layer: broker wrote a malformed packet: %w", err)
	}
	return len(b), nil
}

// writeLoop sends the broker's packets to the client as they fall due.
func (c *Conn) writeLoop() {
	for {
		it, err := c.next(&c.out.q, nil)
		if err != nil {
			return
		}
		if wait := time.Until(c.dueAt(&it)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return
			}
			// a stall that began while waiting holds it further
			if wait := time.Until(c.dueAt(&it)); wait > 0 && !c.waitStall() {
				return
			}
		}
		if it.cut != nil {
			c.doCut(it.cut)
			return
		}
		ok := c.send(&it)
		c.outPending.Add(-1)
		if !ok {
			return
		}
	}
}

// writeRaw hands b to the socket, or to the backlog for what the socket
// does not take at once; it waits only while the backlog is full.
func (c *Conn) writeRaw(b []byte) error {
	return c.bl.write(b, c.done)
}

// doCut ends the connection the way the rule asked.
func (c *Conn) doCut(k *cut) {
	clientID, version := c.info()
	switch k.mode {
	case "mqtt":
		if version == 5 {
			raw := faults.DisconnectPacket(k.code)
			p, _ := faults.Parse(raw, faults.ToClient, version) // ours: always parses
			p.ClientID = clientID
			rec := c.record(&p)
			rec.Rule, rec.Action = k.rule, "disconnect"
			c.l.journal.Add(rec)
			// A failed write is left to the close below: the journal
			// should give the rule as the cause, not the failed write.
			_ = c.writeRaw(raw)
		}
		// What the broker wrote before goes out before the close, as it
		// would from a socket's send buffer.
		c.bl.drain(c.done, closeGrace)
	case "close":
		c.bl.drain(c.done, closeGrace)
	case "reset":
		raw := c.raw
		if tc, ok := raw.(*tls.Conn); ok {
			raw = tc.NetConn()
		}
		// A TCP socket, or an in-memory connection that resets alike.
		if tc, ok := raw.(interface{ SetLinger(sec int) error }); ok {
			// Best effort: if the linger cannot be set, the close below
			// sends FIN instead of RST, and the connection still ends.
			_ = tc.SetLinger(0)
		}
	}
	c.closeWith(k.cause)
}

// closeWith closes the connection once, journaling why.
func (c *Conn) closeWith(cause string) {
	c.closeOnce.Do(func() {
		c.noteCause(cause)
		c.closed.Store(true)
		close(c.done)
		if t := c.backstop.Load(); t != nil {
			t.Stop()
		}
		c.mu.Lock()
		if c.connTimer != nil {
			c.connTimer.Stop()
		}
		c.mu.Unlock()
		_ = c.raw.Close() // the connection is over either way; why is journaled below
		c.l.forget(c)
		clientID, version := c.info()
		// Packets journaled as handed to the socket that it never took:
		// the journal says so, or it would show them sent.
		for _, raw := range c.bl.unsent(250 * time.Millisecond) {
			p, _ := faults.Parse(raw, faults.ToClient, version)
			p.ClientID = clientID
			r := c.record(&p)
			r.Kind, r.Dropped, r.Cause = journal.KindDrop, true, "handed to the socket, never written: the connection closed"
			c.l.journal.Add(r)
		}
		c.mu.Lock()
		why := c.cause
		c.mu.Unlock()
		c.l.journal.Add(journal.Record{Kind: journal.KindClose, Conn: c.id, Client: clientID, Cause: why})
	})
}

// Close is mochi closing the connection. Packets it wrote just before (a
// refusing CONNACK, a DISCONNECT) still go out first, unless the queue is
// stuck behind a stall or a delay for longer than closeGrace.
func (c *Conn) Close() error {
	c.noteCause("broker closed the connection")
	k := &cut{mode: "close"}
	// During a stall the client must not learn of the close either: the
	// line is dead both ways until the stall ends.
	grace := closeGrace
	if s := c.stall.Load(); s != 0 {
		grace += max(0, time.Until(time.Unix(0, s)))
	}
	select {
	case <-c.done:
		return nil
	default:
	}
	t := time.AfterFunc(grace, func() { c.closeWith("") })
	if !c.backstop.CompareAndSwap(nil, t) {
		t.Stop() // mochi and the listener both close: one backstop and one cut do
		return nil
	}
	if c.closed.Load() { // closed meanwhile, maybe before the timer was stored
		t.Stop()
	}
	c.toWriter(&item{cut: k})
	return nil
}

const closeGrace = 2 * time.Second

func (c *Conn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read deadline only: writes are queued, never block
// on the socket.
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *Conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
	if !c.async.Load() {
		return c.raw.SetReadDeadline(t)
	}
	return nil
}

func (c *Conn) SetWriteDeadline(time.Time) error { return nil }
