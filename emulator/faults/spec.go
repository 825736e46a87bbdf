package faults

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// RuleSpec is a rule as fault plans (YAML) and the HTTP API (JSON) write
// it. Its json tags are the one source of truth for key names: the plan
// parser reads them by reflection, and listing a rule marshals a RuleSpec.
// Exactly one action field is set.
type RuleSpec struct {
	Name  string    `json:"name" plan:"required"`
	Match MatchSpec `json:"match"`
	Times int       `json:"times,omitempty"`
	Seed  *int64    `json:"seed,omitempty"`

	// Actions: each field's key is the action's Kind.
	Drop       *DropSpec       `json:"drop,omitempty" plan:"action"`
	Delay      *DelaySpec      `json:"delay,omitempty" plan:"action"`
	Duplicate  *DuplicateSpec  `json:"duplicate,omitempty" plan:"action"`
	Reason     *ReasonSpec     `json:"reason,omitempty" plan:"action"`
	PacketID   *PacketIDSpec   `json:"packet_id,omitempty" plan:"action"`
	Disconnect *DisconnectSpec `json:"disconnect,omitempty" plan:"action"`
	Stall      *StallSpec      `json:"stall,omitempty" plan:"action"`
	Refuse     *RefuseSpec     `json:"refuse,omitempty" plan:"action"`
	Restart    *RestartSpec    `json:"restart,omitempty" plan:"action"`
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

// Action arguments as written in plans.
type (
	DropSpec  struct{}
	DelaySpec struct {
		Duration Duration `json:"duration" plan:"required"`
		Jitter   Duration `json:"jitter,omitempty"`
	}
	DuplicateSpec struct {
		Count int `json:"count,omitempty"`
	}
	ReasonSpec struct {
		Code int `json:"code" plan:"required"`
	}
	PacketIDSpec struct {
		ID int `json:"id" plan:"required"`
	}
	DisconnectSpec struct {
		Mode   string `json:"mode" plan:"required"`
		Reason int    `json:"reason,omitempty"`
		When   string `json:"when,omitempty"`
	}
	StallSpec struct {
		Duration Duration `json:"duration" plan:"required"`
	}
	RefuseSpec struct {
		Code int `json:"code" plan:"required"`
	}
	RestartSpec struct {
		DownFor Duration `json:"down_for"`
	}
)

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
// as written in the plan: "rules[1].match.probability".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// actionKeys lists the action keys in the order RuleSpec declares them.
var actionKeys = func() []string {
	var keys []string
	t := reflect.TypeFor[RuleSpec]()
	for i := range t.NumField() {
		if hasPlanOpt(t.Field(i), "action") {
			keys = append(keys, jsonKey(t.Field(i)))
		}
	}
	return keys
}()

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

	var kinds []string
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := range t.NumField() {
		if hasPlanOpt(t.Field(i), "action") && !v.Field(i).IsNil() {
			kinds = append(kinds, jsonKey(t.Field(i)))
		}
	}
	switch len(kinds) {
	case 0:
		return r, fieldErr("", "rule %q has no action: give one of %s", s.Name, strings.Join(actionKeys, ", "))
	case 1:
	default:
		return r, fieldErr(kinds[1], "rule %q has %d actions (%s): give exactly one", s.Name, len(kinds), strings.Join(kinds, ", "))
	}
	switch {
	case s.Drop != nil:
		r.Action = Drop{}
	case s.Delay != nil:
		r.Action = Delay{Duration: time.Duration(s.Delay.Duration), Jitter: time.Duration(s.Delay.Jitter)}
	case s.Duplicate != nil:
		r.Action = Duplicate{Count: s.Duplicate.Count}
	case s.Reason != nil:
		r.Action = Reason{Code: s.Reason.Code}
	case s.PacketID != nil:
		r.Action = PacketID{ID: s.PacketID.ID}
	case s.Disconnect != nil:
		r.Action = Disconnect{Mode: s.Disconnect.Mode, Reason: s.Disconnect.Reason, When: s.Disconnect.When}
	case s.Stall != nil:
		r.Action = Stall{Duration: time.Duration(s.Stall.Duration)}
	case s.Refuse != nil:
		r.Action = Refuse{Code: s.Refuse.Code}
	case s.Restart != nil:
		r.Action = Restart{DownFor: time.Duration(s.Restart.DownFor)}
	}
	if err := Validate(r); err != nil {
		return r, placeValidateError(err, r.Action.Kind())
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

// placeValidateError turns an error of Validate into a FieldError naming the
// field it is about. Validate words its errors "match.qos 3 is outside
// 0..2" or "delay: jitter 2s is larger than duration 1s"; the field is
// recognised by its key, taken from the spec types' tags.
func placeValidateError(err error, kind string) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "match."); ok {
		for _, k := range structKeys(reflect.TypeFor[MatchSpec]()) {
			if tail, ok := cutKey(rest, k); ok {
				return &FieldError{Path: "match." + k, Msg: tail}
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "match: "); ok {
		return &FieldError{Path: "match", Msg: rest}
	}
	if tail, ok := cutKey(msg, "times"); ok {
		return &FieldError{Path: "times", Msg: tail}
	}
	if rest, ok := strings.CutPrefix(msg, kind+": "); ok {
		if f, ok := fieldByKey(reflect.TypeFor[RuleSpec](), kind); ok {
			for _, k := range structKeys(f.Type.Elem()) {
				if tail, ok := cutKey(rest, k); ok {
					return &FieldError{Path: kind + "." + k, Msg: tail}
				}
			}
		}
		return &FieldError{Path: kind, Msg: rest}
	}
	return &FieldError{Msg: msg}
}

// cutKey reports whether msg starts with the word key and returns the rest
// of the message, without the key when what follows reads on its own
// ("qos 3 is outside 0..2" gives "3 is outside 0..2").
func cutKey(msg, key string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, key)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != ':') {
		return "", false
	}
	rest = strings.TrimLeft(rest, ": ")
	if rest == "" || strings.HasPrefix(rest, "and ") {
		return msg, true
	}
	return rest, true
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
	switch a := r.Action.(type) {
	case Drop, *Drop:
		s.Drop = &DropSpec{}
	case Delay:
		s.Delay = &DelaySpec{Duration: Duration(a.Duration), Jitter: Duration(a.Jitter)}
	case *Delay:
		s.Delay = &DelaySpec{Duration: Duration(a.Duration), Jitter: Duration(a.Jitter)}
	case Duplicate:
		s.Duplicate = &DuplicateSpec{Count: a.Count}
	case *Duplicate:
		s.Duplicate = &DuplicateSpec{Count: a.Count}
	case Reason:
		s.Reason = &ReasonSpec{Code: a.Code}
	case *Reason:
		s.Reason = &ReasonSpec{Code: a.Code}
	case PacketID:
		s.PacketID = &PacketIDSpec{ID: a.ID}
	case *PacketID:
		s.PacketID = &PacketIDSpec{ID: a.ID}
	case Disconnect:
		s.Disconnect = &DisconnectSpec{Mode: a.Mode, Reason: a.Reason, When: a.When}
	case *Disconnect:
		s.Disconnect = &DisconnectSpec{Mode: a.Mode, Reason: a.Reason, When: a.When}
	case Stall:
		s.Stall = &StallSpec{Duration: Duration(a.Duration)}
	case *Stall:
		s.Stall = &StallSpec{Duration: Duration(a.Duration)}
	case Refuse:
		s.Refuse = &RefuseSpec{Code: a.Code}
	case *Refuse:
		s.Refuse = &RefuseSpec{Code: a.Code}
	case Restart:
		s.Restart = &RestartSpec{DownFor: Duration(a.DownFor)}
	case *Restart:
		s.Restart = &RestartSpec{DownFor: Duration(a.DownFor)}
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

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if jsonKey(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func hasPlanOpt(f reflect.StructField, opt string) bool {
	for o := range strings.SplitSeq(f.Tag.Get("plan"), ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// structKeys lists a struct type's keys, longest first, so that a key that
// is a prefix of another ("packet" of "packet_id") is tried last.
func structKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, jsonKey(t.Field(i)))
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && len(keys[j]) > len(keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
