// Shards: one part of a run's selected scenarios, so that a CI engine can
// split a suite across its machines (a GitHub Actions matrix, GitLab's
// parallel:, a Kubernetes Indexed Job, Buildkite parallelism) and
// `mqtthil merge` can put the parts back together.
//
// The scenarios are those the features and --tags select, each an outline
// row or a plain scenario, named as the run's records name them. The parts
// depend on nothing but that list, N and the durations file, so every
// machine computes the same parts without talking to the others. godog is
// then given each feature file with the scenarios of other parts turned
// into comments: lines keep their numbers, so records, Cucumber JSON and
// failure messages point into the real files.
package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	gherkin "github.com/cucumber/gherkin/go/v42"
	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/report"
	"github.com/mqtthil/mqtthil/steps"
)

// shardSpec is which part of how many a run runs, and where that came from.
type shardSpec struct {
	index, total int // index is 1-based
	from         string
}

// maxShards bounds N: a part per scenario is already more than any CI
// engine runs.
const maxShards = 10000

// parseShard reads "K/N" (1 <= K <= N).
func parseShard(s string) (shardSpec, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return shardSpec{}, fmt.Errorf("--shard %q: want K/N, such as 2/4 (the second of four parts; K counts from 1)", s)
	}
	ki, err1 := strconv.Atoi(strings.TrimSpace(k))
	ni, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return shardSpec{}, fmt.Errorf("--shard %q: K and N must be whole numbers, as in 2/4", s)
	}
	if err := checkShard(ki, ni); err != nil {
		return shardSpec{}, fmt.Errorf("--shard %q: %w", s, err)
	}
	return shardSpec{index: ki, total: ni, from: "--shard"}, nil
}

func checkShard(k, n int) error {
	switch {
	case n < 1 || n > maxShards:
		return fmt.Errorf("N = %d: want 1 to %d parts", n, maxShards)
	case k < 1 || k > n:
		return fmt.Errorf("K = %d: want 1 to %d (K counts from 1)", k, n)
	}
	return nil
}

// shardFromEnv finds the shard in the environment of the CI engines that
// split a job into parallel copies. total is --shard-total (0 when not
// given), which a Kubernetes Indexed Job needs: its pods know their index
// (JOB_COMPLETION_INDEX) but not the number of completions. ok is false
// when no engine says anything.
func shardFromEnv(getenv func(string) string, total int) (spec shardSpec, ok bool, err error) {
	num := func(name string) (int, error) {
		v := getenv(name)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not a whole number", name, v)
		}
		return n, nil
	}
	pair := func(idxVar, totVar string, base int) (shardSpec, bool, error) {
		i, err := num(idxVar)
		if err != nil {
			return shardSpec{}, false, err
		}
		n, err := num(totVar)
		if err != nil {
			return shardSpec{}, false, fmt.Errorf("%s is set: %w", idxVar, err)
		}
		from := idxVar + "/" + totVar
		if err := checkShard(i-base+1, n); err != nil {
			return shardSpec{}, false, fmt.Errorf("%s=%d, %s=%d: %w", idxVar, i, totVar, n, err)
		}
		return shardSpec{index: i - base + 1, total: n, from: from}, true, nil
	}
	if total != 0 && getenv("JOB_COMPLETION_INDEX") == "" {
		return shardSpec{}, false, errors.New("--shard-total is for a Kubernetes Indexed Job, whose pods have JOB_COMPLETION_INDEX set; it is not set here (give --shard K/N instead)")
	}
	switch {
	case getenv("CI_NODE_INDEX") != "": // GitLab parallel: 1-based
		return pair("CI_NODE_INDEX", "CI_NODE_TOTAL", 1)
	case getenv("BUILDKITE_PARALLEL_JOB") != "": // Buildkite: 0-based
		return pair("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0)
	case getenv("JOB_COMPLETION_INDEX") != "": // Kubernetes Indexed Job: 0-based
		i, err := num("JOB_COMPLETION_INDEX")
		if err != nil {
			return shardSpec{}, false, err
		}
		if total == 0 {
			return shardSpec{}, false, fmt.Errorf("JOB_COMPLETION_INDEX=%d is set (a Kubernetes Indexed Job): give --shard-total with the Job's completions, or --shard 1/1 to run every scenario", i)
		}
		if err := checkShard(i+1, total); err != nil {
			return shardSpec{}, false, fmt.Errorf("JOB_COMPLETION_INDEX=%d, --shard-total %d: %w", i, total, err)
		}
		return shardSpec{index: i + 1, total: total, from: "JOB_COMPLETION_INDEX/--shard-total"}, true, nil
	}
	return shardSpec{}, false, nil
}

// scenarioRef is one scenario a run selects: a plain scenario or one row
// of an outline.
type scenarioRef struct {
	file string // the feature file as godog is given it
	uri  string // the feature as records name it (from the run's root)
	name string // as records name it: an outline row carries its values
	line int    // the scenario's line, or the outline row's
	// scenario is the scenario's AST node; row the outline row's, or nil.
	scenario *messages.Scenario
	row      *messages.TableRow
}

func (s scenarioRef) key() string { return s.uri + ": " + s.name }

// featureSource is a feature file read for selection.
type featureSource struct {
	data []byte
	doc  *messages.GherkinDocument
}

// selectScenarios lists the scenarios paths and tags select, in file
// order (files sorted as godog walks folders), then line order.
func selectScenarios(paths []string, tags, root string) ([]scenarioRef, map[string]*featureSource, error) {
	type want struct{ lines map[int]bool } // nil: every scenario
	files := map[string]*want{}
	var order []string
	add := func(f string, line int) {
		w, seen := files[f]
		if !seen {
			w = &want{lines: map[int]bool{}}
			files[f] = w
			order = append(order, f)
		}
		if line < 0 {
			w.lines = nil
		} else if w.lines != nil {
			w.lines[line] = true
		}
	}
	for _, p := range paths {
		f, line := featureFile(p), -1
		if f != p {
			line, _ = strconv.Atoi(p[len(f)+1:])
		}
		st, err := os.Stat(f)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			add(f, line)
			continue
		}
		err = filepath.WalkDir(f, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".feature") {
				add(path, -1)
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(order)
	srcs := map[string]*featureSource{}
	var out []scenarioRef
	for _, f := range order {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		ids := (&messages.Incrementing{}).NewId
		doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(data), ids)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		srcs[f] = &featureSource{data: data, doc: doc}
		scen, rows := astIndex(doc)
		uri := relativeTo(root, f)
		for _, p := range gherkin.Pickles(*doc, f, ids) {
			if tags != "" && !matchTags(tags, p.Tags) {
				continue
			}
			sc := scen[p.AstNodeIds[0]]
			if sc == nil {
				return nil, nil, fmt.Errorf("%s: scenario %q: no scenario in the file's outline", f, p.Name)
			}
			ref := scenarioRef{file: f, uri: uri, name: p.Name, line: int(sc.Location.Line), scenario: sc}
			if len(p.AstNodeIds) > 1 {
				if r := rows[p.AstNodeIds[len(p.AstNodeIds)-1]]; r != nil {
					ref.row, ref.line = r, int(r.Location.Line)
					if vals := steps.ExampleValuesAt(f, ref.line); vals != "" {
						ref.name += " " + vals
					}
				}
			}
			if w := files[f]; w.lines != nil && !w.lines[int(sc.Location.Line)] {
				continue
			}
			out = append(out, ref)
		}
	}
	return out, srcs, nil
}

// astIndex maps a document's scenario and outline row ids to their nodes.
func astIndex(doc *messages.GherkinDocument) (map[string]*messages.Scenario, map[string]*messages.TableRow) {
	scen := map[string]*messages.Scenario{}
	rows := map[string]*messages.TableRow{}
	addScenario := func(sc *messages.Scenario) {
		if sc == nil {
			return
		}
		scen[sc.Id] = sc
		for _, ex := range sc.Examples {
			for _, r := range ex.TableBody {
				rows[r.Id] = r
			}
		}
	}
	if doc.Feature == nil {
		return scen, rows
	}
	for _, c := range doc.Feature.Children {
		addScenario(c.Scenario)
		if c.Rule != nil {
			for _, rc := range c.Rule.Children {
				addScenario(rc.Scenario)
			}
		}
	}
	return scen, rows
}

// matchTags applies a --tags expression to a scenario's tags as godog
// does: alternatives split by ",", each a list of tags joined by "&&",
// "~" negating one. checkTags has refused malformed expressions.
func matchTags(expr string, tags []*messages.PickleTag) bool {
	has := func(name string) bool {
		return slices.ContainsFunc(tags, func(t *messages.PickleTag) bool { return strings.ReplaceAll(t.Name, "@", "") == name })
	}
	for _, alt := range strings.Split(expr, ",") {
		ok := len(alt) > 0
		for _, term := range strings.Split(alt, "&&") {
			term = strings.ReplaceAll(strings.TrimSpace(term), "@", "")
			if neg, found := strings.CutPrefix(term, "~"); found {
				ok = ok && !has(neg)
			} else {
				ok = ok && has(term)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// selectionHash identifies a selection: the same features and tags give
// the same hash on every machine.
func selectionHash(refs []scenarioRef) string {
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = r.key()
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		io.WriteString(h, k+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// partition splits refs into n parts. Without durations it deals them out
// in turn, so that the parts' sizes differ by at most one. With
// durations, the longest scenario goes first to the part with the least
// work so far (a scenario the durations do not know counts as their mean);
// between parts with as much work, to the one with fewer scenarios, then
// the lower part, so that scenarios recorded as taking no time (a run on
// virtual time, or quicker than the millisecond the manifest counts in)
// are dealt out as by count instead of all falling to the first part.
// Either way the parts depend only on refs, n and durations.
func partition(refs []scenarioRef, n int, durations map[string]time.Duration) [][]scenarioRef {
	parts := make([][]scenarioRef, n)
	if len(durations) == 0 {
		for i, r := range refs {
			parts[i%n] = append(parts[i%n], r)
		}
		return parts
	}
	var sum time.Duration
	known := 0
	for _, r := range refs {
		if d, ok := durations[r.key()]; ok {
			sum += d
			known++
		}
	}
	mean := time.Duration(1)
	if known > 0 {
		mean = max(sum/time.Duration(known), 1)
	}
	type item struct {
		i int
		d time.Duration
	}
	items := make([]item, len(refs))
	for i, r := range refs {
		d, ok := durations[r.key()]
		if !ok {
			d = mean
		}
		items[i] = item{i, d}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(b.d, a.d); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	load := make([]time.Duration, n)
	count := make([]int, n)
	owner := make([]int, len(refs))
	for _, it := range items {
		k := 0
		for j := 1; j < n; j++ {
			if load[j] < load[k] || load[j] == load[k] && count[j] < count[k] {
				k = j
			}
		}
		load[k] += it.d
		count[k]++
		owner[it.i] = k
	}
	// Each part runs in file order, as an unsharded run does.
	for i, r := range refs {
		parts[owner[i]] = append(parts[owner[i]], r)
	}
	return parts
}

// maxDurationsFile bounds what --durations reads: a manifest of 100,000
// scenarios is a few tens of MB.
const maxDurationsFile = 64 << 20

// readDurations reads a previous run's manifest.json for each scenario's
// duration.
func readDurations(path string) (map[string]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--durations: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDurationsFile+1))
	if err != nil {
		return nil, fmt.Errorf("--durations %s: %w", path, err)
	}
	if len(b) > maxDurationsFile {
		return nil, fmt.Errorf("--durations %s: larger than %d MiB; a run's manifest.json is expected", path, maxDurationsFile>>20)
	}
	return parseDurations(path, b)
}

func parseDurations(path string, b []byte) (map[string]time.Duration, error) {
	var m struct {
		Scenarios []report.ScenarioEntry `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("--durations %s: not a run's manifest.json: %w", path, err)
	}
	if len(m.Scenarios) == 0 {
		return nil, fmt.Errorf("--durations %s: the manifest lists no scenarios (it was written by an mqtthil without per-scenario durations, or the run ran none)", path)
	}
	out := make(map[string]time.Duration, len(m.Scenarios))
	for i, s := range m.Scenarios {
		if s.Feature == "" || s.Name == "" {
			return nil, fmt.Errorf("--durations %s: scenarios[%d]: feature and name are required", path, i)
		}
		if s.DurationMS < 0 || s.DurationMS > float64(24*time.Hour/time.Millisecond) {
			return nil, fmt.Errorf("--durations %s: scenarios[%d] (%s): duration_ms %v: want 0 to a day", path, i, s.Key(), s.DurationMS)
		}
		out[s.Key()] = time.Duration(s.DurationMS * float64(time.Millisecond))
	}
	return out, nil
}

// shardContents is the features godog runs for a part: each file that has
// scenarios in it, with every other scenario (or outline row) of the file
// made a comment line, so that line numbers stay those of the file.
func shardContents(part []scenarioRef, srcs map[string]*featureSource) []godog.Feature {
	keepScenario := map[*messages.Scenario]bool{}
	keepRow := map[*messages.TableRow]bool{}
	var files []string
	for _, r := range part {
		if !slices.Contains(files, r.file) {
			files = append(files, r.file)
		}
		keepScenario[r.scenario] = true
		if r.row != nil {
			keepRow[r.row] = true
		}
	}
	sort.Strings(files)
	out := make([]godog.Feature, 0, len(files))
	for _, f := range files {
		src := srcs[f]
		lines := strings.SplitAfter(string(src.data), "\n")
		blank := func(from, to int) { // 1-based, to exclusive
			for l := from; l < to && l <= len(lines); l++ {
				if strings.HasSuffix(lines[l-1], "\n") {
					lines[l-1] = "#\n"
				} else if lines[l-1] != "" {
					lines[l-1] = "#"
				}
			}
		}
		starts := blockStarts(src.doc)
		each := func(sc *messages.Scenario) {
			if sc == nil {
				return
			}
			if !keepScenario[sc] {
				from := startOf(sc.Location.Line, sc.Tags)
				to := len(lines) + 1
				if i := sort.Search(len(starts), func(i int) bool { return starts[i] > int(sc.Location.Line) }); i < len(starts) {
					to = starts[i]
				}
				blank(from, to)
				return
			}
			for _, ex := range sc.Examples {
				for _, r := range ex.TableBody {
					if !keepRow[r] {
						blank(int(r.Location.Line), int(r.Location.Line)+1)
					}
				}
			}
		}
		for _, c := range src.doc.Feature.Children {
			each(c.Scenario)
			if c.Rule != nil {
				for _, rc := range c.Rule.Children {
					each(rc.Scenario)
				}
			}
		}
		out = append(out, godog.Feature{Name: f, Contents: []byte(strings.Join(lines, ""))})
	}
	return out
}

// blockStarts are the lines where each background, scenario and rule of a
// document starts (its first tag, or its keyword), sorted.
func blockStarts(doc *messages.GherkinDocument) []int {
	var out []int
	add := func(c *messages.FeatureChild) {
		switch {
		case c.Background != nil:
			out = append(out, int(c.Background.Location.Line))
		case c.Scenario != nil:
			out = append(out, startOf(c.Scenario.Location.Line, c.Scenario.Tags))
		case c.Rule != nil:
			out = append(out, startOf(c.Rule.Location.Line, c.Rule.Tags))
		}
	}
	for _, c := range doc.Feature.Children {
		add(c)
		if c.Rule != nil {
			for _, rc := range c.Rule.Children {
				add(&messages.FeatureChild{Background: rc.Background, Scenario: rc.Scenario})
			}
		}
	}
	sort.Ints(out)
	return out
}

func startOf(line int64, tags []*messages.Tag) int {
	s := int(line)
	for _, t := range tags {
		s = min(s, int(t.Location.Line))
	}
	return s
}

// resolve completes the configuration from what the flags left open: the
// station folders, the shard (from the environment when --shard is not
// given) and, for a pool, the concurrency.
func (c *runConfig) resolve(shard string, getenv func(string) string, fl *flag.FlagSet) error {
	var err error
	if c.stations, err = expandStations(c.stations); err != nil {
		return err
	}
	given := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if len(c.stations) > 1 && !given["concurrency"] {
		c.concurrency = len(c.stations)
	}
	if c.shardTotal < 0 {
		return fmt.Errorf("--shard-total %d: want the number of parts", c.shardTotal)
	}
	switch {
	case shard != "" && c.shardTotal != 0:
		return errors.New("--shard-total goes with JOB_COMPLETION_INDEX; with --shard K/N the total is N")
	case shard != "":
		spec, err := parseShard(shard)
		if err != nil {
			return err
		}
		c.shard = &spec
	default:
		spec, ok, err := shardFromEnv(getenv, c.shardTotal)
		if err != nil {
			return err
		}
		if ok {
			c.shard = &spec
		}
	}
	return nil
}

// shardPlan is the part a sharded run runs.
type shardPlan struct {
	manifest *report.Shard
	part     []scenarioRef
	srcs     map[string]*featureSource
}

func planShard(cfg runConfig, root string) (*shardPlan, error) {
	refs, srcs, err := selectScenarios(cfg.paths, cfg.tags, root)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.key()] {
			return nil, fmt.Errorf("%s:%d: a second scenario named %q in %s: shards and merged runs tell scenarios apart by feature and name", r.file, r.line, r.name, r.uri)
		}
		seen[r.key()] = true
	}
	m := &report.Shard{Index: cfg.shard.index, Total: cfg.shard.total, From: cfg.shard.from, By: "count", Selected: len(refs), Hash: selectionHash(refs)}
	var durations map[string]time.Duration
	if cfg.durations != "" {
		if durations, err = readDurations(cfg.durations); err != nil {
			return nil, err
		}
		m.By, m.DurationsFrom = "durations", cfg.durations
	}
	parts := partition(refs, cfg.shard.total, durations)
	return &shardPlan{manifest: m, part: parts[cfg.shard.index-1], srcs: srcs}, nil
}

// line is the run's first console line.
func (p *shardPlan) line() string {
	m := p.manifest
	by := "balanced by count"
	if m.By == "durations" {
		by = "balanced by the durations in " + m.DurationsFrom
	}
	return fmt.Sprintf("shard %d/%d (from %s): %d of %d selected scenario(s), %s", m.Index, m.Total, m.From, len(p.part), m.Selected, by)
}
