package steps_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// In a bubble a keep-alive scenario's seconds pass on the bubble's clock:
// the scenario's own record spans them all, PINGREQs and all.
func TestKeepAliveOnVirtualTime(t *testing.T) {
	const src = `Feature: keep-alive
  Scenario: idle across keep-alives
    Given a client "sensor"
    And client "sensor" connects with a keep-alive of 5 seconds
    Then client "sensor" gets no onDisconnect within 12 seconds
    And the broker receives at least 2 PINGREQ packets from "sensor"
`
	recs := runSource(t, src, simOptions(t))
	if len(recs) != 1 || recs[0].Status != record.Passed {
		t.Fatalf("records %+v", recs)
	}
	r := recs[0]
	if took := r.Ended.Sub(r.Started); took < 12*time.Second {
		t.Errorf("the scenario spans %s of its clock, want at least the 12 s it waits", took)
	}
	if y := r.Started.Year(); y != 2000 {
		t.Errorf("the scenario started in %d: not on a bubble's clock, which starts in 2000", y)
	}
}

// A goroutine a scenario leaves blocked for ever fails the scenario: the
// bubble cannot end. Its record says error, never passed.
func TestBubbleReportsALeak(t *testing.T) {
	opts := simOptions(t)
	var recs []*record.Scenario
	opts.OnScenarioEnd = func(r *record.Scenario) { recs = append(recs, r) }
	sim := opts.NewController
	opts.NewController = func() (controller.Controller, error) {
		stuck := make(chan struct{})
		go func() { <-stuck }() // nobody ever closes it
		return sim()
	}
	var out bytes.Buffer
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{Format: "pretty", NoColors: true, Output: &out, Strict: true,
			FeatureContents: []godog.Feature{{Name: "leak.feature", Contents: []byte("Feature: f\n  Scenario: s\n    Given a client \"c\"\n    And client \"c\" is connected\n")}}},
	}.Run()
	if status == 0 {
		t.Fatalf("a scenario that leaves a goroutine blocked passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "blocked goroutines remain") {
		t.Errorf("the failure does not say why:\n%s", out.String())
	}
	if len(recs) != 1 || recs[0].Status != record.Error || !strings.Contains(recs[0].Error, "blocked goroutines remain") {
		t.Errorf("records %+v, want one error that says why", recs)
	}
}

// Scenarios in bubbles run side by side, each on its own clock.
func TestBubblesRunConcurrently(t *testing.T) {
	var src strings.Builder
	src.WriteString("Feature: f\n")
	for range 8 {
		src.WriteString("  Scenario: s\n    Given a client \"c\"\n    And client \"c\" connects with a keep-alive of 5 seconds\n    Then client \"c\" gets no onDisconnect within 30 seconds\n")
	}
	opts := simOptions(t)
	var recs []*record.Scenario
	done := make(chan *record.Scenario, 8)
	opts.OnScenarioEnd = func(r *record.Scenario) { done <- r }
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{Format: "progress", Output: testWriter{t}, Strict: true, Concurrency: 8,
			FeatureContents: []godog.Feature{{Name: "many.feature", Contents: []byte(src.String())}}},
	}.Run()
	close(done)
	for r := range done {
		recs = append(recs, r)
	}
	if status != 0 || len(recs) != 8 {
		t.Fatalf("status %d, %d records", status, len(recs))
	}
	for _, r := range recs {
		if r.Status != record.Passed || r.Ended.Sub(r.Started) < 30*time.Second {
			t.Errorf("%s: %s, %s of its clock: %s", r.Name, r.Status, r.Ended.Sub(r.Started), r.Error)
		}
	}
}

// stuckController's clients never come: NewClient waits for ever.
type stuckController struct{ controller.Controller }

func (stuckController) NewClient(string, bool) (controller.Client, error) {
	<-make(chan struct{})
	return nil, nil
}

// A step that waits for ever, with nothing in the bubble left to wake it,
// fails the scenario as a harness error instead of hanging the suite.
func TestBubbleReportsADeadlock(t *testing.T) {
	opts := simOptions(t)
	sim := opts.NewController
	opts.NewController = func() (controller.Controller, error) {
		c, err := sim()
		return stuckController{c}, err
	}
	var recs []*record.Scenario
	opts.OnScenarioEnd = func(r *record.Scenario) { recs = append(recs, r) }
	var out bytes.Buffer
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{Format: "pretty", NoColors: true, Output: &out, Strict: true,
			FeatureContents: []godog.Feature{{Name: "stuck.feature", Contents: []byte("Feature: f\n  Scenario: s\n    Given a client \"c\"\n")}}},
	}.Run()
	if status == 0 {
		t.Fatalf("a scenario stuck for ever passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "all goroutines in bubble are blocked") {
		t.Errorf("the failure does not say why:\n%s", out.String())
	}
	if len(recs) != 1 || recs[0].Status != record.Error || !strings.Contains(recs[0].Error, "all goroutines in bubble are blocked") {
		t.Errorf("want one record, an error saying why; got %+v", recs)
	}
}
