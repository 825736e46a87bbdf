package controller

// Error codes returned by the calls: libmosquitto's MOSQ_ERR_* values, which
// the controller passes through one for one. Their texts are libmosquitto
// 2.0.11's (mosquitto_strerror, mosquitto_reason_string,
// mosquitto_connack_string), checked by controller/mosq's tests; 2.0.11 has
// no text for 17, 19, 20 and 21 ("Unknown error."), and gives strerror(errno)
// for 14, which the model replaces by a fixed text.
const (
	ErrAuthContinue      = -4
	ErrNoSubscribers     = -3
	ErrSubExists         = -2
	ErrConnPending       = -1
	ErrSuccess           = 0
	ErrNoMem             = 1
	ErrProtocol          = 2
	ErrInval             = 3
	ErrNoConn            = 4
	ErrConnRefused       = 5
	ErrNotFound          = 6
	ErrConnLost          = 7
	ErrTLS               = 8
	ErrPayloadSize       = 9
	ErrNotSupported      = 10
	ErrAuth              = 11
	ErrACLDenied         = 12
	ErrUnknown           = 13
	ErrErrno             = 14
	ErrEAI               = 15
	ErrProxy             = 16
	ErrPluginDefer       = 17
	ErrMalformedUTF8     = 18
	ErrKeepalive         = 19
	ErrLookup            = 20
	ErrMalformedPacket   = 21
	ErrDuplicateProperty = 22
	ErrTLSHandshake      = 23
	ErrQoSNotSupported   = 24
	ErrOversizePacket    = 25
	ErrOCSP              = 26
)

var errorTexts = map[int]string{
	ErrAuthContinue:      "Continue with authentication.",
	ErrNoSubscribers:     "No subscribers.",
	ErrSubExists:         "Subscription already exists.",
	ErrConnPending:       "Connection pending.",
	ErrSuccess:           "No error.",
	ErrNoMem:             "Out of memory.",
	ErrProtocol:          "A network protocol error occurred when communicating with the broker.",
	ErrInval:             "Invalid function arguments provided.",
	ErrNoConn:            "The client is not currently connected.",
	ErrConnRefused:       "The connection was refused.",
	ErrNotFound:          "Message not found (internal error).",
	ErrConnLost:          "The connection was lost.",
	ErrTLS:               "A TLS error occurred.",
	ErrPayloadSize:       "Payload too large.",
	ErrNotSupported:      "This feature is not supported.",
	ErrAuth:              "Authorisation failed.",
	ErrACLDenied:         "Access denied by ACL.",
	ErrUnknown:           "Unknown error.",
	ErrErrno:             "A system error occurred.",
	ErrEAI:               "Lookup error.",
	ErrProxy:             "Proxy error.",
	ErrPluginDefer:       "Unknown error.",
	ErrMalformedUTF8:     "Malformed UTF-8",
	ErrKeepalive:         "Unknown error.",
	ErrLookup:            "Unknown error.",
	ErrMalformedPacket:   "Unknown error.",
	ErrDuplicateProperty: "Duplicate property in property list",
	ErrTLSHandshake:      "TLS handshake failed.",
	ErrQoSNotSupported:   "Requested QoS not supported on server.",
	ErrOversizePacket:    "Packet larger than supported by the server.",
	ErrOCSP:              "OCSP error.",
}

// ErrorString is the text of an error code, as ErrorCodeToString returns it.
// Codes it does not know give "Unknown error.".
func ErrorString(code int) string {
	if s, ok := errorTexts[code]; ok {
		return s
	}
	return errorTexts[ErrUnknown]
}

// MQTT 5 reason codes used by the models.
const (
	RCSuccess                 = 0
	RCGrantedQoS1             = 1
	RCGrantedQoS2             = 2
	RCDisconnectWithWill      = 4
	RCNoMatchingSubscribers   = 16
	RCNoSubscriptionExisted   = 17
	RCContinueAuth            = 24
	RCReauthenticate          = 25
	RCUnspecified             = 128
	RCMalformedPacket         = 129
	RCProtocolError           = 130
	RCImplementationSpecific  = 131
	RCUnsupportedProtocol     = 132
	RCClientIDNotValid        = 133
	RCBadUserNameOrPassword   = 134
	RCNotAuthorized           = 135
	RCServerUnavailable       = 136
	RCServerBusy              = 137
	RCBanned                  = 138
	RCServerShuttingDown      = 139
	RCBadAuthMethod           = 140
	RCKeepAliveTimeout        = 141
	RCSessionTakenOver        = 142
	RCTopicFilterInvalid      = 143
	RCTopicNameInvalid        = 144
	RCPacketIDInUse           = 145
	RCPacketIDNotFound        = 146
	RCReceiveMaximumExceeded  = 147
	RCTopicAliasInvalid       = 148
	RCPacketTooLarge          = 149
	RCMessageRateTooHigh      = 150
	RCQuotaExceeded           = 151
	RCAdministrativeAction    = 152
	RCPayloadFormatInvalid    = 153
	RCRetainNotSupported      = 154
	RCQoSNotSupported         = 155
	RCUseAnotherServer        = 156
	RCServerMoved             = 157
	RCSharedSubsNotSupported  = 158
	RCConnectionRateExceeded  = 159
	RCMaximumConnectTime      = 160
	RCSubIDsNotSupported      = 161
	RCWildcardSubNotSupported = 162
)

var reasonTexts = map[int]string{
	RCSuccess:                 "Success",
	RCGrantedQoS1:             "Granted QoS 1",
	RCGrantedQoS2:             "Granted QoS 2",
	RCDisconnectWithWill:      "Disconnect with Will Message",
	RCNoMatchingSubscribers:   "No matching subscribers",
	RCNoSubscriptionExisted:   "No subscription existed",
	RCContinueAuth:            "Continue authentication",
	RCReauthenticate:          "Re-authenticate",
	RCUnspecified:             "Unspecified error",
	RCMalformedPacket:         "Malformed Packet",
	RCProtocolError:           "Protocol Error",
	RCImplementationSpecific:  "Implementation specific error",
	RCUnsupportedProtocol:     "Unsupported Protocol Version",
	RCClientIDNotValid:        "Client Identifier not valid",
	RCBadUserNameOrPassword:   "Bad User Name or Password",
	RCNotAuthorized:           "Not authorized",
	RCServerUnavailable:       "Server unavailable",
	RCServerBusy:              "Server busy",
	RCBanned:                  "Banned",
	RCServerShuttingDown:      "Server shutting down",
	RCBadAuthMethod:           "Bad authentication method",
	RCKeepAliveTimeout:        "Keep Alive timeout",
	RCSessionTakenOver:        "Session taken over",
	RCTopicFilterInvalid:      "Topic Filter invalid",
	RCTopicNameInvalid:        "Topic Name invalid",
	RCPacketIDInUse:           "Packet Identifier in use",
	RCPacketIDNotFound:        "Packet Identifier not found",
	RCReceiveMaximumExceeded:  "Receive Maximum exceeded",
	RCTopicAliasInvalid:       "Topic Alias invalid",
	RCPacketTooLarge:          "Packet too large",
	RCMessageRateTooHigh:      "Message rate too high",
	RCQuotaExceeded:           "Quota exceeded",
	RCAdministrativeAction:    "Administrative action",
	RCPayloadFormatInvalid:    "Payload format invalid",
	RCRetainNotSupported:      "Retain not supported",
	RCQoSNotSupported:         "QoS not supported",
	RCUseAnotherServer:        "Use another server",
	RCServerMoved:             "Server moved",
	RCSharedSubsNotSupported:  "Shared Subscriptions not supported",
	RCConnectionRateExceeded:  "Connection rate exceeded",
	RCMaximumConnectTime:      "Maximum connect time",
	RCSubIDsNotSupported:      "Subscription identifiers not supported",
	RCWildcardSubNotSupported: "Wildcard Subscriptions not supported",
}

// ReasonString is the text of an MQTT 5 reason code, as ReasonCodeToString
// returns it. Codes the standard does not define give "Unknown reason".
func ReasonString(code int) string {
	if s, ok := reasonTexts[code]; ok {
		return s
	}
	return "Unknown reason"
}

// connackTexts are the MQTT 3.1/3.1.1 CONNACK return codes.
var connackTexts = map[int]string{
	0: "Connection Accepted.",
	1: "Connection Refused: unacceptable protocol version.",
	2: "Connection Refused: identifier rejected.",
	3: "Connection Refused: broker unavailable.",
	4: "Connection Refused: bad user name or password.",
	5: "Connection Refused: not authorised.",
}

// ConnackString is the text of an MQTT 3.1/3.1.1 CONNACK return code.
func ConnackString(code int) string {
	if s, ok := connackTexts[code]; ok {
		return s
	}
	return "Connection Refused: unknown reason."
}
