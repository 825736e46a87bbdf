package remote

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/mqtthil/mqtthil/controller"
)

// Client is one C4:MQTT object on the controller, driven by the probe.
type Client struct {
	c     *Controller
	obj   int
	label string

	out      chan controller.Event
	quit     chan struct{}
	quitOnce sync.Once
	closed   bool // owned by the dispatcher
}

var _ controller.Client = (*Client)(nil)

// Events delivers the object's callbacks as the probe reported them.
func (cl *Client) Events() <-chan controller.Event { return cl.out }

// closeEvents ends the event stream; only the dispatcher calls it.
func (cl *Client) closeEvents() {
	if !cl.closed {
		cl.closed = true
		close(cl.out)
	}
}

// Destroy has the probe drop the object; its events end.
func (cl *Client) Destroy() {
	cl.quitOnce.Do(func() {
		close(cl.quit)
		cl.c.do(&request{Op: "destroy", Obj: cl.obj}, nil)
		cl.c.mu.Lock()
		cl.c.queue = append(cl.c.queue, queued{close: cl})
		cl.c.notifyLocked()
		cl.c.mu.Unlock()
	})
}

// invoke runs obj:method(args...) on the controller. A problem of the
// control channel gives an error code whose text says so; the controller's
// Err then makes the scenario an error.
func (cl *Client) invoke(method string, b bool, args ...any) controller.Ret {
	if args == nil {
		args = []any{}
	}
	var res callResult
	if err := cl.c.do(&request{Op: "call", Obj: cl.obj, Method: method, Args: args, N: len(args)}, &res); err != nil {
		return controller.Ret{Code: controller.ErrUnknown, Err: err.Error()}
	}
	if res.Raised != "" {
		return controller.Ret{Code: controller.ErrInval, Err: res.Raised}
	}
	return retOf(res.Ret, b)
}

// file is a file name argument. The controller cannot read the harness's
// files: a file the harness has is sent to the probe, which writes it into
// its own folder, and the call names that copy. A name the harness cannot
// read (a scenario's missing file) goes as it is.
func (cl *Client) file(path, kind string) any {
	if path == "" {
		return path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return strArg(path)
	}
	name := fmt.Sprintf("mqtthil-%d-%s-%s", cl.obj, kind, safeName(filepath.Base(path)))
	if err := cl.c.do(&request{Op: "put_file", Name: name, Data: hexBytes{Hex: hex.EncodeToString(data)}}, nil); err != nil {
		return strArg(path)
	}
	return name
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// propsArg is a property table, or nil (JSON null) for none. A table
// that is only a sequence of {property, value} pairs goes as a JSON array
// of two-element arrays, which the probe's JSON decoder turns back into a
// Lua sequence; in a table that also has named keys the pairs keep their
// decimal keys, which reach the controller as strings.
func propsArg(p controller.Props) any {
	if p == nil {
		return nil
	}
	pair := func(e controller.PropEntry) []any {
		var name any = e.Property
		if n, err := strconv.Atoi(e.Property); err == nil {
			name = n
		}
		return []any{name, e.Value}
	}
	seq := make([]any, len(p))
	for k, v := range p {
		e, ok := v.(controller.PropEntry)
		n, err := strconv.Atoi(k)
		if !ok || err != nil || n < 1 || n > len(p) || strconv.Itoa(n) != k {
			seq = nil
			break
		}
		seq[n-1] = pair(e)
	}
	if seq != nil {
		return seq
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		if e, ok := v.(controller.PropEntry); ok {
			out[k] = pair(e)
		} else {
			out[k] = v
		}
	}
	return out
}

func (cl *Client) ForceMqttVersion(version int) controller.Ret {
	return cl.invoke("ForceMqttVersion", false, version)
}

func (cl *Client) SetUsernameAndPassword(username string, password *string) controller.Ret {
	if password == nil {
		return cl.invoke("SetUsernameAndPassword", false, strArg(username))
	}
	return cl.invoke("SetUsernameAndPassword", false, strArg(username), strArg(*password))
}

func (cl *Client) SetTlsPsk(psk, identity, ciphers string) controller.Ret {
	return cl.invoke("SetTlsPsk", false, strArg(psk), strArg(identity), strArg(ciphers))
}

func (cl *Client) SetTlsCertificates(cafile, certfile, keyfile, password string) controller.Ret {
	return cl.invoke("SetTlsCertificates", false, cl.file(cafile, "ca"), cl.file(certfile, "cert"), cl.file(keyfile, "key"), strArg(password))
}

func (cl *Client) SetTlsInsecure(insecure bool) controller.Ret {
	return cl.invoke("SetTlsInsecure", false, insecure)
}

func (cl *Client) SetMaxInflightMessages(n int) controller.Ret {
	return cl.invoke("SetMaxInflightMessages", false, n)
}

func (cl *Client) SetMessageRetries(n int) controller.Ret {
	return cl.invoke("SetMessageRetries", false, n)
}

func (cl *Client) SetWill(topic string, payload []byte, qos int, retain bool, p controller.Props) controller.Ret {
	return cl.invoke("SetWill", false, strArg(topic), bytesArg(payload), qos, retain, propsArg(p))
}

func (cl *Client) ClearWill() controller.Ret { return cl.invoke("ClearWill", false) }

func (cl *Client) Connect(host string, port int, keepalive int, p controller.Props) controller.Ret {
	return cl.invoke("Connect", false, strArg(host), port, keepalive, propsArg(p))
}

func (cl *Client) Disconnect(p controller.Props) controller.Ret {
	return cl.invoke("Disconnect", false, propsArg(p))
}

func (cl *Client) Reconnect() controller.Ret { return cl.invoke("Reconnect", false) }

func (cl *Client) Publish(topic string, payload []byte, qos int, retain bool, p controller.Props) controller.Ret {
	return cl.invoke("Publish", true, strArg(topic), bytesArg(payload), qos, retain, propsArg(p))
}

func (cl *Client) Subscribe(sub string, qos int, p controller.Props) controller.Ret {
	return cl.invoke("Subscribe", true, strArg(sub), qos, propsArg(p))
}

func (cl *Client) Unsubscribe(sub string, p controller.Props) controller.Ret {
	return cl.invoke("Unsubscribe", true, strArg(sub), propsArg(p))
}

func (cl *Client) ErrorCodeToString(code int) string {
	var res callResult
	if err := cl.c.do(&request{Op: "call", Obj: cl.obj, Method: "ErrorCodeToString", Args: []any{code}, N: 1}, &res); err != nil {
		return err.Error()
	}
	return text(pick(res.Ret, 0))
}

func (cl *Client) ReasonCodeToString(code int) string {
	var res callResult
	if err := cl.c.do(&request{Op: "call", Obj: cl.obj, Method: "ReasonCodeToString", Args: []any{code}, N: 1}, &res); err != nil {
		return err.Error()
	}
	return text(pick(res.Ret, 0))
}
