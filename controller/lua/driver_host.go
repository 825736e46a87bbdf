// The Lua runtime as the controller.Driver that scenarios steer, so that the
// step library reaches it through the controller package only.
package lua

import (
	"context"
	"errors"
	"fmt"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// DriverHost runs one driver in a Runtime, with its own HTTP stub so that
// a scenario can declare answers at any time, before or after the start.
type DriverHost struct {
	rt   *Runtime
	http *HTTPStub
	// view is a host of another driver of the project, which the main
	// host closes (Device).
	view bool
}

var _ controller.Driver = (*DriverHost)(nil)

// NewDriverHost starts a runtime with no driver loaded.
func NewDriverHost(opts controller.DriverOptions) (*DriverHost, error) {
	stub, err := NewHTTPStub()
	if err != nil {
		return nil, fmt.Errorf("driver runtime: %w", err)
	}
	rt, err := New(Options{
		Sim:          sim.Options{KeepAliveUnit: opts.KeepAliveUnit},
		Deadline:     opts.Deadline,
		TimeScale:    opts.TimeScale,
		HTTP:         stub,
		ProjectFile:  opts.ProjectFile,
		PropertyVars: opts.PropertyVars,
	})
	if err != nil {
		stub.Close()
		return nil, err
	}
	return &DriverHost{rt: rt, http: stub}, nil
}

// Runtime is the runtime the driver runs in.
func (h *DriverHost) Runtime() *Runtime { return h.rt }

func (h *DriverHost) Start(path string, props map[string]string) error {
	if err := h.rt.Load(path); err != nil {
		return err
	}
	if err := h.rt.SetProperties(props); err != nil {
		return err
	}
	if err := h.rt.Init(); err != nil {
		return err
	}
	if err := h.rt.StartProjectDrivers(); err != nil {
		return err
	}
	return h.rt.NewErrors()
}

// Devices are the devices of the project that run the other drivers.
func (h *DriverHost) Devices() []int { return h.rt.PeerDevices() }

// Device is the driver of another device of the project, to steer and
// check as this one; it closes with this host.
func (h *DriverHost) Device(id int) (controller.Driver, error) {
	p := h.rt.Peer(id)
	if p == nil {
		others := h.rt.PeerDevices()
		if len(others) == 0 {
			return nil, fmt.Errorf("device %d runs no driver: the driver's project runs no other driver", id)
		}
		return nil, fmt.Errorf("device %d runs no driver: the project's other drivers are on devices %v", id, others)
	}
	return &DriverHost{rt: p, http: h.http, view: true}, nil
}

func (h *DriverHost) SetProperty(name, value string) error { return h.rt.SetProperty(name, value) }

func (h *DriverHost) ExecuteCommand(name string, params map[string]string) error {
	return h.rt.ExecuteCommand(name, params)
}

func (h *DriverHost) Exec(name, code string) error {
	_, err := h.rt.Exec(name, code)
	return err
}

// evalIn gives an expression's value as Lua's tostring writes it; it runs
// on the Lua state's goroutine.
func (h *DriverHost) evalIn(expr string) (string, error) {
	out, err := h.rt.Run("the Lua expression "+expr, "return tostring("+expr+")")
	if err != nil || len(out) == 0 {
		return "", err
	}
	return fmt.Sprint(out[0]), nil
}

func (h *DriverHost) Eval(expr string) (string, error) {
	var got string
	err := h.rt.Do(func(*glua.LState) error {
		var err error
		got, err = h.evalIn(expr)
		return err
	})
	return got, err
}

func (h *DriverHost) AwaitEval(ctx context.Context, expr, want string) (string, error) {
	var got string
	err := h.rt.Await(ctx, func(*glua.LState) (bool, error) {
		v, err := h.evalIn(expr)
		if err != nil {
			return false, err
		}
		got = v
		return got == want, nil
	})
	return got, err
}

func (h *DriverHost) Trace() controller.DriverTrace { return driverTrace(h.rt.Trace().Entries()) }

func (h *DriverHost) WaitTrace(ctx context.Context, cond func(controller.DriverTrace) bool) error {
	return h.rt.Trace().Wait(ctx, func(es []Entry) bool { return cond(driverTrace(es)) })
}

func (h *DriverHost) Logs() []string   { return h.rt.Logs() }
func (h *DriverHost) Errors() []error  { return h.rt.ProjectErrors() }
func (h *DriverHost) NewErrors() error { return h.rt.NewErrors() }

func (h *DriverHost) Close() error {
	if h.view {
		return nil
	}
	err := h.rt.Close()
	return errors.Join(err, h.http.Close())
}

// ExecuteAction takes the button's name as well as its command: a scenario
// names the button as Composer shows it.
func (h *DriverHost) ExecuteAction(command string, params map[string]string) error {
	for _, a := range h.rt.Info().Actions {
		if a.Name == command {
			command = a.Command
			break
		}
	}
	return h.rt.ExecuteAction(command, params)
}

func (h *DriverHost) ReceivedFromProxy(binding int, cmd string, params map[string]string) error {
	return h.rt.ReceivedFromProxy(binding, cmd, params)
}

func (h *DriverHost) AwaitValue(ctx context.Context, kind controller.ValueKind, name, want string, since time.Time) (string, bool, error) {
	if h.rt.HadValue(kind, name, want, since) {
		return want, true, nil
	}
	var got string
	var ok bool
	err := h.rt.Await(ctx, func(L *glua.LState) (bool, error) {
		if h.rt.HadValue(kind, name, want, since) {
			got, ok = want, true
			return true, nil
		}
		switch kind {
		case controller.PropertyValue:
			props, isTable := L.GetGlobal("Properties").(*glua.LTable)
			if !isTable {
				return false, errors.New("the driver replaced its Properties table")
			}
			v := props.RawGetString(name)
			if v == glua.LNil {
				return false, fmt.Errorf("the driver has no property %q", name)
			}
			got, ok = v.String(), true
		case controller.VariableValue:
			got, ok = "", false
			for _, v := range h.rt.env.vars {
				if v.name == name {
					got, ok = v.value, true
				}
			}
		default:
			return false, fmt.Errorf("no value of the driver is a %q", kind)
		}
		return ok && got == want, nil
	})
	return got, ok, err
}

func (h *DriverHost) Events() map[int]string {
	out := h.rt.Events()
	for _, e := range h.rt.Info().Events {
		out[e.ID] = e.Name
	}
	return out
}

func (h *DriverHost) AnswerHTTP(answers ...controller.HTTPAnswer) error {
	out := make([]HTTPAnswer, len(answers))
	for i, a := range answers {
		out[i] = HTTPAnswer{Method: a.Method, URL: a.URL, Status: a.Status, Headers: a.Headers, Body: a.Body, Delay: a.Delay, Refuse: a.Refuse, Times: a.Times}
	}
	return h.http.Add(out...)
}

func (h *DriverHost) AnswerHTTPFile(path string) error {
	answers, err := LoadHTTPAnswers(path)
	if err != nil {
		return err
	}
	return h.http.Add(answers...)
}

func (h *DriverHost) HTTPRequests() []controller.HTTPRequest {
	reqs := h.http.Requests()
	out := make([]controller.HTTPRequest, len(reqs))
	for i, r := range reqs {
		out[i] = controller.HTTPRequest{Method: r.Method, URL: r.URL, Body: r.Body, Outcome: r.Outcome}
	}
	return out
}

func (h *DriverHost) Reload() error { return h.rt.Reload() }

func (h *DriverHost) Calls() []controller.DriverCall {
	stats := h.rt.Calls()
	out := make([]controller.DriverCall, len(stats))
	for i, c := range stats {
		out[i] = controller.DriverCall{Name: c.Name, Count: c.Count, Status: c.Status}
	}
	return out
}

// driverTrace is the trace in the controller package's terms.
func driverTrace(es []Entry) controller.DriverTrace {
	t := controller.DriverTrace{Entries: make([]controller.TraceEntry, len(es))}
	for i, e := range es {
		t.Entries[i] = controller.TraceEntry{TNs: e.TNs, Client: e.Client, Kind: e.Kind, Name: e.Name, Args: e.Args, Ret: e.Ret}
	}
	c := Correlate(es)
	for _, o := range c.Outstanding {
		t.Pending = append(t.Pending, controller.Pending{Client: o.Client, Call: o.Call, MsgID: o.MsgID, TNs: o.TNs})
	}
	for _, u := range c.Unexpected {
		t.Strays = append(t.Strays, controller.Stray{Client: u.Client, Name: u.Name, MsgID: u.MsgID, TNs: u.TNs})
	}
	return t
}
