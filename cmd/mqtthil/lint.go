package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	gherkin "github.com/cucumber/gherkin/go/v42"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/mqtthil/mqtthil/steps"
)

// lintFeatures reads every feature under paths before anything runs, and
// returns one line per problem: Gherkin syntax errors and steps that match
// no step of the catalog (or more than one), each with file and line, and
// for an unknown step the closest known one.
func lintFeatures(paths []string) []string {
	catalog := steps.Catalog()
	res := make([]*regexp.Regexp, len(catalog))
	for i, d := range catalog {
		res[i] = regexp.MustCompile(d.Regexp)
	}
	var problems []string
	for _, root := range paths {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", path, err))
				return nil
			}
			if d.IsDir() || !strings.HasSuffix(path, ".feature") {
				return nil
			}
			problems = append(problems, lintFile(path, catalog, res)...)
			return nil
		})
	}
	return problems
}

func lintFile(path string, catalog []steps.StepDoc, res []*regexp.Regexp) []string {
	src, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	ids := (&messages.Incrementing{}).NewId
	doc, err := gherkin.ParseGherkinDocument(bytes.NewReader(src), ids)
	if err != nil {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
			if m := parserError.FindStringSubmatch(line); m != nil {
				out = append(out, fmt.Sprintf("%s:%s:%s: %s", path, m[1], m[2], plainSyntaxError(m[3])))
			}
		}
		if len(out) == 0 {
			out = append(out, fmt.Sprintf("%s: %v", path, err))
		}
		return out
	}
	lines := map[string]int64{}
	collectStepLines(doc, lines)
	var out []string
	seen := map[string]bool{}
	for _, p := range gherkin.Pickles(*doc, path, ids) {
		for _, st := range p.Steps {
			var line int64
			if len(st.AstNodeIds) > 0 {
				line = lines[st.AstNodeIds[0]]
			}
			var hits []int
			for i, re := range res {
				if re.MatchString(st.Text) {
					hits = append(hits, i)
				}
			}
			msg := ""
			switch len(hits) {
			case 1:
				continue
			case 0:
				msg = fmt.Sprintf("%s:%d: no step matches %q; closest known step: %q (%s)",
					path, line, st.Text, closest(st.Text, catalog).Pattern, closest(st.Text, catalog).Description)
			default:
				var pats []string
				for _, h := range hits {
					pats = append(pats, strconv.Quote(catalog[h].Pattern))
				}
				msg = fmt.Sprintf("%s:%d: step %q matches more than one step: %s", path, line, st.Text, strings.Join(pats, ", "))
			}
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
		}
	}
	return out
}

// collectStepLines maps each step's AST id to its line.
func collectStepLines(doc *messages.GherkinDocument, lines map[string]int64) {
	if doc.Feature == nil {
		return
	}
	add := func(sts []*messages.Step) {
		for _, s := range sts {
			lines[s.Id] = s.Location.Line
		}
	}
	for _, c := range doc.Feature.Children {
		if c.Background != nil {
			add(c.Background.Steps)
		}
		if c.Scenario != nil {
			add(c.Scenario.Steps)
		}
		if c.Rule != nil {
			for _, rc := range c.Rule.Children {
				if rc.Background != nil {
					add(rc.Background.Steps)
				}
				if rc.Scenario != nil {
					add(rc.Scenario.Steps)
				}
			}
		}
	}
}

// closest finds the catalog step whose example reads most like text.
func closest(text string, catalog []steps.StepDoc) steps.StepDoc {
	best, bestD := catalog[0], -1
	for _, d := range catalog {
		if dist := wordDistance(text, d.Example); bestD < 0 || dist < bestD {
			best, bestD = d, dist
		}
	}
	return best
}

// wordDistance is the edit distance between two lines counted in words:
// steps differ by words, not letters.
func wordDistance(a, b string) int {
	x, y := strings.Fields(strings.ToLower(a)), strings.Fields(strings.ToLower(b))
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}

// The Gherkin parser's errors read "(line:column): what".
var parserError = regexp.MustCompile(`^\((\d+):(\d+)\): (.*)$`)

var tokenWords = strings.NewReplacer(
	"#EOF", "end of file", "#TableRow", "a table row", "#DocStringSeparator", "a doc string",
	"#StepLine", "a step", "#TagLine", "a tag", "#ExamplesLine", "Examples:", "#ScenarioLine", "Scenario:",
	"#RuleLine", "Rule:", "#Comment", "a comment", "#Empty", "an empty line", "#FeatureLine", "Feature:",
	"#BackgroundLine", "Background:", "#Language", "a language line", "#Other", "text",
)

// plainSyntaxError says what the parser found and what it expected, in
// words rather than token names.
func plainSyntaxError(msg string) string {
	expected, got, ok := strings.Cut(msg, ", got ")
	if !ok || !strings.HasPrefix(expected, "expected: ") {
		return tokenWords.Replace(msg)
	}
	return fmt.Sprintf("Gherkin does not expect %s here; it expects one of: %s",
		strings.TrimSpace(got), tokenWords.Replace(strings.TrimPrefix(expected, "expected: ")))
}
