package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/emulator/faults"
)

// StepDoc is one step of the catalog, as `mqtthil steps` prints it.
type StepDoc struct {
	Concern     string `json:"concern"`       // broker, clients, faults, publish, returns, callbacks, wire
	Pattern     string `json:"pattern"`       // plain words with {placeholders}
	Description string `json:"description"`   // one line
	Example     string `json:"example"`       // a step line that uses it, without keyword
	Arg         string `json:"arg,omitempty"` // "doc string" or "table" when the step takes one
	Regexp      string `json:"regexp"`        // what godog matches, for tools
}

// Placeholder is one kind of {value} a step pattern may hold.
type Placeholder struct {
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
}

// Placeholders lists the kinds of values steps take, for the catalog's
// legend.
func Placeholders() []Placeholder {
	var out []Placeholder
	for _, p := range paramOrder {
		out = append(out, Placeholder{Name: "{" + p + "}", Meaning: params[p].meaning})
	}
	return out
}

// Catalog returns every step, in the order the concerns register them.
func Catalog() []StepDoc {
	out := make([]StepDoc, len(registry))
	for i, d := range registry {
		out[i] = d.StepDoc
	}
	return out
}

// param is a placeholder kind: how it is written in a feature, and how the
// text is turned into the handler's argument.
type param struct {
	re      string
	meaning string
	typ     reflect.Type
	conv    func(s string) (any, error)
}

var (
	tString   = reflect.TypeOf("")
	tInt      = reflect.TypeOf(0)
	tDuration = reflect.TypeOf(time.Duration(0))
	tTarget   = reflect.TypeOf(target{})
)

var paramOrder = []string{"name", "text", "words", "int", "count", "qos", "duration", "packet", "version", "packets"}

var params = map[string]param{
	"name": {`"([^"]*)"`, `a name in double quotes: a client, a file, a user; where the broker checks or acts on a client, a client the scenario did not make (a driver's) by its MQTT client id`, tString, func(s string) (any, error) {
		if s == "" {
			return nil, errors.New(`a name cannot be empty: expected something between the quotes, like "sensor"`)
		}
		return s, nil
	}},
	"text":  {`"([^"]*)"`, `any text in double quotes, possibly empty: a topic, a payload`, tString, func(s string) (any, error) { return s, nil }},
	"words": {`(.+)`, `plain words to the end of the line, without quotes`, tString, func(s string) (any, error) { return s, nil }},
	"int":   {`(-?\d+|0x[0-9A-Fa-f]+)`, `a whole number, passed on as it is (it may be out of range on purpose); reason codes may be written in hex, 0x87`, tInt, atoi},
	"count": {`(-?\d+)`, `a whole number, 0 or more`, tInt, func(s string) (any, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s is not a valid count: expected a whole number, 0 or more", s)
		}
		return n, nil
	}},
	"qos": {`(-?\d+)`, `a quality of service the broker or a check can mean: 0, 1 or 2`, tInt, func(s string) (any, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 2 {
			return nil, fmt.Errorf("QoS %s is out of range: expected 0, 1 or 2", s)
		}
		return n, nil
	}},
	"duration": {`(-?\d+(?:\.\d+)? (?:milliseconds?|seconds?|ms|s))`, `a time such as 200 milliseconds or 2 seconds`, tDuration, parseDuration},
	"packet": {`([A-Za-z]+)`, `an MQTT packet type: CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH`, tString, func(s string) (any, error) {
		t, err := packetType(s)
		if err != nil {
			return nil, err
		}
		return faults.PacketNames[t], nil
	}},
	"version": {`(\S+)`, `an MQTT version: 3.1, 3.1.1 or 5`, tInt, func(s string) (any, error) {
		switch s {
		case "3.1":
			return 3, nil
		case "3.1.1":
			return 311, nil
		case "5":
			return 5, nil
		}
		return nil, fmt.Errorf("MQTT %s is not a version the controller speaks: expected 3.1, 3.1.1 or 5", s)
	}},
	"packets": {targetRe, `which packets a fault hits: the next / the 2nd / the first 3 / every / every 3rd, a packet type, then optionally to the client, to the broker, to "client", from "client", and on "topic"; ending "if it comes" when the fault may not fire (otherwise a fault that never fires makes the scenario an error)`, tTarget, func(s string) (any, error) { return parseTarget(s) }},
}

func atoi(s string) (any, error) {
	if hex, ok := strings.CutPrefix(s, "0x"); ok {
		n, err := strconv.ParseInt(hex, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%s is not a hex number", s)
		}
		return int(n), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not a whole number", s)
	}
	return n, nil
}

func parseDuration(s string) (any, error) {
	num, unit, _ := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return nil, fmt.Errorf("%s is not a valid time: expected 0 or more milliseconds or seconds", s)
	}
	switch unit {
	case "millisecond", "milliseconds", "ms":
		return time.Duration(f * float64(time.Millisecond)), nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

func packetType(s string) (byte, error) {
	t, err := faults.ParsePacketType(s)
	if err != nil || t == 0 {
		return 0, fmt.Errorf("%s is not an MQTT packet type: expected one of %s", s, strings.Join(faults.PacketNames[1:], ", "))
	}
	return t, nil
}

// stepDef is a catalog entry with what godog needs to run it.
type stepDef struct {
	StepDoc
	// re is compiled on first use: the catalog's regular expressions are
	// some 3.5 MB, which a process that runs no scenario (the broker, the
	// bench) would otherwise hold from its start. Tests compile them all.
	re     func() *regexp.Regexp
	params []param
	fn     reflect.Value // func(*World, args..., [string | *godog.Table]) error
}

var registry []stepDef

var placeholderRe = regexp.MustCompile(`\{[a-z]+\}`)

// def adds a step to the catalog. fn takes the scenario's *World, then one
// argument per placeholder in pattern order, then the doc string (string)
// or table (*godog.Table) when arg says so, and returns an error.
func def(concern, pattern, desc, example, arg string, fn any) {
	d := stepDef{StepDoc: StepDoc{Concern: concern, Pattern: pattern, Description: desc, Example: example, Arg: arg}, fn: reflect.ValueOf(fn)}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, loc := range placeholderRe.FindAllStringIndex(pattern, -1) {
		re.WriteString(literal(pattern[last:loc[0]]))
		name := pattern[loc[0]+1 : loc[1]-1]
		p, ok := params[name]
		if !ok {
			panic("steps: unknown placeholder {" + name + "} in " + pattern)
		}
		re.WriteString(p.re)
		d.params = append(d.params, p)
		last = loc[1]
	}
	re.WriteString(literal(pattern[last:]))
	re.WriteString("$")
	d.Regexp = re.String()
	expr := d.Regexp
	d.re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })

	// The handler must fit the pattern: checked once, at start.
	ft := d.fn.Type()
	want := 1 + len(d.params)
	if arg != "" {
		want++
	}
	if ft.Kind() != reflect.Func || ft.NumIn() != want || ft.In(0) != reflect.TypeOf((*World)(nil)) || ft.NumOut() != 1 || ft.Out(0) != reflect.TypeOf((*error)(nil)).Elem() {
		panic("steps: handler of " + pattern + " does not fit its placeholders")
	}
	for i, p := range d.params {
		if ft.In(1+i) != p.typ {
			panic(fmt.Sprintf("steps: handler of %q: argument %d is %v, placeholder wants %v", pattern, i+1, ft.In(1+i), p.typ))
		}
	}
	registry = append(registry, d)
}

// literal turns the plain words of a pattern into a regexp: "(s)" makes an
// s optional, everything else matches itself.
func literal(s string) string {
	parts := strings.Split(s, "(s)")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return strings.Join(parts, "s?")
}

// godogHandler builds the function godog calls: context first, one string
// per capture group, then the step's argument.
func (d stepDef) godogHandler() any {
	in := []reflect.Type{reflect.TypeOf((*context.Context)(nil)).Elem()}
	for range d.params {
		in = append(in, tString)
	}
	switch d.Arg {
	case "doc string":
		in = append(in, reflect.TypeOf((*godog.DocString)(nil)))
	case "table":
		in = append(in, reflect.TypeOf((*godog.Table)(nil)))
	}
	out := []reflect.Type{reflect.TypeOf((*context.Context)(nil)).Elem(), reflect.TypeOf((*error)(nil)).Elem()}
	ft := reflect.FuncOf(in, out, false)
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		ctx := args[0].Interface().(context.Context)
		fail := func(err error) []reflect.Value {
			return []reflect.Value{args[0], reflect.ValueOf(&err).Elem()}
		}
		w, _ := ctx.Value(worldKey{}).(*World)
		if w == nil {
			return fail(errors.New("steps: no scenario state; was steps.Register called for this scenario?"))
		}
		call := []reflect.Value{reflect.ValueOf(w)}
		for i, p := range d.params {
			v, err := p.conv(args[1+i].String())
			if err != nil {
				return fail(err)
			}
			call = append(call, reflect.ValueOf(v))
		}
		switch d.Arg {
		case "doc string":
			doc := args[len(args)-1].Interface().(*godog.DocString)
			content := ""
			if doc != nil {
				content = doc.Content
			}
			call = append(call, reflect.ValueOf(content))
		case "table":
			call = append(call, args[len(args)-1])
		}
		var res []reflect.Value
		var cutShort bool
		if err := w.inBubble(func() {
			res = d.fn.Call(call)
			cutShort = errors.Is(w.ctx.Err(), context.DeadlineExceeded)
		}); err != nil {
			return fail(fmt.Errorf("%w: %v", ErrHarness, err))
		}
		err, _ := res[0].Interface().(error)
		if cutShort {
			// The step's waits were cut short by the scenario's limit: what
			// it concluded (even "nothing happened") does not count.
			return fail(fmt.Errorf("%w: cut short by the scenario's time limit", context.DeadlineExceeded))
		}
		if err != nil {
			return fail(err)
		}
		return fail(nil)
	}).Interface()
}

// MatchPattern reports whether a step line (without keyword) matches the
// catalog entry.
func MatchPattern(d StepDoc, line string) bool {
	return regexp.MustCompile(d.Regexp).MatchString(line)
}

// CheckArgs converts the arguments of a step line as the step would, and
// returns the first complaint.
func CheckArgs(d StepDoc, line string) error {
	for _, s := range registry {
		if s.Pattern != d.Pattern {
			continue
		}
		m := s.re().FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("%q does not match %q", line, d.Pattern)
		}
		for i, p := range s.params {
			if _, err := p.conv(m[1+i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no step %q", d.Pattern)
}

// WriteMarkdown writes the catalog as Markdown: a legend of placeholders,
// then the steps by concern, each with its description and example.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Steps\n\nValues in steps:\n\n")
	for _, p := range Placeholders() {
		fmt.Fprintf(&b, "- `%s`: %s\n", p.Name, p.Meaning)
	}
	concern := ""
	for _, d := range Catalog() {
		if d.Concern != concern {
			concern = d.Concern
			fmt.Fprintf(&b, "\n## %s\n", concern)
		}
		fmt.Fprintf(&b, "\n**%s**", d.Pattern)
		if d.Arg != "" {
			fmt.Fprintf(&b, " (followed by a %s)", d.Arg)
		}
		fmt.Fprintf(&b, "  \n%s  \nExample: `%s`\n", d.Description, d.Example)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
