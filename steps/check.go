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
)

// Problem is something wrong in a feature file, found before running it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
}

// Check reads feature files (or folders of them) and reports Gherkin syntax
// errors and steps that no catalog entry defines, each with file and line;
// for an undefined step it suggests the closest known one. It does not run
// anything.
func Check(paths ...string) ([]Problem, error) {
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
		out = append(out, CheckSource(f, data)...)
	}
	return out, nil
}

var gherkinErrRe = regexp.MustCompile(`\((\d+):\d+\): (.*)`)

// CheckSource is Check on one feature's text; name is used in the problems.
func CheckSource(name string, data []byte) []Problem {
	ids := (&messages.Incrementing{}).NewId
	doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(data), ids)
	if err != nil {
		var out []Problem
		for _, line := range strings.Split(err.Error(), "\n") {
			if m := gherkinErrRe.FindStringSubmatch(line); m != nil {
				// The pattern admits only digits: a line number too large
				// to read leaves the problem at line 0.
				n, _ := strconv.Atoi(m[1])
				out = append(out, Problem{name, n, "Gherkin syntax: " + plainSyntaxError(m[2])})
			}
		}
		if len(out) == 0 {
			out = append(out, Problem{name, 1, "Gherkin syntax: " + err.Error()})
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
			for _, d := range registry {
				if d.re.MatchString(st.Text) {
					n++
				}
			}
			switch {
			case n == 0:
				msg := fmt.Sprintf("undefined step: %s", st.Text)
				if d := closest(st.Text); d != nil {
					msg += fmt.Sprintf("\n    the closest known step is: %s\n    for example: %s", d.Pattern, d.Example)
				}
				out = append(out, Problem{name, line, msg})
			case n > 1:
				out = append(out, Problem{name, line, "ambiguous step (several steps match): " + st.Text})
			}
		}
	}
	return out
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

// located is a feature file parsed once, to tell the lines of steps.
type located struct {
	pickles []*messages.Pickle
	lines   map[string]int
}

var (
	locMu    sync.Mutex
	locCache = map[string]*located{}
)

// stepLine finds the line of step index i of scenario sc in its file, by
// matching the scenario's name and step texts against the file's own
// parse (godog's ids are not reproducible).
func stepLine(sc *messages.Pickle, i int) int {
	locMu.Lock()
	loc, ok := locCache[sc.Uri]
	if !ok {
		if data, err := os.ReadFile(sc.Uri); err == nil {
			ids := (&messages.Incrementing{}).NewId
			if doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(data), ids); err == nil {
				loc = &located{pickles: gherkin.Pickles(*doc, sc.Uri, ids), lines: map[string]int{}}
				collectLines(doc, loc.lines)
			}
		}
		locCache[sc.Uri] = loc
	}
	locMu.Unlock()
	if loc == nil {
		return 0
	}
outer:
	for _, p := range loc.pickles {
		if p.Name != sc.Name || len(p.Steps) != len(sc.Steps) {
			continue
		}
		for j := range p.Steps {
			if p.Steps[j].Text != sc.Steps[j].Text {
				continue outer
			}
		}
		if i < len(p.Steps) {
			return loc.lines[p.Steps[i].AstNodeIds[0]]
		}
	}
	return 0
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
