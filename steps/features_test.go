package steps_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// simOptions runs scenarios on the simulated controller, each in a
// synctest bubble of its own under t: the features' waits, keep-alives,
// delays and stalls pass on virtual time, in no time and the same way on a
// loaded machine as on an idle one.
func simOptions(t *testing.T) steps.Options {
	return steps.InBubbles(t, steps.Options{FixtureDir: "../fixtures", Seed: 1})
}

// socketOptions runs scenarios on the simulated controller over real
// sockets, on the real clock.
func socketOptions() steps.Options {
	return steps.Options{
		NewController: func() (controller.Controller, error) { return sim.New(sim.Options{}), nil },
		FixtureDir:    "../fixtures",
		Seed:          1,
	}
}

// driverOptions are for scenarios that start a Lua driver, which uses
// real sockets and so cannot run in a bubble: the simulated controller on
// the real clock, unshrunk. The driver features' margins are as written,
// which a loaded two-core machine under the race detector needs: at a
// quarter of the time, a driver's HTTP answer came too late there.
func driverOptions() steps.Options {
	return steps.Options{
		NewController: func() (controller.Controller, error) {
			return sim.New(sim.Options{DialTimeout: 5 * time.Second}), nil
		},
		FixtureDir: "../fixtures",
		Seed:       1,
	}
}

// driverFeature runs Lua drivers, which use real sockets: it runs on the
// real clock (drivers.feature), the rest in bubbles.
const driverFeature = "drivers.feature"

// TestFeaturesInBubbles runs every feature against the simulated
// controller, each scenario in its own bubble: one subtest per feature
// file, one per scenario below it, strict (undefined or pending steps
// fail). The driver scenarios are skipped here, with the reason, and run
// on the real clock by TestDriverFeatures.
func TestFeaturesInBubbles(t *testing.T) {
	// Beside the tests that wait on the real clock: bubbles keep the CPUs
	// busy while those wait.
	t.Parallel()
	files, err := filepath.Glob("../features/*.feature")
	if err != nil || len(files) == 0 {
		t.Fatalf("no features: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var recs []*record.Scenario
			opts := simOptions(t)
			opts.OnScenarioEnd = func(r *record.Scenario) {
				mu.Lock()
				recs = append(recs, r)
				mu.Unlock()
			}
			suite := godog.TestSuite{
				Name:                filepath.Base(f),
				ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
				Options: &godog.Options{
					Format:      "progress",
					Output:      testWriter{t},
					Paths:       []string{f},
					Strict:      true,
					Concurrency: 4,
					TestingT:    t,
				},
			}
			if suite.Run() != 0 {
				t.Errorf("%s failed", f)
			}
			if len(recs) == 0 {
				t.Fatalf("%s: no scenario ran", f)
			}
			count := map[string]int{}
			for _, r := range recs {
				count[r.Status]++
				if r.Status == record.Skipped && os.Getenv("MQTTHIL_SHOW_SKIPS") != "" {
					t.Logf("%s skipped: %s", r.Name, r.Skipped)
				}
				switch {
				case filepath.Base(f) == driverFeature:
					if r.Status != record.Skipped || !strings.Contains(r.Skipped, "cannot run on virtual time") {
						t.Errorf("%s: %s: %s (%s), want skipped: drivers use real sockets", f, r.Name, r.Status, r.Skipped)
					}
				case r.Status == record.Skipped:
					// The features' own skips (another model's release,
					// hardware only) say why; nothing else may skip.
					if r.Skipped == "" || strings.Contains(r.Skipped, "virtual time") {
						t.Errorf("%s: %s skipped: %q", f, r.Name, r.Skipped)
					}
				case r.Status != record.Passed:
					t.Errorf("%s: %s: %s: %s", f, r.Name, r.Status, r.Error)
				}
			}
			t.Logf("%d scenarios: %v", len(recs), count)
		})
	}
}

// TestDriverFeatures runs the driver scenarios on real sockets and the
// real clock (driverOptions).
func TestDriverFeatures(t *testing.T) {
	// Mostly waiting on the real clock (reconnect timers, "within"
	// waits): beside the other tests that wait.
	t.Parallel()
	opts := driverOptions()
	// "Within" waits last at least 3 s: under load a driver's HTTP answer
	// took past 2 s. Waits for what must not happen take this long too.
	opts.MinWait = 3 * time.Second
	suite := godog.TestSuite{
		Name:                driverFeature,
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{
			Format:      "progress",
			Output:      testWriter{t},
			Paths:       []string{filepath.Join("../features", driverFeature)},
			Strict:      true,
			Concurrency: 4,
			TestingT:    t,
		},
	}
	if suite.Run() != 0 {
		t.Errorf("%s failed", driverFeature)
	}
}

// testWriter sends godog's report to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	if len(p) > 0 && os.Getenv("MQTTHIL_GODOG_OUTPUT") != "" {
		w.t.Log(string(p))
	}
	return len(p), nil
}
