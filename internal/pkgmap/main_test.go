package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPictureIsCurrent fails when docs/architecture.md's package picture no
// longer matches the imports, or when an import breaks a layering rule.
func TestPictureIsCurrent(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	if err := run("docs/architecture.md", true, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestRulesCatchABreach builds the rules' check on a made-up graph in which
// report reaches steps through another package, and wants it refused.
func TestRulesCatchABreach(t *testing.T) {
	pkgs := []pkg{
		{ImportPath: "report", Imports: []string{"record"}, Deps: []string{"record", "steps"}},
		{ImportPath: "record", Imports: []string{"steps"}, Deps: []string{"steps"}},
		{ImportPath: "steps"},
	}
	err := checkRules("m", pkgs)
	if err == nil || !strings.Contains(err.Error(), "m/report depends on m/steps") {
		t.Fatalf("got %v, want report → steps refused", err)
	}
	if strings.Contains(err.Error(), "m/record depends") {
		t.Fatalf("record has no rule against steps, yet: %v", err)
	}
}

func TestFloorsAndImpliedEdges(t *testing.T) {
	pkgs := []pkg{
		{ImportPath: "a", Imports: []string{"b", "c"}, Deps: []string{"b", "c"}},
		{ImportPath: "b", Imports: []string{"c"}, Deps: []string{"c"}},
		{ImportPath: "c"},
	}
	f := floors(pkgs)
	if f["a"] != 2 || f["b"] != 1 || f["c"] != 0 {
		t.Fatalf("floors %v, want a=2 b=1 c=0", f)
	}
	out := render("m", pkgs)
	if strings.Contains(out, "p0 --> p2") {
		t.Fatalf("a → c is implied by a → b → c and should be left out:\n%s", out)
	}
	if !strings.Contains(out, "p0 --> p1") || !strings.Contains(out, "p1 --> p2") {
		t.Fatalf("direct edges missing:\n%s", out)
	}
}

func TestStaleBlockIsReported(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "a.md")
	if err := os.WriteFile(doc, []byte("x\n"+beginMarker+"\nold\n"+endMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	if err := run(doc, true, io.Discard); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("got %v, want a stale picture reported", err)
	}
	if err := run(doc, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(doc, true, io.Discard); err != nil {
		t.Fatalf("after a rewrite the picture should be current: %v", err)
	}
}
