package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/report"
)

// runWithFailure runs testdata/report (a lost PUBACK seen by an observer,
// with a last step that fails on purpose, and a passing scenario) and
// returns the run folder.
func runWithFailure(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "--seed", "7", "testdata/report")
	if code != 1 || !strings.Contains(stdout, "1 passed 1 failed") {
		t.Fatalf("exit %d, want 1 with one failure\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return out
}

func TestReportRegenerates(t *testing.T) {
	t.Parallel()
	out := runWithFailure(t)
	t.Run("report fixture is current", func(t *testing.T) { checkReportFixture(t, out) })
	html := filepath.Join(out, report.HTMLFile)
	first, err := os.ReadFile(html)
	if err != nil {
		t.Fatalf("mqtthil run wrote no report.html: %v", err)
	}
	for _, want := range []string{
		`class="sq"`, "fault layer", "observer", "PUBLISH id 1 q1 DUP", "drop (rule", "onPublish(1, 0 Success)",
		"msgId 1", "onPublish reports that message with reason 16", "No matching subscribers",
	} {
		if !strings.Contains(string(first), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(first), "http://") && !strings.Contains(string(first), "http://www.w3.org/2000/svg") {
		t.Error("report.html refers to the network")
	}
	scen, _ := filepath.Glob(filepath.Join(out, report.ScenariosDir, "*"))
	if len(scen) != 4 {
		t.Errorf("scenarios/ holds %v, want a record and a journal for each of 2 scenarios", scen)
	}
	junit, _ := os.ReadFile(filepath.Join(out, report.JUnitFile))
	if err := os.Remove(html); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(out, report.JUnitFile)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "report", "--junit", out)
	if code != 0 || !strings.Contains(stdout, "2 scenario(s)") {
		t.Fatalf("mqtthil report: exit %d\n%s%s", code, stdout, stderr)
	}
	again, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("report.html written by mqtthil report differs from the one mqtthil run wrote")
	}
	if j, _ := os.ReadFile(filepath.Join(out, report.JUnitFile)); !bytes.Equal(j, junit) {
		t.Error("junit.xml written by mqtthil report differs from the one mqtthil run wrote")
	}
	for _, args := range [][]string{{"report"}, {"report", t.TempDir()}, {"report", "a", "b"}} {
		if code, _, stderr := runCmd(t, args...); code == 0 {
			t.Errorf("%v: exit 0, stderr %q", args, stderr)
		}
	}
}

// reportFixture is a run of testdata/report checked in for the browser
// tests of package report, which draw it without running the harness.
// It holds what the report is made from (the manifest, the Cucumber JSON,
// the scenarios' records and journals), not what the report code writes.
const reportFixture = "../../report/testdata/failed-run"

// checkReportFixture fails when the checked-in run no longer has the shape
// of one mqtthil run writes today (out): the same files, the same fields
// in every JSON document and journal record, and the same story in each
// scenario (outcome, steps, calls, callbacks, faults, packets). Times,
// ports and durations differ from run to run and are not compared. With
// MQTTHIL_UPDATE_REPORT_FIXTURE=1 it first rewrites the fixture from out.
func checkReportFixture(t *testing.T, out string) {
	t.Helper()
	if os.Getenv("MQTTHIL_UPDATE_REPORT_FIXTURE") == "1" {
		if err := os.RemoveAll(reportFixture); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(reportFixture, report.ScenariosDir), os.DirFS(filepath.Join(out, report.ScenariosDir))); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{report.ManifestFile, report.CucumberFile} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(reportFixture, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("rewrote %s from %s", reportFixture, out)
	}
	got, want := runShape(t, out), runShape(t, reportFixture)
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if want[k] != got[k] {
			t.Errorf("%s: %s", k, shapeDiff(got[k], want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: in %s, not in what mqtthil run writes: %s", k, reportFixture, want[k])
		}
	}
	if t.Failed() {
		t.Errorf("%s is stale: rewrite it with MQTTHIL_UPDATE_REPORT_FIXTURE=1 go test -count=1 -run TestReportRegenerates ./cmd/mqtthil", reportFixture)
	}
}

// runShape describes a run folder by what its report is made from, keyed
// by what is described: the files that are not written by the report code,
// the fields of the manifest and the Cucumber JSON, and for each scenario
// (by name, as the file numbers follow the order scenarios end in) the
// fields of its record and journal and its story.
func runShape(t *testing.T, dir string) map[string]string {
	t.Helper()
	shape := map[string]string{}
	top, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range top {
		switch e.Name() {
		case report.HTMLFile, report.JUnitFile, report.SumsFile:
		default:
			files = append(files, e.Name())
		}
	}
	shape["files"] = strings.Join(files, " ")
	for _, name := range []string{report.ManifestFile, report.CucumberFile} {
		shape[name+" fields"] = strings.Join(fieldsOf(readJSON(t, filepath.Join(dir, name))), " ")
	}
	run, err := report.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	shape["scenarios"] = fmt.Sprint(len(run.Scenarios))
	for _, sf := range run.Scenarios {
		key := "scenario " + sf.Name
		base := strings.TrimSuffix(sf.JournalFile, ".jsonl")
		shape[key+" record fields"] = strings.Join(fieldsOf(readJSON(t, filepath.Join(dir, report.ScenariosDir, base+".json"))), " ")
		var story []string
		story = append(story, "outcome "+sf.Outcome)
		for _, s := range sf.Steps {
			story = append(story, fmt.Sprintf("step %d %s", s.Line, s.Status))
		}
		for _, c := range sf.Calls {
			story = append(story, "call "+c.Client+" "+c.Call)
		}
		for _, e := range sf.Events {
			story = append(story, fmt.Sprintf("event %s %s", e.Client, e.Kind))
		}
		for _, f := range sf.Faults {
			story = append(story, fmt.Sprintf("fault %s fired %d", f.Name, f.Fired))
		}
		shape[key+" story"] = strings.Join(story, "; ")
		// Which packets crossed, not how many or in which order, and not
		// the DISCONNECTs or closes: whether the broker's DISCONNECT went
		// out or was dropped on a closing connection, and whether the last
		// close came before the scenario ended, differ from run to run.
		f, err := os.Open(filepath.Join(dir, report.ScenariosDir, sf.JournalFile))
		if err != nil {
			t.Fatal(err)
		}
		fields, packets := map[string]bool{}, map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s: %v", sf.JournalFile, err)
			}
			for _, k := range fieldsOf(rec) {
				fields[k] = true
			}
			if rec["kind"] == "packet" && rec["type"] != "DISCONNECT" {
				packets[fmt.Sprintf("%v %v dup=%v dropped=%v", rec["dir"], rec["type"], rec["dup"] == true, rec["dropped"] == true)] = true
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		shape[key+" journal fields"] = strings.Join(slices.Sorted(maps.Keys(fields)), " ")
		shape[key+" packets"] = strings.Join(slices.Sorted(maps.Keys(packets)), "; ")
	}
	return shape
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// fieldsOf lists the paths of the fields of a JSON value, sorted, with
// array elements merged under [].
func fieldsOf(v any) []string {
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				set[prefix+k] = true
				walk(prefix+k+".", x)
			}
		case []any:
			for _, x := range v {
				walk(strings.TrimSuffix(prefix, ".")+"[].", x)
			}
		}
	}
	walk("", v)
	return slices.Sorted(maps.Keys(set))
}

// shapeDiff says how a shape item of the fixture differs from a run's.
func shapeDiff(run, fixture string) string {
	sep := " "
	if strings.Contains(run+fixture, "; ") {
		sep = "; "
	}
	r, f := strings.Split(run, sep), strings.Split(fixture, sep)
	var only []string
	for _, x := range r {
		if !slices.Contains(f, x) {
			only = append(only, "only mqtthil run writes "+strconv.Quote(x))
		}
	}
	for _, x := range f {
		if !slices.Contains(r, x) {
			only = append(only, "only the fixture holds "+strconv.Quote(x))
		}
	}
	if len(only) == 0 {
		return fmt.Sprintf("the same items in another order or number:\n  mqtthil run: %s\n  fixture:     %s", run, fixture)
	}
	return strings.Join(only, ", ")
}
