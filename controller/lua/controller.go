package lua

import (
	"errors"
	"fmt"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
)

// Controller is the controller.Controller of the Lua runtime: every call on
// one of its clients is made by Lua code against the C4 shim
// (obj:Publish(...) runs inside the Lua state and the Go caller gets what
// Lua got), and its events are what the Lua-side handlers received.
type Controller struct {
	rt *Runtime

	mu      sync.Mutex
	clients []*Client
	closed  bool
}

var _ controller.Controller = (*Controller)(nil)

// NewController starts a Lua state with the C4 shim and no driver.
func NewController(opts Options) (*Controller, error) {
	rt, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Controller{rt: rt}, nil
}

// Runtime is the Lua state behind the controller.
func (c *Controller) Runtime() *Runtime { return c.rt }

// Identity names the runtime.
func (c *Controller) Identity() controller.Identity {
	return controller.Identity{Kind: "lua", Model: "gopher-lua with the mqtthil C4 shim over the sim client", Firmware: glua.PackageName + " " + glua.PackageVersion, DriverVersion: "harness"}
}

// Close destroys every client and ends the Lua state.
func (c *Controller) Close() error {
	c.mu.Lock()
	c.closed = true
	clients := c.clients
	c.mu.Unlock()
	for _, cl := range clients {
		cl.quitOnce.Do(func() { close(cl.quit) })
	}
	return c.rt.Close()
}

// NewClient runs C4:MQTT(clientId, cleanSession) in Lua and registers a
// handler for every callback. An empty clientID passes nil.
func (c *Controller) NewClient(clientID string, cleanSession bool) (controller.Client, error) {
	var id glua.LValue = glua.LNil
	if clientID != "" {
		id = glua.LString(clientID)
	}
	return c.newClient(id, cleanSession)
}

// NewClientEmptyID runs C4:MQTT("", cleanSession).
func (c *Controller) NewClientEmptyID(cleanSession bool) (controller.Client, error) {
	return c.newClient(glua.LString(""), cleanSession)
}

func (c *Controller) newClient(id glua.LValue, cleanSession bool) (controller.Client, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.mu.Unlock()
	cl := &Client{rt: c.rt, out: make(chan controller.Event, 16), quit: make(chan struct{})}
	err := c.rt.Do(func(L *glua.LState) error {
		c4 := L.GetGlobal("C4")
		rets, err := c.rt.call("C4:MQTT", L.GetField(c4, "MQTT"), c4, id, glua.LBool(cleanSession))
		if err != nil {
			return err
		}
		if len(rets) == 0 || rets[0].Type() != glua.LTUserData {
			msg := "C4:MQTT returned nil"
			if len(rets) > 1 {
				msg = rets[1].String()
			}
			return errors.New(msg)
		}
		cl.obj = rets[0].(*glua.LUserData)
		o := cl.obj.Value.(*mqttObj)
		cl.label = o.label
		o.onDestroy = cl.closeEvents
		for name, kind := range registrations {
			h := L.NewFunction(cl.handler(kind))
			if _, err := c.rt.call(name, L.GetField(cl.obj, name), cl.obj, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl, nil
}

// Client is one C4:MQTT object driven from Go through Lua.
type Client struct {
	rt    *Runtime
	obj   *glua.LUserData
	label string

	out      chan controller.Event
	quit     chan struct{}
	quitOnce sync.Once
	closed   bool // owned by the loop goroutine
}

var _ controller.Client = (*Client)(nil)

// handler is the Lua callback: it turns the arguments Lua received back
// into an event.
func (cl *Client) handler(kind controller.EventKind) glua.LGFunction {
	return func(L *glua.LState) int {
		ev := controller.Event{Kind: kind, Client: cl.label, At: time.Now()}
		if d := cl.rt.dispatch; d != nil {
			// The time the network event happened, as sim stamps it.
			ev.At, ev.Client = d.At, d.Client
		}
		num := func(i int) int { return clampInt(float64(L.ToNumber(i))) }
		props := func(i int) controller.Props {
			if t, ok := L.Get(i).(*glua.LTable); ok {
				return propsFromLua(t)
			}
			return nil
		}
		switch kind {
		case controller.OnConnect:
			ev.Reason, ev.Flags, ev.Message, ev.Props = num(2), num(3), L.ToString(4), props(5)
		case controller.OnDisconnect:
			ev.Reason, ev.Message, ev.Props = num(2), L.ToString(3), props(4)
		case controller.OnPublish:
			ev.MsgID, ev.Reason, ev.Message, ev.Props = num(2), num(3), L.ToString(4), props(5)
		case controller.OnSubscribe:
			ev.MsgID, ev.Props = num(2), props(4)
			if t, ok := L.Get(3).(*glua.LTable); ok {
				for i := 1; i <= t.Len(); i++ {
					ev.Granted = append(ev.Granted, clampInt(float64(glua.LVAsNumber(t.RawGetInt(i)))))
				}
			}
		case controller.OnUnsubscribe:
			ev.MsgID, ev.Props = num(2), props(3)
		case controller.OnMessage:
			ev.MsgID, ev.Topic, ev.Payload, ev.QoS, ev.Retain, ev.Props = num(2), L.ToString(3), []byte(L.ToString(4)), num(5), L.ToBool(6), props(7)
		case controller.OnLog:
			ev.Level, ev.Line = num(2), L.ToString(3)
		}
		if cl.closed {
			return 0
		}
		select {
		case cl.out <- ev:
		case <-cl.quit:
		}
		return 0
	}
}

// closeEvents ends the event stream; it runs on the loop goroutine when
// the object is destroyed.
func (cl *Client) closeEvents() {
	if !cl.closed {
		cl.closed = true
		close(cl.out)
	}
}

// Events delivers what the Lua handlers received.
func (cl *Client) Events() <-chan controller.Event { return cl.out }

// Destroy destroys the object; the event stream closes.
func (cl *Client) Destroy() {
	cl.quitOnce.Do(func() { close(cl.quit) })
	cl.rt.Do(func(*glua.LState) error {
		cl.obj.Value.(*mqttObj).destroy()
		return nil
	})
}

// invoke runs obj:name(args...) in Lua and returns what Lua got.
func (cl *Client) invoke(name string, args ...glua.LValue) []glua.LValue {
	var rets []glua.LValue
	err := cl.rt.Do(func(L *glua.LState) error {
		var err error
		rets, err = cl.rt.call(name, L.GetField(cl.obj, name), append([]glua.LValue{cl.obj}, args...)...)
		return err
	})
	if err != nil {
		// The shim raised an error (a bad argument): the driver would see
		// a Lua error; the Go caller sees an invalid-arguments code.
		return []glua.LValue{glua.LNumber(controller.ErrInval), glua.LNil, glua.LString(fmt.Sprint(err))}
	}
	return rets
}

// retOf reads what a convention A or B call returned.
func retOf(rets []glua.LValue, b bool) controller.Ret {
	var r controller.Ret
	if len(rets) > 0 {
		r.Code = clampInt(float64(glua.LVAsNumber(rets[0])))
	}
	if b {
		if len(rets) > 1 {
			if n, ok := rets[1].(glua.LNumber); ok {
				r.MsgID = int(n)
			}
		}
		if len(rets) > 2 {
			r.Err = glua.LVAsString(rets[2])
		}
	} else if len(rets) > 1 {
		r.Err = glua.LVAsString(rets[1])
	}
	return r
}

// luaArg makes one argument of a call inside the Lua state (property
// tables must be created there).
type luaArg func(L *glua.LState) glua.LValue

func (cl *Client) invokeWith(name string, b bool, args ...luaArg) controller.Ret {
	var rets []glua.LValue
	err := cl.rt.Do(func(L *glua.LState) error {
		vals := []glua.LValue{cl.obj}
		for _, a := range args {
			vals = append(vals, a(L))
		}
		var err error
		rets, err = cl.rt.call(name, L.GetField(cl.obj, name), vals...)
		return err
	})
	if err != nil {
		rets = []glua.LValue{glua.LNumber(controller.ErrInval), glua.LNil, glua.LString(fmt.Sprint(err))}
		if !b {
			rets = []glua.LValue{glua.LNumber(controller.ErrInval), glua.LString(fmt.Sprint(err))}
		}
	}
	return retOf(rets, b)
}

func val(v glua.LValue) luaArg { return func(*glua.LState) glua.LValue { return v } }
func str(s string) luaArg      { return val(glua.LString(s)) }
func num(n int) luaArg         { return val(glua.LNumber(n)) }
func boolean(b bool) luaArg    { return val(glua.LBool(b)) }
func props(p controller.Props) luaArg {
	return func(L *glua.LState) glua.LValue { return propsToLua(L, p) }
}

func (cl *Client) ForceMqttVersion(version int) controller.Ret {
	return cl.invokeWith("ForceMqttVersion", false, num(version))
}

func (cl *Client) SetUsernameAndPassword(username string, password *string) controller.Ret {
	if password == nil {
		return cl.invokeWith("SetUsernameAndPassword", false, str(username))
	}
	return cl.invokeWith("SetUsernameAndPassword", false, str(username), str(*password))
}

func (cl *Client) SetTlsPsk(psk, identity, ciphers string) controller.Ret {
	return cl.invokeWith("SetTlsPsk", false, str(psk), str(identity), str(ciphers))
}

func (cl *Client) SetTlsCertificates(cafile, certfile, keyfile, password string) controller.Ret {
	return cl.invokeWith("SetTlsCertificates", false, str(cafile), str(certfile), str(keyfile), str(password))
}

func (cl *Client) SetTlsInsecure(insecure bool) controller.Ret {
	return cl.invokeWith("SetTlsInsecure", false, boolean(insecure))
}

func (cl *Client) SetMaxInflightMessages(n int) controller.Ret {
	return cl.invokeWith("SetMaxInflightMessages", false, num(n))
}

func (cl *Client) SetMessageRetries(n int) controller.Ret {
	return cl.invokeWith("SetMessageRetries", false, num(n))
}

func (cl *Client) SetWill(topic string, payload []byte, qos int, retain bool, p controller.Props) controller.Ret {
	return cl.invokeWith("SetWill", false, str(topic), str(string(payload)), num(qos), boolean(retain), props(p))
}

func (cl *Client) ClearWill() controller.Ret { return cl.invokeWith("ClearWill", false) }

func (cl *Client) Connect(host string, port int, keepalive int, p controller.Props) controller.Ret {
	return cl.invokeWith("Connect", false, str(host), num(port), num(keepalive), props(p))
}

func (cl *Client) Disconnect(p controller.Props) controller.Ret {
	return cl.invokeWith("Disconnect", false, props(p))
}

func (cl *Client) Reconnect() controller.Ret { return cl.invokeWith("Reconnect", false) }

func (cl *Client) Publish(topic string, payload []byte, qos int, retain bool, p controller.Props) controller.Ret {
	return cl.invokeWith("Publish", true, str(topic), str(stringOf(payload)), num(qos), boolean(retain), props(p))
}

func (cl *Client) Subscribe(sub string, qos int, p controller.Props) controller.Ret {
	return cl.invokeWith("Subscribe", true, str(sub), num(qos), props(p))
}

func (cl *Client) Unsubscribe(sub string, p controller.Props) controller.Ret {
	return cl.invokeWith("Unsubscribe", true, str(sub), props(p))
}

func (cl *Client) ErrorCodeToString(code int) string {
	return glua.LVAsString(first(cl.invoke("ErrorCodeToString", glua.LNumber(code))))
}

func (cl *Client) ReasonCodeToString(code int) string {
	return glua.LVAsString(first(cl.invoke("ReasonCodeToString", glua.LNumber(code))))
}

func first(v []glua.LValue) glua.LValue {
	if len(v) == 0 {
		return glua.LNil
	}
	return v[0]
}
