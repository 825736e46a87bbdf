// The Lua runtime as the controller.Driver that scenarios steer, so that the
// step library reaches it through the controller package only.
package lua

import (
	"context"
	"fmt"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// DriverHost runs one driver in a Runtime.
type DriverHost struct {
	rt *Runtime
}

var _ controller.Driver = (*DriverHost)(nil)

// NewDriverHost starts a runtime with no driver loaded.
func NewDriverHost(opts controller.DriverOptions) (*DriverHost, error) {
	rt, err := New(Options{Sim: sim.Options{KeepAliveUnit: opts.KeepAliveUnit}, Deadline: opts.Deadline})
	if err != nil {
		return nil, err
	}
	return &DriverHost{rt: rt}, nil
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
	return h.rt.NewErrors()
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
func (h *DriverHost) Errors() []error  { return h.rt.Errors() }
func (h *DriverHost) NewErrors() error { return h.rt.NewErrors() }
func (h *DriverHost) Close() error     { return h.rt.Close() }

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
