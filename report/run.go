package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/record"
)

// Files and folders of a run folder. See README.md in this package.
const (
	ManifestFile  = "manifest.json"
	JUnitFile     = "junit.xml"
	CucumberFile  = "cucumber.json"
	HTMLFile      = "report.html"
	ScenariosDir  = "scenarios"
	JournalsDir   = "journals" // older run folders kept copies of journals here; a run removes it
	payloadCutoff = 256        // bytes of an onMessage payload kept in a scenario file
)

// Manifest says what was run, on what, with which inputs.
type Manifest struct {
	Harness    string              `json:"harness_version"`
	Controller controller.Identity `json:"controller"`
	Station    string              `json:"station,omitempty"`
	Seed       int64               `json:"seed"`
	TimeScale  float64             `json:"time_scale"`
	Tags       string              `json:"tags,omitempty"`
	Features   map[string]string   `json:"features"` // path: sha256
	Started    time.Time           `json:"started"`
	Ended      time.Time           `json:"ended"`
	Counts     map[string]int      `json:"counts"`
	// Fingerprint is the release the controller behaved like, taken
	// before the scenarios; nil when the run took none.
	Fingerprint *Fingerprint `json:"fingerprint,omitempty"`
	// StationFingerprints are a pool's, one per station; Fingerprint is
	// then the first that disagrees with the model or could not be taken
	// (else the first).
	StationFingerprints []*Fingerprint `json:"station_fingerprints,omitempty"`

	// Model is the libmosquitto release the simulated controller followed
	// (--model).
	Model string `json:"model,omitempty"`
	// Controllers are the distinct controllers (with their stations) the
	// run's scenarios ran on, when there was more than one.
	Controllers []controller.Identity `json:"controllers,omitempty"`
	// StationEvents are what happened to a pool's stations: left out
	// before the run, lost during it.
	StationEvents []string `json:"station_events,omitempty"`
	// Shard is the part of the selected scenarios this run ran; nil for a
	// whole run.
	Shard *Shard `json:"shard,omitempty"`
	// Shards are the runs a merged folder was made from (mqtthil merge).
	Shards []ShardRun `json:"shards,omitempty"`
	// Scenarios lists every scenario with its outcome, duration and
	// station: a later run balances its shards by these durations
	// (mqtthil run --durations).
	Scenarios []ScenarioEntry `json:"scenarios,omitempty"`
}

// Shard says which part of a run's selected scenarios a run ran.
type Shard struct {
	Index int `json:"index"` // 1-based
	Total int `json:"total"`
	// From says where the index and total came from: the --shard flag or
	// a CI engine's environment variables.
	From string `json:"from"`
	// By is how the parts were balanced: "count", or "durations" (with
	// DurationsFrom naming the manifest the durations came from).
	By            string `json:"by"`
	DurationsFrom string `json:"durations_from,omitempty"`
	// Selected is how many scenarios the run's features and tags select
	// in all shards together; Hash identifies that selection, so that
	// shards of different selections are not merged.
	Selected int    `json:"selected"`
	Hash     string `json:"selection_hash"`
}

// ShardRun is one run a merged folder holds.
type ShardRun struct {
	Folder     string              `json:"folder"`
	Shard      *Shard              `json:"shard,omitempty"`
	Harness    string              `json:"harness_version"`
	Seed       int64               `json:"seed"`
	Model      string              `json:"model,omitempty"`
	Controller controller.Identity `json:"controller"`
	// Controllers as in Manifest, for a shard run on a pool of stations.
	Controllers []controller.Identity `json:"controllers,omitempty"`
	Station     string                `json:"station,omitempty"`
	Started     time.Time             `json:"started"`
	Ended       time.Time             `json:"ended"`
	Counts      map[string]int        `json:"counts"`
	// Fingerprint is the shard's own: each shard takes it before its
	// scenarios, on its own controller.
	Fingerprint *Fingerprint `json:"fingerprint,omitempty"`
}

// ScenarioEntry is one scenario of a run as the manifest lists it.
type ScenarioEntry struct {
	Feature    string  `json:"feature"`
	Name       string  `json:"name"`
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"duration_ms"`
	Station    string  `json:"station,omitempty"`
}

// Key names a scenario in a run: its feature and its name (an outline's
// rows carry their values in their names).
func (e ScenarioEntry) Key() string { return e.Feature + ": " + e.Name }

// ScenarioFile is one scenario as a run folder keeps it, in
// scenarios/NNNN-<feature>--<name>.json; its wire journal is the .jsonl
// file of the same name.
type ScenarioFile struct {
	record.Scenario
	// Outcome is one of Passed, Failed, Error, TimedOut, Skipped.
	Outcome string `json:"outcome"`
	// Journal is the journal file's name inside scenarios/; empty when the
	// scenario started no broker.
	JournalFile string `json:"journal_file,omitempty"`
	// JournalStart is the wall clock time of the journal's t_ns 0, so
	// that packets, calls and callbacks share one time line.
	JournalStart time.Time      `json:"journal_start,omitzero"`
	JournalStats *journal.Stats `json:"journal_stats,omitempty"`

	// Read back by LoadRun, not stored in the JSON file.
	File    string           `json:"-"` // the scenario file's name inside scenarios/
	Records []journal.Record `json:"-"`
}

// OutcomeOf sorts a scenario record's status into one of the outcomes.
func OutcomeOf(r *record.Scenario) string { return r.Outcome() }

// ScenarioWriter saves scenario records into a run folder as they end. It is
// safe for concurrent use.
type ScenarioWriter struct {
	dir string
	n   atomic.Int64
}

// NewScenarioWriter makes the run folder's scenarios/ folder.
func NewScenarioWriter(runDir string) (*ScenarioWriter, error) {
	dir := filepath.Join(runDir, ScenariosDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &ScenarioWriter{dir: dir}, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SafeName is a scenario's name as a file name: feature--scenario.
func SafeName(uri, name string) string {
	s := unsafeName.ReplaceAllString(strings.TrimSuffix(filepath.Base(uri), ".feature")+"--"+name, "_")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// Write saves r and its journal; files are numbered in the order scenarios
// end. It returns the file's name inside scenarios/.
func (sw *ScenarioWriter) Write(r *record.Scenario) (string, error) {
	base := fmt.Sprintf("%04d-%s", sw.n.Add(1), SafeName(r.URI, r.Name))
	sf := ScenarioFile{Scenario: *r, Outcome: OutcomeOf(r)}
	sf.Events = cutPayloads(r.Events)
	sf.Observer = cutPayloads(r.Observer)
	var errs error
	if j := r.Journal; j != nil {
		sf.JournalFile = base + ".jsonl"
		sf.JournalStart = r.Started.Add(-time.Duration(j.Since(r.Started)))
		st := j.Stats()
		sf.JournalStats = &st
		errs = writeFile(filepath.Join(sw.dir, sf.JournalFile), func(w io.Writer) error {
			return j.WriteJSONL(w, journal.Filter{})
		})
	}
	err := writeFile(filepath.Join(sw.dir, base+".json"), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(sf)
	})
	return base + ".json", errors.Join(errs, err)
}

// cutPayloads keeps the first bytes of each onMessage payload: the journal
// has every payload's size and hash.
func cutPayloads(evs []controller.Event) []controller.Event {
	out := slices.Clone(evs)
	for i := range out {
		if len(out[i].Payload) > payloadCutoff {
			out[i].Payload = out[i].Payload[:payloadCutoff:payloadCutoff]
		}
	}
	return out
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 32<<10)
	// On a failed write the file is abandoned: the write's error is the
	// one worth reporting, not the close's.
	if err := write(bw); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// Run is a run folder read back.
type Run struct {
	Dir       string
	Manifest  Manifest
	Scenarios []*ScenarioFile // sorted by feature, then name
	// Steps holds each scenario's steps from cucumber.json, by scenario
	// file name; missing when cucumber.json is.
	Steps map[string][]Step
}

// Step is one step of a scenario, as Cucumber JSON has it.
type Step struct {
	Keyword string `json:"keyword"`
	Text    string `json:"name"`
	Line    int    `json:"line"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
}

// LoadRun reads a run folder: its manifest, every scenario file with its
// journal, and the steps from cucumber.json.
func LoadRun(dir string) (*Run, error) {
	run := &Run{Dir: dir, Steps: map[string][]Step{}}
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a run folder: %w", dir, err)
	}
	if err := json.Unmarshal(b, &run.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, ScenariosDir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		sf, err := loadScenario(f)
		if err != nil {
			return nil, err
		}
		run.Scenarios = append(run.Scenarios, sf)
	}
	slices.SortStableFunc(run.Scenarios, func(a, b *ScenarioFile) int {
		if c := strings.Compare(a.URI, b.URI); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Started.Compare(b.Started)
	})
	if err := run.loadSteps(filepath.Join(dir, CucumberFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return run, nil
}

func loadScenario(path string) (*ScenarioFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sf := &ScenarioFile{File: filepath.Base(path)}
	if err := json.Unmarshal(b, sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sf.Outcome == "" {
		sf.Outcome = OutcomeOf(&sf.Scenario)
	}
	if sf.JournalFile == "" {
		return sf, nil
	}
	// A run folder may come from anywhere (a CI artifact, a shard to
	// merge): its records name files beside them, nothing else.
	if filepath.Base(sf.JournalFile) != sf.JournalFile || sf.JournalFile == ".." || strings.ContainsAny(sf.JournalFile, `/\`) {
		return nil, fmt.Errorf("%s: journal %q: expected a file name in the same folder", path, sf.JournalFile)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(path), sf.JournalFile))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sf.File, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r journal.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", sf.JournalFile, line, err)
		}
		sf.Records = append(sf.Records, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", sf.JournalFile, err)
	}
	return sf, nil
}

// cucumber.json, as much of it as the report reads.
type cucumberFeature struct {
	URI      string `json:"uri"`
	Elements []struct {
		Name  string `json:"name"`
		Line  int    `json:"line"`
		Type  string `json:"type"`
		Steps []struct {
			Keyword string `json:"keyword"`
			Name    string `json:"name"`
			Line    int    `json:"line"`
			Result  struct {
				Status string `json:"status"`
				Error  string `json:"error_message"`
			} `json:"result"`
		} `json:"steps"`
	} `json:"elements"`
}

// loadSteps gives each scenario its steps. Cucumber JSON names scenarios
// by feature and name only, so scenarios that share both (outline rows)
// are matched by the failing step's line first, then in order.
func (run *Run) loadSteps(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var feats []cucumberFeature
	if err := json.Unmarshal(b, &feats); err != nil {
		return fmt.Errorf("%s: %w", CucumberFile, err)
	}
	type key struct{ uri, name string }
	cands := map[key][][]Step{}
	for _, f := range feats {
		for _, e := range f.Elements {
			if e.Type == "background" {
				continue
			}
			var st []Step
			for _, s := range e.Steps {
				st = append(st, Step{Keyword: strings.TrimSpace(s.Keyword), Text: s.Name, Line: s.Line, Status: s.Result.Status, Error: s.Result.Error})
			}
			k := key{f.URI, e.Name}
			cands[k] = append(cands[k], st)
		}
	}
	take := func(k key, i int) []Step {
		c := cands[k]
		st := c[i]
		cands[k] = append(c[:i:i], c[i+1:]...)
		return st
	}
	var rest []*ScenarioFile
	for _, sf := range run.Scenarios {
		k := key{sf.URI, sf.Name}
		found := false
		if sf.FailedStep != nil {
			for i, st := range cands[k] {
				if slices.ContainsFunc(st, func(s Step) bool { return s.Line == sf.FailedStep.Line && s.Status != Passed }) {
					run.Steps[sf.File] = take(k, i)
					found = true
					break
				}
			}
		}
		if !found {
			rest = append(rest, sf)
		}
	}
	for _, sf := range rest {
		k := key{sf.URI, sf.Name}
		if len(cands[k]) > 0 {
			run.Steps[sf.File] = take(k, 0)
		}
	}
	return nil
}

// Counts is the number of scenarios with each outcome.
func (run *Run) Counts() map[string]int {
	c := map[string]int{}
	for _, s := range run.Scenarios {
		c[s.Outcome]++
	}
	return c
}
