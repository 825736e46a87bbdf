// Steps that run a real driver's code in a driver runtime against the
// scenario's broker, and check the trace of its own client calls.
package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
)

// A real driver's code, run by the driver runtime against the scenario's
// broker: loading it, changing its properties, running its commands and
// Lua snippets, and checking the trace of its own C4:MQTT calls. Whatever
// controller the suite runs on, the driver runs in the driver runtime
// (Options.DriverRuntime).
func init() {
	def("drivers", "the driver {name} is running",
		"Loads a driver (driver.lua, its folder or a .c4z, under the fixtures folder) with its default properties and runs OnDriverInit and OnDriverLateInit.",
		`the driver "drivers/state-publisher" is running`, "", (*World).driverIsRunning)
	def("drivers", "the driver {name} is running with the properties:",
		"As above, with property values set before OnDriverInit (a table of name and value); {{dut.host}} and {{dut.port}} stand for the broker's address.",
		`the driver "drivers/state-publisher" is running with the properties:`, "table", (*World).driverIsRunningWith)
	def("drivers", "the driver's property {name} changes to {text}",
		"Sets the property and runs OnPropertyChanged, as when it is changed in Composer.",
		`the driver's property "Temperature" changes to "21.5"`, "", (*World).driverPropertyChanges)
	def("drivers", "the driver runs the command {name}",
		"ExecuteCommand with no parameters.",
		`the driver runs the command "Publish State"`, "", (*World).driverRunsCommand)
	def("drivers", "the driver runs the command {name} with:",
		"ExecuteCommand with parameters (a table of name and value).",
		`the driver runs the command "Set Temperature" with:`, "table", (*World).driverRunsCommandWith)
	def("drivers", "the driver runs the Lua code:",
		"Runs the doc string as Lua inside the driver's state, with the driver's globals.",
		`the driver runs the Lua code:`, "doc string", (*World).driverRunsCode)
	def("drivers", "the driver's Lua expression {text} gives {text}",
		"Evaluates a Lua expression in the driver's state now and compares its value, written as Lua's tostring writes it.",
		`the driver's Lua expression "PendingCount()" gives "0"`, "", (*World).driverExpressionGives)
	def("drivers", "the driver's Lua expression {text} gives {text} within {duration}",
		"Waits until the expression has that value, checking again after every callback and timer of the driver.",
		`the driver's Lua expression "PendingCount()" gives "0" within 2 seconds`, "", (*World).driverExpressionGivesWithin)
	def("drivers", "the driver's client {name} is connected",
		"Waits for the driver's client with this client id to get onConnect with success.",
		`the driver's client "room-sensor-1" is connected`, "", (*World).driverConnected)
	def("drivers", "the driver's client {name} connects again",
		"Waits for the next successful onConnect of the driver's client with this client id (on any object the driver made with it).",
		`the driver's client "room-sensor-1" connects again`, "", (*World).driverConnected)
	def("drivers", "the driver gets onPublish with reason {int}",
		"Waits for an onPublish with this reason code on any of the driver's clients.",
		`the driver gets onPublish with reason 16`, "", (*World).driverGetsOnPublishReason)
	def("drivers", "every Publish of the driver gets its onPublish within {duration}",
		"Waits until each Publish the driver made that returned 0 and a message id has had an onPublish with that id on the same object.",
		`every Publish of the driver gets its onPublish within 2 seconds`, "", (*World).driverPublishesAnswered)
	def("drivers", "every Publish of the driver returned 0",
		"Checks the return code of every Publish the driver has made so far.",
		`every Publish of the driver returned 0`, "", (*World).driverPublishesReturned0)
	def("drivers", "the driver's Publish with id {int} on client {name} gets no onPublish within {duration}",
		"Waits the whole time and fails if that message gets its onPublish; the message is then exempt from the end-of-scenario check (a message the driver lost).",
		`the driver's Publish with id 1 on client "room-sensor-2" gets no onPublish within 1 second`, "", (*World).driverPublishLost)
	def("drivers", "the driver has raised no Lua errors",
		"Checks that no callback or timer of the driver has raised a Lua error so far.",
		`the driver has raised no Lua errors`, "", (*World).driverRaisedNoErrors)
}

func (w *World) driverIsRunning(path string) error { return w.startDriver(path, nil) }

func (w *World) driverIsRunningWith(path string, t *godog.Table) error {
	props, err := pairsFromTable(t, "property")
	if err != nil {
		return err
	}
	return w.startDriver(path, props)
}

func (w *World) driverPropertyChanges(name, value string) error {
	return w.withDriver(func(d *driverRun) error { return d.rt.SetProperty(name, value) })
}

func (w *World) driverRunsCommand(name string) error {
	return w.withDriver(func(d *driverRun) error { return d.rt.ExecuteCommand(name, nil) })
}

func (w *World) driverRunsCommandWith(name string, t *godog.Table) error {
	params, err := pairsFromTable(t, "parameter")
	if err != nil {
		return err
	}
	return w.withDriver(func(d *driverRun) error { return d.rt.ExecuteCommand(name, params) })
}

func (w *World) driverRunsCode(code string) error {
	return w.withDriver(func(d *driverRun) error { return d.rt.Exec("Lua code in the feature", code) })
}

func (w *World) driverExpressionGives(expr, want string) error {
	return w.expectExpr(expr, want, 0)
}

func (w *World) driverExpressionGivesWithin(expr, want string, d time.Duration) error {
	return w.expectExpr(expr, want, w.within(d))
}

func (w *World) driverGetsOnPublishReason(reason int) error {
	return w.withDriver(func(d *driverRun) error {
		ctx, cancel := w.waitCtx(0)
		defer cancel()
		err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool {
			for _, e := range t.Entries {
				if e.Kind == controller.TraceCallback && e.Name == "onPublish" && len(e.Args) > 1 && argInt(e.Args[1]) == reason {
					return true
				}
			}
			return false
		})
		if err != nil {
			return fmt.Errorf("no onPublish with reason %d came: %v\n%s", reason, err, d.describe())
		}
		return nil
	})
}

func (w *World) driverPublishesAnswered(d time.Duration) error {
	return w.withDriver(func(dr *driverRun) error { return dr.awaitAnswered(w.within(d)) })
}

func (w *World) driverPublishesReturned0() error {
	return w.withDriver(func(d *driverRun) error {
		var bad []string
		for _, e := range d.rt.Trace().Entries {
			if e.Kind == controller.TraceReturn && e.Name == "Publish" && (len(e.Ret) == 0 || argInt(e.Ret[0]) != 0) {
				bad = append(bad, fmt.Sprintf("%s at %v returned %v", e.Client, time.Duration(e.TNs).Round(time.Microsecond), e.Ret))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%d Publish call(s) of the driver did not return 0:\n  %s", len(bad), strings.Join(bad, "\n  "))
		}
		return nil
	})
}

func (w *World) driverPublishLost(id int, client string, d time.Duration) error {
	return w.withDriver(func(dr *driverRun) error {
		if !dr.published(client, id) {
			return fmt.Errorf("the driver's client %q has no Publish that returned id %d\n%s", client, id, dr.describe())
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.scaled(d))
		defer cancel()
		err := dr.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool {
			for _, o := range t.Pending {
				if o.Client == client && o.MsgID == id && o.Call == "Publish" {
					return false
				}
			}
			return true
		})
		if err == nil {
			return fmt.Errorf("the driver's Publish with id %d on %q did get its onPublish\n%s", id, client, dr.describe())
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		dr.mu.Lock()
		dr.lost[lostKey{client, id}] = true
		dr.mu.Unlock()
		return nil
	})
}

func (w *World) driverRaisedNoErrors() error {
	return w.withDriver(func(d *driverRun) error {
		if errs := d.rt.Errors(); len(errs) > 0 {
			return fmt.Errorf("the driver raised %d Lua error(s): %w", len(errs), errors.Join(errs...))
		}
		return nil
	})
}

// driverRun is a scenario's driver.
type driverRun struct {
	rt   controller.Driver
	path string

	mu       sync.Mutex
	connSeen map[string]int // successful onConnects claimed by steps, per client id
	lost     map[lostKey]bool
}

type lostKey struct {
	client string
	id     int
}

func (w *World) startDriver(path string, props map[string]string) error {
	if w.driver != nil {
		return errors.New("a driver is already running in this scenario")
	}
	if _, err := os.Stat(w.fixture(path)); err != nil {
		return fmt.Errorf("%w: the driver: %w", ErrHarness, err)
	}
	if w.bubble != nil {
		w.skip = "a driver runtime cannot run on virtual time: its HTTP stub and network functions use real sockets, and a goroutine waiting on a socket stops a synctest bubble's clock"
		return fmt.Errorf("%w: %s", godog.ErrSkip, w.skip)
	}
	host, port, err := w.dutHostPort()
	if err != nil {
		return err
	}
	rt, err := controller.NewDriver(w.opts.DriverRuntime, controller.DriverOptions{
		KeepAliveUnit: w.scaled(time.Second),
		Deadline:      max(w.opts.Deadline/2, time.Second),
		TimeScale:     w.driverScale(),
		ProjectFile:   w.driverProject,
		PropertyVars:  map[string]string{"dut.host": host, "dut.port": strconv.Itoa(port)},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHarness, err)
	}
	d := &driverRun{rt: rt, path: w.fixture(path), connSeen: map[string]int{}, lost: map[lostKey]bool{}}
	w.driver = d
	w.cleanup = append(w.cleanup, func() {
		// What the driver's OnDriverDestroyed raised is no concern of the
		// scenario, which has ended.
		_ = rt.Close()
		w.driver = nil
	})
	w.endChecks = append(w.endChecks, d.endCheck(w))
	for _, fn := range w.driverSetup {
		if err := fn(rt); err != nil {
			return err
		}
	}
	w.driverSetup = nil
	r := strings.NewReplacer("{{dut.host}}", host, "{{dut.port}}", strconv.Itoa(port))
	values := map[string]string{}
	for k, v := range props {
		values[k] = r.Replace(v)
	}
	return rt.Start(d.path, values)
}

// withDriver runs a step against the scenario's driver; a Lua error raised
// meanwhile in a callback or timer fails the step too.
func (w *World) withDriver(fn func(d *driverRun) error) error {
	d := w.driver
	if d == nil {
		return errors.New(`no driver is running in this scenario: start one first, with a step like the driver "drivers/state-publisher" is running`)
	}
	err := fn(d)
	return errors.Join(err, d.rt.NewErrors())
}

func (w *World) expectExpr(expr, want string, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		if within <= 0 {
			got, err := d.rt.Eval(expr)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("the driver's Lua expression %s gives %q, expected %q\n%s", expr, got, want, d.describe())
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(w.ctx, within)
		defer cancel()
		if got, err := d.rt.AwaitEval(ctx, expr, want); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("the driver's Lua expression %s still gives %q after %v, expected %q\n%s", expr, got, within, want, d.describe())
			}
			return err
		}
		return nil
	})
}

// driverConnected waits for the next successful onConnect of the client id
// that no earlier step claimed.
func (w *World) driverConnected(id string) error {
	return w.withDriver(func(d *driverRun) error {
		d.mu.Lock()
		n := d.connSeen[id] + 1
		d.mu.Unlock()
		ctx, cancel := w.waitCtx(0)
		defer cancel()
		err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool {
			c := 0
			for _, e := range t.Entries {
				if e.Kind == controller.TraceCallback && e.Name == "onConnect" && sameClient(e.Client, id) && len(e.Args) > 0 && argInt(e.Args[0]) == 0 {
					c++
				}
			}
			return c >= n
		})
		if err != nil {
			return fmt.Errorf("the driver's client %q got no successful onConnect (number %d): %v\n%s", id, n, err, d.describe())
		}
		d.mu.Lock()
		d.connSeen[id] = n
		d.mu.Unlock()
		return nil
	})
}

// sameClient tells whether a trace label belongs to a client id: the trace
// names a second object with the same id "id#2".
func sameClient(label, id string) bool {
	return label == id || strings.HasPrefix(label, id+"#")
}

func (d *driverRun) published(client string, id int) bool {
	for _, e := range d.rt.Trace().Entries {
		if e.Kind == controller.TraceReturn && e.Name == "Publish" && e.Client == client && len(e.Ret) > 1 && argInt(e.Ret[0]) == 0 && argInt(e.Ret[1]) == id {
			return true
		}
	}
	return false
}

// unanswered are the driver's Publish calls still without onPublish, less
// the ones a step said were lost.
func (d *driverRun) unanswered(t controller.DriverTrace) []controller.Pending {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []controller.Pending
	for _, o := range t.Pending {
		if o.Call == "Publish" && !d.lost[lostKey{o.Client, o.MsgID}] {
			out = append(out, o)
		}
	}
	return out
}

func (d *driverRun) awaitAnswered(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool { return len(d.unanswered(t)) == 0 })
	if err == nil {
		return nil
	}
	var b strings.Builder
	for _, o := range d.unanswered(d.rt.Trace()) {
		fmt.Fprintf(&b, "\n  %s: Publish id %d (at %v) has had no onPublish", o.Client, o.MsgID, time.Duration(o.TNs).Round(time.Microsecond))
	}
	return fmt.Errorf("after %v, not every Publish of the driver has had its onPublish:%s\n%s", within, b.String(), d.describe())
}

// endCheck is the driver's part of the end-of-scenario invariants: no Lua
// error went unreported, and every Publish that returned 0 got exactly one
// onPublish (unless a step said it was lost).
func (d *driverRun) endCheck(w *World) func() error {
	return func() error {
		var errs []error
		if err := d.rt.NewErrors(); err != nil {
			errs = append(errs, fmt.Errorf("the driver raised a Lua error: %w", err))
		}
		if err := d.awaitAnswered(w.opts.Deadline); err != nil {
			errs = append(errs, err)
		}
		for _, u := range d.rt.Trace().Strays {
			if u.Name == "onPublish" && d.published(u.Client, u.MsgID) {
				errs = append(errs, fmt.Errorf("%s: onPublish for id %d came more often than Publish returned it", u.Client, u.MsgID))
			}
		}
		return errors.Join(append(errs, d.projectEndCheck(w.opts.Deadline))...)
	}
}

// projectEndCheck holds the project's other drivers to the same promises:
// no Lua error unreported, every Publish that returned 0 answered.
func (d *driverRun) projectEndCheck(within time.Duration) error {
	pd, ok := d.rt.(controller.ProjectDriver)
	if !ok {
		return nil
	}
	var errs []error
	for _, id := range pd.Devices() {
		other, err := pd.Device(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := other.NewErrors(); err != nil {
			errs = append(errs, fmt.Errorf("device %d's driver raised a Lua error: %w", id, err))
		}
		pending := func(t controller.DriverTrace) []controller.Pending {
			var out []controller.Pending
			for _, p := range t.Pending {
				if p.Call == "Publish" {
					out = append(out, p)
				}
			}
			return out
		}
		ctx, cancel := context.WithTimeout(context.Background(), within)
		err = other.WaitTrace(ctx, func(t controller.DriverTrace) bool { return len(pending(t)) == 0 })
		cancel()
		if err != nil {
			for _, p := range pending(other.Trace()) {
				errs = append(errs, fmt.Errorf("device %d's driver: %s: Publish id %d has had no onPublish after %v", id, p.Client, p.MsgID, within))
			}
		}
	}
	return errors.Join(errs...)
}

// describe is the driver's trace and log, for failure messages.
func (d *driverRun) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace of the driver %s:", d.path)
	es := d.rt.Trace().Entries
	if len(es) > 60 {
		fmt.Fprintf(&b, "\n  ... %d earlier entries", len(es)-60)
		es = es[len(es)-60:]
	}
	for _, e := range es {
		fmt.Fprintf(&b, "\n  %8v %s %s %s", time.Duration(e.TNs).Round(time.Microsecond), e.Client, e.Kind, e.Name)
		if len(e.Args) > 0 {
			fmt.Fprintf(&b, " %v", e.Args)
		}
		if len(e.Ret) > 0 {
			fmt.Fprintf(&b, " → %v", e.Ret)
		}
	}
	if logs := d.rt.Logs(); len(logs) > 0 {
		b.WriteString("\ndriver log:")
		for _, l := range logs {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

func argInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1 << 31
}

// pairsFromTable reads a two-column table of names and values; a first row
// whose name cell is the header word is skipped.
func pairsFromTable(t *godog.Table, header string) (map[string]string, error) {
	if t == nil || len(t.Rows) == 0 {
		return nil, fmt.Errorf("the step needs a table of %s names and values below it", header)
	}
	out := map[string]string{}
	for i, row := range t.Rows {
		if len(row.Cells) != 2 {
			return nil, fmt.Errorf("row %d of the table has %d cells: expected a name and a value", i+1, len(row.Cells))
		}
		name := strings.TrimSpace(row.Cells[0].Value)
		if i == 0 && strings.EqualFold(name, header) {
			continue
		}
		out[name] = row.Cells[1].Value
	}
	return out, nil
}
