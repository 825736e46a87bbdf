// Rules as plans and the HTTP API write them, and the way back: specs,
// field errors with their paths as data, and the conversions to and from
// Rule.
package faults

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// RuleSpec is a rule as fault plans (YAML) and the HTTP API (JSON) write
// it. Its json tags are the one source of truth for key names: the plan
// parser reads them by reflection, and listing a rule marshals a RuleSpec.
// The action is written under its own key ("delay": {...}) next to the
// rule's fields; which keys there are is the action registry's business.
type RuleSpec struct {
	Name  string    `json:"name" plan:"required"`
	Match MatchSpec `json:"match"`
	Times int       `json:"times,omitempty"`
	Seed  *int64    `json:"seed,omitempty"`

	// Actions are the actions given, in registry order. A valid rule has
	// exactly one; the decoder keeps them all, to say what was too many.
	Actions []ActionSpec `json:"-"`
}

// ActionSpec is one action as written: its key, and its arguments in the
// spec type the action registered (a pointer, such as *DelaySpec).
type ActionSpec struct {
	Key  string
	Args any
}

// MarshalJSON writes the rule's fields, then each action under its key.
func (s RuleSpec) MarshalJSON() ([]byte, error) {
	type fields RuleSpec // without this method
	b, err := json.Marshal(fields(s))
	if err != nil {
		return nil, err
	}
	for _, a := range s.Actions {
		key, err := json.Marshal(a.Key)
		if err != nil {
			return nil, err
		}
		args, err := json.Marshal(a.Args)
		if err != nil {
			return nil, fmt.Errorf("action %s: %w", a.Key, err)
		}
		b = append(b[:len(b)-1], ',')
		b = append(append(append(b, key...), ':'), args...)
		b = append(b, '}')
	}
	return b, nil
}

// UnmarshalJSON reads a rule as the HTTP API takes it, strictly.
func (s *RuleSpec) UnmarshalJSON(data []byte) error {
	root, err := parseJSON(data)
	if err != nil {
		return err
	}
	d := &decoder{lines: map[string]int{}}
	return d.decode(root, "", reflect.ValueOf(s).Elem())
}

// MatchSpec is Match with packet types by name and durations as text.
type MatchSpec struct {
	Direction   string     `json:"direction,omitempty"`
	Packet      PacketList `json:"packet,omitempty"`
	Client      string     `json:"client,omitempty"`
	Topic       string     `json:"topic,omitempty"`
	QoS         *int       `json:"qos,omitempty"`
	PacketID    *int       `json:"packet_id,omitempty"`
	Dup         *bool      `json:"dup,omitempty"`
	Nth         int        `json:"nth,omitempty"`
	First       int        `json:"first,omitempty"`
	Every       int        `json:"every,omitempty"`
	Probability *float64   `json:"probability,omitempty"`
	After       Duration   `json:"after,omitempty"`
	Until       Duration   `json:"until,omitempty"`
}

// Duration is a time.Duration written as Go writes durations: "300ms".
type Duration time.Duration

// MarshalText writes the duration as "300ms".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration such as "300ms" or "2s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// PacketList is one packet type name or a list of them. It is always
// written as a list.
type PacketList []string

// FieldError says which field of a rule or plan is wrong. Path is dotted,
// as written in the plan, relative to where the error is returned from:
// Validate gives "match.probability", a plan "rules[1].match.probability".
// An action's Check gives paths within the action ("jitter"); Validate
// puts the action's key in front.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// within puts err under path: a FieldError's path is made relative to
// path, any other error is about path itself.
func within(path string, err error) *FieldError {
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Path: join(path, fe.Path), Err: fe.Err}
	}
	return &FieldError{Path: path, Err: err}
}

// Rule turns the spec into a Rule and validates it with Validate. Errors
// are *FieldError with paths relative to the rule.
func (s RuleSpec) Rule() (Rule, error) {
	r := Rule{Name: s.Name, Times: s.Times, Seed: s.Seed}
	if strings.TrimSpace(s.Name) == "" {
		return r, fieldErr("name", "a rule needs a name")
	}
	m, err := s.Match.match()
	if err != nil {
		return r, err
	}
	r.Match = m

	switch len(s.Actions) {
	case 0:
		return r, fieldErr("", "rule %q has no action: give one of %s", s.Name, strings.Join(ActionKeys(), ", "))
	case 1:
	default:
		kinds := make([]string, len(s.Actions))
		for i, a := range s.Actions {
			kinds[i] = a.Key
		}
		return r, fieldErr(kinds[1], "rule %q has %d actions (%s): give exactly one", s.Name, len(kinds), strings.Join(kinds, ", "))
	}
	a := s.Actions[0]
	t := actionTypeOf(a.Key)
	if t == nil {
		return r, fieldErr(a.Key, "unknown action: want one of %s", strings.Join(ActionKeys(), ", "))
	}
	r.Action = t.build(a.Args)
	if err := Validate(r); err != nil {
		return r, err
	}
	return r, nil
}

func (s MatchSpec) match() (Match, error) {
	d, err := ParseDirection(s.Direction)
	if err != nil {
		return Match{}, fieldErr("match.direction", "%q: want to_broker, to_client or both", s.Direction)
	}
	m := Match{
		Direction:   d,
		Client:      s.Client,
		Topic:       s.Topic,
		QoS:         s.QoS,
		PacketID:    s.PacketID,
		Dup:         s.Dup,
		Nth:         s.Nth,
		First:       s.First,
		Every:       s.Every,
		Probability: s.Probability,
		After:       time.Duration(s.After),
		Until:       time.Duration(s.Until),
	}
	for i, name := range s.Packet {
		at := "match.packet"
		if len(s.Packet) > 1 {
			at = fmt.Sprintf("match.packet[%d]", i)
		}
		t, err := ParsePacketType(name)
		if err != nil {
			return m, fieldErr(at, "%q is not a packet type: want one of %s", name, strings.Join(PacketNames[1:], ", "))
		}
		for _, o := range m.Packets {
			if o == t {
				return m, fieldErr(at, "%s is listed twice", PacketNames[t])
			}
		}
		m.Packets = append(m.Packets, t)
	}
	return m, nil
}

// RuleToSpec writes a rule the way plans and the HTTP API do. An action
// type this package does not know is left out of the spec.
func RuleToSpec(r Rule) RuleSpec {
	m := r.Match
	d := m.Direction
	if d == 0 {
		d = Both
	}
	s := RuleSpec{
		Name:  r.Name,
		Times: r.Times,
		Seed:  r.Seed,
		Match: MatchSpec{
			Direction:   d.String(),
			Client:      m.Client,
			Topic:       m.Topic,
			QoS:         m.QoS,
			PacketID:    m.PacketID,
			Dup:         m.Dup,
			Nth:         m.Nth,
			First:       m.First,
			Every:       m.Every,
			Probability: m.Probability,
			After:       Duration(m.After),
			Until:       Duration(m.Until),
		},
	}
	for _, t := range m.Packets {
		if int(t) < len(PacketNames) {
			s.Match.Packet = append(s.Match.Packet, PacketNames[t])
		}
	}
	for _, t := range actionTypes() {
		if args, ok := t.spec(r.Action); ok {
			s.Actions = []ActionSpec{{Key: t.key, Args: args}}
			break
		}
	}
	return s
}

// jsonKey is the key a struct field is written under.
func jsonKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func hasPlanOpt(f reflect.StructField, opt string) bool {
	for o := range strings.SplitSeq(f.Tag.Get("plan"), ",") {
		if o == opt {
			return true
		}
	}
	return false
}
