package sim

import (
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
)

// Commands for the property checks (CMD_WILL is not a packet type).
const (
	cmdConnect     = packets.Connect
	cmdPublish     = packets.Publish
	cmdSubscribe   = packets.Subscribe
	cmdUnsubscribe = packets.Unsubscribe
	cmdDisconnect  = packets.Disconnect
	cmdWill        = packets.WillProperties
)

// allowedOn lists, per property, the commands a client may send it on.
var allowedOn = map[byte][]byte{
	1:  {cmdPublish, cmdWill},
	2:  {cmdPublish, cmdWill},
	3:  {cmdPublish, cmdWill},
	8:  {cmdPublish, cmdWill},
	9:  {cmdPublish, cmdWill},
	11: {cmdPublish, cmdSubscribe},
	17: {cmdConnect, packets.Connack, cmdDisconnect},
	18: {packets.Connack},
	19: {packets.Connack},
	21: {cmdConnect, packets.Connack, packets.Auth},
	22: {cmdConnect, packets.Connack, packets.Auth},
	23: {cmdConnect},
	24: {cmdWill},
	25: {cmdConnect},
	26: {packets.Connack},
	28: {packets.Connack, cmdDisconnect},
	31: {packets.Connack, packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp, packets.Suback, packets.Unsuback, cmdDisconnect, packets.Auth},
	33: {cmdConnect, packets.Connack},
	34: {cmdConnect, packets.Connack},
	35: {cmdPublish},
	36: {packets.Connack},
	37: {packets.Connack},
	38: {cmdConnect, packets.Connack, cmdPublish, cmdWill, packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp, cmdSubscribe, packets.Suback, cmdUnsubscribe, packets.Unsuback, cmdDisconnect, packets.Auth},
	39: {cmdConnect, packets.Connack},
	40: {packets.Connack},
	41: {packets.Connack},
	42: {packets.Connack},
}

// prop is one property as the driver built it.
type prop struct {
	def  controller.PropDef
	num  uint32
	str  string
	bin  []byte
	k, v string
}

// propList is the driver's table turned into the client library's
// property list.
type propList []prop

// buildProps turns a Props table into a property list, the way the
// controller's binding builds libmosquitto properties before it calls the
// library, in the order controller.Props.List gives (the table's
// sequence of {property, value} pairs first, then its keys sorted); the
// same property may come more than once. Keys that name no property are
// ignored. A value of the wrong type or out
// of range for the property's storage gives 3; a string that is not valid
// UTF-8 gives 18. A nil or empty table gives a nil list.
func buildProps(p controller.Props) (propList, int) {
	if len(p) == 0 {
		return nil, 0
	}
	var out propList
	for _, e := range p.List() {
		def, v := e.Def, e.Value
		switch def.Kind {
		case controller.KindByte, controller.KindU16, controller.KindU32, controller.KindVarint:
			n, ok := controller.PropNumber(def.Kind, v)
			if !ok {
				return nil, errInval
			}
			out = append(out, prop{def: def, num: n})
		case controller.KindString:
			s, ok := controller.PropString(v)
			if !ok || len(s) > 65535 {
				return nil, errInval
			}
			if !validUTF8(s) {
				return nil, errMalformedUTF8
			}
			out = append(out, prop{def: def, str: s})
		case controller.KindBinary:
			s, ok := controller.PropString(v)
			if !ok || len(s) > 65535 {
				return nil, errInval
			}
			out = append(out, prop{def: def, bin: []byte(s)})
		case controller.KindPair:
			pairs, ok := controller.PropPairs(v)
			if !ok {
				return nil, errInval
			}
			for _, kv := range pairs {
				if len(kv[0]) > 65535 || len(kv[1]) > 65535 {
					return nil, errInval
				}
				if !validUTF8(kv[0]) || !validUTF8(kv[1]) {
					return nil, errMalformedUTF8
				}
				out = append(out, prop{def: def, k: kv[0], v: kv[1]})
			}
		}
	}
	return out, 0
}

// check applies the library's checks for a command: values (a one-byte
// flag above 1, a zero Maximum Packet Size, Receive Maximum or Topic
// Alias) and properties not allowed on the command give 2; the same
// property twice (USER_PROPERTY excepted) gives 22. The Payload Format
// Indicator and Response Topic value checks came with later releases, so
// the model decides whether they apply.
func (l propList) check(cmd byte, m controller.Model) int {
	for i, p := range l {
		switch p.def.ID {
		case 23, 25, 36, 37, 40, 41, 42:
			if p.num > 1 {
				return errProtocol
			}
		case 1:
			if p.num > 1 && m.Has(controller.ChangePayloadFormatCheck) {
				return errProtocol
			}
		case 39:
			if p.num == 0 {
				return errProtocol
			}
		case 33, 35:
			if p.num == 0 {
				return errProtocol
			}
		case 8:
			if m.Has(controller.ChangeResponseTopicCheck) && !pubTopicOK(p.str) {
				return errProtocol
			}
		}
		ok := false
		for _, c := range allowedOn[p.def.ID] {
			if c == cmd {
				ok = true
				break
			}
		}
		if !ok {
			return errProtocol
		}
		if p.def.ID != 38 {
			for _, q := range l[i+1:] {
				if q.def.ID == p.def.ID {
					return errDuplicateProperty
				}
			}
		}
	}
	return 0
}

// has reports whether the list holds a property.
func (l propList) has(id byte) bool {
	for _, p := range l {
		if p.def.ID == id {
			return true
		}
	}
	return false
}

// wireLen is the encoded length of the properties, without the length
// prefix.
func (l propList) wireLen() int {
	n := 0
	for _, p := range l {
		n++
		switch p.def.Kind {
		case controller.KindByte:
			n++
		case controller.KindU16:
			n += 2
		case controller.KindU32:
			n += 4
		case controller.KindVarint:
			n += varintLen(int(p.num))
		case controller.KindString:
			n += 2 + len(p.str)
		case controller.KindBinary:
			n += 2 + len(p.bin)
		case controller.KindPair:
			n += 4 + len(p.k) + len(p.v)
		}
	}
	return n
}

// packets converts the list for mochi's encoder.
func (l propList) packets() packets.Properties {
	var pp packets.Properties
	for _, p := range l {
		switch p.def.ID {
		case 1:
			pp.PayloadFormat, pp.PayloadFormatFlag = byte(p.num), true
		case 2:
			pp.MessageExpiryInterval = p.num
		case 3:
			pp.ContentType = p.str
		case 8:
			pp.ResponseTopic = p.str
		case 9:
			pp.CorrelationData = p.bin
		case 11:
			pp.SubscriptionIdentifier = append(pp.SubscriptionIdentifier, int(p.num))
		case 17:
			pp.SessionExpiryInterval, pp.SessionExpiryIntervalFlag = p.num, true
		case 21:
			pp.AuthenticationMethod = p.str
		case 22:
			pp.AuthenticationData = p.bin
		case 23:
			pp.RequestProblemInfo, pp.RequestProblemInfoFlag = byte(p.num), true
		case 24:
			pp.WillDelayInterval = p.num
		case 25:
			pp.RequestResponseInfo = byte(p.num)
		case 28:
			pp.ServerReference = p.str
		case 31:
			pp.ReasonString = p.str
		case 33:
			pp.ReceiveMaximum = uint16(p.num)
		case 34:
			pp.TopicAliasMaximum = uint16(p.num)
		case 35:
			pp.TopicAlias, pp.TopicAliasFlag = uint16(p.num), true
		case 38:
			pp.User = append(pp.User, packets.UserProperty{Key: p.k, Val: p.v})
		case 39:
			pp.MaximumPacketSize = p.num
		}
	}
	return pp
}

// apiProps converts received properties to the driver's table; nil when
// the packet carried none.
func apiProps(p *packets.Properties) controller.Props {
	out := controller.Props{}
	if p.PayloadFormatFlag {
		out["PAYLOAD_FORMAT_INDICATOR"] = int(p.PayloadFormat)
	}
	if p.MessageExpiryInterval > 0 {
		out["MESSAGE_EXPIRY_INTERVAL"] = int(p.MessageExpiryInterval)
	}
	if p.ContentType != "" {
		out["CONTENT_TYPE"] = p.ContentType
	}
	if p.ResponseTopic != "" {
		out["RESPONSE_TOPIC"] = p.ResponseTopic
	}
	if len(p.CorrelationData) > 0 {
		out["CORRELATION_DATA"] = string(p.CorrelationData)
	}
	if len(p.SubscriptionIdentifier) > 0 {
		out["SUBSCRIPTION_IDENTIFIER"] = p.SubscriptionIdentifier[0]
	}
	if p.SessionExpiryIntervalFlag {
		out["SESSION_EXPIRY_INTERVAL"] = int(p.SessionExpiryInterval)
	}
	if p.AssignedClientID != "" {
		out["ASSIGNED_CLIENT_IDENTIFIER"] = p.AssignedClientID
	}
	if p.ServerKeepAliveFlag {
		out["SERVER_KEEP_ALIVE"] = int(p.ServerKeepAlive)
	}
	if p.AuthenticationMethod != "" {
		out["AUTHENTICATION_METHOD"] = p.AuthenticationMethod
	}
	if len(p.AuthenticationData) > 0 {
		out["AUTHENTICATION_DATA"] = string(p.AuthenticationData)
	}
	if p.ResponseInfo != "" {
		out["RESPONSE_INFORMATION"] = p.ResponseInfo
	}
	if p.ServerReference != "" {
		out["SERVER_REFERENCE"] = p.ServerReference
	}
	if p.ReasonString != "" {
		out["REASON_STRING"] = p.ReasonString
	}
	if p.ReceiveMaximum > 0 {
		out["RECEIVE_MAXIMUM"] = int(p.ReceiveMaximum)
	}
	if p.TopicAliasMaximum > 0 {
		out["TOPIC_ALIAS_MAXIMUM"] = int(p.TopicAliasMaximum)
	}
	if p.TopicAliasFlag {
		out["TOPIC_ALIAS"] = int(p.TopicAlias)
	}
	if p.MaximumQosFlag {
		out["MAXIMUM_QOS"] = int(p.MaximumQos)
	}
	if p.RetainAvailableFlag {
		out["RETAIN_AVAILABLE"] = int(p.RetainAvailable)
	}
	if len(p.User) > 0 {
		u := map[string]string{}
		for _, kv := range p.User {
			u[kv.Key] = kv.Val
		}
		out["USER_PROPERTY"] = u
	}
	if p.MaximumPacketSize > 0 {
		out["MAXIMUM_PACKET_SIZE"] = int(p.MaximumPacketSize)
	}
	if p.WildcardSubAvailableFlag {
		out["WILDCARD_SUB_AVAILABLE"] = int(p.WildcardSubAvailable)
	}
	if p.SubIDAvailableFlag {
		out["SUBSCRIPTION_ID_AVAILABLE"] = int(p.SubIDAvailable)
	}
	if p.SharedSubAvailableFlag {
		out["SHARED_SUB_AVAILABLE"] = int(p.SharedSubAvailable)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
