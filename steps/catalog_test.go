package steps_test

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// Each example of the catalog matches its own step and no other one, and
// its arguments are valid.
func TestCatalogExamples(t *testing.T) {
	cat := steps.Catalog()
	if len(cat) < 50 {
		t.Fatalf("only %d steps", len(cat))
	}
	// Each pattern compiled once for the every-example-against-every-step
	// matrix (MatchPattern compiles on each call, and the matrix makes
	// some 26,000 of them for 161 steps); MatchPattern itself is checked on
	// each example's own step.
	res := make([]*regexp.Regexp, len(cat))
	for i, d := range cat {
		res[i] = regexp.MustCompile(d.Regexp)
	}
	seenPattern := map[string]bool{}
	for i, d := range cat {
		if d.Description == "" || d.Example == "" || d.Concern == "" {
			t.Errorf("step %q lacks a description, an example or a concern", d.Pattern)
		}
		if seenPattern[d.Pattern] {
			t.Errorf("pattern %q twice", d.Pattern)
		}
		seenPattern[d.Pattern] = true
		if !steps.MatchPattern(d, d.Example) {
			t.Errorf("MatchPattern: example %q does not match its own step %q", d.Example, d.Pattern)
		}
		for j, o := range cat {
			matched := res[j].MatchString(d.Example)
			switch {
			case i == j && !matched:
				t.Errorf("example %q does not match its own step %q", d.Example, d.Pattern)
			case i != j && matched:
				t.Errorf("example %q of %q also matches %q", d.Example, d.Pattern, o.Pattern)
			}
		}
		if err := steps.CheckArgs(d, d.Example); err != nil {
			t.Errorf("example %q: %v", d.Example, err)
		}
		if strings.ContainsAny(d.Pattern, `\^$[]`) {
			t.Errorf("pattern %q shows regexp syntax", d.Pattern)
		}
	}
	if len(steps.Placeholders()) == 0 {
		t.Fatal("no placeholders")
	}
}

// Every feature of the suite uses only defined steps and parses.
func TestFeaturesCheck(t *testing.T) {
	probs, err := steps.Check("../features")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Error(p)
	}
}

func TestCheckReportsFileAndLine(t *testing.T) {
	probs, err := steps.Check("testdata/undefined.feature", "testdata/syntax.feature")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range probs {
		all = append(all, p.String())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		`testdata/undefined.feature:7: undefined step: client "sensor" publishs "21.5" to "home/t" with QoS 1`,
		`the closest known step is: client {name} publishes {text} to {text} with QoS {int}`,
		`testdata/syntax.feature:6: Gherkin syntax`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

// runFeature runs one feature file against the simulated controller without
// a testing.T, and returns godog's status, its output and each scenario's
// record.
func runFeature(t *testing.T, path string) (int, string, map[string]*record.Scenario) {
	t.Helper()
	var out bytes.Buffer
	var mu sync.Mutex
	recs := map[string]*record.Scenario{}
	opts := simOptions(t)
	opts.OnScenarioEnd = func(r *record.Scenario) {
		mu.Lock()
		recs[r.Name] = r
		mu.Unlock()
	}
	status := godog.TestSuite{
		Name:                "testdata",
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options:             &godog.Options{Format: "pretty", Output: &out, Paths: []string{path}, Strict: true, NoColors: true},
	}.Run()
	return status, out.String(), recs
}

func TestBrokenFeatureFailsWithFileAndLine(t *testing.T) {
	status, out, recs := runFeature(t, "testdata/undefined.feature")
	if status == 0 {
		t.Fatalf("a feature with an undefined step passed:\n%s", out)
	}
	r := recs["a misspelt step"]
	want := `testdata/undefined.feature:7: client "sensor" publishs "21.5" to "home/t" with QoS 1`
	if r == nil || r.Status != "failed" || r.FailedStep == nil || !strings.Contains(r.Error, want) || !strings.Contains(r.Error, "the closest known step is: client {name} publishes {text} to {text} with QoS {int}") {
		t.Errorf("the record does not point at the undefined step's line: %+v\n%s", r, out)
	}
	status, out, _ = runFeature(t, "testdata/syntax.feature")
	if status == 0 {
		t.Fatalf("a feature with a syntax error passed:\n%s", out)
	}
}

func TestOutOfRangeArguments(t *testing.T) {
	status, out, recs := runFeature(t, "testdata/out_of_range.feature")
	if status == 0 {
		t.Fatalf("passed:\n%s", out)
	}
	for name, want := range map[string]string{
		"QoS 3 for the broker":    "QoS 3 is out of range: expected 0, 1 or 2",
		"a negative count":        "-2 is not a valid count: expected a whole number, 0 or more",
		"an unknown packet type":  "PUBAK is not an MQTT packet type: expected one of CONNECT, CONNACK, PUBLISH",
		"an unknown MQTT version": "MQTT 4 is not a version the controller speaks: expected 3.1, 3.1.1 or 5",
		"a broken promise":        `onPublish for message 1 ("21.5" on "home/t", QoS 1, id 1) reported reason 0 (Success), expected 16 (No matching subscribers)`,
	} {
		r := recs[name]
		if r == nil {
			t.Errorf("%s: no record", name)
			continue
		}
		if r.Status != "failed" || !strings.Contains(r.Error, want) {
			t.Errorf("%s: %s %q, want failed with %q", name, r.Status, r.Error, want)
		}
	}
	if r := recs["a broken promise"]; r != nil && (r.Journal == nil || len(r.Events) == 0 || len(r.Calls) == 0) {
		t.Errorf("the record lacks the journal, events or calls: %+v", r)
	}
}

func TestNeedsSkipWithReason(t *testing.T) {
	status, out, recs := runFeature(t, "testdata/needs.feature")
	if status != 0 {
		t.Fatalf("status %d:\n%s", status, out)
	}
	if r := recs["on the bench only"]; r == nil || r.Status != "skipped" || r.Skipped != "needs hardware, which the sim controller lacks" {
		t.Errorf("hardware scenario: %+v", r)
	}
	if r := recs["MQTT 5"]; r == nil || r.Status != "passed" {
		t.Errorf("mqtt5 scenario: %+v", r)
	}
}
