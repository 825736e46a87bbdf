// Tests of the steps QA asked for: cutting a client off now, an onPublish
// that must not come early, a window that was used, and faults that fired.
package steps_test

import (
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/record"
)

func TestQASteps(t *testing.T) {
	for _, tc := range []struct {
		name, steps, status, want string
	}{
		{"close now", `
    And client "sensor" is connected
    When the broker closes the connection to client "sensor" now
    Then client "sensor" gets onDisconnect with code 7`, record.Passed, ""},
		{"disconnect now with a reason", `
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    When the broker disconnects client "sensor" now with reason 0x98
    Then client "sensor" gets onDisconnect with code 152`, record.Passed, ""},
		{"no DISCONNECT for MQTT 3.1.1", `
    And client "sensor" speaks MQTT 3.1.1
    And client "sensor" is connected
    When the broker disconnects client "sensor" now with reason 0x98`, record.Failed, "has no DISCONNECT from the broker"},
		{"a delayed ack is not reported early", `
    And client "sensor" is connected
    And the broker delays the next PUBACK to "sensor" by 3500 milliseconds
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then onPublish for that message comes no sooner than 3 seconds after the publish`, record.Passed, ""},
		{"an ack that comes early fails, timed from the publish", `
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then onPublish for that message comes no sooner than 4 seconds after the publish`, record.Failed, "after the publish, sooner than 4s"},
		{"a window that was used", `
    And client "sensor" is connected
    And the broker delays every PUBACK to "sensor" by 4 seconds
    When client "sensor" publishes 3 messages to "home/t" with QoS 1
    Then onPublish reports every message with reason 0
    And at least 3 messages of client "sensor" were in flight at once`, record.Passed, ""},
		{"a window that was not used", `
    And client "sensor" is connected
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then onPublish reports that message with reason 0
    And at least 2 messages of client "sensor" were in flight at once`, record.Failed, "at most 1 messages in flight at once, expected at least 2"},
		{"every armed fault fired", `
    And client "sensor" speaks MQTT 5
    And client "sensor" is connected
    And the broker answers the next PUBACK to "sensor" with reason 16
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then onPublish reports that message with reason 16
    And every armed fault fired`, record.Passed, ""},
		{"an armed fault that did not fire", `
    And client "sensor" is connected
    And the broker drops the next PUBACK to "sensr" if it comes
    When client "sensor" publishes "x" to "home/t" with QoS 1
    Then onPublish reports that message with reason 0
    And every armed fault fired`, record.Failed, `1 of 1 armed faults never fired: the next PUBACK to "sensr" if it comes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "Feature: f\n  Scenario: s\n    Given a client \"sensor\"" + tc.steps + "\n"
			recs := runSource(t, src, simOptions(t))
			if len(recs) != 1 || recs[0].Status != tc.status || !strings.Contains(recs[0].Error, tc.want) {
				t.Fatalf("want %s with %q; got %d records: %+v", tc.status, tc.want, len(recs), recs[0])
			}
		})
	}
}
