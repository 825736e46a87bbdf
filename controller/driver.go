// A driver is real driver code run against the controller's MQTT API, as
// scenarios load and steer it. Its runtime lives in its own package
// (controller/lua); this seam is what a scenario needs of it, so that the
// step library depends on no runtime.
package controller

import (
	"context"
	"time"
)

// DriverOptions tune a driver runtime.
type DriverOptions struct {
	// KeepAliveUnit is the length of one keep-alive second of the driver's
	// clients; 0 means a second.
	KeepAliveUnit time.Duration
	// Deadline bounds one entry into the driver's code; 0 means the
	// runtime's default.
	Deadline time.Duration
}

// DriverFactory starts one driver runtime, with no driver loaded yet.
type DriverFactory func(DriverOptions) (Driver, error)

// Driver is one driver's runtime: its code, its properties, and the trace
// of every call it made on its client objects and every callback it got.
type Driver interface {
	// Start loads the driver at path (its code file, its folder or a
	// package), sets the property values given and runs its init entry
	// points. A code error raised meanwhile is returned.
	Start(path string, props map[string]string) error
	// SetProperty changes a property, as when it is changed by hand.
	SetProperty(name, value string) error
	// ExecuteCommand runs one of the driver's commands.
	ExecuteCommand(name string, params map[string]string) error
	// Exec runs code in the driver's state; name says where it came from
	// in error messages.
	Exec(name, code string) error
	// Eval gives the value of an expression in the driver's state, written
	// as the driver's language writes it as text.
	Eval(expr string) (string, error)
	// AwaitEval waits until the expression gives want, evaluating it again
	// after each callback and timer of the driver, or until ctx ends. It
	// returns the last value it got.
	AwaitEval(ctx context.Context, expr, want string) (string, error)

	// Trace is the driver's trace so far.
	Trace() DriverTrace
	// WaitTrace waits until cond holds for the trace, or ctx ends; cond is
	// asked again after each new entry.
	WaitTrace(ctx context.Context, cond func(DriverTrace) bool) error
	// Logs are the lines the driver printed or logged so far.
	Logs() []string
	// Errors are the code errors raised so far in callbacks and timers.
	Errors() []error
	// NewErrors joins the errors raised since the last call, nil if none.
	NewErrors() error
	// Close stops the driver and releases its clients.
	Close() error
}

// Kinds of trace entry.
const (
	TraceCall     = "call"
	TraceReturn   = "return"
	TraceCallback = "callback"
)

// TraceEntry is a call on a client object, what it returned, or a callback
// with its arguments.
type TraceEntry struct {
	TNs    int64  // since the runtime started
	Client string // the object's label: its client id, "id#2" for a second object
	Kind   string // TraceCall, TraceReturn, TraceCallback
	Name   string
	Args   []any
	Ret    []any
}

// Pending is a Publish, Subscribe or Unsubscribe that returned 0 and a
// message id and has had no callback with that id since.
type Pending struct {
	Client string
	Call   string
	MsgID  int
	TNs    int64
}

// Stray is a callback with a message id that no call returned, or that a
// callback had already answered.
type Stray struct {
	Client string
	Name   string
	MsgID  int
	TNs    int64
}

// DriverTrace is a driver's trace at one moment, with its calls matched to
// their callbacks by message id.
type DriverTrace struct {
	Entries []TraceEntry
	Pending []Pending
	Strays  []Stray
}
