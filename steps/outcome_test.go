package steps_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// runSource runs one feature's text with opts and returns its records.
func runSource(t *testing.T, src string, opts steps.Options) []*record.Scenario {
	t.Helper()
	var recs []*record.Scenario
	opts.OnScenarioEnd = func(r *record.Scenario) { recs = append(recs, r) }
	suite := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{Format: "progress", Output: testWriter{t}, Strict: true,
			FeatureContents: []godog.Feature{{Name: "outcome.feature", Contents: []byte(src)}}},
	}
	suite.Run()
	return recs
}

func TestOutcomes(t *testing.T) {
	const quiet = `Feature: outcomes
  Scenario: waits quietly
    Given a client "c"
    And client "c" is connected
    Then client "c" gets no onDisconnect within 10 seconds
`
	t.Run("a controller that will not start is an error", func(t *testing.T) {
		opts := simOptions(t)
		opts.NewController = func() (controller.Controller, error) { return nil, errors.New("bench unplugged") }
		recs := runSource(t, quiet, opts)
		if len(recs) != 1 || recs[0].Status != "error" || !strings.Contains(recs[0].Error, "bench unplugged") {
			t.Fatalf("record %+v", *recs[0])
		}
	})
	t.Run("a controller whose bench link broke is an error", func(t *testing.T) {
		opts := simOptions(t)
		sim := opts.NewController
		opts.NewController = func() (controller.Controller, error) {
			c, err := sim()
			return brokenBench{c}, err
		}
		recs := runSource(t, quiet, opts)
		if len(recs) != 1 || recs[0].Status != "error" || !strings.Contains(recs[0].Error, "event 7 lost") {
			t.Fatalf("record %+v", *recs[0])
		}
	})
	t.Run("a scenario past its limit has timed out", func(t *testing.T) {
		opts := simOptions(t)
		opts.TimeScale = 1
		opts.ScenarioTimeout = 300 * time.Millisecond
		recs := runSource(t, quiet, opts)
		if len(recs) != 1 || recs[0].Status != "timed out" || !strings.Contains(recs[0].Error, "time limit") {
			t.Fatalf("record %+v", *recs[0])
		}
	})
}

// brokenBench is a controller that works but reports a broken link to the
// device, as controller/remote does after a lost event.
type brokenBench struct{ controller.Controller }

func (brokenBench) BenchErr() error { return errors.New("control channel: event 7 lost") }

// "the broker drops {packet} for that message" counts only packets a fault
// kept from their receiver: it passes for a dropped PUBREC and fails for
// one that was delivered.
func TestDroppedForThatMessage(t *testing.T) {
	const src = `Feature: drops
  Scenario: %s
    Given a client "c"
    And client "c" is connected
    %s
    When client "c" publishes "x" to "a/b" with QoS 2
    Then the broker drops PUBREC for that message 1 time
    When client "c" disconnects
    And client "c" reconnects
    Then onPublish reports that message with reason 0
`
	for _, tc := range []struct {
		name, fault, status, err string
	}{
		{"dropped", `And the broker drops the next PUBREC to "c"`, "passed", ""},
		{"delivered", `And the broker drops the next PUBREC to "someone-else"`, "failed", "dropped PUBREC for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := runSource(t, fmt.Sprintf(src, tc.name, tc.fault), simOptions(t))
			if len(recs) != 1 || recs[0].Status != tc.status || !strings.Contains(recs[0].Error, tc.err) {
				t.Fatalf("record %+v", *recs[0])
			}
		})
	}
}
