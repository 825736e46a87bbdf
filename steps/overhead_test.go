package steps_test

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/steps"
)

// overheadN is how many scenarios TestScenarioOverhead times; 0 skips it.
var overheadN = flag.Int("overhead", 0, "TestScenarioOverhead: scenarios to time on each transport (0: skip)")

// overhead runs n scenarios of the harness's bare cost (a fresh broker,
// one client connected, the end-of-scenario checks, the teardown) one
// after another, and returns each one's wall time, measured outside any
// bubble, and the whole run's.
func overhead(n int, opts steps.Options) ([]time.Duration, time.Duration, error) {
	var src strings.Builder
	src.WriteString("Feature: overhead\n")
	for i := range n {
		fmt.Fprintf(&src, "  Scenario: s%d\n    Given a client \"c\"\n    And client \"c\" is connected\n", i)
	}
	var took []time.Duration
	var began time.Time
	start := time.Now()
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			// godog runs Before hooks in order and After hooks in order:
			// these two enclose the step library's own.
			sc.Before(func(ctx context.Context, _ *godog.Scenario) (context.Context, error) {
				began = time.Now()
				return ctx, nil
			})
			steps.Register(sc, opts)
			sc.After(func(ctx context.Context, _ *godog.Scenario, err error) (context.Context, error) {
				took = append(took, time.Since(began))
				return ctx, err
			})
		},
		Options: &godog.Options{Format: "progress", Output: &strings.Builder{}, Strict: true, Concurrency: 1,
			FeatureContents: []godog.Feature{{Name: "overhead.feature", Contents: []byte(src.String())}}},
	}.Run()
	wall := time.Since(start)
	if status != 0 || len(took) != n {
		return nil, 0, fmt.Errorf("status %d, %d of %d scenarios timed", status, len(took), n)
	}
	slices.Sort(took)
	return took, wall, nil
}

// BenchmarkScenarioOverhead measures what the harness costs a scenario on
// real sockets: the median and p90 over the scenarios of one run.
func BenchmarkScenarioOverhead(b *testing.B) {
	took, wall, err := overhead(b.N, socketOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "wall-ms/scenario")
	b.ReportMetric(0, "ns/op")
}

// TestScenarioOverhead times the same bare scenarios in bubbles on the
// in-memory network and on real sockets, in this one process, and logs
// both and their ratio. A benchmark cannot do it: a bubble needs a
// *testing.T. Run it with
//
//	go test -run TestScenarioOverhead -v ./steps/ -overhead 300
func TestScenarioOverhead(t *testing.T) {
	if *overheadN <= 0 {
		t.Skip("a measurement, not a check: run it with -overhead N")
	}
	n := *overheadN
	// Warm both paths first (code paths, the heap): the first scenarios of
	// a process cost more than the rest.
	for _, warm := range []steps.Options{simOptions(t), socketOptions()} {
		if _, _, err := overhead(min(n, 20), warm); err != nil {
			t.Fatal(err)
		}
	}
	bub, bwall, err := overhead(n, simOptions(t))
	if err != nil {
		t.Fatalf("in bubbles: %v", err)
	}
	sock, swall, err := overhead(n, socketOptions())
	if err != nil {
		t.Fatalf("on sockets: %v", err)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	t.Logf("%d scenarios each, one at a time", n)
	t.Logf("in bubbles: median %s, p90 %s, wall %s a scenario", ms(bub[n/2]), ms(bub[n*9/10]), ms(bwall/time.Duration(n)))
	t.Logf("on sockets: median %s, p90 %s, wall %s a scenario", ms(sock[n/2]), ms(sock[n*9/10]), ms(swall/time.Duration(n)))
	t.Logf("bubble/socket median: %.2f", float64(bub[n/2])/float64(sock[n/2]))
}
