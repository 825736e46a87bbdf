// Bindings and proxies: messages to proxies and devices, the driver's
// bindings (driver.xml's connections and dynamic ones), the project's
// connections between them, and the Go side that plays the proxies,
// Composer and programming towards the driver.

package lua

import (
	"fmt"
	"sort"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) bindingFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"SendToProxy":  r.c4SendToProxy,
		"SendToDevice": r.c4SendToDevice,
		"SendUIRequest": func(L *glua.LState) int {
			dev := L.CheckInt(2)
			if dev != r.proj.DeviceID {
				L.Push(glua.LString(""))
				return 1
			}
			fn := L.GetGlobal("UIRequest")
			if fn.Type() != glua.LTFunction {
				L.Push(glua.LString(""))
				return 1
			}
			L.Push(fn)
			L.Push(L.Get(3))
			L.Push(L.Get(4))
			L.Call(2, 1)
			return 1
		},
		"AddDynamicBinding": func(L *glua.LState) int {
			b := &dynBinding{id: L.CheckInt(2), kind: L.OptString(3, "CONTROL"), provider: L.ToBool(4), name: L.OptString(5, ""), class: L.OptString(6, "")}
			r.env.dynBindings[b.id] = b
			return 0
		},
		"RemoveDynamicBinding":    func(L *glua.LState) int { delete(r.env.dynBindings, L.CheckInt(2)); return 0 },
		"Bind":                    r.c4Bind,
		"Unbind":                  r.c4Unbind,
		"GetBindingsByDevice":     r.c4GetBindingsByDevice,
		"GetBoundConsumerDevices": r.c4GetBoundConsumerDevices,
		"GetBoundProviderDevice": func(L *glua.LState) int {
			dev, id := r.selfOr(L.CheckInt(2)), L.CheckInt(3)
			for _, b := range r.proj.Bindings {
				if b.Consumer == dev && b.ConsumerBinding == id {
					L.Push(glua.LNumber(b.Provider))
					return 1
				}
			}
			L.Push(glua.LNumber(0))
			return 1
		},
		"GetBoundPartner": func(L *glua.LState) int {
			dev, id := r.selfOr(L.CheckInt(2)), L.CheckInt(3)
			for _, b := range r.proj.Bindings {
				switch {
				case b.Consumer == dev && b.ConsumerBinding == id:
					L.Push(glua.LNumber(b.Provider))
					L.Push(glua.LNumber(b.ProviderBinding))
					return 2
				case b.Provider == dev && b.ProviderBinding == id:
					L.Push(glua.LNumber(b.Consumer))
					L.Push(glua.LNumber(b.ConsumerBinding))
					return 2
				}
			}
			L.Push(glua.LNil)
			return 1
		},
		"GetBindingAddress": func(L *glua.LState) int {
			L.Push(glua.LString(r.env.addresses[L.CheckInt(2)]))
			return 1
		},
		"SetBindingAddress": func(L *glua.LState) int {
			r.env.addresses[L.CheckInt(2)] = L.OptString(3, "")
			return 0
		},
	}
}

// selfOr maps device id 0 to this driver's device.
func (r *Runtime) selfOr(dev int) int {
	if dev == 0 {
		return r.proj.DeviceID
	}
	return dev
}

// c4SendToDevice delivers a command to this driver's own device, or to
// the driver of another device of the project (peers.go), as
// ExecuteCommand(cmd, params) after the running handler; commands to other
// devices are recorded only. The parameters arrive as a controller passes
// them, to its own device as to any other: keys and values as strings, the
// empty values left out unless the fifth argument asks for them.
func (r *Runtime) c4SendToDevice(L *glua.LState) int {
	dev := L.CheckInt(2)
	cmd := L.CheckString(3)
	if dev != r.proj.DeviceID && r.peers.Load() == nil {
		return 0
	}
	params := paramsOf(L, L.Get(4))
	if !L.ToBool(5) {
		for k, v := range params {
			if v == "" {
				delete(params, k)
			}
		}
	}
	if dev != r.proj.DeviceID {
		r.deliverTo(r.protocolOf(dev), "ExecuteCommand", []glua.LValue{glua.LString(cmd)}, params)
		return 0
	}
	r.queueEntry("ExecuteCommand", glua.LString(cmd), stringTable(L, params))
	return 0
}

type bindingInfo struct {
	id       int
	name     string
	class    string
	provider bool
	kind     int
}

// ownBindings are driver.xml's connections and the dynamic bindings.
func (r *Runtime) ownBindings() []bindingInfo {
	var out []bindingInfo
	if r.driver != nil {
		for _, c := range r.driver.info.Connections {
			class := ""
			if len(c.Classes) > 0 {
				class = c.Classes[0]
			}
			out = append(out, bindingInfo{id: c.ID, name: c.Name, class: class, provider: !c.Consumer, kind: c.Type})
		}
	}
	ids := make([]int, 0, len(r.env.dynBindings))
	for id := range r.env.dynBindings {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		b := r.env.dynBindings[id]
		kind := 1
		if b.kind == "PROXY" {
			kind = 2
		}
		out = append(out, bindingInfo{id: b.id, name: b.name, class: b.class, provider: b.provider, kind: kind})
	}
	return out
}

// c4GetBindingsByDevice answers {deviceid=, bindings={{bindingid, name,
// class, provider, type, isbound, deviceid, ...}}}, the shape drivers read.
func (r *Runtime) c4GetBindingsByDevice(L *glua.LState) int {
	dev := r.selfOr(L.CheckInt(2))
	t := L.NewTable()
	t.RawSetString("deviceid", glua.LNumber(dev))
	list := L.NewTable()
	if dev == r.proj.DeviceID {
		for _, b := range r.ownBindings() {
			e := L.NewTable()
			e.RawSetString("bindingid", glua.LNumber(b.id))
			e.RawSetString("name", glua.LString(b.name))
			e.RawSetString("class", glua.LString(b.class))
			e.RawSetString("provider", glua.LBool(b.provider))
			e.RawSetString("type", glua.LNumber(b.kind))
			e.RawSetString("deviceid", glua.LNumber(dev))
			bound := false
			for _, pb := range r.proj.Bindings {
				if (pb.Provider == dev && pb.ProviderBinding == b.id) || (pb.Consumer == dev && pb.ConsumerBinding == b.id) {
					bound = true
				}
			}
			e.RawSetString("isbound", glua.LBool(bound))
			list.Append(e)
		}
	}
	t.RawSetString("bindings", list)
	L.Push(t)
	return 1
}

func (r *Runtime) c4GetBoundConsumerDevices(L *glua.LState) int {
	dev, id := r.selfOr(L.CheckInt(2)), L.CheckInt(3)
	t := L.NewTable()
	n := 0
	for _, b := range r.proj.Bindings {
		if b.Provider == dev && b.ProviderBinding == id {
			d, _ := r.device(b.Consumer)
			t.RawSetInt(b.Consumer, glua.LString(d.Name))
			n++
		}
	}
	return pushTableOrNil(L, t, n)
}

// c4Bind connects two bindings as Composer would; when one end is this
// driver, OnBindingChanged follows.
func (r *Runtime) c4Bind(L *glua.LState) int {
	b := Binding{Provider: L.CheckInt(2), ProviderBinding: L.CheckInt(3), Consumer: L.CheckInt(4), ConsumerBinding: L.CheckInt(5), Class: L.OptString(6, "")}
	r.proj.Bindings = append(r.proj.Bindings, b)
	r.bindingChanged(b, true)
	return 0
}

func (r *Runtime) c4Unbind(L *glua.LState) int {
	dev, id := L.CheckInt(2), L.CheckInt(3)
	kept := r.proj.Bindings[:0]
	var gone []Binding
	for _, b := range r.proj.Bindings {
		if b.Consumer == dev && b.ConsumerBinding == id {
			gone = append(gone, b)
			continue
		}
		kept = append(kept, b)
	}
	r.proj.Bindings = kept
	for _, b := range gone {
		r.bindingChanged(b, false)
	}
	return 0
}

func (r *Runtime) bindingChanged(b Binding, bound bool) {
	me := r.proj.DeviceID
	if b.Provider == me {
		r.queueEntry("OnBindingChanged", glua.LNumber(b.ProviderBinding), glua.LString(b.Class), glua.LBool(bound), glua.LNumber(b.Consumer), glua.LNumber(b.ConsumerBinding))
	}
	if b.Consumer == me {
		r.queueEntry("OnBindingChanged", glua.LNumber(b.ConsumerBinding), glua.LString(b.Class), glua.LBool(bound), glua.LNumber(b.Provider), glua.LNumber(b.ProviderBinding))
	}
}

// ReceivedFromProxy delivers a proxy's message on binding id to the
// driver's ReceivedFromProxy(idBinding, cmd, tParams).
func (r *Runtime) ReceivedFromProxy(binding int, cmd string, params map[string]string) error {
	return r.Do(func(L *glua.LState) error {
		if L.GetGlobal("ReceivedFromProxy").Type() != glua.LTFunction {
			return fmt.Errorf("the driver defines no ReceivedFromProxy, so it cannot take %q on binding %d", cmd, binding)
		}
		return r.callEntry("ReceivedFromProxy", glua.LNumber(binding), glua.LString(cmd), stringTable(L, params))
	})
}

// ChangeBinding tells the driver a binding was bound or unbound:
// OnBindingChanged(idBinding, class, bIsBound, otherDevice, otherBinding).
func (r *Runtime) ChangeBinding(binding int, class string, bound bool, otherDevice, otherBinding int) error {
	return r.Do(func(L *glua.LState) error {
		return r.callEntry("OnBindingChanged", glua.LNumber(binding), glua.LString(class), glua.LBool(bound), glua.LNumber(otherDevice), glua.LNumber(otherBinding))
	})
}

// TestCondition asks the driver's TestCondition(name, tParams) as
// programming does; a driver without it answers false.
func (r *Runtime) TestCondition(name string, params map[string]string) (bool, error) {
	var ok bool
	err := r.Do(func(L *glua.LState) error {
		fn := L.GetGlobal("TestCondition")
		if fn.Type() != glua.LTFunction {
			return nil
		}
		r.trace.add(Entry{Kind: KindEntryPoint, Name: "TestCondition", Args: []any{name, params}, Phase: r.phase})
		rets, err := r.call("TestCondition", fn, glua.LString(name), stringTable(L, params))
		if err != nil {
			return err
		}
		ok = len(rets) > 0 && glua.LVAsBool(rets[0])
		return nil
	})
	return ok, err
}

// UIRequest calls the driver's UIRequest(request, tParams) as another
// driver's C4:SendUIRequest would and returns its string.
func (r *Runtime) UIRequest(request string, params map[string]string) (string, error) {
	var out string
	err := r.Do(func(L *glua.LState) error {
		fn := L.GetGlobal("UIRequest")
		if fn.Type() != glua.LTFunction {
			return fmt.Errorf("the driver defines no UIRequest, so it cannot answer %q", request)
		}
		r.trace.add(Entry{Kind: KindEntryPoint, Name: "UIRequest", Args: []any{request, params}, Phase: r.phase})
		rets, err := r.call("UIRequest", fn, glua.LString(request), stringTable(L, params))
		if err != nil {
			return err
		}
		if len(rets) > 0 && rets[0] != glua.LNil {
			out = rets[0].String()
		}
		return nil
	})
	return out, err
}
