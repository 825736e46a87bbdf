// Package lua runs real Control4 driver code (Lua 5.1, on gopher-lua) in an
// offline DriverWorks environment: the controller's load order and entry
// points, timers on a scalable clock, properties, variables, events,
// persistence, bindings and a configurable project, with C4:MQTT objects
// backed by the simulated controller's clients (controller/sim).
//
// One goroutine owns each Lua state. Entry points, commands, network
// callbacks and timers are posted to it and run one at a time, so driver
// callbacks never run concurrently and always run after the call that caused
// them has returned, as on the controller.
//
// Every call on a C4:MQTT object, its return values and every callback with
// its arguments are recorded in the runtime's Trace.
package lua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// Options tune a runtime.
type Options struct {
	// Sim tunes the simulated clients behind C4:MQTT objects.
	Sim sim.Options
	// Deadline bounds one entry into Lua: an entry point, a command, a
	// callback, a timer or a snippet. A script that runs longer is stopped
	// with an error naming its file and line. 0 means 2 seconds.
	Deadline time.Duration
	// Log receives print, C4:DebugLog and C4:ErrorLog lines. nil discards.
	Log io.Writer
	// TraceSink, when set, receives trace entries as JSON lines as they
	// are recorded: the C4:MQTT calls, returns and callbacks, and with
	// TraceSinkAll every other entry too (C4 calls, entry points, logs,
	// errors).
	TraceSink    io.Writer
	TraceSinkAll bool
	// DeviceID is what C4:GetDeviceID returns when the project does not
	// say. 0 means 1001.
	DeviceID int
	// TimeScale is wall time per unit of driver time: 1 (the default) runs
	// the driver's clock in real time, 0.01 makes a 30 s timer fire after
	// 0.3 s. Timers, C4:GetTime, os.time, os.clock and friends all read it.
	TimeScale float64
	// Start is the driver clock's reading when the runtime starts; zero
	// means now.
	Start time.Time
	// LuaPath lists extra folders require may load modules from, besides
	// the driver's own folder. Nothing outside these is ever loaded.
	LuaPath []string
	// Project describes the world around the driver: its ids, room, other
	// devices, bindings. nil means ProjectFile, or defaults.
	Project *Project
	// ProjectFile is a YAML file holding a Project.
	ProjectFile string
	// DIT is the argument of OnDriverInit and OnDriverLateInit on Init.
	// "" means DIT_ADDING.
	DIT string
	// PropertyChangedOnLoad makes Init call OnPropertyChanged for every
	// property after OnDriverInit. The controller does not do this.
	PropertyChangedOnLoad bool
	// PlainSourceOfEncrypted loads a driver whose driver.xml asks for
	// encryption (<script encryption="2">) when its script is still plain
	// Lua: a source tree before packaging. By default such a driver is
	// refused like any encrypted one. Encrypted code is always refused.
	PlainSourceOfEncrypted bool
	// MaxMemory bounds the strings one native call may build (string.rep,
	// table.concat, ...), so a runaway allocation fails at once instead of
	// after the deadline. 0 means 64 MiB.
	MaxMemory int

	// HTTP answers the driver's C4:url and C4:urlGet... requests to the
	// hosts it declares (c4_http.go). nil answers none.
	HTTP *HTTPStub
	// AllowNetwork lets requests to hosts HTTP does not declare go out to
	// the real network; otherwise they fail as an unknown host would.
	AllowNetwork bool
	// FilesDir is the driver's SANDBOX folder for C4:File*; "" makes a
	// temporary one, removed on Close.
	FilesDir string
	// PropertyVars stand in the property values of the project's other
	// drivers: {{name}} is replaced by the value of name (the harness
	// gives dut.host and dut.port, the broker's address).
	PropertyVars map[string]string
}

func (o Options) withDefaults() Options {
	if o.Deadline <= 0 {
		o.Deadline = 2 * time.Second
	}
	if o.DeviceID == 0 {
		o.DeviceID = 1001
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	if o.DIT == "" {
		o.DIT = "DIT_ADDING"
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = 64 << 20
	}
	return o
}

// ErrClosed is returned by calls on a runtime that has been closed.
var ErrClosed = errors.New("lua: runtime closed")

// Runtime is one Lua state with the C4 shim, owned by one goroutine.
type Runtime struct {
	opts  Options
	start time.Time
	trace *Trace
	sim   *sim.Controller
	clock *clock
	calls callBook
	proj  *Project
	// results are Do's reply channels, reused. Per runtime, not global:
	// inside a synctest bubble a channel belongs to the bubble that made
	// it, and a runtime lives in one bubble.
	results sync.Pool

	// Owned by the loop goroutine.
	L        *glua.LState
	wd       *watchdog
	driver   *driverFiles // nil until a driver is loaded
	objs     []*mqttObj
	labels   map[string]int
	timers   map[*timer]struct{}
	dispatch *controller.Event // the sim event being delivered, while a callback runs

	phase         string // lifecycle phase, see PhaseChunk...
	lastMissing   string // the last C4 function looked up and not found
	lastMissingAt string // where the driver looked it up ("file:line:")
	env           *driverEnv
	store         *persistStore // kept across reloads

	mu     sync.Mutex
	q      []task
	wake   chan struct{}
	ran    chan struct{} // made by Await, closed after the next task that is not an Await check
	closed bool
	quit   chan struct{} // closed when Close starts
	done   chan struct{} // closed when the loop has ended

	pumps sync.WaitGroup

	logMu sync.Mutex
	logs  []string

	errMu    sync.Mutex
	errs     []error // errors in callbacks and timers, in order
	errsSeen int

	propMu  sync.Mutex
	updated map[string]string // C4:UpdateProperty values
	history []valueChange     // values.go

	// io is the state of the networking, file and crypto areas (c4_io.go).
	io *ioState

	// peers are the runtimes of the project's drivers, this one's among
	// them (peers.go); owned those this runtime started and closes.
	// Set once, when the first peer starts, while this driver's loop may
	// already be running its code: hence atomic.
	peers atomic.Pointer[peerSet]
	owned []*Runtime // under peers.mu
}

// New starts a runtime with the C4 shim and no driver loaded.
func New(opts Options) (*Runtime, error) {
	opts = opts.withDefaults()
	proj, err := loadProject(opts)
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		opts:    opts,
		proj:    proj,
		clock:   newClock(opts.TimeScale, opts.Start),
		calls:   callBook{stats: map[string]*CallStat{}},
		store:   newPersistStore(),
		start:   time.Now(),
		sim:     sim.New(opts.Sim),
		labels:  map[string]int{},
		timers:  map[*timer]struct{}{},
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		updated: map[string]string{},
	}
	r.trace = newTrace(r.start, opts.TraceSink)
	r.trace.sinkAll = opts.TraceSinkAll
	r.trace.driver = r.clock.Since
	r.wd = newWatchdog(opts.Deadline)
	r.wd.watchMemory(uint64(opts.MaxMemory) * 4)
	r.resetDriverState()
	if err := r.newState(); err != nil {
		r.sim.Close()
		return nil, err
	}
	go r.loop()
	return r, nil
}

// newState makes a fresh Lua state with the sandboxed libraries, the C4
// table and the driver globals, and makes it the runtime's.
func (r *Runtime) newState() error {
	L := glua.NewState(glua.Options{SkipOpenLibs: true, CallStackSize: 256, RegistrySize: 1024 * 4, RegistryMaxSize: 1024 * 256})
	L.SetContext(r.wd)
	r.L = L
	if err := r.setup(); err != nil {
		L.Close()
		return err
	}
	return nil
}

// Trace is the record of the driver's MQTT calls, returns and callbacks.
func (r *Runtime) Trace() *Trace { return r.trace }

// Logs returns the lines printed or logged by the driver so far.
func (r *Runtime) Logs() []string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return append([]string(nil), r.logs...)
}

func (r *Runtime) logLine(s string) {
	r.logMu.Lock()
	r.logs = append(r.logs, s)
	r.logMu.Unlock()
	fmt.Fprintln(r.opts.Log, s)
}

// post queues fn for the loop goroutine. It never blocks; it reports
// false once the runtime is closing.
func (r *Runtime) post(fn func()) bool { return r.postTask(task{fn: fn}) }

// task is one piece of work for the loop; quiet tasks (Await's checks) do
// not count as activity.
type task struct {
	fn    func()
	quiet bool
}

func (r *Runtime) postTask(t task) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.q = append(r.q, t)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

func (r *Runtime) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		q := r.q
		r.q = nil
		r.mu.Unlock()
		for i, t := range q {
			q[i] = task{}
			select {
			case <-r.quit:
				return
			default:
			}
			t.fn()
			if !t.quiet {
				r.mu.Lock()
				if r.ran != nil {
					close(r.ran)
					r.ran = nil
				}
				r.mu.Unlock()
			}
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-r.wake:
		case <-r.quit:
			return
		}
	}
}

// Do runs fn on the goroutine that owns the Lua state and returns its
// error. fn may use the state freely; it must not call Do.
func (r *Runtime) Do(fn func(L *glua.LState) error) error {
	ch, _ := r.results.Get().(chan error)
	if ch == nil {
		ch = make(chan error, 1)
	}
	if !r.post(func() { ch <- fn(r.L) }) {
		r.results.Put(ch)
		return ErrClosed
	}
	select {
	case err := <-ch:
		r.results.Put(ch)
		return err
	case <-r.done:
		select {
		case err := <-ch:
			r.results.Put(ch)
			return err
		default:
		}
		// The task may still be queued: the channel is not reused.
		return ErrClosed
	}
}

// Close calls OnDriverDestroyed("DIT_LOADED") (if the driver defines it), destroys every
// C4:MQTT object, cancels every timer and ends the loop. It returns the
// error of OnDriverDestroyed, if any.
func (r *Runtime) Close() error {
	// The project's other drivers go first: a message one sends while it
	// is destroyed must not reach this driver after its own teardown.
	perr := r.closePeers()
	var err error
	derr := r.Do(func(L *glua.LState) error {
		if r.driver != nil {
			r.phase = PhaseDestroy
			err = r.callEntry("OnDriverDestroyed", glua.LString("DIT_LOADED"))
		}
		r.teardown()
		return nil
	})
	if derr != nil && !errors.Is(derr, ErrClosed) {
		err = derr
	}
	err = errors.Join(err, perr)
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.q = nil
	r.mu.Unlock()
	if already {
		return err
	}
	close(r.quit)
	<-r.done
	r.pumps.Wait()
	r.closeIO()
	r.sim.Close()
	r.wd.close()
	r.L.Close()
	r.driver.cleanup()
	return err
}

// addAsyncError records an error raised where no Go caller waits for it:
// in a callback or a timer.
func (r *Runtime) addAsyncError(err error) {
	r.errMu.Lock()
	r.errs = append(r.errs, err)
	r.errMu.Unlock()
	r.logLine("ERROR: " + err.Error())
}

// Errors returns every error raised in a callback or a timer so far.
func (r *Runtime) Errors() []error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return append([]error(nil), r.errs...)
}

// NewErrors returns the callback and timer errors not returned by an
// earlier NewErrors, joined; nil when there are none.
func (r *Runtime) NewErrors() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	errs := r.errs[r.errsSeen:]
	r.errsSeen = len(r.errs)
	return errors.Join(errs...)
}

// Await evaluates cond on the loop goroutine now and again after each
// callback, timer or call that runs, until it holds, fails, or ctx ends.
func (r *Runtime) Await(ctx context.Context, cond func(L *glua.LState) (bool, error)) error {
	for {
		r.mu.Lock()
		if r.ran == nil {
			r.ran = make(chan struct{})
		}
		ran := r.ran
		r.mu.Unlock()
		type result struct {
			ok  bool
			err error
		}
		ch := make(chan result, 1)
		if !r.postTask(task{fn: func() { ok, err := cond(r.L); ch <- result{ok, err} }, quiet: true}) {
			return ErrClosed
		}
		select {
		case res := <-ch:
			if res.err != nil || res.ok {
				return res.err
			}
		case <-r.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-ran:
		case <-r.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Idle waits until every task queued so far (callbacks and timers posted
// before the call) has run, or ctx ends.
func (r *Runtime) Idle(ctx context.Context) error {
	ch := make(chan struct{})
	if !r.post(func() { close(ch) }) {
		return ErrClosed
	}
	select {
	case <-ch:
		return nil
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watchdog is the Lua state's context: its Done channel closes when one
// entry into Lua has run past the deadline. gopher-lua checks it between
// instructions and raises an error at the running line.
type watchdog struct {
	d     time.Duration
	timer *time.Timer

	mu    sync.Mutex
	ch    chan struct{} // written on the owner goroutine only, under mu
	fired bool
	armed uint64 // generation of the current entry; 0 when disarmed
	gen   uint64
	fns   map[int]func()
	next  int
	err   error

	heapAtArm uint64 // live heap when the entry started
	memQuit   chan struct{}
	memDone   chan struct{}
}

var _ context.Context = (*watchdog)(nil)

func newWatchdog(d time.Duration) *watchdog {
	w := &watchdog{d: d, ch: make(chan struct{}), fns: map[int]func(){}}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return w
}

// arm starts an entry's deadline; disarm ends it.
func (w *watchdog) arm() {
	w.mu.Lock()
	if w.fired {
		w.ch = make(chan struct{})
		w.fired = false
		w.err = nil
	}
	w.gen++
	w.armed = w.gen
	if w.memQuit != nil {
		w.heapAtArm = heapBytes()
	}
	w.mu.Unlock()
	w.timer.Reset(w.d)
}

func (w *watchdog) disarm() {
	w.timer.Stop()
	w.mu.Lock()
	w.armed = 0
	w.mu.Unlock()
}

func (w *watchdog) fire() {
	w.stop(fmt.Errorf("stopped: the driver ran for more than %v without returning (runaway script?)", w.d))
}

// stop ends the running entry with err; gopher-lua raises it at the
// driver's next instruction.
func (w *watchdog) stop(err error) {
	w.mu.Lock()
	if w.armed == 0 || w.fired {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.err = err
	close(w.ch)
	fns := w.fns
	w.fns = map[int]func(){}
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func (w *watchdog) close() {
	w.timer.Stop()
	if w.memQuit != nil {
		close(w.memQuit)
		<-w.memDone
	}
}

func (w *watchdog) Deadline() (time.Time, bool) { return time.Time{}, false }
func (w *watchdog) Done() <-chan struct{}       { return w.ch }
func (w *watchdog) Value(any) any               { return nil }
func (w *watchdog) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// AfterFunc lets contexts derived from the watchdog (gopher-lua gives each
// coroutine one) follow it without a goroutine of their own.
func (w *watchdog) AfterFunc(f func()) func() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.next
	w.next++
	w.fns[id] = f
	return func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, ok := w.fns[id]
		delete(w.fns, id)
		return ok
	}
}
