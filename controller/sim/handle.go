package sim

import (
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
)

// handle processes one packet from the broker, as libmosquitto's client
// handlers do. A non-zero result ends the connection with onDisconnect of
// that code.
func (c *Client) handle(cn *conn, pk *packets.Packet) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.closed || c.conn != cn {
		return 0
	}
	v5 := c.protocol == mqtt5
	switch pk.FixedHeader.Type {
	case packets.Connack:
		return c.handleConnack(cn, pk)

	case packets.Publish:
		return c.handlePublish(pk)

	case packets.Puback, packets.Pubcomp:
		if c.state != csActive {
			return errProtocol
		}
		c.incQuota()
		qos := byte(1)
		if pk.FixedHeader.Type == packets.Pubcomp {
			qos = 2
		}
		if pk.PacketID == 0 {
			return errProtocol
		}
		if v5 && pk.FixedHeader.Remaining > 2 && c.checksAckReasons() {
			if qos == 1 && !validPubackReason(pk.ReasonCode) ||
				qos == 2 && pk.ReasonCode != 0 && pk.ReasonCode != controller.RCPacketIDNotFound {
				return errProtocol
			}
		}
		m, rc := c.findOut(pk.PacketID, qos)
		if rc != 0 {
			return rc
		}
		if m != nil {
			c.removeOut(m)
			ev := controller.Event{Kind: controller.OnPublish, MsgID: int(m.mid), Reason: int(pk.ReasonCode), Message: controller.ReasonString(int(pk.ReasonCode))}
			if v5 {
				ev.Props = apiProps(&pk.Properties)
			}
			c.emit(ev)
		}
		c.releaseFreedWindow()
		return 0

	case packets.Pubrec:
		if c.state != csActive {
			return errProtocol
		}
		if pk.PacketID == 0 {
			return errProtocol
		}
		if v5 && pk.FixedHeader.Remaining > 2 && c.checksAckReasons() && !validPubrecReason(pk.ReasonCode) {
			return errProtocol
		}
		if !v5 || pk.ReasonCode < 0x80 {
			m, rc := c.findOut(pk.PacketID, 2)
			if rc != 0 {
				return rc
			}
			if m != nil {
				m.state = msWaitPubcomp
			}
			c.sendAck(packets.Pubrel, pk.PacketID)
			return 0
		}
		// A PUBREC of 128 or more ends the message: no PUBREL.
		if m, rc := c.findOut(pk.PacketID, 2); rc == 0 && m != nil {
			c.removeOut(m)
			c.emit(controller.Event{Kind: controller.OnPublish, MsgID: int(m.mid), Reason: int(pk.ReasonCode), Message: controller.ReasonString(int(pk.ReasonCode))})
		}
		c.incQuota()
		c.releaseFreedWindow()
		return 0

	case packets.Pubrel:
		if c.state != csActive {
			return errProtocol
		}
		if pk.PacketID == 0 {
			return errProtocol
		}
		if v5 && pk.FixedHeader.Remaining > 2 && c.checksAckReasons() && pk.ReasonCode != 0 && pk.ReasonCode != controller.RCPacketIDNotFound {
			return errProtocol
		}
		var msg *inMsg
		for i, m := range c.in {
			if m.mid == pk.PacketID {
				msg = m
				c.in = append(c.in[:i], c.in[i+1:]...)
				break
			}
		}
		c.sendAck(packets.Pubcomp, pk.PacketID)
		if msg != nil {
			c.emit(controller.Event{Kind: controller.OnMessage, MsgID: int(msg.mid), Topic: msg.topic, Payload: msg.payload, QoS: 2, Retain: msg.retain, Props: msg.props})
		}
		return 0

	case packets.Suback:
		if c.state != csActive {
			return errProtocol
		}
		if pk.PacketID == 0 {
			return errProtocol
		}
		granted := make([]int, len(pk.ReasonCodes))
		for i, g := range pk.ReasonCodes {
			granted[i] = int(g)
		}
		ev := controller.Event{Kind: controller.OnSubscribe, MsgID: int(pk.PacketID), Granted: granted}
		if v5 {
			ev.Props = apiProps(&pk.Properties)
		}
		c.emit(ev)
		return 0

	case packets.Unsuback:
		if c.state != csActive {
			return errProtocol
		}
		if pk.PacketID == 0 {
			return errProtocol
		}
		ev := controller.Event{Kind: controller.OnUnsubscribe, MsgID: int(pk.PacketID)}
		if v5 {
			ev.Props = apiProps(&pk.Properties)
		}
		c.emit(ev)
		return 0

	case packets.Pingresp:
		if c.state != csActive {
			return errProtocol
		}
		cn.pingOut = false
		return 0

	case packets.Disconnect:
		if !v5 {
			return errProtocol
		}
		c.closeConnLocked(cn)
		// libmosquitto 2.0.11 reads the DISCONNECT's properties and frees
		// them: onDisconnect gets none (checked against controller/mosq).
		c.emit(controller.Event{Kind: controller.OnDisconnect, Reason: int(pk.ReasonCode), Message: controller.ReasonString(int(pk.ReasonCode))})
		return 0
	}
	// CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, AUTH and reserved types.
	return errProtocol
}

func (c *Client) handleConnack(cn *conn, pk *packets.Packet) int {
	var props controller.Props
	if c.protocol == mqtt5 {
		p := &pk.Properties
		if p.AssignedClientID != "" {
			if c.id != "" {
				return errProtocol
			}
			c.id = p.AssignedClientID
		}
		if p.RetainAvailableFlag {
			c.retainAvailable = p.RetainAvailable != 0
		}
		if p.MaximumQosFlag {
			c.maxQoS = p.MaximumQos
		}
		if p.ReceiveMaximum > 0 {
			c.inflightMax = p.ReceiveMaximum
		}
		if p.ServerKeepAliveFlag {
			c.keepalive = int(p.ServerKeepAlive)
			cn.setKeepalive(c.keepalive)
		}
		if p.MaximumPacketSize > 0 {
			c.maxPacketSize = p.MaximumPacketSize
		}
		props = apiProps(p)
	}
	c.quota = c.inflightMax
	c.reconnectReset(true)

	reason := int(pk.ReasonCode)
	msg := controller.ReasonString(reason)
	if c.protocol != mqtt5 {
		msg = controller.ConnackString(reason)
	}
	flags := 0
	if pk.SessionPresent {
		flags = 1
	}
	c.emit(controller.Event{Kind: controller.OnConnect, Reason: reason, Flags: flags, Message: msg, Props: props})
	switch {
	case reason == 0:
		if c.state != csDisconnecting {
			c.state = csActive
		}
		c.retryCheck()
		return 0
	case reason >= 1 && reason <= 5:
		return errConnRefused
	}
	return errProtocol
}

func (c *Client) handlePublish(pk *packets.Packet) int {
	if c.state != csActive {
		return errProtocol
	}
	qos := pk.FixedHeader.Qos
	if qos > 0 && pk.PacketID == 0 {
		return errProtocol
	}
	if pk.TopicName == "" {
		return errProtocol
	}
	if !validUTF8(pk.TopicName) {
		return errMalformedUTF8
	}
	var props controller.Props
	if c.protocol == mqtt5 {
		props = apiProps(&pk.Properties)
	}
	switch qos {
	case 0:
		c.emit(controller.Event{Kind: controller.OnMessage, Topic: pk.TopicName, Payload: pk.Payload, Retain: pk.FixedHeader.Retain, Props: props})
	case 1:
		c.sendAck(packets.Puback, pk.PacketID)
		c.emit(controller.Event{Kind: controller.OnMessage, MsgID: int(pk.PacketID), Topic: pk.TopicName, Payload: pk.Payload, QoS: 1, Retain: pk.FixedHeader.Retain, Props: props})
	case 2:
		c.sendAck(packets.Pubrec, pk.PacketID)
		c.in = append(c.in, &inMsg{mid: pk.PacketID, topic: pk.TopicName, payload: pk.Payload, retain: pk.FixedHeader.Retain, props: props})
	}
	return 0
}

// releaseFreedWindow sends the messages an acknowledgement made room for.
// Its error is deliberately ignored, as the library ignores it there: the
// acknowledgement was good, so the connection stays up, and a message the
// broker's Maximum Packet Size forbids stays queued unsent.
func (c *Client) releaseFreedWindow() {
	_ = c.releaseToInflight()
}

// findOut finds the first outgoing message with an id: 2 when it has
// another QoS (an ack of the wrong kind).
func (c *Client) findOut(mid uint16, qos byte) (*outMsg, int) {
	for m := c.outHead; m != nil; m = m.next {
		if m.mid == mid {
			if m.qos != qos {
				return nil, errProtocol
			}
			return m, 0
		}
	}
	return nil, 0
}

func validPubackReason(r byte) bool {
	switch r {
	case 0, 16, 128, 131, 135, 144, 145, 151, 153:
		return true
	}
	return false
}

// checksAckReasons: releases before the one that added the check pass any
// reason code of an ack on to onPublish.
func (c *Client) checksAckReasons() bool {
	return c.ctl.opts.Model.Has(controller.ChangeAckReasonCheck)
}

// validPubrecReason: 153 (payload format invalid) was refused from 2.0.12
// to 2.0.18; the releases modelled (2.0.11 checks nothing, 2.0.20 allows
// it) both accept it.
func validPubrecReason(r byte) bool {
	switch r {
	case 0, 16, 128, 131, 135, 144, 145, 151, 153:
		return true
	}
	return false
}
