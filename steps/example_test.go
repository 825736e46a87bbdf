// How a project uses the step library from its own `go test`: its own
// feature files, the catalog's steps, a controller of its choice. The
// README shows this file; CI runs it with the other tests.
package steps_test

import (
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/steps"
)

const ownFeature = `Feature: my driver's broker keeps its promises
  Scenario: the broker's reason code reaches onPublish
    Given a client "sensor"
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next PUBACK to "sensor" with reason 0x10
    When client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1
    Then the call returns 0 and a message id
    And onPublish reports that message with reason 16
`

func TestOwnSuiteWithTheStepLibrary(t *testing.T) {
	opts := steps.Options{
		NewController: func() (controller.Controller, error) {
			return sim.New(sim.Options{}), nil
		},
		FixtureDir: "../fixtures", // fault plans and payloads the features name
		Deadline:   5 * time.Second,
	}
	suite := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{
			Format: "pretty", Strict: true, NoColors: true, TestingT: t, // one subtest per scenario
			// A project's own files: Paths: []string{"features"}.
			FeatureContents: []godog.Feature{{Name: "own.feature", Contents: []byte(ownFeature)}},
		},
	}
	if suite.Run() != 0 {
		t.Fatal("the suite failed")
	}
}

// The same suite on virtual time: each scenario in a synctest bubble of
// its own, the broker and the simulated controller on an in-memory
// network. Keep-alives, delays and "within" waits take no real time, and
// a loaded machine runs it the same way as an idle one.
func TestOwnSuiteOnVirtualTime(t *testing.T) {
	opts := steps.InBubbles(t, steps.Options{
		// NewController left unset: the registered "sim" controller
		// (imported above), dialling the bubbles' in-memory network.
		FixtureDir: "../fixtures",
	})
	suite := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options: &godog.Options{
			Format: "pretty", Strict: true, NoColors: true, TestingT: t,
			FeatureContents: []godog.Feature{{Name: "own.feature", Contents: []byte(ownFeature + keepAliveScenario)}},
		},
	}
	if suite.Run() != 0 {
		t.Fatal("the suite failed")
	}
}

// keepAliveScenario waits 30 seconds, on the bubble's clock.
const keepAliveScenario = `
  Scenario: an idle connection stays up across keep-alives
    Given a client "sensor"
    And client "sensor" connects with a keep-alive of 10 seconds
    Then client "sensor" gets no onDisconnect within 30 seconds
    And the broker receives at least 2 PINGREQ packets from "sensor"
`
