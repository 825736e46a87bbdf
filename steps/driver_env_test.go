// The driver environment steps' failures: each says what the driver did
// instead of what was expected.

package steps_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A driver check that fails says what the driver did instead, from its
// trace: the calls it made of the function expected, the requests it
// sent, the value it shows.
func TestDriverEnvChecksShowWhatTheDriverDid(t *testing.T) {
	const src = `Feature: driver checks
  Scenario: %s
    Given the driver's HTTP requests are answered from "http/weather.yaml"
    And the driver "drivers/%s" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    %s
    Then %s
`
	const wait = `And the driver's property "Published" is "1" within 2 seconds`
	for _, tc := range []struct {
		name, driver, when, then string
		want                     []string
	}{
		{"another proxy message", "zone-bridge", `When the driver gets "SET_SETPOINT_HEAT" from its proxy on binding 5001 with:
      | parameter | value |
      | SETPOINT  | 23    |`,
			`the driver sends "HEAT_MODE_CHANGED" to its proxy on binding 5001 within 200 milliseconds`,
			[]string{`has not sent "HEAT_MODE_CHANGED" to its proxy on binding 5001`, "C4:SendToProxy[5001 HEAT_SETPOINT_CHANGED map[SCALE:C SETPOINT:23] NOTIFY]"}},
		{"other proxy parameters", "zone-bridge", `When the driver gets "SET_SETPOINT_HEAT" from its proxy on binding 5001 with:
      | parameter | value |
      | SETPOINT  | 23    |`,
			`the driver sends "HEAT_SETPOINT_CHANGED" to its proxy on binding 5001 within 200 milliseconds with:
      | parameter | value |
      | SETPOINT  | 24    |`,
			[]string{"with map[SETPOINT:24]", "C4:SendToProxy[5001 HEAT_SETPOINT_CHANGED map[SCALE:C SETPOINT:23] NOTIFY]"}},
		{"another event", "zone-bridge", wait, `the driver fires the event "Zone Lost" within 200 milliseconds`,
			[]string{`has not fired the event "Zone Lost"`, "C4:FireEvent[Broker Online]"}},
		{"another property value", "zone-bridge", wait, `the driver's property "Connection" is "offline" within 200 milliseconds`,
			[]string{`the driver's property "Connection" is "online" after`, `expected "offline"`, "trace of the driver"}},
		{"a variable it never added", "zone-bridge", wait, `the driver's variable "HUMIDITY" is "40" within 200 milliseconds`,
			[]string{`the driver's variable "HUMIDITY" does not exist after`}},
		{"another device message", "zone-bridge", wait, `the driver sends "Publish State" to device 1001 within 200 milliseconds`,
			[]string{"none of SendToDevice"}},
		{"another HTTP request", "weather-feed", `And the driver's property "Outdoor" is "7.5" within 2 seconds`,
			`the driver sends the HTTP request "POST http://weather.example/now" within 200 milliseconds`,
			[]string{"no HTTP request POST http://weather.example/now", "GET http://weather.example/now (answer 0)"}},
		{"a publish elsewhere", "weather-feed", `And the driver's property "Outdoor" is "7.5" within 2 seconds`,
			`the driver publishes to "home/indoor/#" within 200 milliseconds`,
			[]string{`no Publish to "home/indoor/#"`, "call Publish [home/outdoor/temperature 7.5 1 true]"}},
		{"a clock set too late", "zone-bridge", wait, `the driver's clock runs 10 times faster`,
			[]string{"its clock is set before it starts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Each check fails, so its wait lasts as long as the least
			// wait: 200 ms, as the checks say, not the default second. A
			// shorter wait cannot make a check that fails pass; the waits
			// of the Given steps, which pass, are 2 s as written.
			opts := driverOptions()
			opts.MinWait = 200 * time.Millisecond
			recs := runSource(t, fmt.Sprintf(src, tc.name, tc.driver, tc.when, tc.then), opts)
			if len(recs) != 1 || recs[0].Status != "failed" {
				t.Fatalf("records %+v", recs)
			}
			for _, w := range tc.want {
				if !strings.Contains(recs[0].Error, w) {
					t.Errorf("the failure does not say %q:\n%s", w, recs[0].Error)
				}
			}
		})
	}
}

// A property or variable the driver held only for a moment after the
// When step passes "is ... within" though it has changed again by the
// time the check looks; a value it held only before the When does not.
func TestDriverValueHeldBriefly(t *testing.T) {
	const src = `Feature: brief values
  Scenario: %s
    Given the driver "drivers/zone-bridge" is running with the properties:
      | property    | value        |
      | Broker Host | {{dut.host}} |
      | Broker Port | {{dut.port}} |
    And the driver runs the Lua code:
      """
      C4:UpdateProperty("Connection", "before the When")
      """
    When the driver runs the Lua code:
      """
      C4:UpdateProperty("Connection", "for a moment")
      C4:UpdateProperty("Connection", "afterwards")
      """
    Then the driver's property "Connection" is "%s" within 100 milliseconds
`
	for _, tc := range []struct {
		value, status string
	}{
		{"for a moment", "passed"},
		{"afterwards", "passed"},
		{"before the When", "failed"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			opts := driverOptions()
			if tc.status == "failed" {
				// A check that fails waits the least wait through: 100 ms,
				// as the check says, rather than the default second. The
				// checks that pass keep the default.
				opts.MinWait = 100 * time.Millisecond
			}
			recs := runSource(t, fmt.Sprintf(src, tc.value, tc.value), opts)
			if len(recs) != 1 || recs[0].Status != tc.status {
				t.Fatalf("records %+v, want one %s", recs, tc.status)
			}
		})
	}
}
