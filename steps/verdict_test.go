// Tests that the harness's and the fixtures' own trouble ends a scenario as
// an error, never as the controller's failure, and that a fault which never
// fires cannot let a scenario pass.
package steps_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

func TestFixtureTroubleIsAnError(t *testing.T) {
	dir := t.TempDir()
	// A plan with a misspelt action key.
	os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte("rules:\n  - name: x\n    match: {packet: PUBACK}\n    dorp: {}\n"), 0o644)
	for _, tc := range []struct{ name, step, want string }{
		{"missing plan", `the broker follows the fault plan "no-such-plan.yaml"`, "no-such-plan.yaml"},
		{"plan typo", `the broker follows the fault plan "typo.yaml"`, "dorp"},
		{"missing payload", `client "c" publishes the file "no-such.json" to "home/t" with QoS 1`, "no-such.json"},
		{"missing driver", `the driver "no-such-driver" is running`, "no-such-driver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := simOptions(t)
			opts.FixtureDir = dir
			src := "Feature: f\n  Scenario: s\n    Given a client \"c\"\n    And client \"c\" is connected\n    And " + tc.step + "\n"
			recs := runSource(t, src, opts)
			if len(recs) != 1 || recs[0].Status != record.Error || !strings.Contains(recs[0].Error, tc.want) {
				t.Fatalf("want an error naming %q; record %+v", tc.want, recs)
			}
		})
	}
}

// A step that names a client the scenario never made is a mistake in the
// feature, not something the controller did.
func TestUnknownClientIsAnError(t *testing.T) {
	for _, step := range []string{
		`client "sensr" publishes "x" to "home/t" with QoS 1`,
		`the broker closes the connection to client "sensr" now`,
		`the broker receives 1 PUBLISH packet from "sensr"`,
		`nothing goes from "sensr" to the broker within 10 milliseconds`,
	} {
		t.Run(step, func(t *testing.T) {
			src := "Feature: f\n  Scenario: s\n    Given a client \"sensor\"\n    And client \"sensor\" is connected\n    When " + step + "\n"
			recs := runSource(t, src, simOptions(t))
			if len(recs) != 1 || recs[0].Status != record.Error || !strings.Contains(recs[0].Error, `there is no client "sensr"`) {
				t.Fatalf("want an error naming the client; record %+v", recs)
			}
		})
	}
}

func TestFaultsThatNeverFire(t *testing.T) {
	const scenario = `Feature: f
  Scenario: s
    Given a client "sensor"
    And the broker answers the next PUBACK to %s with reason 16
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then the call returns 0 and a message id
`
	for _, tc := range []struct {
		name, target, status, want string
		fired                      int
	}{
		{"a misspelt client is an error", `"sensr"`, record.Error, `no client of this scenario is called "sensr"`, 0},
		{"may not fire when it says so", `"sensr" if it comes`, record.Passed, "", 0},
		{"a fault that fires counts", `"sensor" if it comes`, record.Passed, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := runSource(t, strings.Replace(scenario, "%s", tc.target, 1), simOptions(t))
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			r := recs[0]
			if r.Status != tc.status || !strings.Contains(r.Error, tc.want) {
				t.Fatalf("status %q, error %q; want %q with %q", r.Status, r.Error, tc.status, tc.want)
			}
			if len(r.Faults) != 1 || r.Faults[0].Fired != tc.fired {
				t.Fatalf("fault rules %+v, want one that fired %d times", r.Faults, tc.fired)
			}
		})
	}
}

func TestCheckArgumentsAndFixtures(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.feature")
	os.WriteFile(f, []byte(`Feature: f
  Scenario: s
    Given a client "c"
    And the broker answers the next PUBACK to "c" with reason 0x87
    And the broker follows the fault plan "plans/slow-acks.yaml"
    And the broker follows the fault plan "plans/no-such.yaml"
    And the broker allows at most QoS 3
`), 0o644)
	problems, err := steps.CheckIn("../fixtures", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 {
		t.Fatalf("want 2 problems, got %v", problems)
	}
	if p := problems[0]; p.Line != 6 || !p.Fixture || !strings.Contains(p.Message, "plans/no-such.yaml") {
		t.Errorf("the missing plan: %+v", p)
	}
	if p := problems[1]; p.Line != 7 || p.Fixture || !strings.Contains(p.Message, "QoS 3") {
		t.Errorf("the bad QoS: %+v", p)
	}
}

// The project's other drivers are held to the driver's promises: a
// Publish of theirs that returned 0 and never got its onPublish fails the
// scenario, naming the device.
func TestProjectDriverUnansweredPublishFails(t *testing.T) {
	// Mostly waiting (a second for the onPublish that never comes):
	// beside the other tests that wait.
	t.Parallel()
	publisher, err := filepath.Abs("../fixtures/drivers/state-publisher")
	if err != nil {
		t.Fatal(err)
	}
	project := filepath.Join(t.TempDir(), "project.yaml")
	os.WriteFile(project, []byte(`devices:
  - id: 1002
    driver: `+publisher+`
    properties:
      Broker Host: "{{dut.host}}"
      Broker Port: "{{dut.port}}"
      Client ID: peer-1
`), 0o644)
	src := `Feature: f
  Scenario: s
    Given the driver runs in the project "` + project + `"
    And the broker drops the next PUBACK to "peer-1"
    And the driver "drivers/mqtt-hub" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    And the driver's client "mqtt-hub-1001" is connected
    When device 1002 runs the command "Publish State" with:
      | parameter | value |
      | why       | test  |
    Then device 1002's Lua expression "PendingCount() > 0" gives "true" within 2 seconds
`
	opts := driverOptions()
	opts.Deadline = time.Second
	recs := runSource(t, src, opts)
	if len(recs) != 1 || recs[0].Status != record.Failed || !strings.Contains(recs[0].Error, "device 1002's driver: peer-1: Publish id") {
		t.Fatalf("want a failure naming device 1002's unanswered Publish; got %+v", recs)
	}
}
