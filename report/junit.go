// Package report turns a run's records into what people and CI servers
// read: the run folder (manifest, one record and one journal per
// scenario), JUnit XML, and an HTML page with a sequence diagram per
// scenario. README.md describes the folder and the page.
package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/record"
)

// Outcomes a scenario can end with. They are kept apart on purpose: a
// failed scenario is the controller breaking a promise; an error is the
// harness or the bench breaking; a time-out is a wait that ran out.
const (
	Passed   = record.Passed
	Failed   = record.Failed
	Error    = record.Error
	TimedOut = record.TimedOut
	Skipped  = record.Skipped
	Diverged = record.Diverged
)

// Outcomes are every outcome, in the order summaries list them.
var Outcomes = []string{Failed, Error, TimedOut, Diverged, Passed, Skipped}

// Scenario is one scenario's result, as the reports need it.
type Scenario struct {
	Feature  string        // feature file, as given to the run
	Name     string        // scenario name
	Outcome  string        // one of the outcomes above
	Account  string        // why it failed, errored, timed out, or was skipped
	Duration time.Duration //
	Journal  string        // excerpt of the wire journal, for system-out
	Props    []Property    // the test case's own properties (tags, seed, evidence files)
}

// Property is a name/value pair written into every test suite.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Properties []Property  `xml:"properties>property"`
	Cases      []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Props     []Property    `xml:"properties>property,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes JUnit XML: one test suite per feature, the run's
// properties in each, the failing step's account in the failure body and
// the scenario's journal excerpt in system-out. A time-out is written as an
// error of type "timed out", since JUnit has no such outcome.
func WriteJUnit(w io.Writer, run string, props []Property, scenarios []Scenario) error {
	byFeature := map[string]*junitSuite{}
	var order []string
	var total time.Duration
	out := junitSuites{Name: run}
	for _, s := range scenarios {
		suite := byFeature[s.Feature]
		if suite == nil {
			suite = &junitSuite{Name: s.Feature, Properties: props}
			byFeature[s.Feature] = suite
			order = append(order, s.Feature)
		}
		c := junitCase{Classname: s.Feature, Name: s.Name, Time: seconds(s.Duration), SystemOut: s.Journal, Props: s.Props}
		suite.Tests++
		out.Tests++
		switch s.Outcome {
		case Failed:
			c.Failure = &junitProblem{Message: firstLine(s.Account), Type: Failed, Body: s.Account}
			suite.Failures++
			out.Failures++
		case Error, TimedOut:
			c.Error = &junitProblem{Message: firstLine(s.Account), Type: s.Outcome, Body: s.Account}
			suite.Errors++
			out.Errors++
		case Skipped, Diverged:
			c.Skipped = &junitSkipped{Message: s.Account}
			suite.Skipped++
			out.Skipped++
		case Passed:
		default:
			return fmt.Errorf("junit: scenario %q has unknown outcome %q", s.Name, s.Outcome)
		}
		suite.Cases = append(suite.Cases, c)
		total += s.Duration
	}
	sort.Strings(order)
	for _, f := range order {
		suite := byFeature[f]
		var d time.Duration
		for _, s := range scenarios {
			if s.Feature == f {
				d += s.Duration
			}
		}
		suite.Time = seconds(d)
		out.Suites = append(out.Suites, *suite)
	}
	out.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

// ScenarioOf is the JUnit view of a stored scenario: the failing step and
// its account in the failure body, the evidence files as properties, and
// for a scenario that did not pass, its calls and callbacks and the last
// excerpt records of its wire journal in system-out.
func ScenarioOf(sf *ScenarioFile, excerpt int) Scenario {
	s := Scenario{
		Feature: sf.URI, Name: sf.Name, Outcome: sf.Outcome, Duration: sf.Ended.Sub(sf.Started),
		Props: []Property{{Name: "seed", Value: fmt.Sprint(sf.Seed)}, {Name: "record", Value: ScenariosDir + "/" + sf.File}},
	}
	if len(sf.Tags) > 0 {
		s.Props = append(s.Props, Property{Name: "tags", Value: strings.Join(sf.Tags, " ")})
	}
	if sf.JournalFile != "" {
		s.Props = append(s.Props, Property{Name: "journal", Value: ScenariosDir + "/" + sf.JournalFile})
	}
	if id := sf.Identity; id.Station != "" {
		s.Props = append(s.Props, Property{Name: "station", Value: id.Station}, Property{Name: "controller", Value: identityLine(id)})
	}
	for _, f := range sf.Faults {
		s.Props = append(s.Props, Property{Name: "fault " + f.Match, Value: fmt.Sprintf("fired %d", f.Fired)})
	}
	switch sf.Outcome {
	case Passed:
		return s
	case Skipped:
		s.Account = sf.Skipped
		return s
	case Diverged:
		s.Account = Diverged + ": " + sf.Error
		return s
	}
	var b strings.Builder
	b.WriteString(sf.Error)
	b.WriteString("\n")
	if fs := sf.FailedStep; fs != nil {
		fmt.Fprintf(&b, "\nFailing step: %s:%d: %s", fs.File, fs.Line, fs.Text)
	}
	fmt.Fprintf(&b, "\nSeed %d. Evidence: %s/%s", sf.Seed, ScenariosDir, sf.File)
	if sf.JournalFile != "" {
		fmt.Fprintf(&b, ", %s/%s", ScenariosDir, sf.JournalFile)
	}
	s.Account = b.String()
	s.Journal = Trace(sf, excerpt)
	return s
}

// Trace is a scenario's calls, returns and callbacks, then the last n
// records of its wire journal, as text.
func Trace(sf *ScenarioFile, n int) string {
	var b strings.Builder
	d := newDiagram(sf, "")
	b.WriteString("Calls and callbacks (ms since the scenario started):\n")
	for i := range d.rows {
		r := &d.rows[i]
		switch r.kind {
		case rowCall:
			fmt.Fprintf(&b, "  %8s  %s: %s(%s)\n", ms(r.t), r.call.client, r.call.call, r.call.args)
		case rowReturn:
			fmt.Fprintf(&b, "  %8s  %s: %s returned %d", ms(r.t), r.call.client, r.call.call, r.call.ret.Code)
			if r.call.ret.HasMsgID() {
				fmt.Fprintf(&b, ", msgId %d", r.call.ret.MsgID)
			}
			if r.call.ret.Err != "" {
				fmt.Fprintf(&b, " (%s)", r.call.ret.Err)
			}
			b.WriteByte('\n')
		case rowCallback:
			fmt.Fprintf(&b, "  %8s  %s: %s\n", ms(r.t), d.nameOf(r.ev.Client), eventLabel(r.ev))
		case rowObserver:
			fmt.Fprintf(&b, "  %8s  observer: %s\n", ms(r.t), eventLabel(r.ev))
		}
	}
	recs := sf.Records
	if len(recs) == 0 {
		return b.String()
	}
	b.WriteString("\nWire journal:\n")
	if len(recs) > n {
		fmt.Fprintf(&b, "(%d earlier records left out)\n", len(recs)-n)
		recs = recs[len(recs)-n:]
	}
	for _, r := range recs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}
