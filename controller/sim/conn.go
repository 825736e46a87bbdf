package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/internal/sockread"
)

// Kinds of queued packets.
const (
	wpOther      uint8 = iota
	wpQoS0             // a QoS 0 PUBLISH: onPublish fires once it is written
	wpDisconnect       // DISCONNECT: the connection ends once it is written
)

type wpacket struct {
	b    []byte
	kind uint8
	mid  uint16
}

// conn is one network connection of a client: from Connect/Reconnect
// until it is lost, closed or replaced. Its fields marked "c.mu" are
// guarded by the client's mutex.
type conn struct {
	c        *Client
	addrs    []string // the host's addresses, tried in turn
	tlsCfg   *tls.Config
	protocol byte
	unit     time.Duration

	// c.mu
	wq      []wpacket
	discOut bool // the driver's DISCONNECT is queued on this connection
	spare   []wpacket
	closed  bool
	writing bool // a writer goroutine runs: started by what is queued, it ends when the queue is empty
	nc      net.Conn
	pingOut bool
	ka      time.Duration

	// kaTimer checks the keep-alive when it may be due; nil until the
	// socket is connected. A timer rather than a goroutine of its own:
	// a thousand idle clients would otherwise keep a thousand stacks
	// waiting for it.
	kaTimer *time.Timer

	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	lastIn  atomic.Int64 // unix nanoseconds
	nextOut atomic.Int64
	kaNanos atomic.Int64
}

// finishDisconnectLocked lets a DISCONNECT the driver asked for go out
// before a new connection replaces the socket: libmosquitto's network loop
// writes it as soon as it is queued, so a Disconnect followed at once by
// Reconnect shows DISCONNECT and onDisconnect(0) first (as controller/mosq
// does every time). It waits at most a second, without the lock.
func (c *Client) finishDisconnectLocked() {
	cn := c.conn
	if cn == nil || cn.closed || !cn.discOut || c.state != csDisconnecting {
		return
	}
	c.mu.Unlock()
	t := time.NewTimer(time.Second)
	select {
	case <-cn.done:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
}

// reconnectLocked is the library's reconnect: drop unwritten packets,
// re-arm the outgoing messages, look the host name up, open a new socket
// and queue CONNECT. The name is resolved inside the call, as the library
// does, so an empty or unknown host returns 15 and port 0 returns 14 from
// the call, with no callback; the TCP connect itself finishes in the
// background and the socket counts as open from here on.
func (c *Client) reconnectLocked() int {
	if c.connectProps != nil && c.protocol != mqtt5 {
		return errNotSupported
	}
	var cfg *tls.Config
	if c.tls.set {
		var err error
		if cfg, err = c.tls.config(c.host); err != nil {
			return errTLS
		}
	} else if c.tls.pskSet {
		// Go's TLS has no PSK cipher suites.
		return errTLS
	}
	if c.conn != nil {
		c.closeConnLocked(c.conn)
	}
	c.reconnectReset(false)
	addrs, rc := c.resolveLocked()
	if rc != 0 {
		return rc
	}
	cn := &conn{
		c:        c,
		addrs:    addrs,
		tlsCfg:   cfg,
		protocol: c.protocol,
		unit:     c.ctl.opts.KeepAliveUnit,
		done:     make(chan struct{}),
	}
	cn.ctx, cn.cancel = context.WithCancel(context.Background())
	cn.setKeepalive(c.keepalive)
	c.conn = cn
	c.state = csConnecting
	cn.enqueue(c.connectPacket(), wpOther, 0)
	c.wg.Add(1)
	go cn.run()
	return 0
}

// resolveLocked looks the host up and returns the addresses to dial: 15
// when the name does not resolve (an empty one never does), 14 for port 0,
// whose connect fails on every address before the call returns.
func (c *Client) resolveLocked() ([]string, int) {
	if c.host == "" {
		return nil, errEAI
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.ctl.opts.DialTimeout)
	defer cancel()
	ips, err := c.ctl.opts.Resolver.LookupHost(ctx, c.host)
	if err != nil || len(ips) == 0 {
		return nil, errEAI
	}
	if c.port == 0 {
		return nil, errErrno
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = net.JoinHostPort(ip, strconv.Itoa(c.port))
	}
	return addrs, 0
}

// setKeepalive changes the keep-alive interval. Caller holds c.mu.
func (cn *conn) setKeepalive(seconds int) {
	cn.ka = time.Duration(seconds) * cn.unit
	cn.kaNanos.Store(int64(cn.ka))
	cn.armKeepaliveLocked()
}

// armKeepaliveLocked sets the keep-alive timer for when the next PINGREQ
// or the keep-alive's end may be due, or stops it when there is no
// keep-alive. Caller holds c.mu.
func (cn *conn) armKeepaliveLocked() {
	if cn.closed || cn.nc == nil {
		return
	}
	ka := cn.kaNanos.Load()
	if ka <= 0 {
		if cn.kaTimer != nil {
			cn.kaTimer.Stop()
		}
		return
	}
	due := min(cn.nextOut.Load(), cn.lastIn.Load()+ka)
	d := time.Duration(due - time.Now().UnixNano())
	if cn.kaTimer == nil {
		cn.kaTimer = time.AfterFunc(d, cn.keepaliveDue)
		return
	}
	cn.kaTimer.Reset(d)
}

// enqueue adds a packet to the write queue. Caller holds c.mu.
func (cn *conn) enqueue(b []byte, kind uint8, mid uint16) {
	if cn.closed {
		return
	}
	cn.wq = append(cn.wq, wpacket{b: b, kind: kind, mid: mid})
	cn.startWriterLocked()
}

// startWriterLocked starts a writer for what is queued, unless one runs or
// the socket is not connected yet. A goroutine that lives while there is
// something to write: a thousand idle clients keep no writer's stack.
// Caller holds c.mu.
func (cn *conn) startWriterLocked() {
	if cn.writing || cn.closed || cn.nc == nil || len(cn.wq) == 0 {
		return
	}
	cn.writing = true
	c, nc := cn.c, cn.nc
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cn.writeLoop(nc)
	}()
}

// closeConnLocked ends a connection without a callback; unwritten packets
// are dropped.
func (c *Client) closeConnLocked(cn *conn) {
	if cn.closed {
		return
	}
	cn.closed = true
	close(cn.done)
	if cn.kaTimer != nil {
		cn.kaTimer.Stop()
	}
	cn.cancel()
	if cn.nc != nil {
		// Closing is how the connection ends; what the socket says about
		// it changes nothing, and the loops see net.ErrClosed.
		_ = cn.nc.Close()
	}
	cn.wq, cn.spare = nil, nil
	if c.conn == cn {
		c.conn = nil
	}
}

// lost ends a connection on an error and reports onDisconnect(code); 0
// when the driver had asked to disconnect.
func (c *Client) lost(cn *conn, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.closed {
		return
	}
	if c.state == csDisconnecting {
		code = 0
	}
	c.closeConnLocked(cn)
	c.emit(controller.Event{Kind: controller.OnDisconnect, Reason: code, Message: controller.ErrorString(code)})
}

// run connects, then writes queued packets until the connection ends.
func (cn *conn) run() {
	c := cn.c
	defer c.wg.Done()
	timeout := c.ctl.opts.DialTimeout
	var nc net.Conn
	var err error
	for _, addr := range cn.addrs {
		dctx, cancel := context.WithTimeout(cn.ctx, timeout)
		nc, err = c.ctl.opts.Dial(dctx, "tcp", addr)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		c.lost(cn, dialCode(err))
		return
	}
	if cn.tlsCfg != nil {
		tc := tls.Client(nc, cn.tlsCfg)
		hctx, cancel := context.WithTimeout(cn.ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close() // the handshake's error is the one reported
			if !c.ctl.opts.Model.Has(controller.ChangeTLSFailureCallback) {
				// Before the release that added the callback the library
				// closed the socket and said nothing.
				c.mu.Lock()
				c.closeConnLocked(cn)
				c.mu.Unlock()
				return
			}
			c.lost(cn, errTLS)
			return
		}
		nc = tc
	}
	c.mu.Lock()
	if cn.closed {
		c.mu.Unlock()
		_ = nc.Close() // closed while dialling: nobody wants this socket
		return
	}
	cn.nc = nc
	now := time.Now().UnixNano()
	cn.lastIn.Store(now)
	cn.nextOut.Store(now + cn.kaNanos.Load())
	cn.armKeepaliveLocked()
	// CONNECT waits in the queue: its writer is a goroutine of its own
	// rather than this one, whose stack dialling has grown.
	cn.startWriterLocked()
	c.wg.Add(1)
	c.mu.Unlock()
	go cn.readLoop(nc)
}

// writeLoop writes queued packets one write each, as libmosquitto's
// packet writer does, and reports what each write finishes (a QoS 0
// onPublish, the end of a DISCONNECT) before the next: a client subscribed
// to its own topic sees onPublish and onMessage in libmosquitto's order.
// It ends when nothing is queued; enqueue starts the next.
func (cn *conn) writeLoop(nc net.Conn) {
	c := cn.c
	for {
		c.mu.Lock()
		if cn.closed {
			c.mu.Unlock()
			return
		}
		batch := cn.wq
		if len(batch) == 0 {
			cn.writing = false
			c.mu.Unlock()
			return
		}
		cn.wq = cn.spare[:0]
		cn.spare = nil
		for i, p := range batch {
			if p.kind == wpDisconnect && i+1 < len(batch) {
				// Packets queued after DISCONNECT are never written.
				batch = batch[:i+1]
				break
			}
		}
		c.mu.Unlock()

		for _, p := range batch {
			if _, err := nc.Write(p.b); err != nil {
				c.lost(cn, writeCode(err))
				return
			}
			cn.nextOut.Store(time.Now().UnixNano() + cn.kaNanos.Load())
			c.mu.Lock()
			switch p.kind {
			case wpQoS0:
				c.emit(controller.Event{Kind: controller.OnPublish, MsgID: int(p.mid), Message: controller.ReasonString(0)})
			case wpDisconnect:
				if !cn.closed {
					c.closeConnLocked(cn)
					c.emit(controller.Event{Kind: controller.OnDisconnect, Message: controller.ErrorString(0)})
				}
			}
			closed := cn.closed
			c.mu.Unlock()
			if closed {
				return
			}
		}
		c.mu.Lock()
		for i := range batch {
			batch[i] = wpacket{}
		}
		cn.spare = batch[:0]
		c.mu.Unlock()
		c.ev.WaitRoom()
	}
}

// malformed marks a packet the codec could not read.
type malformed struct{ err error }

func (m malformed) Error() string { return "malformed packet: " + m.err.Error() }

func (cn *conn) readLoop(nc net.Conn) {
	c := cn.c
	defer c.wg.Done()
	// Holds no buffer while the broker sends nothing: a thousand idle
	// clients would otherwise hold a thousand empty buffers.
	br := sockread.New(nc)
	for {
		pk, err := readPacket(br, cn.protocol)
		if err != nil {
			c.lost(cn, readCode(err))
			return
		}
		cn.lastIn.Store(time.Now().UnixNano())
		if rc := c.handle(cn, pk); rc != 0 {
			c.lost(cn, rc)
			return
		}
		c.ev.WaitRoom()
		select {
		case <-cn.done:
			return
		default:
		}
	}
}

// byteReader is what packets are read from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readPacket reads one packet and decodes it with mochi's codec. Packet
// types a client never receives are returned undecoded.
func readPacket(br byteReader, protocol byte) (pk *packets.Packet, err error) {
	hb, err := br.ReadByte()
	if err != nil {
		return nil, err
	}
	var fh packets.FixedHeader
	if err := fh.Decode(hb); err != nil {
		return nil, malformed{err}
	}
	n, _, err := packets.DecodeLength(br)
	if err != nil {
		if errors.Is(err, packets.ErrMalformedVariableByteInteger) {
			return nil, malformed{err}
		}
		return nil, err
	}
	fh.Remaining = n
	var body bytes.Buffer
	if n > 0 {
		if n < 64<<10 {
			body.Grow(n)
		}
		m, err := body.ReadFrom(io.LimitReader(br, int64(n)))
		if err != nil {
			return nil, err
		}
		if int(m) < n {
			return nil, io.ErrUnexpectedEOF
		}
	}
	return decodePacket(fh, body.Bytes(), protocol)
}

// decodePacket decodes a packet body. It never panics: a codec panic is a
// malformed packet.
func decodePacket(fh packets.FixedHeader, buf []byte, protocol byte) (pk *packets.Packet, err error) {
	defer func() {
		if r := recover(); r != nil {
			pk, err = nil, malformed{fmt.Errorf("codec panic: %v", r)}
		}
	}()
	pk = &packets.Packet{FixedHeader: fh, ProtocolVersion: protocol}
	switch fh.Type {
	case packets.Connack:
		err = pk.ConnackDecode(buf)
	case packets.Publish:
		err = pk.PublishDecode(buf)
	case packets.Puback:
		err = pk.PubackDecode(buf)
	case packets.Pubrec:
		err = pk.PubrecDecode(buf)
	case packets.Pubrel:
		err = pk.PubrelDecode(buf)
	case packets.Pubcomp:
		err = pk.PubcompDecode(buf)
	case packets.Suback:
		err = pk.SubackDecode(buf)
	case packets.Unsuback:
		err = pk.UnsubackDecode(buf)
	case packets.Disconnect:
		err = pk.DisconnectDecode(buf)
	}
	if err != nil {
		return nil, malformed{err}
	}
	return pk, nil
}

// keepaliveDue runs on the keep-alive timer: it sends PINGREQ when
// nothing was written for a keep-alive interval, ends the connection when
// nothing came back for one after that, and otherwise sets the timer for
// when one of those may be due.
func (cn *conn) keepaliveDue() {
	c := cn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.closed {
		return
	}
	ka := cn.kaNanos.Load()
	if ka <= 0 {
		return
	}
	now := time.Now().UnixNano()
	if now < min(cn.nextOut.Load(), cn.lastIn.Load()+ka) {
		cn.armKeepaliveLocked()
		return
	}
	if c.state == csActive && !cn.pingOut {
		cn.enqueue([]byte{packets.Pingreq << 4, 0}, wpOther, 0)
		cn.pingOut = true
		cn.lastIn.Store(now)
		cn.nextOut.Store(now + ka)
		cn.armKeepaliveLocked()
		return
	}
	code := errKeepalive
	if c.state == csDisconnecting {
		code = 0
	}
	c.closeConnLocked(cn)
	c.emit(controller.Event{Kind: controller.OnDisconnect, Reason: code, Message: controller.ErrorString(code)})
}

func dialCode(err error) int {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return errEAI
	}
	return errErrno
}

func readCode(err error) int {
	var m malformed
	switch {
	case errors.As(err, &m):
		if errors.Is(m.err, packets.ErrProtocolViolationUnsupportedProperty) {
			return errProtocol
		}
		if errors.Is(m.err, packets.ErrMalformedInvalidUTF8) {
			return errMalformedUTF8
		}
		return errMalformedPacket
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return errConnLost
	}
	return errErrno
}

func writeCode(err error) int {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return errConnLost
	}
	return errErrno
}

func readable(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	_ = f.Close() // opened only to see that it can be read
	return true
}

// config builds the TLS configuration: the CA verifies the broker, an
// optional client certificate authenticates us, insecure skips only the
// host name check.
func (t tlsSettings) config(host string) (*tls.Config, error) {
	ca, err := os.ReadFile(t.cafile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("no CA certificate in " + t.cafile)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	if t.certfile != "" {
		certPEM, err := os.ReadFile(t.certfile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := os.ReadFile(t.keyfile)
		if err != nil {
			return nil, err
		}
		if blk, _ := pem.Decode(keyPEM); blk != nil && x509.IsEncryptedPEMBlock(blk) { //nolint:staticcheck // legacy encrypted keys are what the controller accepts
			der, err := x509.DecryptPEMBlock(blk, []byte(t.password)) //nolint:staticcheck
			if err != nil {
				return nil, err
			}
			keyPEM = pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der})
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.insecure {
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}
