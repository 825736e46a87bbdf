package emulator

import (
	"bytes"
	"fmt"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Profile is what the broker advertises to MQTT 5 clients in CONNACK, and
// honours for every client. Zero fields keep the broker's defaults.
type Profile struct {
	MaximumQoS        *int  `json:"maximum_qos,omitempty"`         // nil: 2
	ReceiveMaximum    int   `json:"receive_maximum,omitempty"`     // 0: mochi's 1024
	RetainAvailable   *bool `json:"retain_available,omitempty"`    // nil: true
	MaximumPacketSize int   `json:"maximum_packet_size,omitempty"` // 0: no limit
	TopicAliasMaximum int   `json:"topic_alias_maximum,omitempty"` // 0: aliases not accepted
}

// Validate checks the ranges MQTT 5 allows.
func (p Profile) Validate() error {
	if p.MaximumQoS != nil && (*p.MaximumQoS < 0 || *p.MaximumQoS > 2) {
		return fmt.Errorf("maximum_qos %d is outside 0..2", *p.MaximumQoS)
	}
	if p.ReceiveMaximum < 0 || p.ReceiveMaximum > 65535 {
		return fmt.Errorf("receive_maximum %d is outside 1..65535", p.ReceiveMaximum)
	}
	if p.MaximumPacketSize < 0 || p.MaximumPacketSize > 268435460 {
		return fmt.Errorf("maximum_packet_size %d is outside 1..268435460", p.MaximumPacketSize)
	}
	if p.MaximumPacketSize > 0 && p.MaximumPacketSize < 16 {
		return fmt.Errorf("maximum_packet_size %d is too small for a CONNACK", p.MaximumPacketSize)
	}
	if p.TopicAliasMaximum < 0 || p.TopicAliasMaximum > 65535 {
		return fmt.Errorf("topic_alias_maximum %d is outside 0..65535", p.TopicAliasMaximum)
	}
	return nil
}

// String describes the profile for logs and reports.
func (p Profile) String() string {
	qos, retain := 2, true
	if p.MaximumQoS != nil {
		qos = *p.MaximumQoS
	}
	if p.RetainAvailable != nil {
		retain = *p.RetainAvailable
	}
	rm := p.ReceiveMaximum
	if rm == 0 {
		rm = 1024
	}
	return fmt.Sprintf("maximum_qos=%d receive_maximum=%d retain_available=%t maximum_packet_size=%d topic_alias_maximum=%d",
		qos, rm, retain, p.MaximumPacketSize, p.TopicAliasMaximum)
}

func (p Profile) apply(c *mqtt.Capabilities) {
	if p.MaximumQoS != nil {
		c.MaximumQos = byte(*p.MaximumQoS)
	}
	if p.ReceiveMaximum > 0 {
		c.ReceiveMaximum = uint16(p.ReceiveMaximum)
	}
	if p.RetainAvailable != nil && !*p.RetainAvailable {
		c.RetainAvailable = 0
	}
	c.MaximumPacketSize = uint32(p.MaximumPacketSize)
	c.TopicAliasMaximum = uint16(p.TopicAliasMaximum)
}

// profileHook completes CONNACK: mochi advertises Receive Maximum and
// Maximum QoS itself but not Retain Available, Maximum Packet Size or Topic
// Alias Maximum.
type profileHook struct {
	mqtt.HookBase
	profile Profile
}

func (h *profileHook) ID() string { return "mqtthil-profile" }

// completesConnack reports whether the profile asks for anything mochi
// leaves out of CONNACK.
func (p Profile) completesConnack() bool {
	return (p.RetainAvailable != nil && !*p.RetainAvailable) || p.MaximumPacketSize > 0 || p.TopicAliasMaximum > 0
}

func (h *profileHook) Provides(b byte) bool {
	return b == mqtt.OnPacketEncode
}

func (h *profileHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || cl.Properties.ProtocolVersion != 5 || pk.ReasonCode >= 128 {
		return pk
	}
	if h.profile.RetainAvailable != nil && !*h.profile.RetainAvailable {
		pk.Properties.RetainAvailable = 0
		pk.Properties.RetainAvailableFlag = true
	}
	if h.profile.MaximumPacketSize > 0 {
		pk.Properties.MaximumPacketSize = uint32(h.profile.MaximumPacketSize)
	}
	if h.profile.TopicAliasMaximum > 0 {
		pk.Properties.TopicAliasMaximum = uint16(h.profile.TopicAliasMaximum)
	}
	return pk
}

// authHook checks user name and password per listener. A listener without
// credentials lets anyone in (Start refuses that off loopback unless
// anonymous access was asked for).
type authHook struct {
	mqtt.HookBase
	byListener map[string]map[string]string
	openDUT    bool // see Options.OpenDUT
}

func (h *authHook) ID() string { return "mqtthil-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	creds := h.byListener[cl.Net.Listener]
	if len(creds) == 0 {
		return true
	}
	want, ok := creds[string(pk.Connect.Username)]
	return ok && pk.Connect.PasswordFlag && bytes.Equal([]byte(want), pk.Connect.Password)
}

// ControlTopics is the prefix of the control channel's topics
// (docs/control-channel.md): clients of the DUT listener may not publish,
// subscribe or receive there.
const ControlTopics = "mqtthil/"

// OnACLCheck keeps DUT-listener clients out of the control channel and
// $SYS: a driver under test must not read the harness's traffic nor
// inject into it. Control-listener clients (the harness, observers) see
// everything. mochi asks for subscriptions with the filter and for every
// delivery with the topic name, so a DUT client subscribed to "#" still
// gets nothing from those topics.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, _ bool) bool {
	if cl.Net.Listener != DUTListener || h.openDUT {
		return true
	}
	return !reserved(topic)
}

// reserved reports whether a topic name or filter is the control
// channel's or $SYS, looking through a shared subscription's prefix.
func reserved(topic string) bool {
	if rest, ok := strings.CutPrefix(topic, "$share/"); ok {
		if _, filter, ok := strings.Cut(rest, "/"); ok {
			topic = filter
		}
	}
	return strings.HasPrefix(topic, ControlTopics) || topic == strings.TrimSuffix(ControlTopics, "/") ||
		strings.HasPrefix(topic, "$SYS")
}
