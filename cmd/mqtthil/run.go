package main

import (
	"bufio"
	"context"
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
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/difftest"
	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/report"
	"github.com/mqtthil/mqtthil/steps"
)

func init() {
	register(command{
		name:    "run",
		summary: "run feature files against a controller and write the run's reports",
		run:     runRun,
	})
}

// configured sets a run up for a controller that needs more of the run's
// configuration than the time scale (remote: the station).
// note prints a line on the run's console.
var configured = map[string]func(cfg runConfig, note func(format string, a ...any)) (configuredRun, error){}

// configuredRun is what such a controller gives the run.
type configuredRun struct {
	newController func() (controller.Controller, error)
	observer      func() (controller.Controller, error) // nil: newController
	end           func()                                // releases what the setup made
	dutListen     string                                // steps.Options.DUTListen
	dutHost       string                                // steps.Options.DUTHost
	pool          *stationPool                          // several stations: the pool
}

type runConfig struct {
	controller  string
	model       string
	fingerprint string
	station     string
	// stations are the --station values, folders expanded; with one,
	// station is it.
	stations           []string
	requireAllStations bool
	tags               string
	concurrency        int
	seed               int64
	out                string
	format             string
	timeScale          float64
	fixtures           string
	paths              []string

	scenarioTimeout time.Duration

	// shard is the part to run (--shard, or a CI engine's environment);
	// nil runs every selected scenario. durations is a previous run's
	// manifest.json to balance the parts by.
	shard      *shardSpec
	shardTotal int
	durations  string
	virtual    *testing.T // tests only: scenarios on virtual time (virtual.go)
}

// runFlags is run's flag set, filling cfg; shard receives --shard.
func runFlags(cfg *runConfig, shard *string, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&cfg.controller, "controller", "sim", "controller under test: "+strings.Join(controllerNames(), ", "))
	fl.StringVar(&cfg.model, "model", controller.DefaultModel, "libmosquitto release the simulated controller follows, and @model-* scenarios are chosen by: "+strings.Join(controller.Models(), ", "))
	fl.StringVar(&cfg.fingerprint, "fingerprint", fingerprintWarn, "before the scenarios, tell which release the controller behaves like (recorded in manifest.json): warn (a mismatch with --model is a warning), strict (a mismatch fails the run, a fingerprint that cannot be taken is an error), off")
	fl.StringVar(&cfg.tags, "tags", "", `run only scenarios whose tags match, e.g. "@mqtt5 && ~@slow"`)
	fl.IntVar(&cfg.concurrency, "concurrency", runtime.NumCPU(), "scenarios run at once (each has its own broker); with a pool of stations, default the number of stations")
	fl.Int64Var(&cfg.seed, "seed", 1, "seed for the fault rules' randomness")
	fl.StringVar(&cfg.out, "out", "mqtthil-report", "folder the run's reports are written to")
	fl.StringVar(&cfg.format, "format", "progress", "console output: progress (a line per scenario as it ends) or pretty (a block per scenario with its steps)")
	fl.Float64Var(&cfg.timeScale, "time-scale", 1, "multiply every time in the features (delays, stalls, keep-alive) by this; below 1 runs faster")
	fl.StringVar(&cfg.fixtures, "fixtures", "", "folder with payload files, fault plans and drivers (default: the nearest `fixtures` folder beside the features or above them)")
	fl.Var(stationFlag{&cfg.stations}, "station", "`station` file, folder or virtual, with --controller remote: where the probe driver runs: a station file, or virtual (the Lua runtime, a station of its own per scenario); given several times, or a folder of station files, a pool of stations, each running one scenario at a time (docs/control-channel.md, docs/ci.md)")
	fl.BoolVar(&cfg.requireAllStations, "require-all-stations", false, "with a pool of stations: a station that fails its health check stops the run as a usage error (exit 2) instead of being left out with a warning")
	fl.StringVar(shard, "shard", "", "run the K-th of N parts of the selected scenarios, K/N counting from 1 (default: from CI_NODE_INDEX/CI_NODE_TOTAL, BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT, or JOB_COMPLETION_INDEX with --shard-total; docs/ci.md)")
	fl.IntVar(&cfg.shardTotal, "shard-total", 0, "the number of parts when the index comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's completions)")
	fl.StringVar(&cfg.durations, "durations", "", "a previous run's manifest.json: balance the --shard parts by its scenarios' durations instead of by count")
	fl.DurationVar(&cfg.scenarioTimeout, "scenario-timeout", 2*time.Minute, "a scenario still running after this ends as timed out")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mqtthil run [flags] [feature files or folders...]  (default: features)")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "  Shards: --shard K/N runs the K-th of N disjoint parts of the scenarios the features and")
		fmt.Fprintln(stderr, "  --tags select (the same parts on every machine), by count or, with --durations, by a")
		fmt.Fprintln(stderr, "  previous manifest.json's durations. Without --shard, GitLab's CI_NODE_INDEX/CI_NODE_TOTAL,")
		fmt.Fprintln(stderr, "  Buildkite's BUILDKITE_PARALLEL_JOB/_COUNT or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX")
		fmt.Fprintln(stderr, "  (with --shard-total) choose the part. `mqtthil merge --out DIR RUN_DIR...` puts the parts'")
		fmt.Fprintln(stderr, "  folders back together (docs/ci.md).")
		fmt.Fprintln(stderr, "  Stations: --station given several times, or a folder of station files, is a pool: each")
		fmt.Fprintln(stderr, "  station runs one scenario at a time; a station failing its health check is left out")
		fmt.Fprintln(stderr, "  with a warning (--require-all-stations: exit 2), one lost during a scenario makes that")
		fmt.Fprintln(stderr, "  scenario an error and leaves the pool.")
		fmt.Fprintln(stderr)
		fl.PrintDefaults()
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, exitCodesHelp)
	}
	return fl
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg runConfig
	var shard string
	fl := runFlags(&cfg, &shard, stderr)
	// Flags may come after the feature paths too.
	paths, err := parseInterleaved(fl, args)
	if err != nil {
		return parseExit(err)
	}
	cfg.paths = paths
	if len(cfg.paths) == 0 {
		cfg.paths = []string{"features"}
	}
	if err := cfg.resolve(shard, os.Getenv, fl); err != nil {
		fmt.Fprintf(stderr, "mqtthil run: %v\n", err)
		return exitUsage
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "mqtthil run: %v\n", err)
		return exitUsage
	}
	if cfg.fixtures == "" {
		cfg.fixtures = findFixtures(featureFile(cfg.paths[0]))
	}
	files := make([]string, len(cfg.paths))
	for i, p := range cfg.paths {
		files[i] = featureFile(p)
	}
	problems, err := steps.CheckIn(cfg.fixtures, files...)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil run: %v\n", err)
		return exitUsage
	}
	if len(problems) > 0 {
		code := exitHarness
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
			if !p.Fixture {
				code = exitUsage
			}
		}
		what := "the features"
		if code == exitHarness {
			what = "the fixtures the features name"
		}
		fmt.Fprintf(stderr, "mqtthil run: error: %d problem(s) in %s; nothing was run\n", len(problems), what)
		return code
	}
	cfg.virtual = virtualRunOf(ctx)
	r, err := execute(ctx, cfg, stdout)
	if ue := (usageError{}); errors.As(err, &ue) {
		fmt.Fprintf(stderr, "mqtthil run: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil run: error: %v\n", err)
		return exitHarness
	}
	r.printSummary(stdout)
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "mqtthil run: interrupted; the scenarios that had not started are recorded as not run (%s)\n", cfg.out)
		return exitHarness
	}
	return r.exitCode(stderr)
}

// exitCode is the run's verdict as an exit code: a harness error or a
// time-out outweighs a failure, because it puts the whole verdict in doubt.
func (r *runResult) exitCode(stderr io.Writer) int {
	switch {
	case len(r.scenarios) == 0 && r.shard != nil && r.shard.Selected > 0:
		// More parts than scenarios: this part has none, which is no
		// reason to fail the CI job that runs it.
		fmt.Fprintf(stderr, "mqtthil run: shard %d/%d has no scenarios (%d selected in all)\n", r.shard.Index, r.shard.Total, r.shard.Selected)
		return exitPassed
	case len(r.scenarios) == 0:
		fmt.Fprintf(stderr, "mqtthil run: no scenario to run (tags %q)\n", r.cfg.tags)
		return exitUsage
	case r.counts[report.Error]+r.counts[report.TimedOut] > 0:
		return exitHarness
	case r.cfg.fingerprint == fingerprintStrict && r.fingerprint != nil && r.fingerprint.Error != "":
		fmt.Fprintf(stderr, "mqtthil run: --fingerprint strict: the fingerprint could not be taken\n")
		return exitHarness
	case r.counts[report.Failed] > 0:
		return exitFailed
	case r.cfg.fingerprint == fingerprintStrict && r.fingerprint != nil && !r.fingerprint.Agrees:
		fmt.Fprintf(stderr, "mqtthil run: --fingerprint strict: the controller does not behave like --model %s\n", r.cfg.model)
		return exitFailed
	}
	return exitPassed
}

// runRoot is the folder a run's feature paths are reported from: the one
// holding its fixtures (a repository's root), so that JUnit class names do
// not depend on the folder the run started in.
func runRoot(fixtures string) string {
	abs, err := filepath.Abs(fixtures)
	if err != nil {
		return "."
	}
	return filepath.Dir(abs)
}

// relativeTo is path relative to root when it lies below it, else path.
func relativeTo(root, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return filepath.ToSlash(rel)
}

// findFixtures is the fixtures folder for a feature path: the nearest
// folder named fixtures beside it or above it (a repository's), so that a
// run gives the same verdict from whatever folder it is started in. With
// none, fixtures beside the features.
func findFixtures(featurePath string) string {
	dir, err := filepath.Abs(featurePath)
	if err != nil {
		return "fixtures"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	start := dir
	for {
		f := filepath.Join(dir, "fixtures")
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			return f
		}
		up := filepath.Dir(dir)
		if up == dir {
			return filepath.Join(start, "fixtures")
		}
		dir = up
	}
}

// checkTags reads a --tags expression as godog does (alternatives split by
// ",", each a list of tags joined by "&&", a tag negated with "~"), and
// says where it is wrong; godog itself panics on an empty term.
func checkTags(expr string) error {
	if expr == "" {
		return nil
	}
	pos := 0
	for _, alt := range strings.Split(expr, ",") {
		for _, term := range strings.Split(alt, "&&") {
			name := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(term), "~"), "@")
			at := pos + strings.Index(term, strings.TrimSpace(term)) + 1
			switch {
			case strings.TrimSpace(term) == "":
				return fmt.Errorf("--tags %q: a tag is missing at column %d: expected a tag such as @mqtt5 or ~@slow", expr, at)
			case name == "" || strings.ContainsAny(name, " \t@~"):
				return fmt.Errorf("--tags %q: %q at column %d is not a tag: expected a tag such as @mqtt5 or ~@slow", expr, strings.TrimSpace(term), at)
			}
			pos += len(term) + len("&&")
		}
		pos += len(",") - len("&&")
	}
	return nil
}

// controllerNames are the controllers this build offers, by --controller
// name: those whose packages main imports, each registering itself.
func controllerNames() []string { return controller.Names() }

func (c *runConfig) check() error {
	if _, ok := controller.Lookup(c.controller); !ok {
		return fmt.Errorf("--controller %q: this build has %s", c.controller, strings.Join(controllerNames(), ", "))
	}
	if c.concurrency < 1 {
		return fmt.Errorf("--concurrency %d: want 1 or more", c.concurrency)
	}
	if c.timeScale <= 0 || c.timeScale > 100 {
		return fmt.Errorf("--time-scale %v: want a number above 0 and at most 100", c.timeScale)
	}
	if c.scenarioTimeout <= 0 {
		return fmt.Errorf("--scenario-timeout %s: want a positive duration", c.scenarioTimeout)
	}
	if err := checkTags(c.tags); err != nil {
		return err
	}
	if len(c.stations) > 0 && c.station == "" && len(c.stations) == 1 {
		c.station = c.stations[0]
	}
	if c.station != "" && c.controller != "remote" {
		return fmt.Errorf("--station %q needs --controller remote (the controller is %s)", c.station, c.controller)
	}
	if c.fingerprint != fingerprintWarn && c.fingerprint != fingerprintStrict && c.fingerprint != fingerprintOff {
		return fmt.Errorf("--fingerprint %q: want warn, strict or off", c.fingerprint)
	}
	if len(c.stations) > 0 && c.controller != "remote" {
		return fmt.Errorf("--station %q needs --controller remote (the controller is %s)", strings.Join(c.stations, ","), c.controller)
	}
	if c.durations != "" && c.shard == nil {
		return fmt.Errorf("--durations %s balances shards: give --shard K/N too (or run under a CI engine's parallel job)", c.durations)
	}
	if c.format != "progress" && c.format != "pretty" {
		return fmt.Errorf("--format %q: want progress or pretty", c.format)
	}
	for _, p := range c.paths {
		if _, err := os.Stat(featureFile(p)); err != nil {
			return fmt.Errorf("feature path %s: %w", p, err)
		}
	}
	return nil
}

// runResult is what a run leaves for the summary and the reports.
type runResult struct {
	cfg       runConfig
	started   time.Time
	ended     time.Time
	identity  controller.Identity
	scenarios []report.Scenario
	counts    map[string]int
	// stale are listed divergences that did not happen in this run.
	stale []string
	// fingerprint was taken before the scenarios (nil with --fingerprint off).
	fingerprint *report.Fingerprint
	// stationFingerprints are a pool's, one per station.
	stationFingerprints []*report.Fingerprint
	// shard is the part this run ran; nil for a whole run.
	shard *report.Shard
	// pool is the run's station pool, when it had several stations.
	pool *stationPool
	// identities are the controllers the scenarios ran on.
	identities []controller.Identity
	station    string
}

// applyDivergence makes a scenario that failed or timed out the way the
// list of kept divergences says an expected divergence, with the list's
// reason. For a listed scenario that passed it returns the list's entry:
// the divergence no longer happens.
func applyDivergence(r *record.Scenario, kept map[string]difftest.Divergence) (stale string) {
	k := r.URI + ": " + r.Name
	d, ok := kept[k]
	if !ok {
		return ""
	}
	switch r.Outcome() {
	case record.Failed, record.TimedOut:
		r.Error = fmt.Sprintf("%s (%s: %s) what happened: %s", d.Reason, record.Diverged, r.Status, r.Error)
		r.Status = record.Diverged
	case record.Passed:
		return k
	}
	return ""
}

func execute(ctx context.Context, cfg runConfig, stdout io.Writer) (*runResult, error) {
	// A run folder holds one run: records of an earlier run there would be
	// read back as this run's.
	for _, d := range []string{report.ScenariosDir, report.JournalsDir} {
		if err := os.RemoveAll(filepath.Join(cfg.out, d)); err != nil {
			return nil, fmt.Errorf("report folder: %w", err)
		}
	}
	sw, err := report.NewScenarioWriter(cfg.out)
	if err != nil {
		return nil, fmt.Errorf("report folder: %w", err)
	}
	res := &runResult{cfg: cfg, started: time.Now(), counts: map[string]int{}, station: stationOf(cfg)}
	con := newConsole(stdout, cfg.format)
	root := runRoot(cfg.fixtures)
	var contents []godog.Feature
	paths := cfg.paths
	if cfg.shard != nil {
		plan, err := planShard(cfg, root)
		if err != nil {
			return nil, usageError{err}
		}
		res.shard = plan.manifest
		con.notef("%s", plan.line())
		if len(plan.part) == 0 {
			res.ended = time.Now()
			if err := os.WriteFile(filepath.Join(cfg.out, report.CucumberFile), []byte("[]\n"), 0o644); err != nil {
				return nil, err
			}
			return res, res.writeReports()
		}
		contents, paths = shardContents(plan.part, plan.srcs), nil
	}
	var kept map[string]difftest.Divergence
	if cfg.controller == "mosq" {
		// The reference library's differences from the model that are
		// kept on purpose: expected, not failures.
		if kept, err = difftest.Divergences(); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	var writeErr error
	newController := func() (controller.Controller, error) {
		return controller.New(cfg.controller, controller.Options{KeepAliveUnit: time.Duration(cfg.timeScale * float64(time.Second)), Model: cfg.model})
	}
	var setup configuredRun
	if f := configured[cfg.controller]; f != nil {
		if setup, err = f(cfg, con.notef); err != nil {
			return nil, err
		}
		res.pool = setup.pool
		newController = setup.newController
		defer setup.end()
	}
	switch {
	case cfg.fingerprint == fingerprintOff:
	case res.pool != nil:
		res.pool.eachStation(func(station string, nc func() (controller.Controller, error)) {
			fmt.Fprintf(stdout, "station %s: ", station)
			fp := takeFingerprint(ctx, cfg, nc, setup, stdout)
			fp.Station = station
			res.stationFingerprints = append(res.stationFingerprints, fp)
			if res.fingerprint == nil || (res.fingerprint.Agrees && res.fingerprint.Error == "" && (!fp.Agrees || fp.Error != "")) {
				res.fingerprint = fp
			}
		})
	default:
		res.fingerprint = takeFingerprint(ctx, cfg, newController, setup, stdout)
	}
	opts := steps.Options{
		NewController:      newController,
		ObserverController: setup.observer,
		DUTListen:          setup.dutListen,
		DUTHost:            setup.dutHost,
		Seed:               cfg.seed,
		Model:              cfg.model,
		TimeScale:          cfg.timeScale,
		FixtureDir:         cfg.fixtures,
		ScenarioTimeout:    cfg.scenarioTimeout,
		OnScenarioEnd: func(r *record.Scenario) {
			// Feature paths are kept from the run's root, whatever folder
			// the run started in.
			r.URI = relativeTo(root, r.URI)
			if r.FailedStep != nil {
				r.FailedStep.File = relativeTo(root, r.FailedStep.File)
			}
			for i := range r.Steps {
				r.Steps[i].File = relativeTo(root, r.Steps[i].File)
			}
			if r.Identity.Station == "" {
				r.Identity.Station = res.station
			}
			stale := applyDivergence(r, kept)
			_, err := sw.Write(r)
			outcome := report.OutcomeOf(r)
			con.scenarioEnded(r, outcome)
			mu.Lock()
			defer mu.Unlock()
			writeErr = errors.Join(writeErr, err)
			if r.Identity.Kind != "" {
				res.identity = r.Identity
				if !slices.Contains(res.identities, r.Identity) {
					res.identities = append(res.identities, r.Identity)
				}
			}
			res.counts[outcome]++
			if stale != "" {
				res.stale = append(res.stale, stale)
			}
		},
	}
	opts = cfg.onVirtualTime(opts)
	// godog writes the Cucumber JSON a few bytes at a time: through a
	// buffer, not a system call each (a second of a short run's time).
	cj, err := os.Create(filepath.Join(cfg.out, report.CucumberFile))
	if err != nil {
		return nil, errors.Join(writeErr, err)
	}
	cjw := bufio.NewWriterSize(cj, 64<<10)
	suite := godog.TestSuite{
		Name:                "mqtthil",
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{
			// The console is ours (console.go); godog writes only the
			// Cucumber JSON.
			Format:          "cucumber",
			Output:          cjw,
			Paths:           paths,
			FeatureContents: contents,
			Tags:            cfg.tags,
			Strict:          true,
			Concurrency:     cfg.concurrency,
			DefaultContext:  ctx,
			NoColors:        true,
		},
	}
	suite.Run()
	res.ended = time.Now()
	if err := errors.Join(cjw.Flush(), cj.Close()); err != nil {
		return res, errors.Join(writeErr, fmt.Errorf("cucumber.json: %w", err))
	}
	if err := res.writeReports(); err != nil {
		writeErr = errors.Join(writeErr, err)
	}
	return res, writeErr
}

// junitExcerpt is how many journal records a failed scenario's system-out
// holds.
const junitExcerpt = 200

// writeReports writes the manifest, then reads the run folder back and
// writes JUnit and the HTML report from it, as `mqtthil report` does.
func (r *runResult) writeReports() error {
	root := runRoot(r.cfg.fixtures)
	m := report.Manifest{
		Harness: harnessVersion(), Controller: r.identity, Station: r.station, Seed: r.cfg.seed, TimeScale: r.cfg.timeScale,
		Tags: r.cfg.tags, Features: featureHashes(r.cfg.paths, root), Started: r.started, Ended: r.ended, Counts: r.counts,
		Model: r.cfg.model, Shard: r.shard, Fingerprint: r.fingerprint, StationFingerprints: r.stationFingerprints,
	}
	if m.Model == "" {
		m.Model = controller.DefaultModel
	}
	if r.identity.Station != "" && r.pool == nil {
		// The run's station is in the manifest; the run's controller is
		// the one each record names without it.
		m.Controller.Station = ""
	}
	if len(r.identities) > 1 || r.pool != nil {
		m.Controllers = slices.Clone(r.identities)
		slices.SortFunc(m.Controllers, func(a, b controller.Identity) int { return strings.Compare(a.Station+a.DeviceID, b.Station+b.DeviceID) })
	}
	if r.pool != nil {
		m.StationEvents = r.pool.Events()
	}
	if err := r.writeManifest(m); err != nil {
		return err
	}
	if err := nameOutlineRows(filepath.Join(r.cfg.out, report.CucumberFile), root); err != nil {
		return fmt.Errorf("cucumber.json: %w", err)
	}
	run, err := report.LoadRun(r.cfg.out)
	if err != nil {
		return err
	}
	// Every scenario with its duration, for later runs' --durations.
	for _, sf := range run.Scenarios {
		m.Scenarios = append(m.Scenarios, report.ScenarioEntry{Feature: sf.URI, Name: sf.Name, Outcome: sf.Outcome,
			DurationMS: float64(sf.Ended.Sub(sf.Started).Microseconds()) / 1000, Station: sf.Identity.Station})
	}
	if err := r.writeManifest(m); err != nil {
		return err
	}
	run.Manifest = m
	for _, sf := range run.Scenarios {
		r.scenarios = append(r.scenarios, report.ScenarioOf(sf, junitExcerpt))
	}
	if err := errors.Join(writeJUnit(run, r.scenarios), report.WriteHTMLFile(run)); err != nil {
		return err
	}
	return report.WriteSums(r.cfg.out)
}

func (r *runResult) writeManifest(m report.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.cfg.out, report.ManifestFile), append(b, '\n'), 0o644)
}

// nameOutlineRows gives each outline row in godog's Cucumber JSON the name
// the run's records give it, with its example values, so that no two
// scenarios share a name there either, and its feature paths from the
// run's root, as the records have them.
func nameOutlineRows(path, root string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var feats []map[string]any
	if err := json.Unmarshal(b, &feats); err != nil {
		return err
	}
	for _, f := range feats {
		uri, _ := f["uri"].(string)
		uri = featureFile(uri)
		if uri != "" {
			f["uri"] = relativeTo(root, uri)
		}
		elems, _ := f["elements"].([]any)
		for _, e := range elems {
			el, _ := e.(map[string]any)
			line, _ := el["line"].(float64)
			name, _ := el["name"].(string)
			if vals := steps.ExampleValuesAt(uri, int(line)); vals != "" && el != nil {
				el["name"] = name + " " + vals
			}
		}
	}
	b, err = json.MarshalIndent(feats, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeJUnit writes junit.xml into a run folder.
func writeJUnit(run *report.Run, scenarios []report.Scenario) error {
	m := run.Manifest
	props := []report.Property{
		{Name: "harness.version", Value: m.Harness},
		{Name: "controller.kind", Value: m.Controller.Kind},
		{Name: "controller.model", Value: m.Controller.Model},
		{Name: "controller.firmware", Value: m.Controller.Firmware},
		{Name: "controller.driver_version", Value: m.Controller.DriverVersion},
		{Name: "controller.device_id", Value: m.Controller.DeviceID},
		{Name: "station", Value: m.Station},
		{Name: "seed", Value: fmt.Sprint(m.Seed)},
		{Name: "time_scale", Value: fmt.Sprint(m.TimeScale)},
		{Name: "tags", Value: m.Tags},
	}
	props = slices.DeleteFunc(props, func(p report.Property) bool { return p.Value == "" })
	f, err := os.Create(filepath.Join(run.Dir, report.JUnitFile))
	if err != nil {
		return err
	}
	if err := report.WriteJUnit(f, "mqtthil", props, scenarios); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// featureHashes is the SHA-256 of every feature file below paths, by its
// path from the run's root (as records name features), so that runs made
// from different folders compare.
func featureHashes(paths []string, root string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		filepath.WalkDir(featureFile(p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".feature") {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				sum := sha256.Sum256(b)
				out[relativeTo(root, path)] = hex.EncodeToString(sum[:])
			}
			return nil
		})
	}
	return out
}

func harnessVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

func (r *runResult) printSummary(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "mqtthil: %d scenario(s) against %s in %s:", len(r.scenarios), r.cfg.controller, r.ended.Sub(r.started).Round(time.Millisecond))
	for _, o := range []string{report.Passed, report.Failed, report.Error, report.TimedOut, report.Diverged, report.Skipped} {
		if n := r.counts[o]; n > 0 {
			fmt.Fprintf(w, " %d %s", n, o)
		}
	}
	fmt.Fprintln(w)
	for _, s := range r.scenarios {
		switch s.Outcome {
		case report.Passed:
		case report.Skipped:
			fmt.Fprintf(w, "  skipped   %s: %s (%s)\n", s.Feature, s.Name, s.Account)
		case report.Diverged:
			fmt.Fprintf(w, "  expected divergence %s: %s\n            %s\n", s.Feature, s.Name, firstLineOf(strings.TrimPrefix(s.Account, report.Diverged+": ")))
		default:
			fmt.Fprintf(w, "  %-9s %s: %s\n            %s\n", s.Outcome, s.Feature, s.Name, firstLineOf(s.Account))
		}
	}
	if fp := r.fingerprint; fp != nil && (!fp.Agrees || fp.Error != "") {
		fmt.Fprintf(w, "  WARNING fingerprint: %s\n", fp.Summary())
	}
	for _, k := range r.stale {
		fmt.Fprintf(w, "  listed divergence no longer happens (difftest/divergences.yaml): %s\n", k)
	}
	fmt.Fprintf(w, "reports in %s (report.html, junit.xml, cucumber.json, manifest.json, scenarios/)\n", r.cfg.out)
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// featureFile is the file of a feature path, which may name one scenario by
// its line: features/x.feature:12.
func featureFile(p string) string { return steps.FeatureFile(p) }
