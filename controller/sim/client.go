package sim

import (
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/internal/eventloop"
	"github.com/mqtthil/mqtthil/internal/mqttcodec"
)

// Protocol versions on the wire.
const (
	mqtt31  = 3
	mqtt311 = 4
	mqtt5   = 5
)

// Connection states, as libmosquitto keeps them.
const (
	csNew = iota
	csConnecting
	csActive
	csDisconnecting
)

// Outgoing message states (libmosquitto's mosq_ms_*).
type msgState uint8

const (
	msInvalid msgState = iota
	msPublishQoS1
	msPublishQoS2
	msWaitPuback
	msWaitPubrec
	msResendPubrel
	msWaitPubcomp
)

// outMsg is an outgoing QoS>0 message, kept until it completes.
type outMsg struct {
	prev, next *outMsg
	mid        uint16
	qos        byte
	retain     bool
	dup        bool
	state      msgState
	topic      string
	payload    []byte
	props      propList
}

// inMsg is an incoming QoS 2 message waiting for its PUBREL.
type inMsg struct {
	mid     uint16
	topic   string
	payload []byte
	retain  bool
	props   controller.Props
}

type will struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	props   propList
}

type tlsSettings struct {
	cafile, certfile, keyfile, password string
	set                                 bool
	insecure                            bool
	psk, identity, ciphers              string
	pskSet                              bool
}

// Client is one simulated C4:MQTT object.
type Client struct {
	ctl   *Controller
	clean bool
	ev    *eventloop.Loop
	wg    sync.WaitGroup // connection goroutines

	mu        sync.Mutex
	destroyed bool
	id        string
	protocol  byte
	username  *string
	password  *string
	will      *will
	tls       tlsSettings

	host         string
	hostSet      bool // a Connect got past its checks: Reconnect has a host
	port         int
	keepalive    int
	connectProps propList

	// What the broker told us; kept across connections as libmosquitto keeps them.
	maxQoS          byte
	retainAvailable bool
	maxPacketSize   uint32

	inflightMax uint16 // msgs_out.inflight_maximum
	quota       uint16 // msgs_out.inflight_quota

	lastMid uint16
	state   int
	conn    *conn // nil: no socket

	outHead, outTail *outMsg
	outLen           int
	in               []*inMsg

	retries int
}

var _ controller.Client = (*Client)(nil)

func newClient(ctl *Controller, id string, clean bool) *Client {
	return &Client{
		ctl:             ctl,
		clean:           clean,
		id:              id,
		ev:              eventloop.New(nil),
		protocol:        mqtt311,
		maxQoS:          2,
		retainAvailable: true,
		inflightMax:     20,
		quota:           20,
	}
}

func ret(code int) controller.Ret {
	if code == 0 {
		return controller.Ret{}
	}
	return controller.Ret{Code: code, Err: controller.ErrorString(code)}
}

func retMid(mid uint16) controller.Ret { return controller.Ret{MsgID: int(mid)} }

// emit queues a callback; the caller holds c.mu. Only the connection's
// goroutines emit, never a call, so the event loop runs ungated: no
// callback is caused by a call that is still running.
func (c *Client) emit(ev controller.Event) { c.ev.Emit(c.id, ev) }

// Events delivers the callbacks in order.
func (c *Client) Events() <-chan controller.Event { return c.ev.Events() }

// ErrorCodeToString is the text of an error code.
func (c *Client) ErrorCodeToString(code int) string { return controller.ErrorString(code) }

// ReasonCodeToString is the text of a reason code.
func (c *Client) ReasonCodeToString(code int) string { return controller.ReasonString(code) }

// ForceMqttVersion: 3 = MQTT 3.1, 311 = 3.1.1, 5 = MQTT 5; only while no
// connection exists.
func (c *Client) ForceMqttVersion(version int) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || c.conn != nil {
		return ret(errInval)
	}
	switch version {
	case 3:
		c.protocol = mqtt31
	case 311:
		c.protocol = mqtt311
	case 5:
		c.protocol = mqtt5
	default:
		return ret(errInval)
	}
	return ret(0)
}

// SetUsernameAndPassword sets the credentials for the next CONNECT.
func (c *Client) SetUsernameAndPassword(username string, password *string) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if len(username) > 65535 || (password != nil && len(*password) > 65535) {
		return ret(errInval)
	}
	if !validUTF8(username) {
		return ret(errMalformedUTF8)
	}
	u := username
	c.username = &u
	c.password = nil
	if password != nil {
		p := *password
		c.password = &p
	}
	return ret(0)
}

// SetTlsPsk validates the key like the controller. Go's TLS has no PSK
// cipher suites, so a later Connect fails with the TLS error code.
func (c *Client) SetTlsPsk(psk, identity, ciphers string) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || psk == "" || identity == "" || !isHex(psk) {
		return ret(errInval)
	}
	c.tls.psk, c.tls.identity, c.tls.ciphers, c.tls.pskSet = psk, identity, ciphers, true
	return ret(0)
}

// SetTlsCertificates: a CA file is required; a client certificate and key
// come together. Files must be readable now; they are parsed at Connect.
func (c *Client) SetTlsCertificates(cafile, certfile, keyfile, password string) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || cafile == "" || (certfile == "") != (keyfile == "") {
		return ret(errInval)
	}
	for _, f := range []string{cafile, certfile, keyfile} {
		if f != "" && !readable(f) {
			return ret(errInval)
		}
	}
	c.tls.cafile, c.tls.certfile, c.tls.keyfile, c.tls.password, c.tls.set = cafile, certfile, keyfile, password, true
	return ret(0)
}

// SetTlsInsecure skips the host name check (the chain is still verified).
func (c *Client) SetTlsInsecure(insecure bool) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	c.tls.insecure = insecure
	return ret(0)
}

// SetMaxInflightMessages: 0 means 65535; takes effect at the next connect.
func (c *Client) SetMaxInflightMessages(n int) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || n < 0 || n > 65535 {
		return ret(errInval)
	}
	if n == 0 {
		n = 65535
	}
	c.inflightMax = uint16(n)
	return ret(0)
}

// SetMessageRetries is accepted and has no effect: the library has no
// timed retries.
func (c *Client) SetMessageRetries(n int) controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retries = n
	return ret(0)
}

// SetWill sets the last will for the next CONNECT.
func (c *Client) SetWill(topic string, payload []byte, qos int, retain bool, props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if len(payload) > maxPayload {
		return ret(errPayloadSize)
	}
	if qos < 0 || qos > 2 {
		return ret(errInval)
	}
	if !pubTopicOK(topic) {
		return ret(errInval)
	}
	if rc := utf8Code(topic); rc != 0 {
		return ret(rc)
	}
	if pl != nil {
		if c.protocol != mqtt5 {
			return ret(errNotSupported)
		}
		if rc := pl.check(cmdWill, c.ctl.opts.Model); rc != 0 {
			return ret(rc)
		}
	}
	c.will = &will{topic: topic, payload: append([]byte(nil), payload...), qos: byte(qos), retain: retain, props: pl}
	return ret(0)
}

// ClearWill removes the will.
func (c *Client) ClearWill() controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.will = nil
	return ret(0)
}

// Connect starts connecting and returns at once; onConnect reports.
func (c *Client) Connect(host string, port int, keepalive int, props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if pl != nil {
		if rc := pl.check(cmdConnect, c.ctl.opts.Model); rc != 0 {
			return ret(rc)
		}
	}
	if port < 0 || port > 65535 {
		return ret(errInval)
	}
	if keepalive != 0 && (keepalive < 5 || keepalive > 65535) {
		return ret(errInval)
	}
	c.finishDisconnectLocked()
	if c.destroyed {
		return ret(errInval)
	}
	if c.id == "" && c.protocol == mqtt31 {
		c.id = randomID()
	}
	c.host, c.port, c.keepalive, c.connectProps = host, port, keepalive, pl
	c.hostSet = true
	c.quota = c.inflightMax
	c.retainAvailable = true
	return ret(c.reconnectLocked())
}

// Reconnect connects again with the settings of the last Connect.
func (c *Client) Reconnect() controller.Ret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed || !c.hostSet {
		return ret(errInval)
	}
	c.finishDisconnectLocked()
	if c.destroyed {
		return ret(errInval)
	}
	return ret(c.reconnectLocked())
}

// Disconnect sends DISCONNECT after the packets already queued;
// onDisconnect(0) follows.
func (c *Client) Disconnect(props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if pl != nil {
		if c.protocol != mqtt5 {
			return ret(errNotSupported)
		}
		if rc := pl.check(cmdDisconnect, c.ctl.opts.Model); rc != 0 {
			return ret(rc)
		}
	}
	c.state = csDisconnecting
	if c.conn == nil {
		return ret(errNoConn)
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: c.protocol}
	if pl != nil {
		pk.Properties = pl.packets()
	}
	c.conn.enqueue(c.encode(&pk), wpDisconnect, 0)
	c.conn.discOut = true
	return ret(0)
}

// Publish follows table 1 of publish-semantics.md, check by check.
func (c *Client) Publish(topic string, payload []byte, qos int, retain bool, props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if qos < 0 || qos > 2 {
		return ret(errInval)
	}
	if pl != nil && c.protocol != mqtt5 {
		return ret(errNotSupported)
	}
	if byte(qos) > c.maxQoS {
		return ret(errQoSNotSupported)
	}
	if !c.retainAvailable {
		retain = false
	}
	if pl != nil {
		if rc := pl.check(cmdPublish, c.ctl.opts.Model); rc != 0 {
			return ret(rc)
		}
	}
	if topic == "" {
		if c.protocol != mqtt5 || !pl.has(35) {
			return ret(errInval)
		}
	} else {
		if rc := utf8Code(topic); rc != 0 {
			return ret(rc)
		}
		if len(payload) > maxPayload {
			return ret(errPayloadSize)
		}
		if !pubTopicOK(topic) {
			return ret(errInval)
		}
	}
	// For QoS>0 libmosquitto's early check counts one byte of packet id
	// where the packet has two. A packet in that one-byte window aborted
	// 2.0.11 (the model refuses it here, with no id); later releases let
	// it through to the send, which refuses it with the id used up.
	remaining := c.publishRemaining(topic, len(payload), byte(qos), pl)
	early := remaining
	if qos > 0 {
		early--
	}
	if c.oversize(early) || (c.oversize(remaining) && !c.ctl.opts.Model.Has(controller.ChangeOversizeSendRefusal)) {
		return ret(errOversizePacket)
	}
	mid := c.nextMid()
	if qos == 0 {
		if c.conn == nil {
			return ret(errNoConn)
		}
		if rc := c.sendPublish(mid, topic, payload, 0, retain, false, pl); rc != 0 {
			return ret(rc)
		}
		return retMid(mid)
	}
	m := &outMsg{mid: mid, qos: byte(qos), retain: retain, topic: topic, payload: append([]byte(nil), payload...), props: pl}
	c.appendOut(m)
	if rc := c.releaseToInflight(); rc != 0 {
		return ret(rc)
	}
	return retMid(mid)
}

// Subscribe sends SUBSCRIBE; onSubscribe reports.
func (c *Client) Subscribe(sub string, qos int, props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if pl != nil && c.protocol != mqtt5 {
		return ret(errNotSupported)
	}
	if qos < 0 || qos > 2 {
		return ret(errInval)
	}
	if rc := c.checkFilter(cmdSubscribe, sub, pl); rc != 0 {
		return ret(rc)
	}
	return c.sendFilter(packets.Subscribe, packets.Subscription{Filter: sub, Qos: byte(qos)}, 1, pl)
}

// checkFilter makes the checks Subscribe and Unsubscribe share, after
// their own and in libmosquitto's order; called with mu held.
func (c *Client) checkFilter(cmd byte, sub string, pl propList) int {
	if c.conn == nil {
		return errNoConn
	}
	if pl != nil {
		if rc := pl.check(cmd, c.ctl.opts.Model); rc != 0 {
			return rc
		}
	}
	if !subTopicOK(sub) {
		return errInval
	}
	return utf8Code(sub)
}

// sendFilter sends a SUBSCRIBE or UNSUBSCRIBE of one filter; extra is
// what the filter takes on the wire besides its name (the options byte
// of a SUBSCRIBE). Called with mu held.
func (c *Client) sendFilter(typ byte, f packets.Subscription, extra int, pl propList) controller.Ret {
	if c.oversize(2 + 2 + len(f.Filter) + extra + c.propsWireLen(pl)) {
		return ret(errOversizePacket)
	}
	mid := c.nextMid()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: typ, Qos: 1},
		ProtocolVersion: c.protocol,
		PacketID:        mid,
		Filters:         packets.Subscriptions{f},
	}
	if pl != nil {
		pk.Properties = pl.packets()
	}
	c.conn.enqueue(c.encode(&pk), wpOther, 0)
	return retMid(mid)
}

// Unsubscribe sends UNSUBSCRIBE; onUnsubscribe reports.
func (c *Client) Unsubscribe(sub string, props controller.Props) controller.Ret {
	pl, rc := buildProps(props)
	if rc != 0 {
		return ret(rc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ret(errInval)
	}
	if pl != nil && c.protocol != mqtt5 {
		return ret(errNotSupported)
	}
	if rc := c.checkFilter(cmdUnsubscribe, sub, pl); rc != 0 {
		return ret(rc)
	}
	return c.sendFilter(packets.Unsubscribe, packets.Subscription{Filter: sub}, 0, pl)
}

// Destroy closes the connection without callbacks, drops every queued
// message and stops the event loop. It returns when every goroutine of the
// client has ended.
func (c *Client) Destroy() {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return
	}
	c.destroyed = true
	if c.conn != nil {
		c.closeConnLocked(c.conn)
	}
	c.outHead, c.outTail, c.outLen = nil, nil, 0
	c.in = nil
	c.mu.Unlock()
	c.ev.Close()
	c.wg.Wait()
	c.ctl.forget(c)
}

// nextMid: first id 1, +1 per call, 65535 wraps to 1.
func (c *Client) nextMid() uint16 {
	c.lastMid++
	if c.lastMid == 0 {
		c.lastMid = 1
	}
	return c.lastMid
}

func (c *Client) appendOut(m *outMsg) {
	m.prev = c.outTail
	if c.outTail != nil {
		c.outTail.next = m
	} else {
		c.outHead = m
	}
	c.outTail = m
	c.outLen++
}

func (c *Client) removeOut(m *outMsg) {
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		c.outHead = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		c.outTail = m.prev
	}
	m.prev, m.next = nil, nil
	c.outLen--
}

func (c *Client) incQuota() {
	if c.quota < c.inflightMax {
		c.quota++
	}
}

func (c *Client) decQuota() {
	if c.quota > 0 {
		c.quota--
	}
}

// releaseToInflight sends queued messages while the window has room.
func (c *Client) releaseToInflight() int {
	for m := c.outHead; m != nil; m = m.next {
		if c.quota == 0 {
			return 0
		}
		if m.qos > 0 && m.state == msInvalid {
			if m.qos == 1 {
				m.state = msWaitPuback
			} else {
				m.state = msWaitPubrec
			}
			if rc := c.sendPublish(m.mid, m.topic, m.payload, m.qos, m.retain, m.dup, m.props); rc != 0 {
				return rc
			}
			c.decQuota()
		}
	}
	return 0
}

// reconnectReset re-arms the outgoing messages for a new connection (or
// only recounts the window, at CONNACK).
func (c *Client) reconnectReset(quotaOnly bool) {
	c.quota = c.inflightMax
	for m := c.outHead; m != nil; m = m.next {
		if c.quota != 0 {
			c.decQuota()
			if !quotaOnly {
				switch {
				case m.qos == 1:
					m.state = msPublishQoS1
				case m.state == msWaitPubrec:
					m.state = msPublishQoS2
				case m.state == msWaitPubcomp:
					m.state = msResendPubrel
				}
			}
		} else {
			m.state = msInvalid
		}
	}
	// Incoming QoS 2 messages waiting for PUBREL are kept.
}

// retryCheck resends after CONNACK: PUBLISH with DUP=1, or PUBREL.
func (c *Client) retryCheck() {
	for m := c.outHead; m != nil; m = m.next {
		switch m.state {
		case msPublishQoS1, msPublishQoS2:
			m.dup = true
			// Deliberately ignored, as the library ignores it: the socket
			// exists (CONNACK just came on it), and a message the broker's
			// Maximum Packet Size now forbids stays in flight unsent.
			_ = c.sendPublish(m.mid, m.topic, m.payload, m.qos, m.retain, true, m.props)
		case msResendPubrel, msWaitPubcomp:
			m.dup = true
			c.sendAck(packets.Pubrel, m.mid)
		}
	}
}

func (c *Client) publishRemaining(topic string, payloadLen int, qos byte, pl propList) int {
	n := 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	return n + c.propsWireLen(pl)
}

// oversize reports whether a packet with this remaining length breaks the
// broker's Maximum Packet Size. Like libmosquitto it leaves the fixed
// header's first byte out, so packets of limit + 1 bytes pass.
func (c *Client) oversize(remaining int) bool {
	return c.maxPacketSize > 0 && uint32(remaining+varintLen(remaining)) > c.maxPacketSize
}

// propsWireLen is what the properties add to a packet on the wire: nothing
// before MQTT 5.
func (c *Client) propsWireLen(pl propList) int {
	if c.protocol != mqtt5 {
		return 0
	}
	return varintLen(pl.wireLen()) + pl.wireLen()
}

// sendPublish queues a PUBLISH on the socket: 4 without one, 25 when the
// broker's Maximum Packet Size forbids it.
func (c *Client) sendPublish(mid uint16, topic string, payload []byte, qos byte, retain, dup bool, pl propList) int {
	if c.conn == nil {
		return errNoConn
	}
	if c.oversize(c.publishRemaining(topic, len(payload), qos, pl)) {
		return errOversizePacket
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain, Dup: dup},
		ProtocolVersion: c.protocol,
		TopicName:       topic,
		Payload:         payload,
	}
	if qos > 0 {
		pk.PacketID = mid
	}
	if pl != nil {
		pk.Properties = pl.packets()
	}
	kind := wpOther
	if qos == 0 {
		kind = wpQoS0
	}
	c.conn.enqueue(c.encode(&pk), kind, mid)
	return 0
}

// sendAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP with reason 0.
func (c *Client) sendAck(typ byte, mid uint16) {
	if c.conn == nil {
		return
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, ProtocolVersion: c.protocol, PacketID: mid}
	if typ == packets.Pubrel {
		pk.FixedHeader.Qos = 1
	}
	c.conn.enqueue(c.encode(&pk), wpOther, 0)
}

// encode writes a packet with mochi's codec.
func (c *Client) encode(pk *packets.Packet) []byte {
	pk.Mods.AllowResponseInfo = true
	b, err := mqttcodec.Encode(*pk)
	if err != nil {
		// The codec refuses only a QoS>0 PUBLISH, SUBSCRIBE or UNSUBSCRIBE
		// without a packet id, and nextMid never hands out 0: a model bug.
		panic(fmt.Sprintf("sim: encoding packet type %d: %v", pk.FixedHeader.Type, err))
	}
	return b
}

func (c *Client) connectPacket() []byte {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: c.protocol,
	}
	pk.Connect.ProtocolName = []byte("MQTT")
	if c.protocol == mqtt31 {
		pk.Connect.ProtocolName = []byte("MQIsdp")
	}
	pk.Connect.Clean = c.clean
	pk.Connect.Keepalive = uint16(c.keepalive)
	pk.Connect.ClientIdentifier = c.id
	if c.protocol == mqtt5 && c.connectProps != nil {
		pk.Properties = c.connectProps.packets()
	}
	if w := c.will; w != nil {
		pk.Connect.WillFlag = true
		pk.Connect.WillTopic = w.topic
		pk.Connect.WillPayload = w.payload
		pk.Connect.WillQos = w.qos
		pk.Connect.WillRetain = w.retain
		if c.protocol == mqtt5 && w.props != nil {
			pk.Connect.WillProperties = w.props.packets()
		}
	}
	if c.username != nil {
		pk.Connect.UsernameFlag = true
		pk.Connect.Username = []byte(*c.username)
		if c.password != nil {
			pk.Connect.PasswordFlag = true
			pk.Connect.Password = []byte(*c.password)
		}
	}
	return c.encode(&pk)
}

const alphanum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID is the id the library makes up for MQTT 3.1 clients without one.
func randomID() string {
	b := make([]byte, 18)
	// crypto/rand.Read never returns an error: it crashes the program
	// when the system's generator fails.
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphanum[int(b[i]&0x7F)%len(alphanum)]
	}
	return "mosq-" + string(b)
}
