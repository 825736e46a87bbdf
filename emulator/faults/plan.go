package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Plan is a fault plan: the seed the rules draw their randomness from, and
// the rules, armed in order. Arm is the one way a plan is armed; see there
// for what its seed means.
//
//	seed: 7
//	rules:
//	  - name: lose-first-puback
//	    match: {direction: to_client, packet: PUBACK, nth: 1}
//	    drop: {}
type Plan struct {
	Seed    int64
	HasSeed bool // the plan gave a seed
	Rules   []Rule
}

// PlanError is a plan or rule that was refused: where, which field, why.
// Error reads "plan.yaml:7: rules[1].match.probability: 1.5 is outside
// 0..1"; File and Line are left out when unknown (JSON bodies).
type PlanError struct {
	File string
	Line int
	Path string // dotted field path: rules[1].match.probability
	Msg  string
}

func (e *PlanError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Arm adds the plan's rules to s, in order, and returns their names.
//
// The plan's seed is the seed of its rules: a rule that gives no seed of
// its own draws its randomness from the plan's, whatever the set's seed,
// so a plan replays the same on any broker. A plan without a seed leaves
// its rules to the set's seed. A rule drawing from the set's own seed is
// armed without a seed of its own, as if the plan had none, so that
// listing the set shows a seed exactly where a rule departs from the
// set's. To run a plan under another seed (a --seed flag), set p.Seed
// before arming.
//
// Arming is all or nothing: if a rule is refused (invalid, or its name is
// armed already), the rules this call armed are removed again.
func (p *Plan) Arm(s *Set) ([]string, error) {
	names := make([]string, 0, len(p.Rules))
	for _, r := range p.Rules {
		if p.HasSeed && r.Seed == nil && p.Seed != s.Seed() {
			seed := p.Seed
			r.Seed = &seed
		}
		if err := s.Add(r); err != nil {
			for _, n := range names {
				s.Remove(n)
			}
			return nil, fmt.Errorf("fault plan: %w", err)
		}
		names = append(names, r.Name)
	}
	return names, nil
}

// planSpec is the top level of a plan file.
type planSpec struct {
	Seed  *int64     `json:"seed,omitempty"`
	Rules []RuleSpec `json:"rules"`
}

// batchSpec is the body of POST /faults with several rules.
type batchSpec struct {
	Rules []RuleSpec `json:"rules" plan:"required"`
}

// LoadPlan reads and parses the plan in the file at path.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fault plan: %w", err)
	}
	return ParsePlan(path, data)
}

// ParsePlan parses a YAML fault plan. name is the file name errors are
// reported against. Every rule is checked with Validate; rule names must
// be unique.
func ParsePlan(name string, data []byte) (*Plan, error) {
	if name == "" {
		name = "plan"
	}
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: name, lines: map[string]int{}}
	var spec planSpec
	if err := d.decode(root, "", reflect.ValueOf(&spec).Elem()); err != nil {
		return nil, err
	}
	rules, err := d.rules(spec.Rules, "rules")
	if err != nil {
		return nil, err
	}
	p := &Plan{Rules: rules}
	if spec.Seed != nil {
		p.Seed, p.HasSeed = *spec.Seed, true
	}
	return p, nil
}

// RuleFromJSON reads one rule as the HTTP API takes it: the keys of a plan's
// rule, in JSON. Unknown keys are refused.
func RuleFromJSON(data []byte) (Rule, error) {
	root, err := parseJSON(data)
	if err != nil {
		return Rule{}, err
	}
	d := &decoder{lines: map[string]int{}}
	var spec RuleSpec
	if err := d.decode(root, "", reflect.ValueOf(&spec).Elem()); err != nil {
		return Rule{}, err
	}
	r, err := spec.Rule()
	if err != nil {
		return Rule{}, d.place(err, "")
	}
	return r, nil
}

// RulesFromJSON reads either one rule or {"rules": [rule, ...]}, with at
// least one rule. Names must be unique within the body.
func RulesFromJSON(data []byte) ([]Rule, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	d := &decoder{lines: map[string]int{}}
	if root.Kind == yaml.MappingNode && mappingHas(root, "rules") {
		var spec batchSpec
		if err := d.decode(root, "", reflect.ValueOf(&spec).Elem()); err != nil {
			return nil, err
		}
		if len(spec.Rules) == 0 {
			return nil, &PlanError{Path: "rules", Msg: "empty list: give at least one rule"}
		}
		return d.rules(spec.Rules, "rules")
	}
	var spec RuleSpec
	if err := d.decode(root, "", reflect.ValueOf(&spec).Elem()); err != nil {
		return nil, err
	}
	r, err := spec.Rule()
	if err != nil {
		return nil, d.place(err, "")
	}
	return []Rule{r}, nil
}

func mappingHas(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML reads exactly one YAML document and returns its top node.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &PlanError{File: name, Line: 1, Msg: "empty plan: want a mapping with seed and rules"}
		}
		return nil, yamlError(name, err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(name, err)
	default:
		return nil, &PlanError{File: name, Line: more.Line, Msg: "more than one YAML document: a plan is one document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &PlanError{File: name, Line: 1, Msg: "empty plan: want a mapping with seed and rules"}
	}
	return doc.Content[0], nil
}

func yamlError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &PlanError{File: name, Line: line, Msg: "YAML: " + msg[len(m[0]):]}
	}
	return &PlanError{File: name, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parseJSON reads one JSON value into the node tree the decoder walks, so
// that JSON and YAML share one reading of the keys. JSON is read by
// encoding/json, not as YAML: what JSON refuses is refused.
func parseJSON(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonNode(dec, data, 0)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of input")
	}
	if err != nil {
		return nil, &PlanError{Msg: "JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &PlanError{Msg: "JSON: more than one value in the body"}
	}
	return n, nil
}

const maxJSONDepth = 32

func jsonNode(dec *json.Decoder, data []byte, depth int) (*yaml.Node, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("nested too deep")
	}
	line := 1 + bytes.Count(data[:min(int(dec.InputOffset()), len(data))], []byte{'\n'})
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) && depth == 0 {
			return nil, errors.New("empty body")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
			for dec.More() {
				kline := 1 + bytes.Count(data[:min(int(dec.InputOffset()), len(data))], []byte{'\n'})
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonNode(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.(string), Line: kline}, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line}
			for dec.More() {
				v, err := jsonNode(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t, Line: line, Style: yaml.DoubleQuotedStyle}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t), Line: line}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t), Line: line}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: line}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// decoder fills spec structs from a node tree, strictly: unknown keys,
// repeated keys, wrong types and missing required keys are errors that name
// the field and its line. It remembers the line of every field it saw, to
// place errors found later, when the spec becomes a Rule.
type decoder struct {
	file  string
	lines map[string]int
}

var (
	durationType   = reflect.TypeFor[Duration]()
	packetListType = reflect.TypeFor[PacketList]()
	ruleSpecType   = reflect.TypeFor[RuleSpec]()
)

func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) error {
	return &PlanError{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.Value != "0") {
			return d.errAt(n, path, "want a duration such as 300ms, got %s", describeNode(n))
		}
		dur, err := parseDuration(n.Value)
		if err != nil {
			return d.errAt(n, path, "%q is not a duration: want a number with a unit, such as 300ms or 2s", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	case t == packetListType:
		var items []*yaml.Node
		switch n.Kind {
		case yaml.ScalarNode:
			items = []*yaml.Node{n}
		case yaml.SequenceNode:
			items = n.Content
			if len(items) == 0 {
				return d.errAt(n, path, "empty list: give at least one packet type, or leave the key out")
			}
		default:
			return d.errAt(n, path, "want a packet type or a list of them, got %s", describeNode(n))
		}
		list := make(PacketList, 0, len(items))
		for i, it := range items {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
				d.lines[p] = it.Line
			}
			if it.Kind == yaml.AliasNode && it.Alias != nil {
				it = it.Alias
			}
			if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!str" {
				return d.errAt(it, p, "want a packet type name such as PUBACK, got %s", describeNode(it))
			}
			list = append(list, it.Value)
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && t.Elem().Kind() != reflect.Struct {
			return d.errAt(n, path, "want %s, got null", want(t.Elem()))
		}
		p := reflect.New(t.Elem())
		if err := d.decode(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errAt(n, path, "want a list, got %s", describeNode(n))
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, it := range n.Content {
			if err := d.decode(it, fmt.Sprintf("%s[%d]", path, i), s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return d.errAt(n, path, "want a string, got %s", describeNode(n))
		}
		v.SetString(n.Value)
		return nil
	case reflect.Int, reflect.Int64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && strings.Trim(n.Value, "+-0123456789") == "" {
			return d.errAt(n, path, "%s is out of range", n.Value) // too large for an integer
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return d.errAt(n, path, "want an integer, got %s", describeNode(n))
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			return d.errAt(n, path, "%s is out of range", n.Value)
		}
		v.SetInt(i)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return d.errAt(n, path, "want true or false, got %s", describeNode(n))
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			return d.errAt(n, path, "want true or false, got %s", describeNode(n))
		}
		v.SetBool(b)
		return nil
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			return d.errAt(n, path, "want a number, got %s", describeNode(n))
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return d.errAt(n, path, "%s is not a number", n.Value)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return d.errAt(n, path, "%s is not a finite number", n.Value)
		}
		v.SetFloat(f)
		return nil
	}
	return d.errAt(n, path, "cannot read into %s", t) // a spec type this decoder lacks
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) error {
	t := v.Type()
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line} // "drop:" reads as "drop: {}"
	}
	if n.Kind != yaml.MappingNode {
		return d.errAt(n, path, "want a mapping, got %s", describeNode(n))
	}
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if k := jsonKey(t.Field(i)); k != "-" {
			keys = append(keys, k)
		}
	}
	// A rule's actions are keys of the rule, known to the registry.
	var rule *RuleSpec
	if t == ruleSpecType {
		rule = v.Addr().Interface().(*RuleSpec)
		keys = append(keys, ActionKeys()...)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || kn.ShortTag() == "!!null" || kn.ShortTag() == "!!merge" {
			return d.errAt(kn, path, "keys must be plain names, got %s", describeNode(kn))
		}
		key := kn.Value
		kp := join(path, key)
		if prev, ok := seen[key]; ok {
			return d.errAt(kn, kp, "key given twice (first on line %d)", prev.Line)
		}
		seen[key] = kn
		if !slices.Contains(keys, key) {
			return d.errAt(kn, kp, "unknown key: want one of %s", strings.Join(keys, ", "))
		}
		d.lines[kp] = kn.Line
		var dst reflect.Value
		isField := false
		for i := range t.NumField() {
			if jsonKey(t.Field(i)) == key {
				dst, isField = v.Field(i), true
				break
			}
		}
		if !isField { // an action
			dst = reflect.ValueOf(actionTypeOf(key).newSpec()).Elem()
		}
		if err := d.decode(vn, kp, dst); err != nil {
			return err
		}
		d.lines[kp] = kn.Line
		if !isField {
			rule.Actions = append(rule.Actions, ActionSpec{Key: key, Args: dst.Addr().Interface()})
		}
	}
	if rule != nil { // listed in registry order, whatever order they came in
		slices.SortStableFunc(rule.Actions, func(a, b ActionSpec) int {
			return actionTypeOf(a.Key).order - actionTypeOf(b.Key).order
		})
	}
	for i := range t.NumField() {
		key := jsonKey(t.Field(i))
		if hasPlanOpt(t.Field(i), "required") && seen[key] == nil {
			where := path
			if where == "" {
				where = "the top level"
			}
			return &PlanError{File: d.file, Line: n.Line, Path: join(path, key), Msg: fmt.Sprintf("missing: %s needs %s", where, key)}
		}
	}
	return nil
}

// rules turns specs into rules, checks that names are unique, and places
// any error on the line of the field it is about.
func (d *decoder) rules(specs []RuleSpec, path string) ([]Rule, error) {
	rules := make([]Rule, 0, len(specs))
	names := map[string]int{}
	for i, s := range specs {
		rp := fmt.Sprintf("%s[%d]", path, i)
		r, err := s.Rule()
		if err != nil {
			return nil, d.place(err, rp)
		}
		if j, ok := names[r.Name]; ok {
			np := rp + ".name"
			return nil, &PlanError{File: d.file, Line: d.lines[np], Path: np, Msg: fmt.Sprintf("rule name %q is taken by %s[%d]", r.Name, path, j)}
		}
		names[r.Name] = i
		rules = append(rules, r)
	}
	return rules, nil
}

// place turns an error of RuleSpec.Rule into a PlanError on the line of
// the field, or of the nearest enclosing field the decoder saw.
func (d *decoder) place(err error, prefix string) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &PlanError{File: d.file, Line: d.lines[prefix], Path: prefix, Msg: err.Error()}
	}
	full := join(prefix, fe.Path)
	line := 0
	for p := full; ; {
		if l, ok := d.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			if l, ok := d.lines[""]; ok {
				line = l
			}
			break
		}
		p = p[:i]
	}
	return &PlanError{File: d.file, Line: line, Path: full, Msg: fe.Err.Error()}
}

func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

// parseDuration reads a Go duration; a bare 0 is the only number without a
// unit it takes.
func parseDuration(s string) (Duration, error) {
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	return Duration(dur), err
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Float64:
		return "a number"
	}
	return "a value"
}

// describe says what a node is, for error messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("string %q", v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), v)
}
