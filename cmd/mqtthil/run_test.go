package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/report"
	"github.com/mqtthil/mqtthil/steps"
)

// runCmd runs the command in this process. A run takes no fingerprint
// unless the test asks for one with --fingerprint: the fingerprint waits a
// second for a callback that must not come, and a second per run was a
// third of this package's time. The tests of the fingerprint name the
// flag.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if len(args) > 0 && args[0] == "run" && !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--fingerprint") }) {
		args = append([]string{"run", "--fingerprint", "off"}, args[1:]...)
	}
	var o, e bytes.Buffer
	code = dispatch(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestRunLintsBeforeRunning(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, _, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "testdata/lint")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"testdata/lint/syntax.feature:4: Gherkin syntax: '  Sceanrio: a misspelt keyword' is not expected here; expected one of: end of file, a table row",
		`testdata/lint/unknown.feature:5: undefined step: client "c" pubishes "x" to "home/t" with QoS 1`,
		"the closest known step is: client {name} publishes {text} to {text} with QoS {int}",
		"nothing was run",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "junit.xml")); err == nil {
		t.Error("a run refused by lint wrote reports")
	}
}

func TestRunWritesReports(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "--seed", "42", "testdata/fails")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "2 scenario(s) against sim") || !strings.Contains(stdout, "1 passed 1 failed") {
		t.Errorf("summary missing:\n%s", stdout)
	}
	var junit struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Body string `xml:",chardata"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &junit); err != nil {
		t.Fatal(err)
	}
	if junit.Tests != 2 || junit.Failures != 1 || len(junit.Suites) != 1 {
		t.Fatalf("junit totals: %+v", junit)
	}
	props := map[string]string{}
	for _, p := range junit.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["controller.kind"] != "sim" || props["seed"] != "42" || props["harness.version"] == "" {
		t.Errorf("junit properties: %v", props)
	}
	var failed int
	for _, c := range junit.Suites[0].Cases {
		if c.Failure != nil {
			failed++
			if c.Name != "wrong expectation" || !strings.Contains(c.Failure.Body, "returned 0") || !strings.Contains(c.SystemOut, "CONNECT") {
				t.Errorf("failure account %q, journal %q", c.Failure.Body, c.SystemOut)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failed cases", failed)
	}
	// One copy of each journal, beside its record.
	journals, _ := filepath.Glob(filepath.Join(out, "scenarios", "*.jsonl"))
	if len(journals) != 2 {
		t.Errorf("journals: %v", journals)
	}
	if _, err := os.Stat(filepath.Join(out, "journals")); err == nil {
		t.Error("a second copy of the journals in journals/")
	}
	var m report.Manifest
	b, _ = os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || m.Seed != 42 || len(m.Features) != 1 || m.Counts["failed"] != 1 {
		t.Errorf("manifest %+v (%v)", m, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "cucumber.json")); err != nil || fi.Size() == 0 {
		t.Errorf("cucumber.json: %v", err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--controller", "toaster"},
		{"run", "--concurrency", "0"},
		{"run", "--time-scale", "-1"},
		{"run", "--format", "xml"},
		{"run", "no/such/features"},
	} {
		code, _, stderr := runCmd(t, args...)
		if code != 2 || !strings.Contains(stderr, "mqtthil run: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestStepsCatalog(t *testing.T) {
	t.Parallel()
	code, md, _ := runCmd(t, "steps")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, d := range steps.Catalog() {
		if !strings.Contains(md, d.Example) {
			t.Errorf("markdown catalog lacks the example %q", d.Example)
		}
	}
	code, js, _ := runCmd(t, "steps", "--format", "json")
	var got struct {
		Steps []steps.StepDoc `json:"steps"`
	}
	if code != 0 || json.Unmarshal([]byte(js), &got) != nil || len(got.Steps) != len(steps.Catalog()) {
		t.Fatalf("json catalog: exit %d, %d steps", code, len(got.Steps))
	}
}

// A second run into the same folder reports only itself.
func TestRunReusesItsFolder(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	if code, stdout, _ := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "testdata/fails"); code != 1 || !strings.Contains(stdout, "2 scenario(s)") {
		t.Fatalf("first run: exit %d\n%s", code, stdout)
	}
	only := filepath.Join(t.TempDir(), "one.feature")
	os.WriteFile(only, []byte("Feature: one\n  Scenario: fine\n    Given a client \"c\"\n    And client \"c\" is connected\n"), 0o644)
	code, stdout, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", only)
	if code != 0 || !strings.Contains(stdout, "1 scenario(s)") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if journals, _ := filepath.Glob(filepath.Join(out, "journals", "*")); len(journals) != 0 {
		t.Fatalf("the first run's journals are still there: %v", journals)
	}
}

// A scenario asked for by its line is the same scenario as in a whole run:
// its records, the manifest and cucumber.json name the feature file
// without the line.
func TestRunOneScenarioByLine(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "testdata/fails/fails.feature:9")
	if code != 0 || !strings.Contains(stdout, "1 scenario(s)") || !strings.Contains(stdout, "1 passed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	run, err := report.LoadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 1 || !strings.HasSuffix(run.Scenarios[0].URI, "fails.feature") {
		t.Errorf("the record's feature: %+v", run.Scenarios)
	}
	if m := run.Manifest.Scenarios; len(m) != 1 || !strings.HasSuffix(m[0].Feature, "fails.feature") {
		t.Errorf("the manifest's feature: %+v", m)
	}
	cj, err := os.ReadFile(filepath.Join(out, report.CucumberFile))
	if err != nil || !strings.Contains(string(cj), `fails.feature"`) || strings.Contains(string(cj), "fails.feature:9") {
		t.Errorf("cucumber.json names the feature with its line (%v):\n%s", err, cj)
	}
}

var registerFixedModelSim sync.Once

// TestRunRecordsFingerprint: a run takes the fingerprint first, records
// it in the manifest and the report's header, and warns when it is not
// the run's --model; --fingerprint strict makes that a failure.
func TestRunRecordsFingerprint(t *testing.T) {
	t.Parallel()
	registerFixedModelSim.Do(func() {
		controller.Register("sim-2.0.11", func(o controller.Options) (controller.Controller, error) {
			return sim.New(sim.Options{KeepAliveUnit: o.KeepAliveUnit}), nil
		})
	})
	feature := filepath.Join(t.TempDir(), "one.feature")
	if err := os.WriteFile(feature, []byte("Feature: one\n  Scenario: a client\n    Given a client \"c\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		agrees   bool
		matching string
		warn     bool
	}{
		{"agrees", nil, 0, true, "libmosquitto-2.0.11", false},
		// The simulated controller follows --model; sim-2.0.11 stands for
		// a controller whose release is fixed, as a firmware's is.
		{"disagrees and warns", []string{"--controller", "sim-2.0.11", "--model", "libmosquitto-2.0.20"}, 0, false, "libmosquitto-2.0.11", true},
		{"disagrees under strict", []string{"--controller", "sim-2.0.11", "--model", "libmosquitto-2.0.20", "--fingerprint", "strict"}, 1, false, "libmosquitto-2.0.11", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each run's fingerprint waits on real time, most of it
			// idle: the three runs at once.
			t.Parallel()
			out := t.TempDir()
			args := append([]string{"run", "--fingerprint=warn", "--out", out, "--fixtures", "../../fixtures"}, tc.args...)
			code, stdout, stderr := runCmd(t, append(args, feature)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if got := strings.Contains(stdout, "WARNING: the controller does not behave like --model"); got != tc.warn {
				t.Errorf("warning shown %v, want %v:\n%s", got, tc.warn, stdout)
			}
			b, err := os.ReadFile(filepath.Join(out, report.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			var m report.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			fp := m.Fingerprint
			if fp == nil {
				t.Fatalf("manifest has no fingerprint:\n%s", b)
			}
			if fp.Agrees != tc.agrees || strings.Join(fp.Matching, ",") != tc.matching || len(fp.Cases) != 3 {
				t.Errorf("fingerprint %+v, want agrees %v, matching %s, 3 cases", fp, tc.agrees, tc.matching)
			}
			html, err := os.ReadFile(filepath.Join(out, "report.html"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(html), "<dt>fingerprint</dt><dd>behaves like "+tc.matching) {
				t.Errorf("report.html's header lacks the fingerprint")
			}
		})
	}
}
