package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// A real driver's Lua code, run by the Lua runtime against the scenario's
// broker: loading it, changing its properties, running its commands and
// Lua snippets, and checking the trace of its own C4:MQTT calls. Whatever
// controller the suite runs on, the driver runs in the Lua runtime.
func init() {
	def("drivers", "the driver {name} is running",
		"Loads a driver (driver.lua, its folder or a .c4z, under the fixtures folder) with its default properties and runs OnDriverInit and OnDriverLateInit.",
		`the driver "drivers/state-publisher" is running`, "", func(w *World, path string) error {
			return w.startDriver(path, nil)
		})
	def("drivers", "the driver {name} is running with the properties:",
		"As above, with property values set before OnDriverInit (a table of name and value); {{dut.host}} and {{dut.port}} stand for the broker's address.",
		`the driver "drivers/state-publisher" is running with the properties:`, "table", func(w *World, path string, t *godog.Table) error {
			props, err := pairsFromTable(t, "property")
			if err != nil {
				return err
			}
			return w.startDriver(path, props)
		})
	def("drivers", "the driver's property {name} changes to {text}",
		"Sets the property and runs OnPropertyChanged, as when it is changed in Composer.",
		`the driver's property "Temperature" changes to "21.5"`, "", func(w *World, name, value string) error {
			return w.withDriver(func(d *driverRun) error { return d.rt.SetProperty(name, value) })
		})
	def("drivers", "the driver runs the command {name}",
		"ExecuteCommand with no parameters.",
		`the driver runs the command "Publish State"`, "", func(w *World, name string) error {
			return w.withDriver(func(d *driverRun) error { return d.rt.ExecuteCommand(name, nil) })
		})
	def("drivers", "the driver runs the command {name} with:",
		"ExecuteCommand with parameters (a table of name and value).",
		`the driver runs the command "Set Temperature" with:`, "table", func(w *World, name string, t *godog.Table) error {
			params, err := pairsFromTable(t, "parameter")
			if err != nil {
				return err
			}
			return w.withDriver(func(d *driverRun) error { return d.rt.ExecuteCommand(name, params) })
		})
	def("drivers", "the driver runs the Lua code:",
		"Runs the doc string as Lua inside the driver's state, with the driver's globals.",
		`the driver runs the Lua code:`, "doc string", func(w *World, code string) error {
			return w.withDriver(func(d *driverRun) error {
				_, err := d.rt.Exec("Lua code in the feature", code)
				return err
			})
		})
	def("drivers", "the driver's Lua expression {text} gives {text}",
		"Evaluates a Lua expression in the driver's state now and compares its value, written as Lua's tostring writes it.",
		`the driver's Lua expression "PendingCount()" gives "0"`, "", func(w *World, expr, want string) error {
			return w.expectExpr(expr, want, 0)
		})
	def("drivers", "the driver's Lua expression {text} gives {text} within {duration}",
		"Waits until the expression has that value, checking again after every callback and timer of the driver.",
		`the driver's Lua expression "PendingCount()" gives "0" within 2 seconds`, "", func(w *World, expr, want string, d time.Duration) error {
			return w.expectExpr(expr, want, w.within(d))
		})
	def("drivers", "the driver's client {name} is connected",
		"Waits for the driver's client with this client id to get onConnect with success.",
		`the driver's client "room-sensor-1" is connected`, "", func(w *World, id string) error {
			return w.driverConnected(id)
		})
	def("drivers", "the driver's client {name} connects again",
		"Waits for the next successful onConnect of the driver's client with this client id (on any object the driver made with it).",
		`the driver's client "room-sensor-1" connects again`, "", func(w *World, id string) error {
			return w.driverConnected(id)
		})
	def("drivers", "the driver gets onPublish with reason {int}",
		"Waits for an onPublish with this reason code on any of the driver's clients.",
		`the driver gets onPublish with reason 16`, "", func(w *World, reason int) error {
			return w.withDriver(func(d *driverRun) error {
				ctx, cancel := w.waitCtx(0)
				defer cancel()
				err := d.rt.Trace().Wait(ctx, func(es []lua.Entry) bool {
					for _, e := range es {
						if e.Kind == lua.KindCallback && e.Name == "onPublish" && len(e.Args) > 1 && argInt(e.Args[1]) == reason {
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
		})
	def("drivers", "every Publish of the driver gets its onPublish within {duration}",
		"Waits until each Publish the driver made that returned 0 and a message id has had an onPublish with that id on the same object.",
		`every Publish of the driver gets its onPublish within 2 seconds`, "", func(w *World, d time.Duration) error {
			return w.withDriver(func(dr *driverRun) error { return dr.awaitAnswered(w.within(d)) })
		})
	def("drivers", "every Publish of the driver returned 0",
		"Checks the return code of every Publish the driver has made so far.",
		`every Publish of the driver returned 0`, "", func(w *World) error {
			return w.withDriver(func(d *driverRun) error {
				var bad []string
				for _, e := range d.rt.Trace().Entries() {
					if e.Kind == lua.KindReturn && e.Name == "Publish" && (len(e.Ret) == 0 || argInt(e.Ret[0]) != 0) {
						bad = append(bad, fmt.Sprintf("%s at %v returned %v", e.Client, time.Duration(e.TNs).Round(time.Microsecond), e.Ret))
					}
				}
				if len(bad) > 0 {
					return fmt.Errorf("%d Publish call(s) of the driver did not return 0:\n  %s", len(bad), strings.Join(bad, "\n  "))
				}
				return nil
			})
		})
	def("drivers", "the driver's Publish with id {int} on client {name} gets no onPublish within {duration}",
		"Waits the whole time and fails if that message gets its onPublish; the message is then exempt from the end-of-scenario check (a message the driver lost).",
		`the driver's Publish with id 1 on client "room-sensor-2" gets no onPublish within 1 second`, "", func(w *World, id int, client string, d time.Duration) error {
			return w.withDriver(func(dr *driverRun) error {
				if !dr.published(client, id) {
					return fmt.Errorf("the driver's client %q has no Publish that returned id %d\n%s", client, id, dr.describe())
				}
				ctx, cancel := context.WithTimeout(w.ctx, w.scaled(d))
				defer cancel()
				err := dr.rt.Trace().Wait(ctx, func(es []lua.Entry) bool {
					for _, o := range lua.Correlate(es).Outstanding {
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
		})
	def("drivers", "the driver has raised no Lua errors",
		"Checks that no callback or timer of the driver has raised a Lua error so far.",
		`the driver has raised no Lua errors`, "", func(w *World) error {
			return w.withDriver(func(d *driverRun) error {
				if errs := d.rt.Errors(); len(errs) > 0 {
					return fmt.Errorf("the driver raised %d Lua error(s): %w", len(errs), errors.Join(errs...))
				}
				return nil
			})
		})
}

// driverRun is a scenario's driver.
type driverRun struct {
	rt   *lua.Runtime
	path string

	mu       sync.Mutex
	connSeen map[string]int // successful onConnects claimed by steps, per client id
	lost     map[lostKey]bool
}

type lostKey struct {
	client string
	id     int
}

// drivers holds each scenario's driver, so that the World needs no field
// of its own for it.
var drivers sync.Map // *World → *driverRun

func (w *World) startDriver(path string, props map[string]string) error {
	if _, ok := drivers.Load(w); ok {
		return errors.New("a driver is already running in this scenario")
	}
	host, port, err := w.dutHostPort()
	if err != nil {
		return err
	}
	rt, err := lua.New(lua.Options{
		Sim:      sim.Options{KeepAliveUnit: w.scaled(time.Second)},
		Deadline: max(w.opts.Deadline/2, time.Second),
	})
	if err != nil {
		return err
	}
	d := &driverRun{rt: rt, path: w.fixture(path), connSeen: map[string]int{}, lost: map[lostKey]bool{}}
	drivers.Store(w, d)
	w.cleanup = append(w.cleanup, func() {
		rt.Close()
		drivers.Delete(w)
	})
	w.endChecks = append(w.endChecks, d.endCheck(w))
	if err := rt.Load(d.path); err != nil {
		return err
	}
	r := strings.NewReplacer("{{dut.host}}", host, "{{dut.port}}", strconv.Itoa(port))
	values := map[string]string{}
	for k, v := range props {
		values[k] = r.Replace(v)
	}
	if err := rt.SetProperties(values); err != nil {
		return err
	}
	if err := rt.Init(); err != nil {
		return err
	}
	return rt.NewErrors()
}

// withDriver runs a step against the scenario's driver; a Lua error raised
// meanwhile in a callback or timer fails the step too.
func (w *World) withDriver(fn func(d *driverRun) error) error {
	v, ok := drivers.Load(w)
	if !ok {
		return errors.New(`no driver is running in this scenario: start one first, with a step like the driver "drivers/state-publisher" is running`)
	}
	d := v.(*driverRun)
	err := fn(d)
	return errors.Join(err, d.rt.NewErrors())
}

func (w *World) expectExpr(expr, want string, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		code := "return tostring(" + expr + ")"
		var got string
		cond := func(*glua.LState) (bool, error) {
			out, err := d.rt.Run("the Lua expression "+expr, code)
			if err != nil {
				return false, err
			}
			if len(out) > 0 {
				got = fmt.Sprint(out[0])
			}
			return got == want, nil
		}
		if within <= 0 {
			var ok bool
			err := d.rt.Do(func(L *glua.LState) error {
				var err error
				ok, err = cond(L)
				return err
			})
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("the driver's Lua expression %s gives %q, expected %q\n%s", expr, got, want, d.describe())
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(w.ctx, within)
		defer cancel()
		if err := d.rt.Await(ctx, cond); err != nil {
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
		err := d.rt.Trace().Wait(ctx, func(es []lua.Entry) bool {
			c := 0
			for _, e := range es {
				if e.Kind == lua.KindCallback && e.Name == "onConnect" && sameClient(e.Client, id) && len(e.Args) > 0 && argInt(e.Args[0]) == 0 {
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
	for _, e := range d.rt.Trace().Entries() {
		if e.Kind == lua.KindReturn && e.Name == "Publish" && e.Client == client && len(e.Ret) > 1 && argInt(e.Ret[0]) == 0 && argInt(e.Ret[1]) == id {
			return true
		}
	}
	return false
}

// unanswered are the driver's Publish calls still without onPublish, less
// the ones a step said were lost.
func (d *driverRun) unanswered(es []lua.Entry) []lua.Outstanding {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []lua.Outstanding
	for _, o := range lua.Correlate(es).Outstanding {
		if o.Call == "Publish" && !d.lost[lostKey{o.Client, o.MsgID}] {
			out = append(out, o)
		}
	}
	return out
}

func (d *driverRun) awaitAnswered(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := d.rt.Trace().Wait(ctx, func(es []lua.Entry) bool { return len(d.unanswered(es)) == 0 })
	if err == nil {
		return nil
	}
	var b strings.Builder
	for _, o := range d.unanswered(d.rt.Trace().Entries()) {
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
		for _, u := range lua.Correlate(d.rt.Trace().Entries()).Unexpected {
			if u.Name == "onPublish" && d.published(u.Client, u.MsgID) {
				errs = append(errs, fmt.Errorf("%s: onPublish for id %d came more often than Publish returned it", u.Client, u.MsgID))
			}
		}
		return errors.Join(errs...)
	}
}

// describe is the driver's trace and log, for failure messages.
func (d *driverRun) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace of the driver %s:", d.path)
	es := d.rt.Trace().Entries()
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
