package lua_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestFilesReadWriteInSandbox(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, lua.Options{FilesDir: dir})
	out := evalLua(t, rt, `
		C4:FileSetDir('SANDBOX', 'cache')
		local h = C4:FileOpen('token.txt')
		local n = C4:FileWrite(h, 5, 'hello world')
		local w2 = C4:FileWriteString(h, '\0!')
		C4:FileClose(h)
		-- A new handle starts at the end of the file.
		h = C4:FileOpen('token.txt')
		local atEnd, size, valid = C4:FileGetPos(h), C4:FileGetSize(h), C4:FileIsValid(h)
		C4:FileSetPos(h, 0)
		local all = C4:FileRead(h, 100)
		local eof = C4:FileRead(h, 10)
		local name = C4:FileGetName(h)
		local open = C4:FileGetOpenedHandles()[h]
		C4:FileClose(h)
		local list = C4:FileList()
		local exists = C4:FileExists('token.txt')
		C4:FileDelete('token.txt')
		return n, w2, atEnd, size, tostring(valid), all, eof, name, open, table.concat(list, ','), tostring(exists),
			tostring(C4:FileExists('token.txt')), C4:FileWrite(h, 1, 'x'), C4:FileGetName(h), C4:FileOpen('')`)
	want := []any{int64(5), int64(2), int64(7), int64(7), "false", "hello\x00!", "", "token.txt", "token.txt", "token.txt", "true", "false", int64(-1), "", int64(-1)}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache")); err != nil {
		t.Errorf("FileSetDir('SANDBOX', 'cache') made no folder in FilesDir: %v", err)
	}
	// The file was in FilesDir while it existed: write one and look.
	evalLua(t, rt, `local h = C4:FileOpen('kept') C4:FileWrite(h, 2, 'ok') C4:FileClose(h)`)
	if b, err := os.ReadFile(filepath.Join(dir, "cache", "kept")); err != nil || string(b) != "ok" {
		t.Errorf("kept = %q, %v", b, err)
	}
}

func TestFilesRefuseEscapes(t *testing.T) {
	base := t.TempDir()
	sandbox := filepath.Join(base, "sandbox")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{sandbox, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sandbox, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(sandbox, "filelink")); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, lua.Options{FilesDir: sandbox})
	for _, tc := range []struct{ what, code string }{
		{"dot-dot open", `return C4:FileOpen('../outside/secret')`},
		{"dot-dot deep", `return C4:FileOpen('a/../../outside/secret')`},
		{"absolute open", `return C4:FileOpen('` + secret + `')`},
		{"symlinked folder", `return C4:FileOpen('link/secret')`},
		{"symlinked file", `return C4:FileOpen('filelink')`},
		{"new file through link", `return C4:FileOpen('link/new')`},
		{"exists outside", `return C4:FileExists('../outside/secret') and 1 or -1`},
		{"alias subpath escape", `C4:FileDelete('SANDBOX', '../outside/secret') return C4:FileExists('../outside/secret') and 1 or -1`},
		{"create dir outside", `return C4:FileCreateDir('SANDBOX', '../outside/made') and 1 or -1`},
		{"absolute under alias", `return C4:FileCreateDir('SANDBOX', '/tmp/x') and 1 or -1`},
		{"setdir escape", `C4:FileSetDir('` + outside + `') local h = C4:FileOpen('secret') local s = C4:FileGetSize(h) C4:FileClose(h) C4:FileDelete('secret') return s == 6 and 1 or -1`},
		{"setdir alias escape", `C4:FileSetDir('SANDBOX', '../outside') local h = C4:FileOpen('secret') local s = C4:FileGetSize(h) C4:FileClose(h) C4:FileDelete('secret') return s == 6 and 1 or -1`},
		{"setdir through link", `C4:FileSetDir('SANDBOX', 'link') local h = C4:FileOpen('secret') local s = C4:FileGetSize(h) C4:FileClose(h) C4:FileDelete('secret') return s == 6 and 1 or -1`},
		{"move out", `return C4:FileMove('SANDBOX', 'x', 'SANDBOX', '../outside/x') and 1 or -1`},
	} {
		out := evalLua(t, rt, tc.code)
		if len(out) != 1 || out[0] != int64(-1) {
			t.Errorf("%s: got %v, want -1 (refused)", tc.what, out)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "s3cret" {
		t.Errorf("the file outside was touched: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a file was created outside through a link")
	}
	var refused int
	for _, e := range rt.Trace().Entries() {
		if e.Client == "files" && len(e.Ret) == 2 && strings.Contains(toString(e.Ret[1]), "outside the driver's folders") {
			refused++
		}
	}
	if refused < 5 {
		t.Errorf("refusals recorded in the trace: %d, want several", refused)
	}
}

func TestFilesAliasesAndC4ZReadOnly(t *testing.T) {
	drv := writeDriver(t, "x = 1", "")
	if err := os.WriteFile(filepath.Join(filepath.Dir(drv), "www.html"), []byte("<p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(drv); err != nil {
		t.Fatal(err)
	}
	out := evalLua(t, rt, `
		C4:FileSetDir('C4Z')
		local h = C4:FileOpen('www.html')
		C4:FileSetPos(h, 0)
		local page = C4:FileRead(h, 10)
		local w = C4:FileWrite(h, 1, 'x')
		C4:FileClose(h)
		local created = C4:FileOpen('new.txt')
		C4:FileDelete('www.html')
		local still = C4:FileExists('www.html')
		C4:FileSetDir('LOGGING')
		local lh = C4:FileOpen('driver.log')
		return page, w, created, tostring(still), lh > 0, C4:GetSandboxDir() ~= C4:GetLogDir()`)
	want := []any{"<p>", int64(-1), int64(-1), "true", true, true}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
}
