// Tests that every status sorts into the outcome reports expect.
package record

import "testing"

func TestOutcome(t *testing.T) {
	for _, c := range []struct{ status, want string }{
		{Passed, Passed},
		{Skipped, Skipped},
		{Error, Error},
		{TimedOut, TimedOut},
		{Failed, Failed},
		{"", Failed},
		{"undefined", Failed},
	} {
		if got := (&Scenario{Status: c.status}).Outcome(); got != c.want {
			t.Errorf("status %q: outcome %q, want %q", c.status, got, c.want)
		}
	}
}
