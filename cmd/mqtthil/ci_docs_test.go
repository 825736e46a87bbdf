package main

// docs/ci.md's examples against the real command line: every `mqtthil run`
// and `mqtthil merge` they contain is accepted by the flag parser, the
// shard each CI engine's copies would run is the one the example means,
// the merge names every shard's folder, and every YAML example parses.
// docker-compose.yml's pool runner is checked the same way.

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type docBlock struct {
	section, lang, text string
}

// docBlocks are the fenced code blocks of a Markdown file with the "## "
// section each is in.
func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{section: section, lang: strings.TrimPrefix(line, "```")}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: a code block is not closed", path)
	}
	return out
}

// docCommand is an mqtthil command line found in an example.
type docCommand struct {
	section string
	args    []string // after "mqtthil"
}

var mqtthilCmd = regexp.MustCompile(`(?:^|[\s/])mqtthil ((?:run|merge)\b[^\n]*)`)

// commandsIn finds the mqtthil run and merge lines of a block: in a YAML
// example, those in its strings, and the args of a container of the
// mqtthil image.
func commandsIn(t *testing.T, b docBlock, subst *strings.Replacer) []docCommand {
	t.Helper()
	var texts []string
	var out []docCommand
	if b.lang == "yaml" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil {
			t.Fatalf("%s: a YAML example does not parse: %v", b.section, err)
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode {
				texts = append(texts, n.Value)
			}
			if n.Kind == yaml.MappingNode {
				image := ""
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == "image" {
						image = n.Content[i+1].Value
					}
				}
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == "args" && strings.HasPrefix(image, "mqtthil") {
						var args []string
						for _, a := range n.Content[i+1].Content {
							args = append(args, subst.Replace(a.Value))
						}
						out = append(out, docCommand{b.section, args})
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&doc)
	} else {
		texts = []string{b.text}
	}
	for _, text := range texts {
		for _, m := range mqtthilCmd.FindAllStringSubmatch(strings.ReplaceAll(text, "\\\n", " "), -1) {
			line, _, _ := strings.Cut(m[1], " #") // a shell comment
			out = append(out, docCommand{b.section, strings.Fields(subst.Replace(line))})
		}
	}
	return out
}

// TestCIDocExamples checks docs/ci.md's commands against the flag parser
// and the CI engines' settings around them.
func TestCIDocExamples(t *testing.T) {
	blocks := docBlocks(t, "../../docs/ci.md")
	// The engines' placeholders, as the first copy of each would see them.
	subst := strings.NewReplacer("${{ matrix.shard }}", "1", "$CI_NODE_INDEX", "1", "$(SHARD)", "0")
	env := map[string]map[string]string{
		"GitLab":     {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"},
		"Kubernetes": {"JOB_COMPLETION_INDEX": "0"},
	}
	// The number of copies each engine's example starts.
	copies := map[string]int{}
	for _, b := range blocks {
		if b.lang != "yaml" {
			continue
		}
		var v map[string]any
		if err := yaml.Unmarshal([]byte(b.text), &v); err != nil {
			t.Fatalf("%s: %v", b.section, err)
		}
		switch b.section {
		case "GitHub Actions":
			matrix := v["jobs"].(map[string]any)["shard"].(map[string]any)["strategy"].(map[string]any)["matrix"].(map[string]any)["shard"].([]any)
			copies[b.section] = len(matrix)
		case "GitLab":
			copies[b.section] = v["mqtthil"].(map[string]any)["parallel"].(int)
		case "Kubernetes":
			spec := v["spec"].(map[string]any)
			if spec["completionMode"] != "Indexed" || spec["parallelism"] != spec["completions"] {
				t.Errorf("Kubernetes: the Job is not Indexed with every pod at once: %v", spec)
			}
			copies[b.section] = spec["completions"].(int)
		}
	}
	for _, s := range []string{"GitHub Actions", "GitLab", "Kubernetes"} {
		if copies[s] < 2 {
			t.Errorf("%s: the example starts %d copies", s, copies[s])
		}
	}
	var runs, merges int
	for _, b := range blocks {
		for _, c := range commandsIn(t, b, subst) {
			switch c.args[0] {
			case "run":
				runs++
				checkDocRun(t, c, env[c.section], copies[c.section])
			case "merge":
				merges++
				var out string
				dirs, err := parseInterleaved(mergeFlags(&out, io.Discard), c.args[1:])
				if err != nil || out == "" || len(dirs) == 0 {
					t.Errorf("%s: mqtthil %s: %v (out %q, %d folders)", c.section, strings.Join(c.args, " "), err, out, len(dirs))
				}
				if n := copies[c.section]; n > 0 && len(dirs) != n {
					t.Errorf("%s: the merge names %d folders, the example runs %d shards: %v", c.section, len(dirs), n, dirs)
				}
			}
		}
	}
	if runs < 6 || merges < 4 {
		t.Errorf("docs/ci.md: %d run and %d merge commands found; the examples have more", runs, merges)
	}
}

// checkDocRun parses a documented run command as `mqtthil run` would,
// with the engine's environment, and checks the part it runs.
func checkDocRun(t *testing.T, c docCommand, env map[string]string, copies int) {
	t.Helper()
	var cfg runConfig
	var shard string
	fl := runFlags(&cfg, &shard, io.Discard)
	paths, err := parseInterleaved(fl, c.args[1:])
	line := "mqtthil " + strings.Join(c.args, " ")
	if err != nil {
		t.Errorf("%s: %s: %v", c.section, line, err)
		return
	}
	if err := cfg.resolve(shard, func(k string) string { return env[k] }, fl); err != nil && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("%s: %s: %v", c.section, line, err)
		return
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join("../..", p)); err != nil && !strings.HasSuffix(p, ".yaml") {
			t.Errorf("%s: %s: feature path %s: %v", c.section, line, p, err)
		}
	}
	if copies == 0 {
		return
	}
	if cfg.shard == nil || cfg.shard.index != 1 || cfg.shard.total != copies {
		t.Errorf("%s: %s: the first copy runs shard %+v, want 1/%d", c.section, line, cfg.shard, copies)
	}
	// Each copy writes a folder of its own, named by its index.
	out := fl.Lookup("out").Value.String()
	if !strings.HasSuffix(out, strconv.Itoa(cfg.shard.index-1)) && !strings.HasSuffix(out, strconv.Itoa(cfg.shard.index)) {
		t.Errorf("%s: %s: --out %q does not name the shard", c.section, line, out)
	}
}

// docker-compose.yml's pool runner: its command parses, its folder of
// station files makes a pool, and the virtual stations beside it serve
// those files.
func TestComposePoolRunner(t *testing.T) {
	services := composeServices(t, "../..")
	runner, ok := services["runner-pool"]
	if !ok {
		t.Fatal("docker-compose.yml has no runner-pool service")
	}
	var cfg runConfig
	var shard string
	fl := runFlags(&cfg, &shard, io.Discard)
	if _, err := parseInterleaved(fl, runner.Command[1:]); err != nil || runner.Command[0] != "run" {
		t.Fatalf("runner-pool: %q: %v", runner.Command, err)
	}
	if !slices.Contains(runner.Volumes, "./fixtures/stations:/stations:ro") || len(cfg.stations) != 1 || cfg.stations[0] != "/stations/pool" {
		t.Fatalf("runner-pool: volumes %q, stations %q: want fixtures/stations/pool", runner.Volumes, cfg.stations)
	}
	files, err := expandStations([]string{"../../fixtures/stations/pool"})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := loadPool(files)
	if err != nil || len(pool) < 2 {
		t.Fatalf("fixtures/stations/pool: %d stations, %v", len(pool), err)
	}
	for _, s := range pool {
		found := false
		for name, svc := range services {
			if slices.Contains(svc.Command, "--control="+s.st.Control.Listen) && slices.Contains(svc.Command, "--station-id="+s.st.StationID) {
				found = strings.HasPrefix(name, "station-")
			}
		}
		if !found {
			t.Errorf("no virtual station service serves %s (control %s, station id %s)", s.file, s.st.Control.Listen, s.st.StationID)
		}
	}
}
