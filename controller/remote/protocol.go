package remote

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/mqtthil/mqtthil/controller"
)

// SchemaVersion is the control channel's message schema version
// (docs/control-channel.md); every message carries it as "v".
const SchemaVersion = 1

// Topics of one station.
func reqTopic(station string) string   { return "mqtthil/" + station + "/req" }
func respTopic(station string) string  { return "mqtthil/" + station + "/resp" }
func eventTopic(station string) string { return "mqtthil/" + station + "/event" }

// request is one harness → probe message.
type request struct {
	V            int     `json:"v"`
	ID           string  `json:"id"`
	Op           string  `json:"op"`
	ClientID     *string `json:"client_id,omitempty"`
	CleanSession *bool   `json:"clean_session,omitempty"`
	Obj          int     `json:"obj,omitempty"`
	Method       string  `json:"method,omitempty"`
	Args         []any   `json:"args,omitempty"`
	N            int     `json:"n,omitempty"`
	Name         string  `json:"name,omitempty"`
	Data         any     `json:"data,omitempty"`
}

// response is the probe's answer to one request.
type response struct {
	V      int             `json:"v"`
	ID     string          `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Seq    int64           `json:"seq"`
}

// event is one probe → harness event: hello, heartbeat or callback.
type event struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Seq  int64  `json:"seq"`
	Boot string `json:"boot"`
	T    int64  `json:"t"`

	Identity   *identityMsg `json:"identity"`
	HeartbeatS float64      `json:"heartbeat_s"`

	Obj  int    `json:"obj"`
	CB   string `json:"cb"`
	Args []any  `json:"args"`
	N    int    `json:"n"`
}

// helloResult is what the hello op returns.
type helloResult struct {
	Identity   identityMsg `json:"identity"`
	Boot       string      `json:"boot"`
	HeartbeatS float64     `json:"heartbeat_s"`
}

type identityMsg struct {
	ProbeVersion string         `json:"probe_version"`
	DeviceID     any            `json:"device_id"`
	Firmware     string         `json:"firmware"`
	Model        string         `json:"model"`
	VersionInfo  map[string]any `json:"version_info"`
}

// callResult is what create and call return.
type callResult struct {
	Obj    int    `json:"obj"`
	Ret    []any  `json:"ret"`
	N      int    `json:"n"`
	Raised string `json:"raised"`
}

// hexBytes is a byte string on the wire.
type hexBytes struct {
	Hex string `json:"hex"`
}

// fillBytes is a long byte string of one repeated byte.
type fillBytes struct {
	Fill string `json:"fill"`
	Len  int    `json:"len"`
}

// bytesArg is a byte string for the wire: long runs of one byte (the
// oversized payloads scenarios send) travel as a fill, so that they fit in
// one control message.
func bytesArg(b []byte) any {
	if len(b) >= 4096 && bytes.Count(b, b[:1]) == len(b) {
		return fillBytes{Fill: hex.EncodeToString(b[:1]), Len: len(b)}
	}
	return hexBytes{Hex: hex.EncodeToString(b)}
}

// strArg is a text argument: plain JSON when it is UTF-8, otherwise its
// bytes as hex (JSON strings cannot carry other bytes).
func strArg(s string) any {
	if utf8.ValidString(s) {
		return s
	}
	return hexBytes{Hex: hex.EncodeToString([]byte(s))}
}

// maxMessage is the largest request the harness sends; MQTT's limit is
// 256 MiB and the JSON around a payload takes room too.
const maxMessage = 200 << 20

// decode reads JSON keeping numbers exact.
func decode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// num reads a JSON number the way Lua's tonumber-and-clamp does; anything
// else is 0.
func num(v any) int {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) {
		return 0
	}
	switch {
	case f > math.MaxInt32:
		return math.MaxInt32
	case f < math.MinInt32:
		return math.MinInt32
	}
	return int(f)
}

// text reads a value the way Lua's tostring of a string or number does;
// nil is "".
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

// byteString reads a {"hex": ...} argument, or a plain string.
func byteString(v any) ([]byte, error) {
	switch v := v.(type) {
	case map[string]any:
		h, _ := v["hex"].(string)
		return hex.DecodeString(h)
	case string:
		return []byte(v), nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("a byte string is %T", v)
}

// propsOf reads an MQTT 5 property table; nil when there was none.
func propsOf(v any) controller.Props {
	m, ok := v.(map[string]any)
	if !ok {
		if a, ok := v.([]any); ok && len(a) == 0 {
			return controller.Props{}
		}
		return nil
	}
	p := controller.Props{}
	for k, v := range m {
		switch v := v.(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil {
				p[k] = int(i)
			} else if f, err := v.Float64(); err == nil {
				p[k] = f
			}
		case string:
			p[k] = v
		case bool:
			p[k] = v
		case map[string]any:
			s := map[string]string{}
			for k2, v2 := range v {
				s[k2] = text(v2)
			}
			p[k] = s
		default:
			p[k] = fmt.Sprint(v)
		}
	}
	return p
}

// toEvent turns a callback's arguments back into the event.
func toEvent(cb string, args []any) (controller.Event, error) {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	ev := controller.Event{Kind: controller.EventKind(cb)}
	switch ev.Kind {
	case controller.OnConnect:
		ev.Reason, ev.Flags, ev.Message, ev.Props = num(arg(0)), num(arg(1)), text(arg(2)), propsOf(arg(3))
	case controller.OnDisconnect:
		ev.Reason, ev.Message, ev.Props = num(arg(0)), text(arg(1)), propsOf(arg(2))
	case controller.OnPublish:
		ev.MsgID, ev.Reason, ev.Message, ev.Props = num(arg(0)), num(arg(1)), text(arg(2)), propsOf(arg(3))
	case controller.OnSubscribe:
		ev.MsgID, ev.Props = num(arg(0)), propsOf(arg(2))
		if g, ok := arg(1).([]any); ok {
			for _, q := range g {
				ev.Granted = append(ev.Granted, num(q))
			}
		}
	case controller.OnUnsubscribe:
		ev.MsgID, ev.Props = num(arg(0)), propsOf(arg(1))
	case controller.OnMessage:
		payload, err := byteString(arg(2))
		if err != nil {
			return ev, fmt.Errorf("onMessage payload: %v", err)
		}
		topic, err := byteString(arg(1))
		if err != nil {
			return ev, fmt.Errorf("onMessage topic: %v", err)
		}
		ev.MsgID, ev.Topic, ev.Payload, ev.QoS, ev.Props = num(arg(0)), string(topic), payload, num(arg(3)), propsOf(arg(5))
		ev.Retain, _ = arg(4).(bool)
	case controller.OnLog:
		ev.Level, ev.Line = num(arg(0)), text(arg(1))
	default:
		return ev, fmt.Errorf("unknown callback %q", cb)
	}
	return ev, nil
}

// retOf reads what a convention A (b false) or B (b true) call returned,
// as the Lua runtime's controller does.
func retOf(rets []any, b bool) controller.Ret {
	var r controller.Ret
	arg := func(i int) any {
		if i < len(rets) {
			return rets[i]
		}
		return nil
	}
	r.Code = num(arg(0))
	if b {
		if _, ok := arg(1).(json.Number); ok {
			r.MsgID = num(arg(1))
		}
		r.Err = text(arg(2))
	} else {
		r.Err = text(arg(1))
	}
	return r
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
