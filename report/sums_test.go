package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSums(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("manifest.json", "{}")
	write("scenarios/a.json", "a")
	write("scenarios/b.json", "b")
	if err := WriteSums(dir); err != nil {
		t.Fatal(err)
	}
	if p, err := VerifySums(dir); err != nil || len(p) != 0 {
		t.Fatalf("fresh folder: %v %v", p, err)
	}
	// sha256sum reads the same file, where it is installed.
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--quiet", "-c", SumsFile)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, out)
		}
	}
	write("scenarios/a.json", "A")
	os.Remove(filepath.Join(dir, "scenarios/b.json"))
	write("extra.txt", "x")
	p, err := VerifySums(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"scenarios/a.json: changed", "scenarios/b.json: missing", "extra.txt: not in SHA256SUMS"}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("problems %q, want %q", p, want)
	}
}
