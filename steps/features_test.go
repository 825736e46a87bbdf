package steps_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/steps"
)

// timeScale shrinks every time written in the features, and the simulated
// controller's keep-alive second with them, so the suite runs in seconds.
// The features' tightest margins (a fault's delay against the steps that
// must finish inside it) are 300 ms of feature time: a quarter of that
// still holds when a loaded two-core machine runs the race detector, where
// a twentieth (15 ms) did not.
const timeScale = 0.25

func simOptions() steps.Options {
	return steps.Options{
		NewController: func() (controller.Controller, error) {
			return sim.New(sim.Options{KeepAliveUnit: time.Duration(timeScale * float64(time.Second)), DialTimeout: 5 * time.Second}), nil
		},
		TimeScale:  timeScale,
		FixtureDir: "../fixtures",
		Seed:       1,
	}
}

// TestFeatures runs every feature against the simulated controller: one
// subtest per feature file, one per scenario below it, strict (undefined
// or pending steps fail), scenarios in parallel.
func TestFeatures(t *testing.T) {
	files, err := filepath.Glob("../features/*.feature")
	if err != nil || len(files) == 0 {
		t.Fatalf("no features: %v", err)
	}
	sort.Strings(files)
	opts := simOptions()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
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
		})
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
