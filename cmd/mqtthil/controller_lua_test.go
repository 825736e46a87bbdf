package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcomes runs feature paths against a controller and returns each
// scenario's outcome by feature and name.
func outcomes(t *testing.T, ctl string, paths []string) map[string]string {
	t.Helper()
	return outcomesAt(t, ctl, "", paths)
}

// outcomesAt is outcomes with a station for the remote controller.
func outcomesAt(t *testing.T, ctl, station string, paths []string) map[string]string {
	t.Helper()
	out, err := controllerOutcomes(t, ctl, station, paths)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// controllerOutcomes is outcomesAt for any goroutine of the test: it
// reports what went wrong instead of ending the test.
func controllerOutcomes(t *testing.T, ctl, station string, paths []string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := runConfig{
		controller:  ctl,
		station:     station,
		concurrency: 4,
		seed:        1,
		out:         t.TempDir(),
		format:      "progress",
		timeScale:   0.05,
		fixtures:    "../../fixtures",
		paths:       paths,
	}
	if ctl == "sim" || ctl == "lua" {
		// In-process controllers run each scenario in a bubble: virtual
		// time, an in-memory network (steps.InBubbles).
		cfg.virtual, cfg.timeScale = t, 1
	}
	start := time.Now()
	r, err := execute(ctx, cfg, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ctl, err)
	}
	t.Logf("%s: %d scenarios in %v", ctl, len(r.scenarios), time.Since(start))
	out := map[string]string{}
	for _, s := range r.scenarios {
		out[s.Feature+": "+s.Name] = s.Outcome + " " + accountLine(s.Account)
	}
	return out, nil
}

// simBaselines are the simulated controller's outcomes by list of feature
// paths, taken once per test process and shared by the tests that hold
// another controller to them. sim runs on virtual time: its outcomes do
// not depend on which test asked first or on how loaded the machine is.
var simBaselines sync.Map // strings.Join(paths, "\n") -> *simBaseline

type simBaseline struct {
	once sync.Once
	out  map[string]string
	err  error
}

// simOutcomes is controllerOutcomes(t, "sim", "", paths), taken by the
// first test to ask for these paths; a test asking while it is taken
// waits for it. Each caller gets a copy of its own.
func simOutcomes(t *testing.T, paths []string) (map[string]string, error) {
	v, _ := simBaselines.LoadOrStore(strings.Join(paths, "\n"), &simBaseline{})
	b := v.(*simBaseline)
	b.once.Do(func() { b.out, b.err = controllerOutcomes(t, "sim", "", paths) })
	return maps.Clone(b.out), b.err
}

// withSimOutcomes runs f while the simulated controller's outcomes for
// paths are taken (or waited for) beside it, and returns both once both
// are done. f must not end the test: the test waits here for both.
func withSimOutcomes(t *testing.T, paths []string, f func() error) (map[string]string, error) {
	t.Helper()
	var sim map[string]string
	var simErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sim, simErr = simOutcomes(t, paths)
	}()
	err := f()
	<-done
	return sim, errors.Join(simErr, err)
}

// matchPaths are the features on which other controllers are held to
// sim: all of them; under the race detector, where the suite takes many
// times longer, those without the long bursts of calls (message_ids and
// publish_return_codes publish thousands of messages to wrap the 16-bit
// ids).
func matchPaths() []string {
	if raceDetector {
		return []string{"../../features/faults.feature", "../../features/onpublish_outcomes.feature", "../../features/reference_cases.feature"}
	}
	return []string{"../../features"}
}

// TestLuaControllerMatchesSim runs the whole feature suite against the
// simulated controller and against the Lua runtime (every call made from
// Lua through the C4 shim) and requires the same outcome for every
// scenario (matchPaths under the race detector). A scenario whose
// outcomes differ is run again on both, up to three times, and counts as
// the same once a round agrees, so that a scenario that is merely
// timing-sensitive on a loaded machine is not mistaken for a difference
// between the controllers.
func TestLuaControllerMatchesSim(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the feature suite twice")
	}
	requireSameOutcomes(t, "lua", "", matchPaths())
}

// requireSameOutcomes runs paths on sim and on the controller named ctl
// and requires the same outcome for every scenario. The first round's sim
// outcomes are the shared baseline (simOutcomes), taken beside the run on
// ctl. A scenario whose outcomes differ is run again on both, up to three
// times, and counts as the same once both controllers gave it the same
// outcome in one round.
func requireSameOutcomes(t *testing.T, ctl, station string, paths []string) {
	t.Helper()
	var other map[string]string
	sim, err := withSimOutcomes(t, paths, func() (err error) {
		other, err = controllerOutcomes(t, ctl, station, paths)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sim) == 0 {
		t.Fatal("no scenarios ran")
	}
	same := map[string]bool{}
	for attempt := 0; ; attempt++ {
		var diff []string
		for _, k := range differing(sim, other) {
			if !same[k] {
				diff = append(diff, k)
			}
		}
		for k := range sim {
			if sim[k] == other[k] {
				same[k] = true
			}
		}
		if len(diff) == 0 {
			return
		}
		if attempt == 3 {
			var b strings.Builder
			for _, k := range diff {
				fmt.Fprintf(&b, "\n%s\n  sim: %s\n  %s: %s", k, sim[k], ctl, other[k])
			}
			t.Fatalf("%d scenario(s) differ between sim and %s in every round:%s", len(diff), ctl, b.String())
		}
		files := map[string]bool{}
		for _, k := range diff {
			f, _, _ := strings.Cut(k, ": ")
			files[f] = true
		}
		var again []string
		for f := range files {
			// Keys name features from the run's root, two folders up.
			again = append(again, filepath.Join("..", "..", f))
		}
		sort.Strings(again)
		t.Logf("outcomes differ in %d scenario(s) %v; running %v again", len(diff), diff, again)
		for k, v := range outcomes(t, "sim", again) {
			sim[k] = v
		}
		for k, v := range outcomesAt(t, ctl, station, again) {
			other[k] = v
		}
	}
}

func accountLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func differing(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
