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
	// TimeScale is wall time per unit of the driver's own clock (its
	// timers, its idea of now): 0.1 makes a 30 s timer fire after 3 s.
	// 0 means 1.
	TimeScale float64
	// ProjectFile is the project the driver runs in (a YAML file): its
	// ids, the other devices and bindings, and the other drivers the
	// project runs beside it. "" is a project of the driver alone.
	ProjectFile string
	// PropertyVars stand in the property values of the project's other
	// drivers, as {{name}} (dut.host, dut.port).
	PropertyVars map[string]string
}

// ProjectDriver is a Driver whose project runs other drivers beside it.
type ProjectDriver interface {
	// Device is the driver of another device of the project; an error
	// says which devices run one.
	Device(id int) (Driver, error)
	// Devices are the ids of the devices that run the project's other
	// drivers.
	Devices() []int
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

	// ExecuteAction presses one of the driver's Actions-tab buttons:
	// ExecuteCommand("LUA_ACTION", {ACTION=command, ...params}).
	ExecuteAction(command string, params map[string]string) error
	// ReceivedFromProxy delivers a message from one of the driver's
	// proxies, on the proxy's binding id.
	ReceivedFromProxy(binding int, cmd string, params map[string]string) error
	// AwaitValue waits until the driver's property or variable has the
	// value want, looking again after each callback and timer of the
	// driver, or until ctx ends. A value the driver gave it at or after
	// since counts even if it has changed again: a brief state is not
	// missed by looking a moment late. It returns the last value it saw
	// ("" and ok false while the variable does not exist).
	AwaitValue(ctx context.Context, kind ValueKind, name, want string, since time.Time) (got string, ok bool, err error)
	// Events names the driver's events by id: those of its driver.xml and
	// those it added itself.
	Events() map[int]string
	// AnswerHTTP declares answers to the driver's HTTP requests; they
	// match after the ones declared before. AnswerHTTPFile reads them from
	// a fixture file.
	AnswerHTTP(answers ...HTTPAnswer) error
	AnswerHTTPFile(path string) error
	// HTTPRequests are the HTTP requests the driver sent so far.
	HTTPRequests() []HTTPRequest
	// Reload restarts the driver as a controller restart does: its
	// properties and persisted data are kept, its timers and clients go.
	Reload() error
	// Calls counts the driver's use of the controller's functions.
	Calls() []DriverCall

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
	// TraceC4 is a call of one of the controller's functions (C4:...);
	// Name is the function, Args what the driver passed.
	TraceC4 = "c4"
)

// TraceHTTP is the Client of the trace entries of the driver's HTTP
// requests: a TraceCall named by the function, Args method, URL, headers
// (and body).
const TraceHTTP = "http"

// ValueKind says which of the driver's values AwaitValue reads.
type ValueKind string

const (
	PropertyValue ValueKind = "property"
	VariableValue ValueKind = "variable"
)

// HTTPAnswer is one declared answer to the driver's HTTP requests: the
// requests it matches (an empty field matches anything; a trailing "*" in
// URL matches any rest) and what it answers.
type HTTPAnswer struct {
	Method  string
	URL     string
	Status  int // 0 means 200
	Headers map[string]string
	Body    string
	// Delay holds the answer back; Refuse fails the connection instead.
	Delay  time.Duration
	Refuse bool
	// Times limits how often the answer is given; 0 is always.
	Times int
}

// HTTPRequest is one HTTP request the driver sent, and what became of it.
type HTTPRequest struct {
	Method  string
	URL     string
	Body    string
	Outcome string
}

// Status of one of the controller's functions in a driver's Calls.
const (
	CallEmulated = "emulated" // does what the controller does, offline
	CallRecorded = "recorded" // accepted and traced, effect not modelled
	CallMissing  = "missing"  // looked up, and the runtime lacks it
)

// DriverCall counts one of the controller's functions in a driver's use.
type DriverCall struct {
	Name   string
	Count  int
	Status string
}

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
