package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/report"
)

func init() {
	register(command{
		name:    "merge",
		summary: "merge the run folders of a run's shards into one: merge --out DIR RUN_DIR...",
		run:     runMerge,
	})
}

// mergeFlags is merge's flag set; out receives --out.
func mergeFlags(out *string, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet("merge", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(out, "out", "", "the merged run folder (must not exist, or be empty)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil merge --out DIR RUN_DIR...")
		fmt.Fprintln(stderr, "  Merges the run folders of one run's shards (mqtthil run --shard K/N) into one folder:")
		fmt.Fprintln(stderr, "  records and journals, JUnit, Cucumber JSON, a manifest naming every shard's")
		fmt.Fprintln(stderr, "  controller, station and seed, report.html, and a new SHA256SUMS. It refuses (exit 2,")
		fmt.Fprintln(stderr, "  nothing written) folders that fail `mqtthil verify`, that ran other features, seeds,")
		fmt.Fprintln(stderr, "  models, tags or harness versions, a scenario that two folders hold, and an incomplete")
		fmt.Fprintln(stderr, "  set of shards. Otherwise it exits with the merged run's verdict, as `mqtthil run` would.")
		fmt.Fprintln(stderr)
		fl.PrintDefaults()
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, exitCodesHelp)
	}
	return fl
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterleaved(fl *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := fl.Parse(rest); err != nil {
			return nil, err
		}
		if fl.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fl.Arg(0))
		rest = fl.Args()[1:]
	}
}

func runMerge(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var outDir string
	out := &outDir
	fl := mergeFlags(out, stderr)
	dirs, err := parseInterleaved(fl, args)
	if err != nil {
		return parseExit(err)
	}
	if *out == "" || len(dirs) == 0 {
		fl.Usage()
		return exitUsage
	}
	run, err := mergeRuns(*out, dirs)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil merge: refused: %v\n", err)
		return exitUsage
	}
	counts := run.Counts()
	fmt.Fprintf(stdout, "mqtthil merge: %d folder(s), %d scenario(s):", len(dirs), len(run.Scenarios))
	for _, o := range report.Outcomes {
		if counts[o] > 0 {
			fmt.Fprintf(stdout, " %d %s", counts[o], o)
		}
	}
	fmt.Fprintf(stdout, "\nreports in %s (report.html, junit.xml, cucumber.json, manifest.json, scenarios/, SHA256SUMS)\n", *out)
	switch {
	case len(run.Scenarios) == 0:
		fmt.Fprintln(stderr, "mqtthil merge: the folders hold no scenarios")
		return exitUsage
	case counts[report.Error]+counts[report.TimedOut] > 0:
		return exitHarness
	case counts[report.Failed] > 0:
		return exitFailed
	}
	return exitPassed
}

// mergeRuns checks that the run folders in dirs are parts of one run and
// writes them as one folder into out.
func mergeRuns(out string, dirs []string) (*report.Run, error) {
	if err := checkMergeOut(out, dirs); err != nil {
		return nil, err
	}
	runs := make([]*report.Run, len(dirs))
	for i, d := range dirs {
		problems, err := report.VerifySums(d)
		if err != nil {
			return nil, fmt.Errorf("%s fails mqtthil verify: %w", d, err)
		}
		if len(problems) > 0 {
			shown := problems[:min(3, len(problems))]
			return nil, fmt.Errorf("%s fails mqtthil verify (%d problem(s)): %s", d, len(problems), strings.Join(shown, "; "))
		}
		if runs[i], err = report.LoadRun(d); err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
	}
	if err := checkSameRun(dirs, runs); err != nil {
		return nil, err
	}
	if err := checkShards(dirs, runs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(out, report.ScenariosDir), 0o755); err != nil {
		return nil, err
	}
	m := mergedManifest(dirs, runs)
	n := 0
	for i, run := range runs {
		for _, sf := range run.Scenarios {
			n++
			if err := copyScenario(runs[i].Dir, out, sf, n); err != nil {
				return nil, err
			}
			m.Scenarios = append(m.Scenarios, report.ScenarioEntry{Feature: sf.URI, Name: sf.Name, Outcome: sf.Outcome,
				DurationMS: float64(sf.Ended.Sub(sf.Started).Microseconds()) / 1000, Station: sf.Identity.Station})
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, report.ManifestFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := mergeCucumber(out, dirs); err != nil {
		return nil, err
	}
	merged, err := report.LoadRun(out)
	if err != nil {
		return nil, err
	}
	var scenarios []report.Scenario
	for _, sf := range merged.Scenarios {
		scenarios = append(scenarios, report.ScenarioOf(sf, junitExcerpt))
	}
	if err := errors.Join(writeJUnit(merged, scenarios), report.WriteHTMLFile(merged)); err != nil {
		return nil, err
	}
	return merged, report.WriteSums(out)
}

// checkMergeOut refuses an output folder that holds files, or is one of
// the inputs.
func checkMergeOut(out string, dirs []string) error {
	abs, _ := filepath.Abs(out)
	for _, d := range dirs {
		if a, _ := filepath.Abs(d); a == abs {
			return fmt.Errorf("--out %s is one of the folders to merge", out)
		}
	}
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %w", out, err)
	case len(entries) > 0:
		return fmt.Errorf("--out %s holds files already; merge into a new folder", out)
	}
	return nil
}

// checkSameRun refuses folders that are not parts of one run: other
// features, seeds, models, tags, time scales or harness versions.
func checkSameRun(dirs []string, runs []*report.Run) error {
	first := runs[0].Manifest
	for i, run := range runs[1:] {
		m, d := run.Manifest, dirs[i+1]
		if err := sameFeatures(dirs[0], first.Features, d, m.Features); err != nil {
			return err
		}
		for _, c := range []struct{ what, a, b string }{
			{"seed", fmt.Sprint(first.Seed), fmt.Sprint(m.Seed)},
			{"model version", first.Model, m.Model},
			{"tags", first.Tags, m.Tags},
			{"time scale", fmt.Sprint(first.TimeScale), fmt.Sprint(m.TimeScale)},
			{"harness version", first.Harness, m.Harness},
		} {
			if c.a != c.b {
				return fmt.Errorf("%s has %s %q, %s has %q: the folders are not parts of one run", d, c.what, c.b, dirs[0], c.a)
			}
		}
	}
	return nil
}

func sameFeatures(dirA string, a map[string]string, dirB string, b map[string]string) error {
	for _, f := range slices.Sorted(maps.Keys(a)) {
		hb, ok := b[f]
		switch {
		case !ok:
			return fmt.Errorf("different feature sets: %s ran %s, %s did not", dirA, f, dirB)
		case hb != a[f]:
			return fmt.Errorf("different feature sets: %s differs between %s (sha256 %.12s) and %s (sha256 %.12s)", f, dirA, a[f], dirB, hb)
		}
	}
	for _, f := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[f]; !ok {
			return fmt.Errorf("different feature sets: %s ran %s, %s did not", dirB, f, dirA)
		}
	}
	return nil
}

// checkShards refuses a scenario that two folders hold, shards of
// different splits, a shard given twice and a set of shards with one
// missing.
func checkShards(dirs []string, runs []*report.Run) error {
	where := map[string]string{}
	total := 0
	for i, run := range runs {
		for _, sf := range run.Scenarios {
			k := sf.URI + ": " + sf.Name
			if other, dup := where[k]; dup {
				if other == dirs[i] {
					return fmt.Errorf("%s holds scenario %q twice", dirs[i], k)
				}
				return fmt.Errorf("scenario %q is in both %s and %s", k, other, dirs[i])
			}
			where[k] = dirs[i]
			total++
		}
	}
	first := runs[0].Manifest.Shard
	seen := map[int]string{}
	for i, run := range runs {
		s := run.Manifest.Shard
		switch {
		case (s == nil) != (first == nil):
			whole := dirs[0]
			if s == nil {
				whole = dirs[i]
			}
			return fmt.Errorf("%s is a whole run, not a shard; merge the shards of one run", whole)
		case s == nil:
			continue
		case s.Total != first.Total:
			return fmt.Errorf("%s is shard %d/%d, %s is shard %d/%d: shards of different splits", dirs[i], s.Index, s.Total, dirs[0], first.Index, first.Total)
		case s.Hash != first.Hash || s.Selected != first.Selected:
			return fmt.Errorf("%s and %s selected different scenarios (%d, selection %s; %d, selection %s)", dirs[i], dirs[0], s.Selected, s.Hash, first.Selected, first.Hash)
		case s.By != first.By || s.DurationsFrom != first.DurationsFrom:
			return fmt.Errorf("%s was balanced %s, %s %s: the parts do not fit together", dirs[i], balance(s), dirs[0], balance(first))
		}
		if other, dup := seen[s.Index]; dup {
			return fmt.Errorf("%s and %s are both shard %d/%d", other, dirs[i], s.Index, s.Total)
		}
		seen[s.Index] = dirs[i]
	}
	if first == nil {
		return nil
	}
	var missing []string
	for k := 1; k <= first.Total; k++ {
		if seen[k] == "" {
			missing = append(missing, fmt.Sprintf("%d/%d", k, first.Total))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shard(s) %s missing: a merged folder holds every shard of a run", strings.Join(missing, ", "))
	}
	if total != first.Selected {
		return fmt.Errorf("the shards hold %d scenario(s), but their run selected %d", total, first.Selected)
	}
	return nil
}

func balance(s *report.Shard) string {
	if s.By == "durations" {
		return "by the durations in " + s.DurationsFrom
	}
	return "by " + s.By
}

func mergedManifest(dirs []string, runs []*report.Run) report.Manifest {
	first := runs[0].Manifest
	m := report.Manifest{
		Harness: first.Harness, Controller: first.Controller, Seed: first.Seed, TimeScale: first.TimeScale,
		Tags: first.Tags, Features: first.Features, Model: first.Model, Counts: map[string]int{},
		Started: first.Started, Ended: first.Ended,
	}
	var stations []string
	var ids []controller.Identity
	addID := func(id controller.Identity) {
		if id.Kind != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for i, run := range runs {
		rm := run.Manifest
		m.Shards = append(m.Shards, report.ShardRun{Folder: filepath.Clean(dirs[i]), Shard: rm.Shard, Harness: rm.Harness, Seed: rm.Seed, Model: rm.Model,
			Controller: rm.Controller, Controllers: rm.Controllers, Station: rm.Station, Started: rm.Started, Ended: rm.Ended, Counts: rm.Counts, Fingerprint: rm.Fingerprint})
		if rm.Started.Before(m.Started) {
			m.Started = rm.Started
		}
		if rm.Ended.After(m.Ended) {
			m.Ended = rm.Ended
		}
		for k, v := range rm.Counts {
			m.Counts[k] += v
		}
		if rm.Station != "" && !slices.Contains(stations, rm.Station) {
			stations = append(stations, rm.Station)
		}
		addID(rm.Controller)
		for _, id := range rm.Controllers {
			addID(id)
		}
		m.StationEvents = append(m.StationEvents, rm.StationEvents...)
	}
	sort.Strings(stations)
	m.Station = strings.Join(stations, ", ")
	if len(ids) > 1 {
		m.Controllers = ids
	}
	return m
}

// copyScenario copies a scenario's record and journal into the merged
// folder, numbered n there.
func copyScenario(from, out string, sf *report.ScenarioFile, n int) error {
	base := fmt.Sprintf("%04d-%s", n, report.SafeName(sf.URI, sf.Name))
	c := *sf
	if sf.JournalFile != "" {
		c.JournalFile = base + ".jsonl"
		b, err := os.ReadFile(filepath.Join(from, report.ScenariosDir, sf.JournalFile))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, report.ScenariosDir, c.JournalFile), b, 0o644); err != nil {
			return err
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, report.ScenariosDir, base+".json"), append(b, '\n'), 0o644)
}

// maxCucumber bounds one folder's cucumber.json as merge reads it.
const maxCucumber = 512 << 20

// mergeCucumber writes one Cucumber JSON of every folder's features, a
// feature that several shards ran once with all their scenarios.
func mergeCucumber(out string, dirs []string) error {
	var merged []map[string]any
	byURI := map[string]map[string]any{}
	for _, d := range dirs {
		p := filepath.Join(d, report.CucumberFile)
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if st.Size() > maxCucumber {
			return fmt.Errorf("%s: larger than %d MiB", p, maxCucumber>>20)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var feats []map[string]any
		if err := json.Unmarshal(b, &feats); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, f := range feats {
			uri, _ := f["uri"].(string)
			have, ok := byURI[uri]
			if !ok {
				byURI[uri] = f
				merged = append(merged, f)
				continue
			}
			a, _ := have["elements"].([]any)
			e, _ := f["elements"].([]any)
			have["elements"] = append(a, e...)
		}
	}
	sort.SliceStable(merged, func(i, j int) bool {
		a, _ := merged[i]["uri"].(string)
		b, _ := merged[j]["uri"].(string)
		return a < b
	})
	if merged == nil {
		merged = []map[string]any{}
	}
	b, err := json.MarshalIndent(merged, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, report.CucumberFile), append(b, '\n'), 0o644)
}
