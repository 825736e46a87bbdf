package faults

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const examplePlan = `seed: 7
rules:
  - name: lose-first-puback
    match: {direction: to_client, packet: PUBACK, nth: 1}
    drop: {}
  - name: slow-acks
    match: {direction: to_client, packet: [PUBACK, PUBCOMP]}
    delay: {duration: 300ms, jitter: 20ms}
    times: 3
`

func TestParsePlanExample(t *testing.T) {
	p, err := ParsePlan("plan.yaml", []byte(examplePlan))
	if err != nil {
		t.Fatal(err)
	}
	if p.Seed != 7 || !p.HasSeed {
		t.Errorf("seed = %d (given %t), want 7", p.Seed, p.HasSeed)
	}
	want := []Rule{
		{Name: "lose-first-puback", Match: Match{Direction: ToClient, Packets: []byte{PUBACK}, Nth: 1}, Action: Drop{}},
		{Name: "slow-acks", Match: Match{Direction: ToClient, Packets: []byte{PUBACK, PUBCOMP}}, Action: Delay{Duration: 300 * time.Millisecond, Jitter: 20 * time.Millisecond}, Times: 3},
	}
	if !reflect.DeepEqual(p.Rules, want) {
		t.Errorf("rules:\n got %+v\nwant %+v", p.Rules, want)
	}
}

func TestParsePlanEveryKey(t *testing.T) {
	src := `seed: -3
rules:
  - name: all-match-keys
    match:
      direction: to_broker
      packet: publish
      client: "sensor-?"
      topic: a/+/#
      qos: 1
      packet_id: 9
      dup: true
      first: 2
      probability: 0.5
      after: 1s
      until: 1m
    duplicate: {count: 2}
    times: 4
    seed: 11
  - name: every
    match: {packet: PUBACK, every: 2}
    reason: {code: 16}
  - {name: pid, match: {packet: [PUBREC]}, packet_id: {id: 65535}}
  - {name: dis, disconnect: {mode: mqtt, reason: 137, when: after}}
  - {name: close, disconnect: {mode: close}}
  - {name: stall, stall: {duration: 1.5s}}
  - {name: refuse, match: {packet: CONNECT}, refuse: {code: 135}}
  - {name: restart, restart: {down_for: 2s}}
  - {name: restart-now, restart: {}}
  - {name: drop-null, drop: }
`
	p, err := ParsePlan("every.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Seed != -3 || len(p.Rules) != 10 {
		t.Fatalf("seed %d, %d rules", p.Seed, len(p.Rules))
	}
	one, half, nine, seed := 1, 0.5, 9, int64(11)
	dup := true
	want := Rule{Name: "all-match-keys", Times: 4, Seed: &seed, Action: Duplicate{Count: 2}, Match: Match{
		Direction: ToBroker, Packets: []byte{PUBLISH}, Client: "sensor-?", Topic: "a/+/#", QoS: &one, PacketID: &nine,
		Dup: &dup, First: 2, Probability: &half, After: time.Second, Until: time.Minute,
	}}
	if !reflect.DeepEqual(p.Rules[0], want) {
		t.Errorf("rule 0:\n got %+v\nwant %+v", p.Rules[0], want)
	}
	kinds := []string{}
	for _, r := range p.Rules {
		kinds = append(kinds, r.Action.Kind())
	}
	if got := strings.Join(kinds, " "); got != "duplicate reason packet_id disconnect disconnect stall refuse restart restart drop" {
		t.Errorf("kinds: %s", got)
	}
	if p.Rules[1].Match.Direction != Both {
		t.Errorf("direction left out = %v, want both", p.Rules[1].Match.Direction)
	}
}

func TestParsePlanErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"probability", `seed: 7
rules:
  - name: a
    match: {packet: PUBACK}
    drop: {}
  - name: b
    match:
      probability: 1.5
    drop: {}
`, "plan.yaml:8: rules[1].match.probability: 1.5 is outside 0..1"},
		{"unknown top key", "seed: 1\nrule: []\n", "plan.yaml:2: rule: unknown key: want one of seed, rules"},
		{"unknown match key", "rules:\n  - name: a\n    match: {packets: PUBACK}\n    drop: {}\n", "plan.yaml:3: rules[0].match.packets: unknown key"},
		{"unknown action key", "rules:\n  - name: a\n    dorp: {}\n", "plan.yaml:3: rules[0].dorp: unknown key"},
		{"unknown action arg", "rules:\n  - name: a\n    delay: {duration: 1s, jiter: 1ms}\n", "plan.yaml:3: rules[0].delay.jiter: unknown key: want one of duration, jitter"},
		{"no action", "rules:\n  - name: a\n    match: {packet: PUBACK}\n", `plan.yaml:2: rules[0]: rule "a" has no action: give one of drop, delay, duplicate, reason, packet_id, disconnect, stall, refuse, restart`},
		{"two actions", "rules:\n  - name: a\n    drop: {}\n    delay: {duration: 1s}\n", `plan.yaml:4: rules[0].delay: rule "a" has 2 actions (drop, delay): give exactly one`},
		{"no name", "rules:\n  - match: {packet: PUBACK}\n    drop: {}\n", "plan.yaml:2: rules[0].name: missing: rules[0] needs name"},
		{"blank name", "rules:\n  - name: ' '\n    drop: {}\n", "plan.yaml:2: rules[0].name: a rule needs a name"},
		{"duplicate name", "rules:\n  - {name: a, drop: {}}\n  - {name: b, drop: {}}\n  - {name: a, drop: {}}\n", `plan.yaml:4: rules[2].name: rule name "a" is taken by rules[0]`},
		{"duplicate key", "rules:\n  - name: a\n    drop: {}\n    name: b\n", "plan.yaml:4: rules[0].name: key given twice (first on line 2)"},
		{"reason not for packet", "rules:\n  - name: a\n    match: {packet: PUBACK}\n    reason: {code: 146}\n", "plan.yaml:4: rules[0].reason: reason code 146 is not valid for PUBACK"},
		{"reason without packet", "rules:\n  - name: a\n    reason: {code: 0}\n", "plan.yaml:3: rules[0].reason: a reason code rewrite needs match.packet"},
		{"bad duration", "rules:\n  - name: a\n    delay: {duration: 300}\n", `plan.yaml:3: rules[0].delay.duration: want a duration such as 300ms, got integer 300`},
		{"bad duration word", "rules:\n  - name: a\n    match:\n      after: soon\n    drop: {}\n", `plan.yaml:4: rules[0].match.after: "soon" is not a duration`},
		{"missing duration", "rules:\n  - name: a\n    delay: {jitter: 1ms}\n", "plan.yaml:3: rules[0].delay.duration: missing"},
		{"jitter", "rules:\n  - name: a\n    delay: {duration: 1ms, jitter: 2ms}\n", "plan.yaml:3: rules[0].delay.jitter: 2ms is larger than duration 1ms"},
		{"wrong type qos", "rules:\n  - name: a\n    match: {qos: one}\n    drop: {}\n", `plan.yaml:3: rules[0].match.qos: want an integer, got string "one"`},
		{"qos range", "rules:\n  - name: a\n    match:\n      qos: 3\n    drop: {}\n", "plan.yaml:4: rules[0].match.qos: 3 is outside 0..2"},
		{"packet id range", "rules:\n  - name: a\n    match:\n      packet_id: 0\n    drop: {}\n", "plan.yaml:4: rules[0].match.packet_id: 0 is outside 1..65535"},
		{"bad packet", "rules:\n  - name: a\n    match:\n      packet: [PUBACK, PUBAK]\n    drop: {}\n", `plan.yaml:4: rules[0].match.packet[1]: "PUBAK" is not a packet type`},
		{"reserved packet", "rules:\n  - name: a\n    match: {packet: RESERVED}\n    drop: {}\n", `rules[0].match.packet: "RESERVED" is not a packet type`},
		{"packet twice", "rules:\n  - name: a\n    match: {packet: [PUBACK, puback]}\n    drop: {}\n", "rules[0].match.packet[1]: PUBACK is listed twice"},
		{"packet number", "rules:\n  - name: a\n    match: {packet: 4}\n    drop: {}\n", "rules[0].match.packet: want a packet type name such as PUBACK, got integer 4"},
		{"direction", "rules:\n  - name: a\n    match: {direction: up}\n    drop: {}\n", `plan.yaml:3: rules[0].match.direction: "up": want to_broker, to_client or both`},
		{"two occurrences", "rules:\n  - name: a\n    match: {nth: 1, every: 2}\n    drop: {}\n", "plan.yaml:3: rules[0].match: use only one of nth, first and every"},
		{"negative nth", "rules:\n  - name: a\n    match:\n      nth: -1\n    drop: {}\n", "plan.yaml:4: rules[0].match.nth: must not be negative, got -1"},
		{"until before after", "rules:\n  - name: a\n    match:\n      after: 2s\n      until: 1s\n    drop: {}\n", "plan.yaml:5: rules[0].match.until: 1s is not after match.after 2s"},
		{"topic not publish", "rules:\n  - name: a\n    match:\n      packet: PUBACK\n      topic: a/b\n    drop: {}\n", "plan.yaml:5: rules[0].match.topic: applies to PUBLISH only"},
		{"bad topic", "rules:\n  - name: a\n    match:\n      topic: a/#/b\n    drop: {}\n", "plan.yaml:4: rules[0].match.topic: topic filter"},
		{"bad glob", "rules:\n  - name: a\n    match:\n      client: '[x'\n    drop: {}\n", "plan.yaml:4: rules[0].match.client:"},
		{"disconnect mode", "rules:\n  - name: a\n    disconnect: {mode: slam}\n", `plan.yaml:3: rules[0].disconnect.mode: "slam": want close, reset or mqtt`},
		{"disconnect reason", "rules:\n  - name: a\n    disconnect:\n      mode: mqtt\n      reason: 5\n", "plan.yaml:5: rules[0].disconnect.reason: code 5 is not valid for DISCONNECT"},
		{"stall zero", "rules:\n  - name: a\n    stall:\n      duration: 0s\n", "plan.yaml:4: rules[0].stall.duration: must be positive, got 0s"},
		{"refuse not connect", "rules:\n  - name: a\n    match: {packet: PUBLISH}\n    refuse: {code: 5}\n", "plan.yaml:4: rules[0].refuse: refuse applies to CONNECT only"},
		{"refuse zero", "rules:\n  - name: a\n    match: {packet: CONNECT}\n    refuse:\n      code: 0\n", "plan.yaml:5: rules[0].refuse.code: 0 accepts the connection"},
		{"packet_id range", "rules:\n  - name: a\n    packet_id:\n      id: 70000\n", "plan.yaml:4: rules[0].packet_id.id: 70000 is outside 1..65535"},
		{"times negative", "rules:\n  - name: a\n    drop: {}\n    times: -2\n", "plan.yaml:4: rules[0].times: must not be negative, got -2"},
		{"probability string", "rules:\n  - name: a\n    match: {probability: half}\n    drop: {}\n", `rules[0].match.probability: want a number, got string "half"`},
		{"probability nan", "rules:\n  - name: a\n    match: {probability: .nan}\n    drop: {}\n", "rules[0].match.probability: .nan is not a finite number"},
		{"dup string", "rules:\n  - name: a\n    match: {dup: yes}\n    drop: {}\n", `rules[0].match.dup: want true or false, got string "yes"`},
		{"seed float", "seed: 1.5\nrules: []\n", "plan.yaml:1: seed: want an integer, got number 1.5"},
		{"seed overflow", "seed: 99999999999999999999\nrules: []\n", "plan.yaml:1: seed: 99999999999999999999 is out of range"},
		{"rules not list", "rules: {name: a}\n", "plan.yaml:1: rules: want a list, got a mapping"},
		{"rule not mapping", "rules:\n  - drop\n", `plan.yaml:2: rules[0]: want a mapping, got string "drop"`},
		{"name int", "rules:\n  - name: 5\n    drop: {}\n", "plan.yaml:2: rules[0].name: want a string, got integer 5"},
		{"null qos", "rules:\n  - name: a\n    match: {qos: null}\n    drop: {}\n", "rules[0].match.qos: want an integer, got null"},
		{"empty", "", "plan.yaml:1: empty plan"},
		{"comment only", "# nothing\n", "plan.yaml:1: empty plan"},
		{"top level list", "- a\n", "plan.yaml:1: want a mapping, got a list"},
		{"two documents", "rules: []\n---\nrules: []\n", "plan.yaml:2: more than one YAML document"},
		{"syntax", "rules:\n  - name: a\n   drop: {}\n", "plan.yaml:1: YAML: did not find expected"},
		{"tab", "rules:\n\t- name: a\n", "plan.yaml:2: YAML:"},
		{"merge key", "base: &b {drop: {}}\n", "plan.yaml:1: base: unknown key"},
		{"merge", "rules:\n  - <<: {drop: {}}\n    name: a\n", "plan.yaml:2: rules[0]: keys must be plain names"},
		{"custom tag", "rules:\n  - name: !foo a\n    drop: {}\n", `plan.yaml:2: rules[0].name: want a string, got !foo "a"`},
		{"empty packet list", "rules:\n  - name: a\n    match: {packet: []}\n    drop: {}\n", "plan.yaml:3: rules[0].match.packet: empty list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePlan("plan.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("parsed: %+v", p)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n got %s\nwant it to contain %s", err, c.want)
			}
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *PlanError", err)
			}
		})
	}
}

func TestParsePlanAnchors(t *testing.T) {
	src := `rules:
  - name: a
    match: &m {direction: to_client, packet: [PUBACK]}
    drop: {}
  - name: b
    match: *m
    delay: {duration: 10ms}
`
	p, err := ParsePlan("anchors.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Rules[0].Match, p.Rules[1].Match) {
		t.Errorf("alias gave %+v, want %+v", p.Rules[1].Match, p.Rules[0].Match)
	}
	if p.HasSeed {
		t.Errorf("plan without seed says it has one")
	}
}

func TestFixturePlansParse(t *testing.T) {
	files, err := filepath.Glob("../../fixtures/plans/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no plans in fixtures/plans")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := LoadPlan(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Rules) == 0 {
				t.Errorf("no rules")
			}
			s := NewSet(p.Seed)
			for _, r := range p.Rules {
				if err := s.Add(r); err != nil {
					t.Errorf("arm %s: %v", r.Name, err)
				}
			}
		})
	}
}

func TestLoadPlanMissingFile(t *testing.T) {
	_, err := LoadPlan(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("error = %v, want one naming the file", err)
	}
}

func TestRuleJSONRoundTrip(t *testing.T) {
	p, err := ParsePlan("every.yaml", []byte(`rules:
  - name: m
    match: {direction: to_broker, packet: [PUBLISH], client: "c*", topic: "a/#", qos: 2, packet_id: 3, dup: false, nth: 2, probability: 0.25, after: 1ms, until: 1h}
    times: 2
    seed: 5
    delay: {duration: 300ms, jitter: 20ms}
  - {name: drop, match: {every: 3}, drop: {}}
  - {name: dup, duplicate: {count: 3}}
  - {name: reason, match: {packet: [SUBACK, UNSUBACK]}, reason: {code: 128}}
  - {name: pid, packet_id: {id: 4}}
  - {name: dis, disconnect: {mode: mqtt, reason: 4, when: before}}
  - {name: stall, stall: {duration: 1m30s}}
  - {name: refuse, match: {packet: CONNECT, first: 1}, refuse: {code: 3}}
  - {name: restart, restart: {down_for: 500ms}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Rules {
		t.Run(r.Name, func(t *testing.T) {
			b, err := json.Marshal(RuleToSpec(r))
			if err != nil {
				t.Fatal(err)
			}
			back, err := RuleFromJSON(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(back, r) {
				t.Errorf("round trip through %s:\n got %+v\nwant %+v", b, back, r)
			}
		})
	}
	b, _ := json.Marshal(RuleToSpec(p.Rules[0]))
	want := `{"name":"m","match":{"direction":"to_broker","packet":["PUBLISH"],"client":"c*","topic":"a/#","qos":2,"packet_id":3,"dup":false,"nth":2,"probability":0.25,"after":"1ms","until":"1h0m0s"},"times":2,"seed":5,"delay":{"duration":"300ms","jitter":"20ms"}}`
	if string(b) != want {
		t.Errorf("spec JSON:\n got %s\nwant %s", b, want)
	}
}

func TestRuleToSpecPointerActions(t *testing.T) {
	r := Rule{Name: "p", Action: &Delay{Duration: time.Second}}
	s := RuleToSpec(r)
	if len(s.Actions) != 1 || s.Actions[0].Key != "delay" || s.Actions[0].Args.(*DelaySpec).Duration != Duration(time.Second) || s.Match.Direction != "both" {
		t.Errorf("spec = %+v", s)
	}
}

// Every registered action key is the Kind of the action it builds, and
// the action is written back under that key: the registry and the actions
// cannot drift apart.
func TestActionKeysAreKinds(t *testing.T) {
	known := []string{"drop", "delay", "duplicate", "reason", "packet_id", "disconnect", "stall", "refuse", "restart"}
	keys := ActionKeys()
	if len(keys) < len(known) || !slices.Equal(keys[:len(known)], known) {
		t.Fatalf("action keys %v, want them to start with %v", keys, known)
	}
	for _, at := range actionTypes() {
		a := at.build(at.newSpec())
		if a.Kind() != at.key {
			t.Errorf("key %s builds action of kind %s", at.key, a.Kind())
		}
		s := RuleToSpec(Rule{Name: "x", Action: a})
		if len(s.Actions) != 1 || s.Actions[0].Key != at.key {
			t.Errorf("action %s is written back as %+v", at.key, s.Actions)
		}
	}
}

func TestRuleFromJSONErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"name":"a","drop":{},"extra":1}`, "extra: unknown key"},
		{`{"name":"a","match":{"probability":1.5},"drop":{}}`, "match.probability: 1.5 is outside 0..1"},
		{`{"name":"a","delay":{"duration":300}}`, `delay.duration: want a duration such as 300ms, got integer 300`},
		{`{"name":"a","drop":{}`, "JSON: unexpected end of input"},
		{`{"name":"a","drop":{}} {}`, "JSON: more than one value"},
		{``, "JSON: empty body"},
		{`{name: a, drop: {}}`, "JSON: invalid character"},
		{`{"name":"a","name":"b","drop":{}}`, "name: key given twice"},
		{`{"name":"a","match":{"qos":1.0},"drop":{}}`, "match.qos: want an integer, got number 1.0"},
		{`{"name":"a","match":{"qos":"1"},"drop":{}}`, `match.qos: want an integer, got string "1"`},
		{`{"name":"a"}`, `rule "a" has no action`},
		{`[]`, "want a mapping, got a list"},
		{`{"rules":[]}`, "rules: unknown key"},
	}
	for _, c := range cases {
		_, err := RuleFromJSON([]byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.body, err, c.want)
		}
	}
}

func TestRulesFromJSON(t *testing.T) {
	rs, err := RulesFromJSON([]byte(`{"rules":[{"name":"a","drop":{}},{"name":"b","match":{"packet":"PUBACK"},"delay":{"duration":"5ms"}}]}`))
	if err != nil || len(rs) != 2 || rs[1].Match.Packets[0] != 4 {
		t.Fatalf("rules %+v, %v", rs, err)
	}
	rs, err = RulesFromJSON([]byte(`{"name":"a","drop":{}}`))
	if err != nil || len(rs) != 1 {
		t.Fatalf("one rule: %+v, %v", rs, err)
	}
	for body, want := range map[string]string{
		`{"rules":[{"name":"a","drop":{}},{"name":"a","drop":{}}]}`: `rules[1].name: rule name "a" is taken by rules[0]`,
		`{"rules":[{"name":"a","drop":{}},{"name":"b","qos":1}]}`:   "rules[1].qos: unknown key",
		`{"rules":[{"name":"a","drop":{}}],"seed":1}`:               "seed: unknown key",
		`{"rules":{}}`: "rules: want a list",
		`{"rules":[]}`: "rules: empty list",
		"{\n\"rules\": [\n{\"name\": \"a\",\n\"stall\": {\"duration\": \"0s\"}}]}": "rules[0].stall.duration: must be positive",
	} {
		_, err := RulesFromJSON([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", body, err, want)
		}
		var pe *PlanError
		if errors.As(err, &pe) && pe.File != "" {
			t.Errorf("JSON error names a file: %v", err)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(examplePlan))
	f.Add([]byte("seed: 1\nrules: []\n"))
	f.Add([]byte("rules:\n  - {name: a, match: {packet: CONNECT}, refuse: {code: 135}}\n"))
	f.Add([]byte("rules:\n  - {name: a, match: {probability: 1.5}, drop: {}}\n"))
	f.Add([]byte("rules:\n  - {name: a, drop: {}, delay: {duration: 1s}}\n"))
	f.Add([]byte("rules:\n  - name: a\n    match: &m {packet: [PUBACK]}\n    drop: {}\n  - {name: b, match: *m, stall: {duration: 1s}}\n"))
	f.Add([]byte("rules:\n  - {name: a, disconnect: {mode: mqtt, reason: 137, when: after}, times: 1, seed: 3}\n"))
	f.Add([]byte("rules:\n  - {name: a, match: {topic: 'a/+/#', qos: 1, dup: true, after: 1s, until: 2s}, restart: {down_for: 1s}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("seed: 99999999999999999999\n"))
	f.Add([]byte("rules:\n\t- x\n"))
	f.Add([]byte("---\n...\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan("fuzz.yaml", data)
		if err != nil {
			var pe *PlanError
			if !errors.As(err, &pe) || err.Error() == "" {
				t.Fatalf("error %T %q is not a PlanError", err, err)
			}
			return
		}
		names := map[string]bool{}
		for _, r := range p.Rules {
			if err := Validate(r); err != nil {
				t.Fatalf("plan parsed with an invalid rule %+v: %v", r, err)
			}
			if names[r.Name] {
				t.Fatalf("rule name %q twice", r.Name)
			}
			names[r.Name] = true
			// What a plan accepts, the JSON form gives back unchanged.
			b, err := json.Marshal(RuleToSpec(r))
			if err != nil {
				t.Fatal(err)
			}
			back, err := RuleFromJSON(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(back, r) {
				t.Fatalf("round trip through %s:\n got %+v\nwant %+v", b, back, r)
			}
		}
	})
}

func FuzzRulesFromJSON(f *testing.F) {
	f.Add([]byte(`{"name":"a","match":{"direction":"to_client","packet":["PUBACK"],"nth":1},"drop":{}}`))
	f.Add([]byte(`{"rules":[{"name":"a","drop":{}},{"name":"b","delay":{"duration":"5ms","jitter":"1ms"}}]}`))
	f.Add([]byte(`{"name":"a","match":{"probability":1.5},"drop":{}}`))
	f.Add([]byte(`{"name":"a","match":{"packet":"CONNECT"},"refuse":{"code":135},"times":1,"seed":-4}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"name":"a","name":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := RulesFromJSON(data)
		if err != nil {
			var pe *PlanError
			if !errors.As(err, &pe) || err.Error() == "" {
				t.Fatalf("error %T %q is not a PlanError", err, err)
			}
			return
		}
		if len(rules) == 0 {
			t.Fatal("no rules and no error")
		}
		for _, r := range rules {
			if err := Validate(r); err != nil {
				t.Fatalf("accepted an invalid rule %+v: %v", r, err)
			}
		}
	})
}

func TestPlanArm(t *testing.T) {
	src := "seed: 7\nrules:\n  - {name: a, drop: {}}\n  - {name: b, seed: 3, drop: {}}\n"
	seedOf := func(s *Set, name string) any {
		for _, st := range s.List() {
			if st.Rule.Name == name {
				if st.Rule.Seed == nil {
					return nil
				}
				return *st.Rule.Seed
			}
		}
		t.Fatalf("rule %s not armed", name)
		return nil
	}
	cases := []struct {
		name    string
		src     string
		setSeed int64
		a, b    any // the seeds rules a and b are armed with; nil: the set's
	}{
		{"plan seed on another broker", src, 1, int64(7), int64(3)},
		{"plan seed is the broker's", src, 7, nil, int64(3)},
		{"no plan seed", "rules:\n  - {name: a, drop: {}}\n  - {name: b, seed: 3, drop: {}}\n", 1, nil, int64(3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePlan("plan.yaml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			s := NewSet(c.setSeed)
			names, err := p.Arm(s)
			if err != nil || !slices.Equal(names, []string{"a", "b"}) {
				t.Fatalf("armed %v, %v", names, err)
			}
			if got := seedOf(s, "a"); got != c.a {
				t.Errorf("rule a seed %v, want %v", got, c.a)
			}
			if got := seedOf(s, "b"); got != c.b {
				t.Errorf("rule b seed %v, want %v", got, c.b)
			}
		})
	}

	// All or nothing: a name taken already refuses the plan, and what it
	// armed before goes again.
	p, err := ParsePlan("plan.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet(1)
	if err := s.Add(Rule{Name: "b", Action: Drop{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Arm(s); err == nil || !strings.Contains(err.Error(), `rule "b"`) {
		t.Fatalf("arming over a taken name: %v", err)
	}
	if l := s.List(); len(l) != 1 || l[0].Rule.Name != "b" {
		t.Errorf("after a refused plan the set holds %+v", l)
	}
}
