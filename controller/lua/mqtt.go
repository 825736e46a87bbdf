package lua

import (
	"fmt"
	"math"
	"strconv"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// mqttObj is one C4:MQTT object of the driver, backed by a sim client.
// Only the loop goroutine touches it.
type mqttObj struct {
	r         *Runtime
	label     string // the client id as the trace names it
	c         *sim.Client
	ud        *glua.LUserData
	handlers  map[controller.EventKind]glua.LValue
	destroyed bool
	onDestroy func()
}

const objMetaKey = "mqtthil.C4:MQTT"

// registrations maps the callback registration methods to their events.
var registrations = map[string]controller.EventKind{
	"OnConnect":     controller.OnConnect,
	"OnDisconnect":  controller.OnDisconnect,
	"OnPublish":     controller.OnPublish,
	"OnSubscribe":   controller.OnSubscribe,
	"OnUnsubscribe": controller.OnUnsubscribe,
	"OnMessage":     controller.OnMessage,
	"OnLog":         controller.OnLog,
}

// objMeta returns the metatable shared by every C4:MQTT object.
func (r *Runtime) objMeta(L *glua.LState) *glua.LTable {
	if mt, ok := L.GetField(L.Get(glua.RegistryIndex), objMetaKey).(*glua.LTable); ok {
		return mt
	}
	methods := L.NewTable()
	for name, fn := range r.mqttMethods() {
		methods.RawSetString(name, L.NewFunction(fn))
	}
	for name, kind := range registrations {
		methods.RawSetString(name, L.NewFunction(r.register(name, kind)))
	}
	missing := L.NewTable()
	missing.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		name := L.ToStringMeta(L.Get(2)).String()
		L.Push(L.NewFunction(func(L *glua.LState) int {
			L.RaiseError("C4:MQTT objects have no method %s (not in the DriverWorks MQTT API)", name)
			return 0
		}))
		return 1
	}))
	L.SetMetatable(methods, missing)
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		o, _ := L.CheckUserData(1).Value.(*mqttObj)
		if o == nil {
			L.Push(glua.LString("C4:MQTT"))
		} else {
			L.Push(glua.LString("C4:MQTT(" + o.label + ")"))
		}
		return 1
	}))
	L.SetField(L.Get(glua.RegistryIndex), objMetaKey, mt)
	return mt
}

// c4MQTT is C4:MQTT(clientId, cleanSession).
func (r *Runtime) c4MQTT(L *glua.LState) int {
	id := optString(L, 2, "C4:MQTT")
	clean := optBool(L, 3, true)
	label := id
	switch {
	case L.Get(2) == glua.LNil:
		label = "(no client id)"
	case label == "":
		label = "(empty client id)"
	}
	r.labels[label]++
	if n := r.labels[label]; n > 1 {
		label = fmt.Sprintf("%s#%d", label, n)
	}
	r.trace.add(Entry{Client: label, Kind: KindCall, Name: "MQTT", Args: traceArgs(L, 2)})
	c, err := r.sim.NewSimClient(id, clean)
	if err != nil {
		r.trace.add(Entry{Client: label, Kind: KindReturn, Name: "MQTT", Ret: []any{nil, err.Error()}})
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	o := &mqttObj{r: r, label: label, c: c, handlers: map[controller.EventKind]glua.LValue{}}
	o.ud = L.NewUserData()
	o.ud.Value = o
	L.SetMetatable(o.ud, r.objMeta(L))
	r.objs = append(r.objs, o)
	r.trace.add(Entry{Client: label, Kind: KindReturn, Name: "MQTT", Ret: []any{"C4:MQTT(" + label + ")"}})
	r.pumps.Add(1)
	go func() {
		defer r.pumps.Done()
		for ev := range c.Events() {
			r.post(func() { o.deliver(ev) })
		}
	}()
	L.Push(o.ud)
	return 1
}

// deliver runs the driver's handler for one callback.
func (o *mqttObj) deliver(ev controller.Event) {
	if o.destroyed {
		return
	}
	r, L := o.r, o.r.L
	args := eventArgs(L, ev)
	handler := o.handlers[ev.Kind]
	e := Entry{Client: o.label, Kind: KindCallback, Name: string(ev.Kind), Args: make([]any, len(args)), Unhandled: handler == nil}
	for i, a := range args {
		e.Args[i] = fromLua(a, 0)
	}
	r.trace.add(e)
	if handler == nil {
		return
	}
	r.dispatch = &ev
	_, err := r.call("callback "+string(ev.Kind)+" of "+o.label, handler, append([]glua.LValue{o.ud}, args...)...)
	r.dispatch = nil
	if err != nil {
		r.addAsyncError(err)
	}
}

// eventArgs are a handler's arguments after the object.
func eventArgs(L *glua.LState, ev controller.Event) []glua.LValue {
	props := propsToLua(L, ev.Props)
	n := func(i int) glua.LValue { return glua.LNumber(i) }
	switch ev.Kind {
	case controller.OnConnect:
		return []glua.LValue{n(ev.Reason), n(ev.Flags), glua.LString(ev.Message), props}
	case controller.OnDisconnect:
		return []glua.LValue{n(ev.Reason), glua.LString(ev.Message), props}
	case controller.OnPublish:
		return []glua.LValue{n(ev.MsgID), n(ev.Reason), glua.LString(ev.Message), props}
	case controller.OnSubscribe:
		g := L.CreateTable(len(ev.Granted), 0)
		for i, q := range ev.Granted {
			g.RawSetInt(i+1, n(q))
		}
		return []glua.LValue{n(ev.MsgID), g, props}
	case controller.OnUnsubscribe:
		return []glua.LValue{n(ev.MsgID), props}
	case controller.OnMessage:
		return []glua.LValue{n(ev.MsgID), glua.LString(ev.Topic), glua.LString(ev.Payload), n(ev.QoS), glua.LBool(ev.Retain), props}
	case controller.OnLog:
		return []glua.LValue{n(ev.Level), glua.LString(ev.Line)}
	}
	return nil
}

// destroy releases the sim client; no callback runs afterwards.
func (o *mqttObj) destroy() {
	if o.destroyed {
		return
	}
	o.destroyed = true
	o.c.Destroy()
	if o.onDestroy != nil {
		o.onDestroy()
	}
}

// register makes obj:OnPublish(fn) and its siblings.
func (r *Runtime) register(name string, kind controller.EventKind) glua.LGFunction {
	return func(L *glua.LState) int {
		o := checkObj(L, name)
		r.trace.add(Entry{Client: o.label, Kind: KindCall, Name: name, Args: traceArgs(L, 2)})
		fn := L.Get(2)
		switch fn.Type() {
		case glua.LTNil:
			delete(o.handlers, kind)
		case glua.LTFunction:
			o.handlers[kind] = fn
		default:
			L.ArgError(2, "function expected, got "+fn.Type().String())
		}
		r.trace.add(Entry{Client: o.label, Kind: KindReturn, Name: name})
		return 0
	}
}

func checkObj(L *glua.LState, method string) *mqttObj {
	ud, ok := L.Get(1).(*glua.LUserData)
	if ok {
		if o, ok := ud.Value.(*mqttObj); ok {
			return o
		}
	}
	L.RaiseError("%s must be called on a C4:MQTT object, as obj:%s(...)", method, method)
	return nil
}

// method wraps one call of the API: it records the call and its returns.
func (r *Runtime) method(name string, fn func(L *glua.LState, o *mqttObj) []glua.LValue) glua.LGFunction {
	return func(L *glua.LState) int {
		o := checkObj(L, name)
		r.trace.add(Entry{Client: o.label, Kind: KindCall, Name: name, Args: traceArgs(L, 2)})
		var rets []glua.LValue
		if o.destroyed {
			rets = retA(controller.Ret{Code: controller.ErrInval, Err: controller.ErrorString(controller.ErrInval)})
		} else {
			rets = fn(L, o)
		}
		e := Entry{Client: o.label, Kind: KindReturn, Name: name, Ret: make([]any, len(rets))}
		for i, v := range rets {
			e.Ret[i] = fromLua(v, 0)
		}
		r.trace.add(e)
		for _, v := range rets {
			L.Push(v)
		}
		return len(rets)
	}
}

func (r *Runtime) mqttMethods() map[string]glua.LGFunction {
	a := func(name string, fn func(L *glua.LState, c *sim.Client) controller.Ret) glua.LGFunction {
		return r.method(name, func(L *glua.LState, o *mqttObj) []glua.LValue { return retA(fn(L, o.c)) })
	}
	b := func(name string, fn func(L *glua.LState, c *sim.Client) controller.Ret) glua.LGFunction {
		return r.method(name, func(L *glua.LState, o *mqttObj) []glua.LValue { return retB(fn(L, o.c)) })
	}
	return map[string]glua.LGFunction{
		"ForceMqttVersion": a("ForceMqttVersion", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.ForceMqttVersion(optInt(L, 2, 311))
		}),
		"SetUsernameAndPassword": a("SetUsernameAndPassword", func(L *glua.LState, c *sim.Client) controller.Ret {
			user := optString(L, 2, "SetUsernameAndPassword")
			var pass *string
			if L.Get(3) != glua.LNil {
				p := optString(L, 3, "SetUsernameAndPassword")
				pass = &p
			}
			return c.SetUsernameAndPassword(user, pass)
		}),
		"SetTlsPsk": a("SetTlsPsk", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.SetTlsPsk(optString(L, 2, "SetTlsPsk"), optString(L, 3, "SetTlsPsk"), optString(L, 4, "SetTlsPsk"))
		}),
		"SetTlsCertificates": a("SetTlsCertificates", func(L *glua.LState, c *sim.Client) controller.Ret {
			file := func(n int) string {
				s := optString(L, n, "SetTlsCertificates")
				if s == "" || r.driver == nil || r.driver.dir == "" {
					return s
				}
				p, err := r.resolve(s)
				if err != nil {
					L.ArgError(n, err.Error())
				}
				return p
			}
			return c.SetTlsCertificates(file(2), file(3), file(4), optString(L, 5, "SetTlsCertificates"))
		}),
		"SetTlsInsecure": a("SetTlsInsecure", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.SetTlsInsecure(optBool(L, 2, true))
		}),
		"SetMaxInflightMessages": a("SetMaxInflightMessages", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.SetMaxInflightMessages(optInt(L, 2, 20))
		}),
		"SetMessageRetries": a("SetMessageRetries", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.SetMessageRetries(optInt(L, 2, 0))
		}),
		"SetWill": a("SetWill", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.SetWill(optString(L, 2, "SetWill"), []byte(optString(L, 3, "SetWill")), optInt(L, 4, 0), optBool(L, 5, false), optProps(L, 6))
		}),
		"ClearWill": a("ClearWill", func(L *glua.LState, c *sim.Client) controller.Ret { return c.ClearWill() }),
		"Connect": a("Connect", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.Connect(optString(L, 2, "Connect"), optInt(L, 3, 1883), optInt(L, 4, 60), optProps(L, 5))
		}),
		"Disconnect": a("Disconnect", func(L *glua.LState, c *sim.Client) controller.Ret { return c.Disconnect(optProps(L, 2)) }),
		"Reconnect":  a("Reconnect", func(L *glua.LState, c *sim.Client) controller.Ret { return c.Reconnect() }),
		"Publish": b("Publish", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.Publish(optString(L, 2, "Publish"), bytesOf(optString(L, 3, "Publish")), optInt(L, 4, 0), optBool(L, 5, false), optProps(L, 6))
		}),
		"Subscribe": b("Subscribe", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.Subscribe(optString(L, 2, "Subscribe"), optInt(L, 3, 0), optProps(L, 4))
		}),
		"Unsubscribe": b("Unsubscribe", func(L *glua.LState, c *sim.Client) controller.Ret {
			return c.Unsubscribe(optString(L, 2, "Unsubscribe"), optProps(L, 3))
		}),
		"ErrorCodeToString": r.method("ErrorCodeToString", func(L *glua.LState, o *mqttObj) []glua.LValue {
			return []glua.LValue{glua.LString(o.c.ErrorCodeToString(optInt(L, 2, 0)))}
		}),
		"ReasonCodeToString": r.method("ReasonCodeToString", func(L *glua.LState, o *mqttObj) []glua.LValue {
			return []glua.LValue{glua.LString(o.c.ReasonCodeToString(optInt(L, 2, 0)))}
		}),
	}
}

// retA is return convention A: 0, or code and error string.
func retA(r controller.Ret) []glua.LValue {
	if r.Code == 0 {
		return []glua.LValue{glua.LNumber(0)}
	}
	return []glua.LValue{glua.LNumber(r.Code), glua.LString(r.Err)}
}

// retB is return convention B: 0 and msgId, or code, nil and error string.
func retB(r controller.Ret) []glua.LValue {
	var id glua.LValue = glua.LNil
	if r.MsgID != 0 {
		id = glua.LNumber(r.MsgID)
	}
	if r.Code == 0 {
		return []glua.LValue{glua.LNumber(0), id}
	}
	return []glua.LValue{glua.LNumber(r.Code), id, glua.LString(r.Err)}
}

// traceArgs are the call's arguments from index from to the top.
func traceArgs(L *glua.LState, from int) []any {
	var out []any
	for i := from; i <= L.GetTop(); i++ {
		out = append(out, fromLua(L.Get(i), 0))
	}
	return out
}

func optString(L *glua.LState, n int, fname string) string {
	switch v := L.Get(n).(type) {
	case *glua.LNilType:
		return ""
	case glua.LString:
		return string(v)
	case glua.LNumber:
		return v.String()
	default:
		L.ArgError(n, "string expected, got "+v.Type().String())
	}
	return ""
}

func optInt(L *glua.LState, n int, def int) int {
	switch v := L.Get(n).(type) {
	case *glua.LNilType:
		return def
	case glua.LNumber:
		return clampInt(float64(v))
	case glua.LString:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return clampInt(f)
		}
		L.ArgError(n, "number expected, got string")
	default:
		L.ArgError(n, "number expected, got "+v.Type().String())
	}
	return def
}

func clampInt(f float64) int {
	switch {
	case math.IsNaN(f):
		return 0
	case f > math.MaxInt32:
		return math.MaxInt32
	case f < math.MinInt32:
		return math.MinInt32
	}
	return int(f)
}

func optBool(L *glua.LState, n int, def bool) bool {
	v := L.Get(n)
	if v == glua.LNil {
		return def
	}
	return glua.LVAsBool(v)
}

// optProps reads an MQTT 5 property table; nil when none was passed.
func optProps(L *glua.LState, n int) controller.Props {
	v := L.Get(n)
	if v == glua.LNil {
		return nil
	}
	t, ok := v.(*glua.LTable)
	if !ok {
		L.ArgError(n, "table of MQTT 5 properties expected, got "+v.Type().String())
	}
	return propsFromLua(t)
}

// propsFromLua reads a property table as the controller's binding does:
// named keys and numbered keys ([3] is CONTENT_TYPE), and a sequence of
// {property, value} pairs, in which a property may repeat. A numbered key
// holding a table whose first element is a name or number and which has a
// second element is such a pair ([38] = {"k", "v"} is one, naming a
// property "k"; a user property by number takes a list of pairs).
func propsFromLua(t *glua.LTable) controller.Props {
	p := controller.Props{}
	t.ForEach(func(k, v glua.LValue) {
		key := k.String()
		if _, num := k.(glua.LNumber); num {
			if pair, ok := v.(*glua.LTable); ok && isPair(pair) {
				p[key] = controller.PropEntry{Property: pair.RawGetInt(1).String(), Value: propValueFromLua(pair.RawGetInt(2))}
				return
			}
		}
		p[key] = propValueFromLua(v)
	})
	return p
}

// isPair: a table whose first element is a name or number and which has
// a second element. A list of pairs (a user property value) is not one.
func isPair(t *glua.LTable) bool {
	switch t.RawGetInt(1).(type) {
	case glua.LString, glua.LNumber:
		return t.RawGetInt(2) != glua.LNil
	}
	return false
}

// propValueFromLua reads one property's value. A table is a
// USER_PROPERTY value: a table of keys and values, one {key, value} pair,
// or a sequence of such pairs (which keeps their order and repeats).
func propValueFromLua(v glua.LValue) any {
	switch v := v.(type) {
	case glua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f)
		}
		return f
	case glua.LString:
		return string(v)
	case glua.LBool:
		return bool(v)
	case *glua.LTable:
		first := v.RawGetInt(1)
		if first == glua.LNil {
			m := map[string]string{}
			v.ForEach(func(k2, v2 glua.LValue) { m[k2.String()] = v2.String() })
			return m
		}
		if _, nested := first.(*glua.LTable); !nested {
			if !isPair(v) || v.Len() != 2 {
				return []any{} // no shape of user property: refused with 3
			}
			return [][2]string{{first.String(), v.RawGetInt(2).String()}}
		}
		var pairs [][2]string
		ok := true
		v.ForEach(func(k2, v2 glua.LValue) {
			pt, isTable := v2.(*glua.LTable)
			if _, num := k2.(glua.LNumber); !num || !isTable || !isPair(pt) {
				ok = false
				return
			}
		})
		if !ok {
			return []any{}
		}
		for i := 1; i <= v.Len(); i++ {
			pt := v.RawGetInt(i).(*glua.LTable)
			pairs = append(pairs, [2]string{pt.RawGetInt(1).String(), pt.RawGetInt(2).String()})
		}
		return pairs
	}
	return v.String()
}

// propsToLua builds the table a driver would have written: numbered keys
// as numbers, sequence entries as {property, value} pairs.
func propsToLua(L *glua.LState, p controller.Props) glua.LValue {
	if p == nil {
		return glua.LNil
	}
	t := L.CreateTable(0, len(p))
	for k, v := range p {
		var val glua.LValue
		if e, ok := v.(controller.PropEntry); !ok {
			val = propValueToLua(L, v)
		} else {
			pair := L.CreateTable(2, 0)
			var name glua.LValue = glua.LString(e.Property)
			if n, err := strconv.Atoi(e.Property); err == nil {
				name = glua.LNumber(n)
			}
			pair.RawSetInt(1, name)
			pair.RawSetInt(2, propValueToLua(L, e.Value))
			val = pair
		}
		if n, err := strconv.Atoi(k); err == nil && strconv.Itoa(n) == k {
			t.RawSetInt(n, val)
			continue
		}
		t.RawSetString(k, val)
	}
	return t
}

func propValueToLua(L *glua.LState, v any) glua.LValue {
	switch v := v.(type) {
	case bool:
		return glua.LBool(v)
	case [][2]string:
		t := L.CreateTable(len(v), 0)
		for i, kv := range v {
			pair := L.CreateTable(2, 0)
			pair.RawSetInt(1, glua.LString(kv[0]))
			pair.RawSetInt(2, glua.LString(kv[1]))
			t.RawSetInt(i+1, pair)
		}
		return t
	}
	return toLua(L, v)
}
