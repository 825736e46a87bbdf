// Journal records of packets: what the journal says about each packet the
// fault layer passes on or keeps back.
package wire

import (
	"github.com/mqtthil/mqtthil/emulator/faults"

	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/journal"
)

// connectInfo reads the protocol version and client id from a CONNECT.
func connectInfo(raw []byte) (version byte, clientID string, ok bool) {
	b := raw[faults.BodyStart(raw):]
	if len(b) < 2 {
		return 0, "", false
	}
	nl := int(b[0])<<8 | int(b[1])
	off := 2 + nl
	if len(b) < off+4 {
		return 0, "", false
	}
	version = b[off]
	off += 4 // version, flags, keep-alive
	if version == 5 {
		n, err := faults.PropsEnd(b[off:])
		if err != nil {
			return version, "", false
		}
		off += n
	}
	if len(b) < off+2 {
		return version, "", false
	}
	il := int(b[off])<<8 | int(b[off+1])
	if len(b) < off+2+il {
		return version, "", false
	}
	return version, string(b[off+2 : off+2+il]), true
}

// describe fills a journal record with what the packet says. It reads only
// what assertions need; a packet it cannot make sense of is recorded with
// its type and size.
func describe(p *faults.Packet) journal.Record {
	var r journal.Record
	describeInto(&r, p)
	return r
}

// describeInto is describe writing into r, which the fault layer keeps in
// a queue item: a record is large, and copying it for each packet shows.
func describeInto(r *journal.Record, p *faults.Packet) {
	*r = journal.Record{
		Kind:   journal.KindPacket,
		Client: p.ClientID,
		Dir:    p.Direction.String(),
		Type:   faults.PacketNames[p.Type],
		Size:   len(p.Raw),
	}
	if p.PacketID > 0 {
		r.PacketID = p.PacketID
	}
	body := p.Raw[faults.BodyStart(p.Raw):]
	v5 := p.Version == 5
	var props []byte // the property block, length prefix included
	reason := func(c byte) { v := int(c); r.Reason = &v }
	switch p.Type {
	case faults.PUBLISH:
		r.QoS, r.Dup, r.Retain, r.Topic = p.QoS, p.Dup, p.Retain, p.Topic
		off := 2 + len(p.Topic)
		if p.QoS > 0 {
			off += 2
		}
		if v5 && off <= len(body) {
			if n, err := faults.PropsEnd(body[off:]); err == nil {
				props = body[off : off+n]
				off += n
			}
		}
		if off <= len(body) {
			payload := body[off:]
			r.PayloadSize = len(payload)
			r.PayloadHash = journal.HashPayload(payload)
		}
	case faults.CONNACK:
		if len(body) >= 2 {
			reason(body[1])
			if v5 {
				props = body[2:]
			}
		}
	case faults.PUBACK, faults.PUBREC, faults.PUBREL, faults.PUBCOMP:
		if v5 {
			if len(body) > 2 {
				reason(body[2])
				props = body[3:]
			} else {
				reason(0)
			}
		}
	case faults.SUBACK, faults.UNSUBACK:
		off := 2
		if v5 && len(body) > 2 {
			if n, err := faults.PropsEnd(body[2:]); err == nil {
				props = body[2 : 2+n]
				off += n
			}
		}
		if (p.Type == faults.SUBACK || v5) && off < len(body) {
			reason(body[off])
		}
	case faults.DISCONNECT, faults.AUTH:
		if v5 {
			if len(body) > 0 {
				reason(body[0])
				props = body[1:]
			} else {
				reason(0)
			}
		}
	}
	if len(props) > 1 {
		r.Props = summarizeProps(p.Type, props)
	}
}

// summarizeProps turns an MQTT 5 property block into "key=value" pairs,
// using mochi's decoder.
func summarizeProps(typ byte, block []byte) string {
	var pr packets.Properties
	if _, err := pr.Decode(typ, bytes.NewBuffer(block)); err != nil {
		return "malformed: " + err.Error()
	}
	var parts []string
	add := func(k string, v any) { parts = append(parts, fmt.Sprintf("%s=%v", k, v)) }
	if pr.PayloadFormatFlag {
		add("payload_format_indicator", pr.PayloadFormat)
	}
	if pr.MessageExpiryInterval != 0 {
		add("message_expiry_interval", pr.MessageExpiryInterval)
	}
	if pr.ContentType != "" {
		add("content_type", pr.ContentType)
	}
	if pr.ResponseTopic != "" {
		add("response_topic", pr.ResponseTopic)
	}
	if len(pr.CorrelationData) > 0 {
		add("correlation_data", hex.EncodeToString(pr.CorrelationData))
	}
	if pr.TopicAliasFlag {
		add("topic_alias", pr.TopicAlias)
	}
	if pr.SessionExpiryIntervalFlag {
		add("session_expiry_interval", pr.SessionExpiryInterval)
	}
	if pr.ReceiveMaximum != 0 {
		add("receive_maximum", pr.ReceiveMaximum)
	}
	if pr.MaximumQosFlag {
		add("maximum_qos", pr.MaximumQos)
	}
	if pr.RetainAvailableFlag {
		add("retain_available", pr.RetainAvailable)
	}
	if pr.MaximumPacketSize != 0 {
		add("maximum_packet_size", pr.MaximumPacketSize)
	}
	if pr.TopicAliasMaximum != 0 {
		add("topic_alias_maximum", pr.TopicAliasMaximum)
	}
	if pr.AssignedClientID != "" {
		add("assigned_client_identifier", pr.AssignedClientID)
	}
	if pr.ServerKeepAliveFlag {
		add("server_keep_alive", pr.ServerKeepAlive)
	}
	if pr.ReasonString != "" {
		add("reason_string", pr.ReasonString)
	}
	if pr.ServerReference != "" {
		add("server_reference", pr.ServerReference)
	}
	for _, u := range pr.User {
		add("user_property", u.Key+":"+u.Val)
	}
	return strings.Join(parts, " ")
}
