package steps_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// BenchmarkScenarioOverhead measures what the harness costs a scenario: a
// fresh broker, one client connected, the end-of-scenario checks and the
// teardown. It reports the median and p90 over the scenarios of one run.
func BenchmarkScenarioOverhead(b *testing.B) {
	var src strings.Builder
	src.WriteString("Feature: overhead\n")
	for i := range b.N {
		fmt.Fprintf(&src, "  Scenario: s%d\n    Given a client \"c\"\n    And client \"c\" is connected\n", i)
	}
	var took []time.Duration
	opts := socketOptions()
	opts.OnScenarioEnd = func(r *record.Scenario) { took = append(took, r.Ended.Sub(r.Started)) }
	start := time.Now()
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{Format: "progress", Output: &strings.Builder{}, Strict: true, Concurrency: 1,
			FeatureContents: []godog.Feature{{Name: "overhead.feature", Contents: []byte(src.String())}}},
	}.Run()
	wall := time.Since(start)
	if status != 0 || len(took) != b.N {
		b.Fatalf("status %d, %d scenarios", status, len(took))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "wall-ms/scenario")
	b.ReportMetric(0, "ns/op")
}
