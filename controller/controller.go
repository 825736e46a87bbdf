// Package controller defines the controller's MQTT API (the DriverWorks
// C4:MQTT object) as Go interfaces, so that the same scenarios can drive a
// simulated controller, a Lua runtime, a real controller on the bench or the
// libmosquitto reference.
//
// Every method returns exactly what the Lua call returns: a code, a message id
// where the call has one, and an error string when the code is not 0.
package controller

import "time"

// Controller is the device under test: it creates client objects, the way a
// driver calls C4:MQTT(clientId, cleanSession).
type Controller interface {
	// NewClient creates a client object. An empty clientID means the driver
	// passed none.
	NewClient(clientID string, cleanSession bool) (Client, error)
	// Identity describes the controller, read from the device where there is one.
	Identity() Identity
	// Close destroys every client object and releases the controller.
	Close() error
}

// EmptyIDCreator is implemented by controllers that can create an object
// the way C4:MQTT("", cleanSession) does, with an empty string for the
// client id, as distinct from NewClient(""), which passes no id at all
// (C4:MQTT(nil, cleanSession)). The modelled binding treats the two alike;
// a firmware whose binding hands "" to the library unchanged would not
// (libmosquitto refuses an empty id), and this is how a run asks.
type EmptyIDCreator interface {
	NewClientEmptyID(cleanSession bool) (Client, error)
}

// Identity names the controller a run was made against; it goes into every
// report and certification record.
type Identity struct {
	Kind          string `json:"kind"` // sim, lua, remote, mosq
	Model         string `json:"model"`
	Firmware      string `json:"firmware"`
	DriverVersion string `json:"driver_version"`
	DeviceID      string `json:"device_id,omitempty"`
	// Station names the bench the controller sits on, when a run has a
	// pool of them (the station file's name).
	Station string `json:"station,omitempty"`
}

// Ret is what a call returned to Lua. Convention A calls (Connect,
// SetWill, ...) leave MsgID at 0. For Publish, Subscribe and Unsubscribe a
// MsgID of 0 means the call returned nil as its second value: real message
// ids are 1..65535.
type Ret struct {
	Code  int    `json:"code"`
	MsgID int    `json:"msg_id,omitempty"`
	Err   string `json:"err,omitempty"`
}

// OK reports whether the call returned code 0.
func (r Ret) OK() bool { return r.Code == 0 }

// HasMsgID reports whether the call returned a message id.
func (r Ret) HasMsgID() bool { return r.MsgID != 0 }

// Props are MQTT 5 properties keyed by their API names (CONTENT_TYPE,
// MESSAGE_EXPIRY_INTERVAL, USER_PROPERTY, ...). Values are int, string or,
// for USER_PROPERTY, map[string]string. A nil Props means the driver passed
// no table.
type Props map[string]any

// Client is one C4:MQTT object.
type Client interface {
	ForceMqttVersion(version int) Ret
	// SetUsernameAndPassword: a nil password means none was given.
	SetUsernameAndPassword(username string, password *string) Ret
	SetTlsPsk(psk, identity, ciphers string) Ret
	SetTlsCertificates(cafile, certfile, keyfile, password string) Ret
	SetTlsInsecure(insecure bool) Ret
	SetMaxInflightMessages(n int) Ret
	SetMessageRetries(n int) Ret
	SetWill(topic string, payload []byte, qos int, retain bool, props Props) Ret
	ClearWill() Ret

	Connect(host string, port int, keepalive int, props Props) Ret
	Disconnect(props Props) Ret
	Reconnect() Ret

	Publish(topic string, payload []byte, qos int, retain bool, props Props) Ret
	Subscribe(sub string, qos int, props Props) Ret
	Unsubscribe(sub string, props Props) Ret

	ErrorCodeToString(code int) string
	ReasonCodeToString(code int) string

	// Events delivers the callbacks in the order the driver would see them,
	// each after the call that caused it has returned. The channel is closed
	// when the client is destroyed. A consumer that stops reading holds up
	// the client's event loop, as a slow driver holds up the controller's.
	Events() <-chan Event

	// Destroy releases the object, as when a driver drops its last
	// reference. Messages still queued are dropped without callbacks.
	Destroy()
}

// EventKind names a callback.
type EventKind string

const (
	OnConnect     EventKind = "onConnect"
	OnDisconnect  EventKind = "onDisconnect"
	OnPublish     EventKind = "onPublish"
	OnSubscribe   EventKind = "onSubscribe"
	OnUnsubscribe EventKind = "onUnsubscribe"
	OnMessage     EventKind = "onMessage"
	OnLog         EventKind = "onLog"
)

// Event is one callback with the arguments its Lua handler receives.
// Fields a kind does not use stay zero.
type Event struct {
	Kind   EventKind `json:"kind"`
	At     time.Time `json:"at"`
	Client string    `json:"client"`

	MsgID   int    `json:"msg_id,omitempty"`  // onPublish, onSubscribe, onUnsubscribe, onMessage
	Reason  int    `json:"reason"`            // reasonCode (onConnect, onDisconnect, onPublish)
	Flags   int    `json:"flags,omitempty"`   // onConnect
	Message string `json:"message,omitempty"` // text of Reason
	Props   Props  `json:"props,omitempty"`   // MQTT 5 only

	Granted []int `json:"granted,omitempty"` // onSubscribe

	Topic   string `json:"topic,omitempty"` // onMessage
	Payload []byte `json:"payload,omitempty"`
	QoS     int    `json:"qos,omitempty"`
	Retain  bool   `json:"retain,omitempty"`

	Level int    `json:"level,omitempty"` // onLog
	Line  string `json:"line,omitempty"`
}

// Args returns the handler's arguments after the object itself, in the order
// the Lua handler receives them.
func (e Event) Args() []any {
	var props any
	if e.Props != nil {
		props = e.Props
	}
	switch e.Kind {
	case OnConnect:
		return []any{e.Reason, e.Flags, e.Message, props}
	case OnDisconnect:
		return []any{e.Reason, e.Message, props}
	case OnPublish:
		return []any{e.MsgID, e.Reason, e.Message, props}
	case OnSubscribe:
		return []any{e.MsgID, e.Granted, props}
	case OnUnsubscribe:
		return []any{e.MsgID, props}
	case OnMessage:
		return []any{e.MsgID, e.Topic, string(e.Payload), e.QoS, e.Retain, props}
	case OnLog:
		return []any{e.Level, e.Line}
	}
	return nil
}

// BenchChecker is implemented by controllers that reach the device over a
// link of the bench (remote): BenchErr is the first problem of that link
// (a lost response, a lost event, a restarted probe), nil while all is
// well. Such a problem makes the scenario an error, not a failure.
type BenchChecker interface {
	BenchErr() error
}
