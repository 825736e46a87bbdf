package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
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
		t.Fatalf("%s: %v", ctl, err)
	}
	t.Logf("%s: %d scenarios in %v", ctl, len(r.scenarios), time.Since(start))
	out := map[string]string{}
	for _, s := range r.scenarios {
		out[s.Feature+": "+s.Name] = s.Outcome + " " + accountLine(s.Account)
	}
	return out
}

// TestLuaControllerMatchesSim runs the whole feature suite against the
// simulated controller and against the Lua runtime (every call made from
// Lua through the C4 shim) and requires the same outcome for every
// scenario. Under the race detector, where the suite takes many times
// longer, it runs the features without the long bursts of calls
// (message_ids and publish_return_codes publish thousands of messages to
// wrap the 16-bit ids). A scenario whose outcomes differ is run again on
// both, up to three times, and counts as the same once a round agrees, so
// that a scenario that is merely timing-sensitive on a loaded machine is
// not mistaken for a difference between the controllers.
func TestLuaControllerMatchesSim(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the feature suite twice")
	}
	paths := []string{"../../features"}
	if raceDetector {
		paths = []string{"../../features/faults.feature", "../../features/onpublish_outcomes.feature", "../../features/reference_cases.feature"}
	}
	requireSameOutcomes(t, "lua", "", paths)
}

// requireSameOutcomes runs paths on sim and on the controller named ctl
// and requires the same outcome for every scenario. A scenario whose
// outcomes differ is run again on both, up to three times, and counts as the
// same once both controllers gave it the same outcome in one round.
func requireSameOutcomes(t *testing.T, ctl, station string, paths []string) {
	t.Helper()
	sim, other := outcomes(t, "sim", paths), outcomesAt(t, ctl, station, paths)
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
