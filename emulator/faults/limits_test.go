package faults

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDurationLimit(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Name: "d", Action: Delay{Duration: 1_000_000 * time.Hour}}, "delay.duration: 1000000h0m0s is longer than the limit of 1h0m0s"},
		{Rule{Name: "s", Action: Stall{Duration: 2 * time.Hour}}, "stall.duration: 2h0m0s is longer"},
		{Rule{Name: "r", Action: Restart{DownFor: 90 * time.Minute}}, "restart.down_for: 1h30m0s is longer"},
		{Rule{Name: "w", Match: Match{Until: 3 * time.Hour}, Action: Drop{}}, "match.until: 3h0m0s is longer"},
	} {
		err := NewSet(1).Add(tc.rule)
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a field error containing %q", tc.rule.Name, err, tc.want)
		}
	}
	s := NewSet(1)
	if err := s.Add(Rule{Name: "ok", Action: Delay{Duration: time.Hour}}); err != nil {
		t.Errorf("a delay of exactly the limit: %v", err)
	}
	s.SetLimits(Limits{MaxDuration: -1})
	if err := s.Add(Rule{Name: "long", Action: Delay{Duration: 100 * time.Hour}}); err != nil {
		t.Errorf("no duration limit: %v", err)
	}
}

func TestRuleLimit(t *testing.T) {
	s := NewSet(1)
	s.SetLimits(Limits{MaxRules: 3})
	for i := range 3 {
		if err := s.Add(Rule{Name: fmt.Sprint(i), Action: Drop{}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(Rule{Name: "3", Action: Drop{}}); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth rule: %v, want ErrFull", err)
	}
	s.Remove("0")
	if err := s.Add(Rule{Name: "3", Action: Drop{}}); err != nil {
		t.Fatalf("after a removal: %v", err)
	}
	if s.Len() != 3 || !s.Has("3") || s.Has("0") {
		t.Errorf("Len %d, Has(3) %v, Has(0) %v", s.Len(), s.Has("3"), s.Has("0"))
	}
}

// Rules armed one at a time, as a plan or the API arms them, stay in
// arming order and match as a set built in one go does.
func TestIncrementalSnapshot(t *testing.T) {
	s := NewSet(1)
	for i := range 50 {
		m := Match{Packets: []byte{PUBLISH}}
		if i%2 == 1 {
			m = Match{Packets: []byte{PUBACK}, Direction: ToClient}
		}
		if err := s.Add(Rule{Name: fmt.Sprint(i), Match: m, Action: Drop{}}); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			s.Remove("10") // fresh arrays in the middle of the run
		}
	}
	o := s.Apply(&Packet{Type: PUBLISH, Direction: ToBroker})
	if n := strings.Count(o.Rule, ",") + 1; n != 24 || !strings.HasPrefix(o.Rule, "0,2,4,6,8,12,") {
		t.Errorf("PUBLISH fired %d rules: %s", n, o.Rule)
	}
	o = s.Apply(&Packet{Type: PUBACK, Direction: ToClient})
	if n := strings.Count(o.Rule, ",") + 1; n != 25 {
		t.Errorf("PUBACK fired %d rules: %s", n, o.Rule)
	}
}

// Arming 20,000 rules one by one: each Add costs the same whatever is
// armed already.
func BenchmarkArm20000(b *testing.B) {
	for b.Loop() {
		s := NewSet(1)
		s.SetLimits(Limits{MaxRules: -1})
		for i := range 20000 {
			r := Rule{Name: fmt.Sprintf("rule-%d", i), Match: Match{Packets: []byte{PUBLISH}, Topic: fmt.Sprintf("t/%d", i)}, Action: Drop{}}
			if err := s.Add(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}
