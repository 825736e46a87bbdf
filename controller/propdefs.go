package controller

import "strconv"

// PropKind is how an MQTT 5 property's value is encoded.
type PropKind int

const (
	KindByte PropKind = iota
	KindU16
	KindU32
	KindVarint
	KindString
	KindBinary
	KindPair // USER_PROPERTY
)

// PropDef is one MQTT 5 property: its identifier, its name in the API's
// property tables, and its kind.
type PropDef struct {
	ID   byte
	Name string
	Kind PropKind
}

// propDefs are the MQTT 5 properties (MQTT 5.0 section 2.2.2.2).
var propDefs = []PropDef{
	{1, "PAYLOAD_FORMAT_INDICATOR", KindByte},
	{2, "MESSAGE_EXPIRY_INTERVAL", KindU32},
	{3, "CONTENT_TYPE", KindString},
	{8, "RESPONSE_TOPIC", KindString},
	{9, "CORRELATION_DATA", KindBinary},
	{11, "SUBSCRIPTION_IDENTIFIER", KindVarint},
	{17, "SESSION_EXPIRY_INTERVAL", KindU32},
	{18, "ASSIGNED_CLIENT_IDENTIFIER", KindString},
	{19, "SERVER_KEEP_ALIVE", KindU16},
	{21, "AUTHENTICATION_METHOD", KindString},
	{22, "AUTHENTICATION_DATA", KindBinary},
	{23, "REQUEST_PROBLEM_INFORMATION", KindByte},
	{24, "WILL_DELAY_INTERVAL", KindU32},
	{25, "REQUEST_RESPONSE_INFORMATION", KindByte},
	{26, "RESPONSE_INFORMATION", KindString},
	{28, "SERVER_REFERENCE", KindString},
	{31, "REASON_STRING", KindString},
	{33, "RECEIVE_MAXIMUM", KindU16},
	{34, "TOPIC_ALIAS_MAXIMUM", KindU16},
	{35, "TOPIC_ALIAS", KindU16},
	{36, "MAXIMUM_QOS", KindByte},
	{37, "RETAIN_AVAILABLE", KindByte},
	{38, "USER_PROPERTY", KindPair},
	{39, "MAXIMUM_PACKET_SIZE", KindU32},
	{40, "WILDCARD_SUB_AVAILABLE", KindByte},
	{41, "SUBSCRIPTION_ID_AVAILABLE", KindByte},
	{42, "SHARED_SUB_AVAILABLE", KindByte},
}

var (
	propByName = map[string]PropDef{}
	propByID   = map[byte]PropDef{}
)

func init() {
	for _, d := range propDefs {
		propByName[d.Name] = d
		propByID[d.ID] = d
	}
}

// PropDefByID finds a property by its identifier.
func PropDefByID(id int) (PropDef, bool) {
	if id < 0 || id > 255 {
		return PropDef{}, false
	}
	d, ok := propByID[byte(id)]
	return d, ok
}

// LookupProp finds a property by its API name, or by its identifier
// written in decimal ("3" is CONTENT_TYPE): a Lua table can only hold the
// same property twice that way. Keys that name no property are not found.
func LookupProp(key string) (PropDef, bool) {
	if d, ok := propByName[key]; ok {
		return d, true
	}
	n, err := strconv.Atoi(key)
	if err != nil {
		return PropDef{}, false
	}
	return PropDefByID(n)
}
