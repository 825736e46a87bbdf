// Steps that play the driver's surroundings on a controller: Composer's
// actions, the driver's proxies, the web it asks, the clock it runs on and
// the restart it survives, and checks of what it shows and sends back (its
// properties, variables, events, proxy and device messages, HTTP requests).
package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/controller"
)

func init() {
	def("drivers", "the driver's clock runs {int} times faster",
		"Before the driver starts: its timers and its idea of the time run this many times faster than the run's clock, so a 30 second reconnect timer fires after 3 seconds at 10.",
		`the driver's clock runs 10 times faster`, "", (*World).driverClockFaster)
	def("drivers", "the driver runs in the project {name}",
		"Before the driver starts: the project around it, a YAML file under the fixtures folder (the driver's ids and room, the other devices, rooms and bindings). A device with a driver: runs that driver too (its path relative to the project file, its properties: set before its init), after the driver starts; C4:SendToDevice reaches another driver's ExecuteCommand and C4:SendToProxy the ReceivedFromProxy at the other end of each of the binding's connections.",
		`the driver runs in the project "projects/hub.yaml"`, "", (*World).driverInProject)
	def("drivers", "device {int}'s Lua expression {text} gives {text} within {duration}",
		"Waits until an expression in the state of the driver that another device of the project runs has this value, checking again after every callback and timer of that driver.",
		`device 1002's Lua expression "Properties['Last Message']" gives "on" within 2 seconds`, "", (*World).deviceExpressionGivesWithin)
	def("drivers", "device {int}'s property {name} is {text} within {duration}",
		"As the driver's property step, for the driver that another device of the project runs: a value taken since the last When step began counts.",
		`device 1002's property "Last Message" is "on" within 2 seconds`, "", (*World).devicePropertyIs)
	def("drivers", "device {int} runs the command {name} with:",
		"Runs a command of the driver that another device of the project runs (its ExecuteCommand), with parameters (a table of name and value).",
		`device 1002 runs the command "Set" with:`, "table", (*World).deviceRunsCommandWith)
	def("drivers", "the driver's HTTP requests are answered with:",
		"Declares answers to the driver's C4:url and C4:urlGet... requests: a table with the columns url and any of method, status, body, times (how often the answer is given, then later answers match). A url ending in * matches any rest; the first answer that matches and is not used up answers. Requests to hosts no answer names fail as an unknown host.",
		`the driver's HTTP requests are answered with:`, "table", (*World).driverHTTPAnswers)
	def("drivers", "the driver's HTTP requests are answered from {name}",
		"Declares the answers of a fixture file (YAML or JSON, under the fixtures folder) to the driver's HTTP requests.",
		`the driver's HTTP requests are answered from "http/weather.yaml"`, "", (*World).driverHTTPAnswersFrom)
	def("drivers", "the driver's action {name} is pressed",
		"Presses an Actions-tab button of the driver, by its name or its command: ExecuteCommand(\"LUA_ACTION\", {ACTION=command}).",
		`the driver's action "Reconnect Now" is pressed`, "", (*World).driverActionPressed)
	def("drivers", "the driver gets {name} from its proxy on binding {int}",
		"Delivers a proxy's message to the driver: ReceivedFromProxy(binding, command, {}).",
		`the driver gets "SET_MODE_HVAC" from its proxy on binding 5001`, "", (*World).driverGetsFromProxy)
	def("drivers", "the driver gets {name} from its proxy on binding {int} with:",
		"As above, with parameters (a table of name and value).",
		`the driver gets "SET_SETPOINT_HEAT" from its proxy on binding 5001 with:`, "table", (*World).driverGetsFromProxyWith)
	def("drivers", "the driver restarts",
		"Restarts the driver as a controller reboot does: OnDriverDestroyed, a fresh Lua state with the property values and persisted data kept, OnDriverInit and OnDriverLateInit with DIT_STARTUP.",
		`the driver restarts`, "", (*World).driverRestarts)
	def("drivers", "the driver's property {name} is {text} within {duration}",
		"Waits until the property has this value (set by the driver with C4:UpdateProperty, or by a step), checking again after every callback and timer of the driver. A value taken since the last When step began (before any When, since the previous step began) counts even if it has changed again, so a brief state is not missed.",
		`the driver's property "Connection" is "online" within 2 seconds`, "", (*World).driverPropertyIs)
	def("drivers", "the driver's variable {name} is {text} within {duration}",
		"Waits until the driver's own variable (C4:AddVariable) has this value; a value taken since the last When step began counts, as for properties.",
		`the driver's variable "CONNECTED" is "1" within 2 seconds`, "", (*World).driverVariableIs)
	def("drivers", "the driver fires the event {name} within {duration}",
		"Waits for C4:FireEvent or C4:FireEventByID of the event with this name (from driver.xml or added by the driver).",
		`the driver fires the event "Broker Online" within 2 seconds`, "", (*World).driverFiresEvent)
	def("drivers", "the driver sends {name} to its proxy on binding {int} within {duration}",
		"Waits for C4:SendToProxy(binding, command, ...).",
		`the driver sends "HEAT_SETPOINT_CHANGED" to its proxy on binding 5001 within 1 second`, "", (*World).driverSendsToProxy)
	def("drivers", "the driver sends {name} to its proxy on binding {int} within {duration} with:",
		"As above, and the message's parameters include these (a table of name and value).",
		`the driver sends "HEAT_SETPOINT_CHANGED" to its proxy on binding 5001 within 1 second with:`, "table", (*World).driverSendsToProxyWith)
	def("drivers", "the driver sends {name} to device {int} within {duration}",
		"Waits for C4:SendToDevice(device, command, ...).",
		`the driver sends "Publish State" to device 1001 within 1 second`, "", (*World).driverSendsToDevice)
	def("drivers", "the driver sends the HTTP request {text} within {duration}",
		"Waits for an HTTP request of the driver, written as method and URL (a URL ending in * matches any rest).",
		`the driver sends the HTTP request "GET http://weather.example/now" within 2 seconds`, "", (*World).driverSendsHTTP)
	def("drivers", "the driver publishes to {text} within {duration}",
		"Waits for a Publish of the driver on a topic matching this filter (+ and # are wildcards).",
		`the driver publishes to "home/zones/+/state" within 2 seconds`, "", (*World).driverPublishesTo)
}

func (w *World) driverInProject(file string) error {
	if w.driver != nil {
		return errors.New("the driver is already running: its project is set before it starts")
	}
	path := w.fixture(file)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: the project: %w", ErrHarness, err)
	}
	w.driverProject = path
	return nil
}

// projectDevice is the driver another device of the driver's project runs.
func projectDevice(dr *driverRun, dev int) (controller.Driver, error) {
	pd, ok := dr.rt.(controller.ProjectDriver)
	if !ok {
		return nil, fmt.Errorf("%w: the driver runtime runs no other drivers of a project", ErrHarness)
	}
	other, err := pd.Device(dev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHarness, err)
	}
	return other, nil
}

func (w *World) devicePropertyIs(dev int, name, want string, within time.Duration) error {
	return w.withDriver(func(dr *driverRun) error {
		other, err := projectDevice(dr, dev)
		if err != nil {
			return err
		}
		describe := func() string { return "its log:\n" + lastLines(other.Logs(), 20) }
		return w.awaitValueOf(other, fmt.Sprintf("device %d's", dev), describe, controller.PropertyValue, name, want, within)
	})
}

func (w *World) deviceRunsCommandWith(dev int, name string, t *godog.Table) error {
	params, err := pairsFromTable(t, "parameter")
	if err != nil {
		return err
	}
	return w.withDriver(func(dr *driverRun) error {
		other, err := projectDevice(dr, dev)
		if err != nil {
			return err
		}
		if err := other.ExecuteCommand(name, params); err != nil {
			return fmt.Errorf("device %d: %w", dev, err)
		}
		return nil
	})
}

func (w *World) deviceExpressionGivesWithin(dev int, expr, want string, d time.Duration) error {
	return w.withDriver(func(dr *driverRun) error {
		other, err := projectDevice(dr, dev)
		if err != nil {
			return err
		}
		within := w.within(d)
		ctx, cancel := context.WithTimeout(w.ctx, within)
		defer cancel()
		if got, err := other.AwaitEval(ctx, expr, want); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("device %d's Lua expression %s still gives %q after %v, expected %q\nits log:\n%s", dev, expr, got, within, want, lastLines(other.Logs(), 20))
			}
			return fmt.Errorf("device %d: %w", dev, err)
		}
		return nil
	})
}

// lastLines are the last n of lines, one per line.
func lastLines(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (w *World) driverClockFaster(n int) error {
	if n <= 0 {
		return fmt.Errorf("the driver's clock cannot run %d times faster: expected 1 or more", n)
	}
	if w.driver != nil {
		return errors.New("the driver is already running: its clock is set before it starts")
	}
	w.driverSpeed = float64(n)
	return nil
}

// driverScale is wall time per unit of the driver's clock: the run's
// scale, sped up by the scenario.
func (w *World) driverScale() float64 {
	if w.driverSpeed > 0 {
		return w.scale / w.driverSpeed
	}
	return w.scale
}

// beforeDriver runs fn on the driver now, or when it starts.
func (w *World) beforeDriver(fn func(controller.Driver) error) error {
	if w.driver == nil {
		w.driverSetup = append(w.driverSetup, fn)
		return nil
	}
	return w.withDriver(func(d *driverRun) error { return fn(d.rt) })
}

func (w *World) driverHTTPAnswers(t *godog.Table) error {
	answers, err := httpAnswersFromTable(t)
	if err != nil {
		return err
	}
	return w.beforeDriver(func(d controller.Driver) error { return d.AnswerHTTP(answers...) })
}

func (w *World) driverHTTPAnswersFrom(name string) error {
	file := w.fixture(name)
	return w.beforeDriver(func(d controller.Driver) error { return d.AnswerHTTPFile(file) })
}

// httpAnswersFromTable reads a table with a header row naming its columns:
// method, url, status, body, times (url required).
func httpAnswersFromTable(t *godog.Table) ([]controller.HTTPAnswer, error) {
	if t == nil || len(t.Rows) < 2 {
		return nil, errors.New("the step needs a table below it: a header row (method, url, status, body, times) and one row per answer")
	}
	cols := map[string]int{}
	for i, c := range t.Rows[0].Cells {
		name := strings.ToLower(strings.TrimSpace(c.Value))
		if !slices.Contains([]string{"method", "url", "status", "body", "times"}, name) {
			return nil, fmt.Errorf("the table's column %q is not one of method, url, status, body, times", c.Value)
		}
		cols[name] = i
	}
	if _, ok := cols["url"]; !ok {
		return nil, errors.New("the table has no url column")
	}
	cell := func(row *messages.PickleTableRow, col string) string {
		if i, ok := cols[col]; ok && i < len(row.Cells) {
			return row.Cells[i].Value
		}
		return ""
	}
	var out []controller.HTTPAnswer
	for n, row := range t.Rows[1:] {
		a := controller.HTTPAnswer{Method: strings.TrimSpace(cell(row, "method")), URL: strings.TrimSpace(cell(row, "url")), Body: cell(row, "body")}
		if s := strings.TrimSpace(cell(row, "status")); s != "" {
			code, err := strconv.Atoi(s)
			if err != nil || code < 100 || code > 599 {
				return nil, fmt.Errorf("row %d of the table: status %q is not an HTTP status", n+2, s)
			}
			a.Status = code
		}
		if s := strings.TrimSpace(cell(row, "times")); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("row %d of the table: times %q is not a count of 1 or more", n+2, s)
			}
			a.Times = n
		}
		if a.URL == "" {
			return nil, fmt.Errorf("row %d of the table has no url", n+2)
		}
		out = append(out, a)
	}
	return out, nil
}

func (w *World) driverActionPressed(name string) error {
	return w.withDriver(func(d *driverRun) error { return d.rt.ExecuteAction(name, nil) })
}

func (w *World) driverGetsFromProxy(cmd string, binding int) error {
	return w.withDriver(func(d *driverRun) error { return d.rt.ReceivedFromProxy(binding, cmd, map[string]string{}) })
}

func (w *World) driverGetsFromProxyWith(cmd string, binding int, t *godog.Table) error {
	params, err := pairsFromTable(t, "parameter")
	if err != nil {
		return err
	}
	return w.withDriver(func(d *driverRun) error { return d.rt.ReceivedFromProxy(binding, cmd, params) })
}

func (w *World) driverRestarts() error {
	return w.withDriver(func(d *driverRun) error {
		// The old state's clients are destroyed with it: what they had in
		// flight can no longer be answered, and is no broken promise.
		d.mu.Lock()
		for _, o := range d.rt.Trace().Pending {
			d.lost[lostKey{o.Client, o.MsgID}] = true
		}
		d.mu.Unlock()
		return d.rt.Reload()
	})
}

func (w *World) driverPropertyIs(name, want string, within time.Duration) error {
	return w.awaitDriverValue(controller.PropertyValue, name, want, within)
}

func (w *World) driverVariableIs(name, want string, within time.Duration) error {
	return w.awaitDriverValue(controller.VariableValue, name, want, within)
}

func (w *World) awaitDriverValue(kind controller.ValueKind, name, want string, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		return w.awaitValueOf(d.rt, "the driver's", d.describe, kind, name, want, within)
	})
}

// awaitValueOf waits for a value of drv (the driver, or another driver of
// its project): who names it in messages, describe adds what a failure
// shows of it.
func (w *World) awaitValueOf(drv controller.Driver, who string, describe func() string, kind controller.ValueKind, name, want string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.within(within))
	defer cancel()
	got, ok, err := drv.AwaitValue(ctx, kind, name, want, w.valuesSince())
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s %q: %w", who, kind, name, err)
	}
	was := fmt.Sprintf("is %q", got)
	if !ok {
		was = "does not exist"
	}
	return fmt.Errorf("%s %s %q %s after %v, expected %q\n%s", who, kind, name, was, w.within(within), want, describe())
}

func (w *World) driverFiresEvent(name string, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		// The names are looked up again when an id is new to them: the
		// driver adds events of its own as it runs.
		events := d.rt.Events()
		fired := func(e controller.TraceEntry) bool {
			if e.Kind != controller.TraceC4 || len(e.Args) == 0 {
				return false
			}
			switch e.Name {
			case "FireEvent":
				return fmt.Sprint(e.Args[0]) == name
			case "FireEventByID":
				id := argInt(e.Args[0])
				if _, ok := events[id]; !ok {
					events = d.rt.Events()
				}
				return events[id] == name
			}
			return false
		}
		return w.awaitDriverC4(d, within, fmt.Sprintf("fired the event %q", name), []string{"FireEvent", "FireEventByID"}, fired)
	})
}

func (w *World) driverSendsToProxy(cmd string, binding int, within time.Duration) error {
	return w.sendsToProxy(cmd, binding, within, nil)
}

func (w *World) driverSendsToProxyWith(cmd string, binding int, within time.Duration, t *godog.Table) error {
	params, err := pairsFromTable(t, "parameter")
	if err != nil {
		return err
	}
	return w.sendsToProxy(cmd, binding, within, params)
}

func (w *World) sendsToProxy(cmd string, binding int, within time.Duration, params map[string]string) error {
	return w.withDriver(func(d *driverRun) error {
		match := func(e controller.TraceEntry) bool {
			return e.Kind == controller.TraceC4 && e.Name == "SendToProxy" && len(e.Args) > 1 &&
				argInt(e.Args[0]) == binding && fmt.Sprint(e.Args[1]) == cmd && hasParams(e.Args, 2, params)
		}
		what := fmt.Sprintf("sent %q to its proxy on binding %d", cmd, binding)
		if len(params) > 0 {
			what += fmt.Sprintf(" with %v", params)
		}
		return w.awaitDriverC4(d, within, what, []string{"SendToProxy"}, match)
	})
}

func (w *World) driverSendsToDevice(cmd string, device int, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		match := func(e controller.TraceEntry) bool {
			return e.Kind == controller.TraceC4 && e.Name == "SendToDevice" && len(e.Args) > 1 &&
				argInt(e.Args[0]) == device && fmt.Sprint(e.Args[1]) == cmd
		}
		return w.awaitDriverC4(d, within, fmt.Sprintf("sent %q to device %d", cmd, device), []string{"SendToDevice"}, match)
	})
}

func (w *World) driverSendsHTTP(request string, within time.Duration) error {
	method, url, ok := strings.Cut(strings.TrimSpace(request), " ")
	if !ok || strings.TrimSpace(url) == "" {
		return fmt.Errorf("the HTTP request %q: expected a method and a URL, like \"GET http://weather.example/now\"", request)
	}
	url = strings.TrimSpace(url)
	return w.withDriver(func(d *driverRun) error {
		match := func(e controller.TraceEntry) bool {
			return e.Client == controller.TraceHTTP && e.Kind == controller.TraceCall && len(e.Args) > 1 &&
				strings.EqualFold(fmt.Sprint(e.Args[0]), method) && urlMatches(url, fmt.Sprint(e.Args[1]))
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.within(within))
		defer cancel()
		if err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool { return slices.ContainsFunc(t.Entries, match) }); err != nil {
			var b strings.Builder
			for _, r := range d.rt.HTTPRequests() {
				fmt.Fprintf(&b, "\n  %s %s (%s)", r.Method, r.URL, r.Outcome)
			}
			if b.Len() == 0 {
				b.WriteString(" none")
			}
			return fmt.Errorf("the driver sent no HTTP request %s %s within %v: %v; the requests it sent:%s\n%s", method, url, w.within(within), err, b.String(), d.describe())
		}
		return nil
	})
}

// urlMatches is the HTTP answers' rule: the whole URL, or a prefix when
// the pattern ends in "*".
func urlMatches(pattern, url string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(url, p)
	}
	return pattern == url
}

func (w *World) driverPublishesTo(filter string, within time.Duration) error {
	return w.withDriver(func(d *driverRun) error {
		match := func(e controller.TraceEntry) bool {
			return e.Kind == controller.TraceCall && e.Name == "Publish" && len(e.Args) > 0 && filterMatches(filter, fmt.Sprint(e.Args[0]))
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.within(within))
		defer cancel()
		if err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool { return slices.ContainsFunc(t.Entries, match) }); err != nil {
			return fmt.Errorf("the driver made no Publish to %q within %v: %v\n%s", filter, w.within(within), err, d.describe())
		}
		return nil
	})
}

// filterMatches tells whether an MQTT topic filter matches a topic.
func filterMatches(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(t) || (level != "+" && level != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// hasParams tells whether the table argument at args[i] holds every one
// of want, compared as text.
func hasParams(args []any, i int, want map[string]string) bool {
	if len(want) == 0 {
		return true
	}
	if i >= len(args) {
		return false
	}
	got, ok := args[i].(map[string]any)
	if !ok {
		return false
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || luaText(g) != v {
			return false
		}
	}
	return true
}

// luaText writes a traced value as Lua's tostring would, for comparison
// with text in a feature: whole numbers without a decimal point.
func luaText(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return fmt.Sprint(v)
}

// awaitDriverC4 waits for a call of one of the controller's functions that
// match accepts; failing, it lists the calls of the functions named that
// the driver did make.
func (w *World) awaitDriverC4(d *driverRun, within time.Duration, what string, funcs []string, match func(controller.TraceEntry) bool) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.within(within))
	defer cancel()
	err := d.rt.WaitTrace(ctx, func(t controller.DriverTrace) bool { return slices.ContainsFunc(t.Entries, match) })
	if err == nil {
		return nil
	}
	var b strings.Builder
	for _, e := range d.rt.Trace().Entries {
		if e.Kind == controller.TraceC4 && slices.Contains(funcs, e.Name) {
			fmt.Fprintf(&b, "\n  %8v C4:%s%v", time.Duration(e.TNs).Round(time.Microsecond), e.Name, e.Args)
		}
	}
	if b.Len() == 0 {
		fmt.Fprintf(&b, " none of %s", strings.Join(funcs, ", "))
	}
	return fmt.Errorf("the driver has not %s within %v: %v; what it called instead:%s\n%s", what, w.within(within), err, b.String(), d.describe())
}
