package faults

import (
	"strings"
	"testing"
)

func TestClientMatch(t *testing.T) {
	cases := []struct {
		glob, client string
		want         bool
	}{
		{"dev-1", "dev-1", true}, {"dev-1", "dev-12", false},
		{"dev-*", "dev-12", true}, {"dev-*", "dev-", true}, {"dev-*", "dev/x", false}, {"dev-*", "dev-a/b", false}, {"dev-*", "xdev-1", false},
		{"dev-?", "dev-1", true}, {"dev-?", "dev-12", false}, {"*-sensor", "kitchen-sensor", true}, {"[ab]*", "bob", true}, {"[ab]*", "carl", false},
	}
	for _, c := range cases {
		s := NewSet(1)
		if err := s.Add(Rule{Name: "r", Match: Match{Client: c.glob}, Action: Drop{}}); err != nil {
			t.Fatal(err)
		}
		p := Packet{Type: PUBLISH, Direction: ToBroker, ClientID: c.client, PacketID: -1}
		if got := s.Apply(&p).Drop; got != c.want {
			t.Errorf("client glob %q on %q: %t, want %t", c.glob, c.client, got, c.want)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	qos3, prob := 3, 1.5
	bad := []Rule{
		{Match: Match{}, Action: Drop{}},
		{Name: "no action"},
		{Name: "r", Match: Match{Client: "["}, Action: Drop{}},
		{Name: "r", Match: Match{Topic: "a/#/b"}, Action: Drop{}},
		{Name: "r", Match: Match{Topic: "a", Packets: []byte{PUBACK}}, Action: Drop{}},
		{Name: "r", Match: Match{QoS: &qos3}, Action: Drop{}},
		{Name: "r", Match: Match{Nth: 1, First: 2}, Action: Drop{}},
		{Name: "r", Match: Match{Probability: &prob}, Action: Drop{}},
		{Name: "r", Match: Match{Until: 1, After: 2}, Action: Drop{}},
		{Name: "r", Match: Match{Packets: []byte{PUBACK}}, Action: Reason{Code: 146}},
		{Name: "r", Match: Match{Packets: []byte{PUBLISH}}, Action: Refuse{Code: 5}},
		{Name: "r", Action: Duplicate{Count: MaxCopies + 1}},
		{Name: "r", Action: Disconnect{Mode: "explode"}},
		{Name: "r", Action: Delay{Duration: 1, Jitter: 2}},
	}
	for _, r := range bad {
		if err := Validate(r); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
}

// Topic rules through Apply, whose quick test compares the first eight
// bytes of topic and filter before the whole: literals shorter and longer
// than eight bytes, topics shorter than the literal.
func TestTopicRuleMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"abc/+", "abc/x", true}, {"abc/+", "abd/x", false}, {"abc/+", "ab", false}, {"abc/#", "abc", true},
		{"abcdefgh/#", "abcdefgh/1", true}, {"abcdefgh/#", "abcdefgX/1", false},
		{"kitchen/oven/temp", "kitchen/oven/temp", true}, {"kitchen/oven/temp", "kitchen/oven/tempo", false},
		{"kitchen/oven/temp", "kitchen/oveX/temp", false}, {"kitchen/oven/temp", "kitchen", false},
		{"+/oven", "kitchen/oven", true}, {"#", "anything/at/all", true}, {"a", "", false},
	}
	for _, c := range cases {
		s := NewSet(1)
		if err := s.Add(Rule{Name: "r", Match: Match{Topic: c.filter}, Action: Drop{}}); err != nil {
			t.Fatal(err)
		}
		p := Packet{Type: PUBLISH, Direction: ToClient, Topic: c.topic, ClientID: "dev", PacketID: -1}
		if got := s.Apply(&p).Drop; got != c.want {
			t.Errorf("filter %q on topic %q: %t, want %t", c.filter, c.topic, got, c.want)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"#", "x/y", true}, {"+/+", "a/", true},
		{"#", "$SYS/x", false}, {"+/x", "$SYS/x", false}, {"$SYS/#", "$SYS/x", true}, {"a/+/c", "a//c", true},
		{"a/b/#", "a/b", true}, {"a/b/#", "a/bc", false}, {"a/+", "a/", true}, {"a/+", "a", false},
		{"ab/+", "a/b", false}, {"a//b", "a//b", true}, {"$SYS/#", "$SYS", true},
	}
	for _, c := range cases {
		f := splitFilter(c.filter)
		// The quick literal-prefix test that matches runs first must never
		// turn away a topic the filter matches.
		got := strings.HasPrefix(c.topic, literalPrefix(f)) && topicMatch(f, c.topic)
		if got != c.want {
			t.Errorf("filter %q topic %q: %t, want %t", c.filter, c.topic, got, c.want)
		}
	}
}
