package steps

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	gherkin "github.com/cucumber/gherkin/go/v42"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/emulator/faults"
)

// Problem is something wrong in a feature file, found before running it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
	// Fixture: the feature is fine but a file it names (a fault plan, a
	// payload, a driver) is missing or invalid.
	Fixture bool `json:"fixture,omitempty"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
}

// Check reads feature files (or folders of them) and reports Gherkin syntax
// errors and steps that no catalog entry defines, each with file and line;
// for an undefined step it suggests the closest known one. It does not run
// anything.
func Check(paths ...string) ([]Problem, error) { return CheckIn("", paths...) }

// CheckIn is Check that also checks the arguments of every step as the
// step would convert them, and loads every fixture a step names (fault
// plans, payload files, drivers) from fixtureDir; fixtureDir "" skips the
// fixtures.
func CheckIn(fixtureDir string, paths ...string) ([]Problem, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".feature") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	var out []Problem
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, checkSource(f, data, fixtureDir)...)
	}
	return out, nil
}

var gherkinErrRe = regexp.MustCompile(`\((\d+):\d+\): (.*)`)

// CheckSource is Check on one feature's text; name is used in the problems.
func CheckSource(name string, data []byte) []Problem { return checkSource(name, data, "") }

func checkSource(name string, data []byte, fixtureDir string) []Problem {
	ids := (&messages.Incrementing{}).NewId
	doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(data), ids)
	if err != nil {
		var out []Problem
		for _, line := range strings.Split(err.Error(), "\n") {
			if m := gherkinErrRe.FindStringSubmatch(line); m != nil {
				// The pattern admits only digits: a line number too large
				// to read leaves the problem at line 0.
				n, _ := strconv.Atoi(m[1])
				out = append(out, Problem{File: name, Line: n, Message: "Gherkin syntax: " + plainSyntaxError(m[2])})
			}
		}
		if len(out) == 0 {
			out = append(out, Problem{File: name, Line: 1, Message: "Gherkin syntax: " + err.Error()})
		}
		return out
	}
	lines := map[string]int{}
	collectLines(doc, lines)
	var out []Problem
	seen := map[string]bool{}
	for _, p := range gherkin.Pickles(*doc, name, ids) {
		for _, st := range p.Steps {
			line := lines[st.AstNodeIds[0]]
			key := fmt.Sprintf("%d %s", line, st.Text)
			if seen[key] {
				continue
			}
			seen[key] = true
			n := 0
			var match *stepDef
			for i, d := range registry {
				if d.re().MatchString(st.Text) {
					n++
					match = &registry[i]
				}
			}
			switch {
			case n == 1:
				if p := checkArgs(match, st.Text, fixtureDir); p != nil {
					p.File, p.Line = name, line
					out = append(out, *p)
				}
			case n == 0:
				msg := fmt.Sprintf("undefined step: %s", st.Text)
				if d := closest(st.Text); d != nil {
					msg += fmt.Sprintf("\n    the closest known step is: %s\n    for example: %s", d.Pattern, d.Example)
				}
				out = append(out, Problem{File: name, Line: line, Message: msg})
			case n > 1:
				out = append(out, Problem{File: name, Line: line, Message: "ambiguous step (several steps match): " + st.Text})
			}
		}
	}
	return out
}

// fixtureArg says which argument of a step names a fixture file, and how
// to tell that the file is usable.
type fixtureArg struct {
	arg  int
	what string
	load func(path string) error
}

var fixtureArgs = map[string]fixtureArg{
	"the broker follows the fault plan {name}": {0, "fault plan", func(p string) error {
		_, err := faults.LoadPlan(p)
		return err
	}},
	"client {name} publishes the file {name} to {text} with QoS {int}": {1, "payload file", readable},
	"the driver {name} is running":                                     {0, "driver", readable},
	"the driver {name} is running with the properties:":                {0, "driver", readable},
}

func readable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return f.Close()
}

// checkArgs converts a step's arguments as running it would, and loads the
// fixture it names; nil when all is well.
func checkArgs(d *stepDef, text, fixtureDir string) *Problem {
	m := d.re().FindStringSubmatch(text)
	for i, p := range d.params {
		if _, err := p.conv(m[1+i]); err != nil {
			return &Problem{Message: fmt.Sprintf("%s\n    expected: %s\n    in: %s", err, d.Pattern, text)}
		}
	}
	fa, ok := fixtureArgs[d.Pattern]
	if !ok || fixtureDir == "" {
		return nil
	}
	file := m[1+fa.arg]
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(fixtureDir, file)
	}
	if err := fa.load(path); err != nil {
		return &Problem{Message: fmt.Sprintf("the %s %q (looked up in %s): %v", fa.what, file, fixtureDir, err), Fixture: true}
	}
	return nil
}

func collectLines(doc *messages.GherkinDocument, lines map[string]int) {
	if doc.Feature == nil {
		return
	}
	steps := func(ss []*messages.Step) {
		for _, s := range ss {
			lines[s.Id] = int(s.Location.Line)
		}
	}
	var scenario func(sc *messages.Scenario)
	scenario = func(sc *messages.Scenario) {
		steps(sc.Steps)
	}
	for _, c := range doc.Feature.Children {
		switch {
		case c.Background != nil:
			steps(c.Background.Steps)
		case c.Scenario != nil:
			scenario(c.Scenario)
		case c.Rule != nil:
			for _, rc := range c.Rule.Children {
				if rc.Background != nil {
					steps(rc.Background.Steps)
				}
				if rc.Scenario != nil {
					scenario(rc.Scenario)
				}
			}
		}
	}
}

// closest is the catalog step whose example is nearest to text, word by word.
func closest(text string) *stepDef {
	words := strings.Fields(strings.ToLower(text))
	best, bestD := -1, 1<<30
	for i, d := range registry {
		dist := wordDistance(words, strings.Fields(strings.ToLower(d.Example)))
		if dist < bestD {
			best, bestD = i, dist
		}
	}
	if best < 0 {
		return nil
	}
	return &registry[best]
}

// wordDistance is the edit distance between two lists of words; quoted
// values and numbers count as equal to any other.
func wordDistance(a, b []string) int {
	same := func(x, y string) bool {
		if x == y {
			return true
		}
		if strings.HasPrefix(x, `"`) && strings.HasPrefix(y, `"`) {
			return true
		}
		_, ex := strconv.Atoi(x)
		_, ey := strconv.Atoi(y)
		return ex == nil && ey == nil
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if same(a[i-1], b[j-1]) {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// located is a feature file parsed once, to tell the lines of steps and
// the example values of outline rows.
type located struct {
	pickles []*messages.Pickle
	lines   map[string]int
	rows    map[string]string // an Examples row's id: "(col=value, ...)"
	rowAt   map[int]string    // the same by the row's line
}

var (
	locMu    sync.Mutex
	locCache = map[string]*located{}
)

// locate finds, in the file's own parse, the pickle with this name and the
// step texts of sc (godog's ids are not reproducible).
func locate(sc *messages.Pickle, name string) (*located, *messages.Pickle) {
	locMu.Lock()
	uri := FeatureFile(sc.Uri)
	loc, ok := locCache[uri]
	if !ok {
		if data, err := os.ReadFile(uri); err == nil {
			ids := (&messages.Incrementing{}).NewId
			if doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(data), ids); err == nil {
				loc = &located{pickles: gherkin.Pickles(*doc, uri, ids), lines: map[string]int{}, rows: map[string]string{}, rowAt: map[int]string{}}
				collectLines(doc, loc.lines)
				collectRows(doc, loc)
			}
		}
		locCache[uri] = loc
	}
	locMu.Unlock()
	if loc == nil {
		return nil, nil
	}
outer:
	for _, p := range loc.pickles {
		if p.Name != name || len(p.Steps) != len(sc.Steps) {
			continue
		}
		for j := range p.Steps {
			if !sameStep(p.Steps[j], sc.Steps[j]) {
				continue outer
			}
		}
		return loc, p
	}
	return loc, nil
}

// sameStep compares two pickle steps by their text and argument: outline
// rows may differ only in a data table or a doc string.
func sameStep(a, b *messages.PickleStep) bool {
	if a.Text != b.Text {
		return false
	}
	return argText(a.Argument) == argText(b.Argument)
}

func argText(a *messages.PickleStepArgument) string {
	if a == nil {
		return ""
	}
	var b strings.Builder
	if a.DocString != nil {
		b.WriteString(a.DocString.Content)
	}
	if a.DataTable != nil {
		for _, r := range a.DataTable.Rows {
			for _, c := range r.Cells {
				b.WriteString(c.Value + "|")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// stepLine finds the line of step index i of scenario sc, whose name in
// the file is name, in its file.
func stepLine(sc *messages.Pickle, name string, i int) int {
	loc, p := locate(sc, name)
	if p == nil || i >= len(p.Steps) {
		return 0
	}
	return loc.lines[p.Steps[i].AstNodeIds[0]]
}

// exampleValues is "(col=value, ...)" for a scenario made from an outline
// row, and "" for any other.
func exampleValues(sc *messages.Pickle) string {
	loc, p := locate(sc, sc.Name)
	if p == nil || len(p.AstNodeIds) < 2 {
		return ""
	}
	return loc.rows[p.AstNodeIds[len(p.AstNodeIds)-1]]
}

// ExampleValuesAt is "(col=value, ...)" for the outline row at a line of a
// feature file, and "" when no row is there: reports written by others
// (godog's Cucumber JSON) name rows with it.
func ExampleValuesAt(uri string, line int) string {
	loc, _ := locate(&messages.Pickle{Uri: uri}, "")
	if loc == nil {
		return ""
	}
	return loc.rowAt[line]
}

func collectRows(doc *messages.GherkinDocument, loc *located) {
	scenario := func(sc *messages.Scenario) {
		if sc == nil {
			return
		}
		for _, ex := range sc.Examples {
			if ex.TableHeader == nil {
				continue
			}
			for _, row := range ex.TableBody {
				var kv []string
				for i, c := range row.Cells {
					if i < len(ex.TableHeader.Cells) {
						kv = append(kv, ex.TableHeader.Cells[i].Value+"="+c.Value)
					}
				}
				loc.rows[row.Id] = "(" + strings.Join(kv, ", ") + ")"
				loc.rowAt[int(row.Location.Line)] = loc.rows[row.Id]
			}
		}
	}
	if doc.Feature == nil {
		return
	}
	for _, c := range doc.Feature.Children {
		scenario(c.Scenario)
		if c.Rule != nil {
			for _, rc := range c.Rule.Children {
				scenario(rc.Scenario)
			}
		}
	}
}

var tokenWords = strings.NewReplacer(
	"#EOF", "end of file", "#TableRow", "a table row", "#DocStringSeparator", "a doc string",
	"#StepLine", "a step", "#TagLine", "a tag", "#ExamplesLine", "Examples:", "#ScenarioLine", "Scenario:",
	"#RuleLine", "Rule:", "#Comment", "a comment", "#Empty", "an empty line", "#FeatureLine", "Feature:",
	"#BackgroundLine", "Background:", "#Language", "a language line", "#Other", "text",
)

// plainSyntaxError says what the parser found and what it expected, in
// words rather than the parser's token names.
func plainSyntaxError(msg string) string {
	expected, got, ok := strings.Cut(msg, ", got ")
	if !ok || !strings.HasPrefix(expected, "expected: ") {
		return tokenWords.Replace(msg)
	}
	return fmt.Sprintf("%s is not expected here; expected one of: %s",
		strings.TrimSpace(got), tokenWords.Replace(strings.TrimPrefix(expected, "expected: ")))
}
