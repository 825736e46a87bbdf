package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/report"
)

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editManifest changes a folder's manifest and writes its sums again, as
// a folder from another run would have them: it still verifies.
func editManifest(t *testing.T, dir string, edit func(m *report.Manifest)) {
	t.Helper()
	p := filepath.Join(dir, report.ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m report.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteSums(dir); err != nil {
		t.Fatal(err)
	}
}

// Merging refuses, with exit 2, a message naming the folder and what
// differs, and nothing written: folders that fail verify, that are not
// parts of one run, a scenario two folders hold, an incomplete set of
// shards.
func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	for _, k := range []string{"1", "2"} {
		code, _, stderr := runCmd(t, "run", "--out", filepath.Join(base, k), "--fixtures", "../../fixtures", "--time-scale", "0.05", "--shard", k+"/2", "testdata/fails")
		if code == exitUsage || code == exitHarness {
			t.Fatalf("shard %s/2: exit %d\n%s", k, code, stderr)
		}
	}
	// The unchanged shards merge.
	if code, stdout, stderr := runCmd(t, "merge", "--out", filepath.Join(t.TempDir(), "m"), filepath.Join(base, "1"), filepath.Join(base, "2")); code != exitFailed {
		t.Fatalf("the shards as they are: exit %d, want 1 (one scenario fails)\n%s%s", code, stdout, stderr)
	}
	for _, c := range []struct {
		name string
		// prepare changes the copies of shards 1 and 2 (s1, s2) and
		// returns the folders to merge.
		prepare func(t *testing.T, s1, s2, extra string) []string
		want    []string // in the message, with the folders' names for S1, S2, X
	}{
		{"a shard that fails verify", func(t *testing.T, s1, s2, _ string) []string {
			files, _ := filepath.Glob(filepath.Join(s2, report.ScenariosDir, "*.json"))
			f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(" ")
			f.Close()
			return []string{s1, s2}
		}, []string{"S2 fails mqtthil verify (1 problem(s)): scenarios/", ": changed"}},
		{"a shard without sums", func(t *testing.T, s1, s2, _ string) []string {
			os.Remove(filepath.Join(s1, report.SumsFile))
			return []string{s1, s2}
		}, []string{"S1 fails mqtthil verify", "SHA256SUMS"}},
		{"another feature set", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Features["features/extra.feature"] = "00" })
			return []string{s1, s2}
		}, []string{"different feature sets: S2 ran features/extra.feature, S1 did not"}},
		{"a changed feature", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) {
				for k := range m.Features {
					m.Features[k] = "ffffffffffffffff"
				}
			})
			return []string{s1, s2}
		}, []string{"different feature sets: cmd/mqtthil/testdata/fails/fails.feature differs between S1", "and S2 (sha256 ffffffffffff)"}},
		{"another seed", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Seed = 7 })
			return []string{s1, s2}
		}, []string{`S2 has seed "7", S1 has "1"`}},
		{"another model", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Model = "libmosquitto-2.0.20" })
			return []string{s1, s2}
		}, []string{`S2 has model version "libmosquitto-2.0.20", S1 has "libmosquitto-2.0.11"`}},
		{"another harness", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s1, func(m *report.Manifest) { m.Harness = "v9" })
			return []string{s1, s2}
		}, []string{`S2 has harness version`, `S1 has "v9"`}},
		{"a scenario twice", func(t *testing.T, s1, s2, x string) []string {
			copyDir(t, s1, x)
			return []string{s1, s2, x}
		}, []string{`scenario "cmd/mqtthil/testdata/fails/fails.feature: wrong expectation" is in both S1 and X`}},
		{"a shard missing", func(t *testing.T, s1, s2, _ string) []string {
			return []string{s1}
		}, []string{"shard(s) 2/2 missing"}},
		{"a whole run among shards", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Shard = nil })
			return []string{s1, s2}
		}, []string{"S2 is a whole run, not a shard"}},
		{"shards of another split", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Shard.Total = 3 })
			return []string{s1, s2}
		}, []string{"S2 is shard 2/3, S1 is shard 1/2: shards of different splits"}},
		{"another selection", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Shard.Hash = "0123456789abcdef" })
			return []string{s1, s2}
		}, []string{"S2 and S1 selected different scenarios"}},
		{"the same shard twice", func(t *testing.T, s1, s2, _ string) []string {
			editManifest(t, s2, func(m *report.Manifest) { m.Shard.Index = 1 })
			return []string{s1, s2}
		}, []string{"S1 and S2 are both shard 1/2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s1, s2, x := filepath.Join(dir, "shard-one"), filepath.Join(dir, "shard-two"), filepath.Join(dir, "extra")
			copyDir(t, filepath.Join(base, "1"), s1)
			copyDir(t, filepath.Join(base, "2"), s2)
			folders := c.prepare(t, s1, s2, x)
			out := filepath.Join(dir, "merged")
			code, stdout, stderr := runCmd(t, append([]string{"merge", "--out", out}, folders...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2\n%s%s", code, stdout, stderr)
			}
			for _, w := range c.want {
				w = strings.NewReplacer("S1", s1, "S2", s2, "X", x).Replace(w)
				if !strings.Contains(stderr, w) {
					t.Errorf("the refusal does not say %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused merge wrote %s", out)
			}
		})
	}
	t.Run("an output folder with files", func(t *testing.T) {
		out := t.TempDir()
		os.WriteFile(filepath.Join(out, "x"), nil, 0o644)
		code, _, stderr := runCmd(t, "merge", "--out", out, filepath.Join(base, "1"), filepath.Join(base, "2"))
		if code != exitUsage || !strings.Contains(stderr, "--out "+out+" holds files already") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	})
	t.Run("an input as the output", func(t *testing.T) {
		code, _, stderr := runCmd(t, "merge", "--out", filepath.Join(base, "1"), filepath.Join(base, "1"), filepath.Join(base, "2"))
		if code != exitUsage || !strings.Contains(stderr, "is one of the folders to merge") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	})
	t.Run("no folders", func(t *testing.T) {
		if code, _, _ := runCmd(t, "merge", "--out", t.TempDir()); code != exitUsage {
			t.Errorf("exit %d", code)
		}
	})
}
