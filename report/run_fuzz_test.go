package report

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A run folder is outside input for report, merge and verify: a CI
// artifact, a shard from another machine. Whatever its files hold,
// loading it and writing its report gives an error or a report, never a
// panic or a read outside the folder.
func FuzzLoadRun(f *testing.F) {
	f.Add([]byte(`{"harness_version":"x","controller":{"kind":"sim"},"seed":1,"counts":{"passed":1}}`),
		[]byte(`{"name":"s","uri":"features/a.feature","status":"failed","error":"x","journal_file":"0001-s.jsonl","steps":[{"file":"features/a.feature","line":3,"text":"a client \"c\"","status":"failed"}],"calls":[{"client":"c","call":"Publish","ret":{"code":0,"mid":1}}],"events":[{"kind":"onPublish","client":"c","mid":1,"reason":16}]}`),
		[]byte(`{"seq":1,"t_ns":5,"kind":"packet","conn":1,"client":"c","dir":"to_client","type":"PUBACK","packet_id":1,"reason":16}`+"\n"+`{"seq":2,"kind":"fault","action":"drop","rule":"r"}`))
	f.Add([]byte(`{}`), []byte(`{"journal_file":"../../../etc/hostname"}`), []byte(``))
	f.Add([]byte(`[]`), []byte(`{"name":"\u0000<script>","status":"passed","started":"2026-01-01T00:00:00Z","ended":"2025-01-01T00:00:00Z"}`), []byte("{\n\n}"))
	f.Fuzz(func(t *testing.T, manifest, scenario, journal []byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, ScenariosDir), 0o755)
		os.WriteFile(filepath.Join(dir, ManifestFile), manifest, 0o644)
		os.WriteFile(filepath.Join(dir, ScenariosDir, "0001-s.json"), scenario, 0o644)
		os.WriteFile(filepath.Join(dir, ScenariosDir, "0001-s.jsonl"), journal, 0o644)
		run, err := LoadRun(dir)
		if err != nil {
			return
		}
		if err := WriteHTML(io.Discard, run); err != nil {
			t.Fatalf("a run folder that loads cannot be written as a report: %v", err)
		}
	})
}

// A record that names a journal outside its folder is refused.
func TestJournalOutsideTheFolderRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ScenariosDir), 0o755)
	os.WriteFile(filepath.Join(dir, "secret.jsonl"), []byte(`{"seq":1,"kind":"open"}`), 0o644)
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{}`), 0o644)
	for _, name := range []string{"../secret.jsonl", "..", "a/../../secret.jsonl", `..\secret.jsonl`} {
		os.WriteFile(filepath.Join(dir, ScenariosDir, "0001-s.json"), []byte(`{"name":"s","journal_file":`+strconv.Quote(name)+`}`), 0o644)
		if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "expected a file name") {
			t.Errorf("journal %q: %v", name, err)
		}
	}
}
