package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gherkin "github.com/cucumber/gherkin/go/v42"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/report"
)

// The CI engines' variables, which would shard every run the tests make
// when the tests themselves run in a parallel CI job.
var shardEnv = []string{"CI_NODE_INDEX", "CI_NODE_TOTAL", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", "JOB_COMPLETION_INDEX"}

func init() {
	for _, v := range shardEnv {
		os.Unsetenv(v)
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in      string
		k, n    int
		wantErr string
	}{
		{"1/1", 1, 1, ""},
		{"2/4", 2, 4, ""},
		{" 4/4 ", 4, 4, ""},
		{"0/4", 0, 0, "K = 0: want 1 to 4 (K counts from 1)"},
		{"5/4", 0, 0, "K = 5"},
		{"1/0", 0, 0, "N = 0"},
		{"1/20000", 0, 0, "N = 20000"},
		{"2", 0, 0, "want K/N"},
		{"a/b", 0, 0, "whole numbers"},
		{"", 0, 0, "want K/N"},
	} {
		s, err := parseShard(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: %v, want an error with %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || s.index != c.k || s.total != c.n || s.from != "--shard" {
			t.Errorf("%q: %+v %v", c.in, s, err)
		}
	}
}

// Each engine's index is read with its own base: GitLab counts from 1,
// Buildkite and Kubernetes from 0.
func TestShardFromEnv(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     map[string]string
		total   int
		k, n    int
		ok      bool
		wantErr string
	}{
		{"nothing", nil, 0, 0, 0, false, ""},
		{"gitlab without parallel", map[string]string{"CI_NODE_TOTAL": "1"}, 0, 0, 0, false, ""},
		{"gitlab", map[string]string{"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, 0, 3, 3, true, ""},
		{"gitlab first", map[string]string{"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "5"}, 0, 1, 5, true, ""},
		{"gitlab index 0", map[string]string{"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"}, 0, 0, 0, false, "CI_NODE_INDEX=0, CI_NODE_TOTAL=3: K = 0"},
		{"gitlab no total", map[string]string{"CI_NODE_INDEX": "1"}, 0, 0, 0, false, `CI_NODE_TOTAL="" is not a whole number`},
		{"buildkite", map[string]string{"BUILDKITE_PARALLEL_JOB": "0", "BUILDKITE_PARALLEL_JOB_COUNT": "4"}, 0, 1, 4, true, ""},
		{"buildkite last", map[string]string{"BUILDKITE_PARALLEL_JOB": "3", "BUILDKITE_PARALLEL_JOB_COUNT": "4"}, 0, 4, 4, true, ""},
		{"buildkite past", map[string]string{"BUILDKITE_PARALLEL_JOB": "4", "BUILDKITE_PARALLEL_JOB_COUNT": "4"}, 0, 0, 0, false, "K = 5"},
		{"kubernetes", map[string]string{"JOB_COMPLETION_INDEX": "0"}, 3, 1, 3, true, ""},
		{"kubernetes last", map[string]string{"JOB_COMPLETION_INDEX": "2"}, 3, 3, 3, true, ""},
		{"kubernetes without total", map[string]string{"JOB_COMPLETION_INDEX": "2"}, 0, 0, 0, false, "give --shard-total"},
		{"kubernetes past", map[string]string{"JOB_COMPLETION_INDEX": "3"}, 3, 0, 0, false, "K = 4"},
		{"kubernetes junk", map[string]string{"JOB_COMPLETION_INDEX": "x"}, 3, 0, 0, false, `JOB_COMPLETION_INDEX="x" is not a whole number`},
		{"total without index", nil, 3, 0, 0, false, "JOB_COMPLETION_INDEX set; it is not set here"},
	} {
		s, ok, err := shardFromEnv(func(k string) string { return c.env[k] }, c.total)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || ok != c.ok || s.index != c.k || s.total != c.n {
			t.Errorf("%s: %+v ok=%v err=%v, want %d/%d ok=%v", c.name, s, ok, err, c.k, c.n, c.ok)
		}
	}
}

func refsNamed(names ...string) []scenarioRef {
	out := make([]scenarioRef, len(names))
	for i, n := range names {
		out[i] = scenarioRef{uri: "f.feature", name: n}
	}
	return out
}

func partNames(parts [][]scenarioRef) [][]string {
	out := make([][]string, len(parts))
	for i, p := range parts {
		out[i] = []string{}
		for _, r := range p {
			out[i] = append(out[i], r.name)
		}
	}
	return out
}

func TestPartition(t *testing.T) {
	refs := refsNamed("a", "b", "c", "d", "e", "f", "g")
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, c := range []struct {
		name      string
		n         int
		durations map[string]time.Duration
		want      [][]string
	}{
		{"count", 3, nil, [][]string{{"a", "d", "g"}, {"b", "e"}, {"c", "f"}}},
		{"one part", 1, nil, [][]string{{"a", "b", "c", "d", "e", "f", "g"}}},
		{"more parts than scenarios", 9, nil, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, {}, {}}},
		// Longest first, each to the least loaded part (ties to the
		// lower): g 90 | a 40, c, b, d (90) | e to the first, f to the
		// second: 100 against 100. Each part keeps file order.
		{"durations", 2, map[string]time.Duration{"f.feature: a": ms(40), "f.feature: b": ms(10), "f.feature: c": ms(30), "f.feature: d": ms(10), "f.feature: e": ms(10), "f.feature: f": ms(10), "f.feature: g": ms(90)},
			[][]string{{"e", "g"}, {"a", "b", "c", "d", "f"}}},
		// Unknown scenarios weigh the mean of the known ones (20): a 30,
		// then c, d, e, f, g 20 each, then b 10: 70 against 70.
		{"durations with unknowns", 2, map[string]time.Duration{"f.feature: a": ms(30), "f.feature: b": ms(10)},
			[][]string{{"a", "e", "g"}, {"b", "c", "d", "f"}}},
		// Scenarios that took no time (as on virtual time) tie on work at
		// every step: the part with fewer scenarios takes the next, so
		// they are dealt out as by count, not all to the first part.
		{"durations all zero", 3, map[string]time.Duration{"f.feature: a": 0, "f.feature: b": 0, "f.feature: c": 0, "f.feature: d": 0, "f.feature: e": 0, "f.feature: f": 0, "f.feature: g": 0},
			[][]string{{"a", "d", "g"}, {"b", "e"}, {"c", "f"}}},
		// Work first, then numbers: b (50) outweighs a, c and d (10 each).
		{"durations outweigh numbers", 2, map[string]time.Duration{"f.feature: a": ms(10), "f.feature: b": ms(50), "f.feature: c": ms(10), "f.feature: d": ms(10), "f.feature: e": 0, "f.feature: f": 0, "f.feature: g": 0},
			[][]string{{"b"}, {"a", "c", "d", "e", "f", "g"}}},
	} {
		got := partNames(partition(refs, c.n, c.durations))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Every part of the real features, parsed as godog parses it, has exactly
// the part's scenarios, on the lines of the real files; the parts together
// have each selected scenario once.
func TestShardContentsKeepLines(t *testing.T) {
	t.Parallel()
	root := runRoot("../../fixtures")
	refs, srcs, err := selectScenarios([]string{"../../features"}, "", root)
	if err != nil {
		t.Fatal(err)
	}
	tagged, _, err := selectScenarios([]string{"../../features"}, "@mqtt5 && ~@model-2.0.20", root)
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged) == 0 || len(tagged) >= len(refs) {
		t.Fatalf("tags select %d of %d", len(tagged), len(refs))
	}
	for _, n := range []int{2, 3, 7} {
		seen := map[string]int{}
		for _, part := range partition(refs, n, nil) {
			for _, f := range shardContents(part, srcs) {
				ids := (&messages.Incrementing{}).NewId
				doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(f.Contents), ids)
				if err != nil {
					t.Fatalf("N=%d %s: %v", n, f.Name, err)
				}
				_, rows := astIndex(doc)
				for _, p := range gherkin.Pickles(*doc, f.Name, ids) {
					line := 0
					if len(p.AstNodeIds) > 1 {
						line = int(rows[p.AstNodeIds[1]].Location.Line)
					}
					i := slices.IndexFunc(part, func(r scenarioRef) bool {
						return r.file == f.Name && strings.HasPrefix(r.name, p.Name) && (line == 0 || r.line == line)
					})
					if i < 0 {
						t.Errorf("N=%d %s: %q (line %d) is not in the part", n, f.Name, p.Name, line)
						continue
					}
					seen[part[i].key()]++
				}
				// Lines keep their numbers.
				if got, want := bytes.Count(f.Contents, []byte("\n")), bytes.Count(srcs[f.Name].data, []byte("\n")); got != want {
					t.Errorf("N=%d %s: %d lines, the file has %d", n, f.Name, got, want)
				}
			}
		}
		for _, r := range refs {
			if seen[r.key()] != 1 {
				t.Errorf("N=%d: %s is in %d parts", n, r.key(), seen[r.key()])
			}
		}
	}
}

func TestParseDurations(t *testing.T) {
	for _, c := range []struct{ name, in, wantErr string }{
		{"ok", `{"scenarios":[{"feature":"f","name":"a","duration_ms":12.5}]}`, ""},
		{"not json", `{`, "not a run's manifest.json"},
		{"no scenarios", `{"seed":1}`, "lists no scenarios"},
		{"no name", `{"scenarios":[{"feature":"f","duration_ms":1}]}`, "scenarios[0]: feature and name are required"},
		{"negative", `{"scenarios":[{"feature":"f","name":"a","duration_ms":-1}]}`, "scenarios[0] (f: a): duration_ms -1"},
	} {
		d, err := parseDurations("m.json", []byte(c.in))
		if c.wantErr == "" {
			if err != nil || d["f: a"] != 12500*time.Microsecond {
				t.Errorf("%s: %v %v", c.name, d, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "m.json") {
			t.Errorf("%s: %v, want an error naming m.json with %q", c.name, err, c.wantErr)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/4", "0/0", "-1/3", "9999999999999999999/1", "1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseShard(s)
		if err == nil && (spec.index < 1 || spec.index > spec.total || spec.total > maxShards) {
			t.Fatalf("%q: %+v accepted", s, spec)
		}
	})
}

func FuzzParseDurations(f *testing.F) {
	f.Add([]byte(`{"scenarios":[{"feature":"f","name":"a","duration_ms":12.5}]}`))
	f.Add([]byte(`{"scenarios":[{"feature":"f","name":"a","duration_ms":1e300}]}`))
	f.Add([]byte(`{"scenarios":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDurations("fuzz.json", b)
		if err != nil {
			return
		}
		for k, v := range d {
			if v < 0 || v > 24*time.Hour {
				t.Fatalf("%s: %v accepted", k, v)
			}
		}
	})
}

// shardPaths are the features the shard tests run: passing (the nine
// examples of one outline, selected by its line, which a shard must keep),
// skipped (releases.feature's other model) and failing scenarios
// (testdata/fails). On virtual time these scenarios may be recorded as
// taking no time: --durations must still deal them out (its tie-break).
var shardPaths = []string{"../../features/onpublish_outcomes.feature:12", "../../features/releases.feature", "testdata/fails"}

// runOutcomes runs `mqtthil run` with args on shardPaths, and reads the
// folder back: each scenario's outcome and account, by feature and name.
func runOutcomes(t *testing.T, out string, args ...string) (code int, stdout string, outcomes map[string]string) {
	t.Helper()
	args = append([]string{"run", "--out", out, "--fixtures", "../../fixtures", "--concurrency", "4"}, args...)
	// On virtual time: the same outcomes in every run however loaded the
	// machine, which a comparison of runs needs, at a fraction of the cost.
	var o, e bytes.Buffer
	code = dispatch(withVirtualRun(context.Background(), t), append(append([]string{"run", "--fingerprint", "off"}, args[1:]...), shardPaths...), &o, &e)
	stdout, stderr := o.String(), e.String()
	if code == exitUsage || code == exitHarness {
		t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return code, stdout, folderOutcomes(t, out)
}

func folderOutcomes(t *testing.T, dir string) map[string]string {
	t.Helper()
	run, err := report.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, sf := range run.Scenarios {
		k := sf.URI + ": " + sf.Name
		if _, dup := m[k]; dup {
			t.Errorf("%s: %s twice", dir, k)
		}
		s := report.ScenarioOf(sf, 0)
		m[k] = s.Outcome + " " + accountLine(s.Account)
	}
	return m
}

// TestThreeShardsMergedEqualOneRun: three shards and their merge give the
// scenarios and outcomes of one whole run, each scenario once, and the
// merged folder verifies; so do three shards balanced by the whole run's
// durations.
func TestThreeShardsMergedEqualOneRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole")
	wholeCode, _, want := runOutcomes(t, whole)
	if wholeCode != exitFailed || len(want) < 12 {
		t.Fatalf("the whole run: exit %d, %d scenarios; want exit 1 (testdata/fails) and 12 or more", wholeCode, len(want))
	}
	kinds := map[string]bool{}
	for _, o := range want {
		kinds[strings.Fields(o)[0]] = true
	}
	if !kinds[report.Passed] || !kinds[report.Failed] || !kinds[report.Skipped] {
		t.Fatalf("the whole run's outcomes %v: want passed, failed and skipped ones", kinds)
	}
	for _, by := range []string{"count", "durations"} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			var shards []string
			sum := 0
			for k := 1; k <= 3; k++ {
				out := filepath.Join(dir, fmt.Sprintf("%s-%d", by, k))
				args := []string{"--shard", fmt.Sprintf("%d/3", k)}
				if by == "durations" {
					args = append(args, "--durations", filepath.Join(whole, report.ManifestFile))
				}
				_, stdout, got := runOutcomes(t, out, args...)
				first, _, _ := strings.Cut(stdout, "\n")
				balanced := "count"
				if by == "durations" {
					balanced = "the durations in " + filepath.Join(whole, report.ManifestFile)
				}
				if first != fmt.Sprintf("mqtthil: shard %d/3 (from --shard): %d of %d selected scenario(s), balanced by %s", k, len(got), len(want), balanced) {
					t.Errorf("first line %q", first)
				}
				run, err := report.LoadRun(out)
				if err != nil {
					t.Fatal(err)
				}
				if s := run.Manifest.Shard; s == nil || s.Index != k || s.Total != 3 || s.By != by || s.Selected != len(want) {
					t.Errorf("shard %d: manifest shard %+v", k, s)
				}
				if len(got) == 0 || len(got) == len(want) {
					t.Errorf("shard %d/3 ran %d of %d scenarios", k, len(got), len(want))
				}
				sum += len(got)
				shards = append(shards, out)
			}
			if sum != len(want) {
				t.Errorf("the shards ran %d scenarios, the whole run %d", sum, len(want))
			}
			merged := filepath.Join(dir, by+"-merged")
			code, stdout, stderr := runCmd(t, append([]string{"merge", "--out", merged}, shards...)...)
			if code != wholeCode {
				t.Fatalf("merge: exit %d, the whole run %d\n%s%s", code, wholeCode, stdout, stderr)
			}
			got := folderOutcomes(t, merged)
			if d := differing(want, got); len(d) > 0 {
				for _, k := range d {
					t.Errorf("%s\n  whole:  %q\n  merged: %q", k, want[k], got[k])
				}
			}
			if code, stdout, _ := runCmd(t, "verify", merged); code != 0 {
				t.Errorf("verify the merged folder: exit %d\n%s", code, stdout)
			}
			run, err := report.LoadRun(merged)
			if err != nil {
				t.Fatal(err)
			}
			m := run.Manifest
			if len(m.Shards) != 3 || m.Shard != nil || len(m.Scenarios) != len(want) || m.Seed != 1 {
				t.Errorf("merged manifest: %d shards, shard %+v, %d scenarios, seed %d", len(m.Shards), m.Shard, len(m.Scenarios), m.Seed)
			}
			for i, s := range m.Shards {
				if s.Shard == nil || s.Shard.Index != i+1 || s.Controller.Kind != "sim" || s.Station == "" || s.Seed != 1 {
					t.Errorf("merged manifest, shard %d: %+v", i+1, s)
				}
			}
			wantCounts, _ := report.LoadRun(whole)
			if fmt.Sprint(m.Counts) != fmt.Sprint(wantCounts.Counts()) {
				t.Errorf("merged counts %v, whole %v", m.Counts, wantCounts.Counts())
			}
			// JUnit and Cucumber JSON hold every scenario once too.
			junit, _ := os.ReadFile(filepath.Join(merged, report.JUnitFile))
			if n := strings.Count(string(junit), "<testcase "); n != len(want) {
				t.Errorf("junit.xml: %d test cases, want %d", n, len(want))
			}
			if n := cucumberScenarios(t, filepath.Join(merged, report.CucumberFile)); n != len(want) {
				t.Errorf("cucumber.json: %d scenarios, want %d", n, len(want))
			}
			html, _ := os.ReadFile(filepath.Join(merged, report.HTMLFile))
			if n := strings.Count(string(html), `<details class="sc `); n != len(want) {
				t.Errorf("report.html: %d scenarios, want %d", n, len(want))
			}
		})
	}
}

func cucumberScenarios(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var feats []struct {
		Elements []struct {
			Type string `json:"type"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(b, &feats); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range feats {
		for _, e := range f.Elements {
			if e.Type != "background" {
				n++
			}
		}
	}
	return n
}

// The shard comes from a CI engine's environment when --shard is not
// given, and the first line says which it is.
func TestShardFromEnvironment(t *testing.T) {
	for _, c := range []struct {
		env   map[string]string
		args  []string
		first string
	}{
		{map[string]string{"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"}, nil, "mqtthil: shard 2/2 (from CI_NODE_INDEX/CI_NODE_TOTAL)"},
		{map[string]string{"BUILDKITE_PARALLEL_JOB": "0", "BUILDKITE_PARALLEL_JOB_COUNT": "2"}, nil, "mqtthil: shard 1/2 (from BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT)"},
		{map[string]string{"JOB_COMPLETION_INDEX": "1"}, []string{"--shard-total", "2"}, "mqtthil: shard 2/2 (from JOB_COMPLETION_INDEX/--shard-total)"},
		// --shard wins over the environment.
		{map[string]string{"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"}, []string{"--shard", "1/2"}, "mqtthil: shard 1/2 (from --shard)"},
	} {
		t.Run(c.first, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			out := t.TempDir()
			args := append([]string{"run", "--out", out, "--fixtures", "../../fixtures", "--time-scale", "0.05"}, c.args...)
			code, stdout, stderr := runCmd(t, append(args, "testdata/fails")...)
			if code != exitPassed && code != exitFailed {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if first, _, _ := strings.Cut(stdout, "\n"); !strings.HasPrefix(first, c.first) {
				t.Errorf("first line %q, want %q", first, c.first)
			}
			if run, err := report.LoadRun(out); err != nil || run.Manifest.Shard == nil || len(run.Scenarios) != 1 {
				t.Errorf("the folder: %v", err)
			}
		})
	}
}

func TestShardUsageErrors(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		args    []string
		wantErr string
	}{
		{nil, []string{"--shard", "3/2"}, "K = 3"},
		{nil, []string{"--shard-total", "2"}, "JOB_COMPLETION_INDEX set; it is not set here"},
		{nil, []string{"--shard", "1/2", "--shard-total", "2"}, "--shard-total goes with JOB_COMPLETION_INDEX"},
		{map[string]string{"JOB_COMPLETION_INDEX": "0"}, nil, "give --shard-total"},
		{map[string]string{"CI_NODE_INDEX": "4", "CI_NODE_TOTAL": "3"}, nil, "CI_NODE_INDEX=4, CI_NODE_TOTAL=3"},
		{nil, []string{"--durations", "x.json"}, "give --shard K/N too"},
		{nil, []string{"--shard", "1/2", "--durations", "no-such.json"}, "--durations: open no-such.json"},
	} {
		t.Run(c.wantErr, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			args := append([]string{"run", "--out", t.TempDir(), "--fixtures", "../../fixtures"}, c.args...)
			code, _, stderr := runCmd(t, append(args, "testdata/fails")...)
			if code != exitUsage || !strings.Contains(stderr, c.wantErr) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, c.wantErr, stderr)
			}
		})
	}
}

// A shard with no scenarios (more parts than scenarios) passes with a
// note, and its folder merges with the others.
func TestEmptyShard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var folders []string
	for k := 1; k <= 3; k++ {
		out := filepath.Join(dir, fmt.Sprint(k))
		code, stdout, stderr := runCmd(t, "run", "--out", out, "--fixtures", "../../fixtures", "--time-scale", "0.05", "--shard", fmt.Sprintf("%d/3", k), "testdata/fails")
		switch {
		case k == 3 && (code != exitPassed || !strings.Contains(stderr, "shard 3/3 has no scenarios (2 selected in all)")):
			t.Errorf("the empty shard: exit %d\n%s%s", code, stdout, stderr)
		case k < 3 && code == exitUsage:
			t.Fatalf("shard %d: exit %d\n%s", k, code, stderr)
		}
		folders = append(folders, out)
	}
	if p, err := report.VerifySums(folders[2]); err != nil || len(p) > 0 {
		t.Errorf("the empty shard's folder: %v %v", p, err)
	}
	merged := filepath.Join(dir, "merged")
	code, stdout, stderr := runCmd(t, append([]string{"merge", "--out", merged}, folders...)...)
	if code != exitFailed {
		t.Fatalf("merge: exit %d, want 1 (a scenario failed)\n%s%s", code, stdout, stderr)
	}
	if got := folderOutcomes(t, merged); len(got) != 2 {
		t.Errorf("merged: %v", got)
	}
}
