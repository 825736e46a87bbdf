package lua_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// awaitLua waits until the Lua expression is true in the runtime.
func awaitLua(t *testing.T, rt *lua.Runtime, expr string) {
	t.Helper()
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) {
		out, err := rt.Run("await", "return "+expr)
		if err != nil {
			return false, err
		}
		return len(out) > 0 && out[0] == true, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v\nlogs: %v", expr, err, rt.Logs())
	}
}

func newStub(t *testing.T, answers ...lua.HTTPAnswer) *lua.HTTPStub {
	t.Helper()
	s, err := lua.NewHTTPStub(answers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// urlDriver is a driver helper that records every C4:url() callback into
// the global log and the OnDone result into done.
const urlDriver = `
log, done = {}, nil
function track(t)
	return t:OnHeaders(function(_, r) log[#log+1] = 'headers ' .. r.code end)
		:OnBody(function(_, r) log[#log+1] = 'body ' .. tostring(r.body) end)
		:OnDone(function(_, rs, code, msg) done = {n = #rs, code = code, msg = msg} end)
end
`

func TestURLGetFromStub(t *testing.T) {
	stub := newStub(t, lua.HTTPAnswer{Method: "GET", URL: "https://api.example.com/v1/status", Status: 200,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`})
	rt := newRuntime(t, lua.Options{HTTP: stub})
	evalLua(t, rt, urlDriver+`
		local t = track(C4:url())
		t:OnHeaders(function(_, r) log[#log+1] = 'headers ' .. r.code .. ' ' .. r.headers['Content-Type'] end)
		t:Get('https://api.example.com/v1/status', {['X-Api-Key'] = 'k1'})
		ticket = t:TicketId()`)
	awaitLua(t, rt, "done ~= nil")
	out := evalLua(t, rt, `return table.concat(log, '|'), done.n, done.code, done.msg, ticket > 0`)
	want := []any{`headers 200 application/json|body {"ok":true}`, int64(1), int64(0), nil, true}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
	reqs := stub.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests: %+v", reqs)
	}
	q := reqs[0]
	if q.Method != "GET" || q.URL != "https://api.example.com/v1/status" || q.Headers.Get("X-Api-Key") != "k1" ||
		q.Headers.Get("Accept") != "*/*" || q.Outcome != "answer 0" {
		t.Errorf("request recorded: %+v", q)
	}
	if _, ok := q.Headers["User-Agent"]; ok && q.Headers.Get("User-Agent") != "" {
		t.Errorf("a User-Agent was sent: %q", q.Headers.Get("User-Agent"))
	}
	waitTrace(t, rt, "the transfer in the trace", func(es []lua.Entry) bool {
		var call, done bool
		for _, e := range es {
			call = call || (e.Client == "http" && e.Kind == lua.KindCall && e.Name == "url:Get")
			done = done || (e.Client == "http" && e.Kind == lua.KindCallback && e.Name == "url:Get done")
		}
		return call && done
	})
}

func TestURLErrors(t *testing.T) {
	stub := newStub(t,
		lua.HTTPAnswer{Host: "dev.local", Path: "/missing", Status: 404, Body: "nope"},
		lua.HTTPAnswer{Host: "dev.local", Path: "/refused", Refuse: true},
		lua.HTTPAnswer{Host: "dev.local", Path: "/slow", Delay: 3 * time.Second, Body: "late"},
		lua.HTTPAnswer{Host: "dev.local", Path: "/redirect", Status: 302, Headers: map[string]string{"Location": "/final"}},
		lua.HTTPAnswer{Host: "dev.local", Path: "/final", Body: "here"},
		lua.HTTPAnswer{Host: "dev.local", Path: "/flaky", Status: 503, Times: 1},
		lua.HTTPAnswer{Host: "dev.local", Path: "/flaky", Body: "better"},
	)
	rt := newRuntime(t, lua.Options{HTTP: stub})
	for _, tc := range []struct {
		what, code string
		want       string
	}{
		{"404 fails the transfer", `track(C4:url()):Get('http://dev.local/missing')`, "22 headers 404"},
		{"404 readable without fail_on_error", `track(C4:url()):SetOption('fail_on_error', false):Get('http://dev.local/missing')`, "0 headers 404|body nope"},
		{"refused", `track(C4:url()):Get('http://dev.local/refused')`, "7 "},
		{"undeclared host", `track(C4:url()):Get('http://elsewhere.example/')`, "6 "},
		{"timeout", `track(C4:url()):SetOptions({timeout = 0.2}):Get('http://dev.local/slow')`, "28 "},
		{"redirect", `track(C4:url()):Get('http://dev.local/redirect')`, "0 headers 302|body |headers 200|body here"},
		{"used-up answer", `track(C4:url()):Get('http://dev.local/flaky')`, "22 headers 503"},
		{"next answer", `track(C4:url()):Get('http://dev.local/flaky')`, "0 headers 200|body better"},
		{"abort from OnHeaders", `track(C4:url()):OnHeaders(function() return true end):Get('http://dev.local/final')`, "-1 "},
		{"bad URL", `track(C4:url()):Get('::nope')`, "3 "},
	} {
		evalLua(t, rt, urlDriver+tc.code)
		awaitLua(t, rt, "done ~= nil")
		out := evalLua(t, rt, `return done.code .. ' ' .. table.concat(log, '|'), done.msg`)
		if out[0] != tc.want {
			t.Errorf("%s: got %q, want %q", tc.what, out[0], tc.want)
		}
		if !strings.HasSuffix(tc.want, "here") && !strings.HasPrefix(tc.want, "0 ") && out[1] == nil {
			t.Errorf("%s: no error message", tc.what)
		}
	}
	outcomes := map[string]bool{}
	for _, q := range stub.Requests() {
		outcomes[q.Outcome] = true
	}
	if !outcomes["refused"] || !outcomes["unknown host"] {
		t.Errorf("outcomes recorded: %v", outcomes)
	}
}

func TestURLCancel(t *testing.T) {
	stub := newStub(t, lua.HTTPAnswer{Host: "dev.local", Delay: time.Minute})
	rt := newRuntime(t, lua.Options{HTTP: stub})
	evalLua(t, rt, urlDriver+`
		t = track(C4:url()):Get('http://dev.local/')
		running = t:TicketId()
		t:Cancel()`)
	awaitLua(t, rt, "done ~= nil")
	out := evalLua(t, rt, `return done.code, running > 0, t:TicketId()`)
	if fmtAny(out) != fmtAny([]any{int64(-1), true, int64(0)}) {
		t.Errorf("got %#v", out)
	}
	if _, err := rt.Exec("reuse", `t:Get('http://dev.local/')`); err == nil {
		t.Error("a cancelled object started again")
	}
}

func TestLegacyURLFunctions(t *testing.T) {
	stub := newStub(t,
		lua.HTTPAnswer{Method: "POST", Host: "dev.local", Path: "/login", Status: 201,
			Headers: map[string]string{"Set-Cookie": "sid=abc; Path=/"}, Body: "welcome"},
		lua.HTTPAnswer{Method: "GET", Host: "dev.local", Path: "/me", Status: 401, Body: "who?"},
		lua.HTTPAnswer{Host: "dev.local", Path: "/slow", Delay: time.Minute},
	)
	rt := newRuntime(t, lua.Options{HTTP: stub})
	evalLua(t, rt, `
		got = {}
		function ReceivedAsync(id, data, code, headers, err)
			got[#got+1] = 'async ' .. code .. ' ' .. data .. ' ' .. tostring(err)
		end
		C4:urlPost('http://dev.local/login', 'user=a', {['Content-Type'] = 'application/x-www-form-urlencoded'}, true, nil, {cookies_enable = true})
		C4:urlGet('http://dev.local/me', {}, false, function(id, data, code, headers, err)
			got[#got+1] = 'cb ' .. code .. ' ' .. data .. ' ' .. tostring(err)
		end)
		slow = C4:urlGet('http://dev.local/slow', {}, true, function() got[#got+1] = 'slow' end)
		C4:urlGet('http://nowhere.example/', {}, true, function(id, data, code, h, err) got[#got+1] = 'fail ' .. code .. ' ' .. tostring(err ~= nil) end)`)
	awaitLua(t, rt, "#got == 3")
	out := evalLua(t, rt, `
		table.sort(got)
		local tickets = C4:urlGetTickets()
		local cancelled = C4:urlCancel(slow)
		local again = C4:urlCancel(slow)
		local c = C4:urlGetCookies()['dev.local'].sid
		return table.concat(got, '|'), #tickets, cancelled, again, c.value, c.path, C4:urlClearCookies(), C4:urlGetOption('max_host_connections')`)
	want := []any{"async 201 welcome nil|cb 401 who? nil|fail 0 true", int64(1), true, false, "abc", "/", int64(1), int64(1)}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", out, want)
	}
	var post lua.HTTPRequest
	for _, q := range stub.Requests() {
		if q.Method == "POST" {
			post = q
		}
	}
	if post.Body != "user=a" || post.Headers.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("POST recorded: %+v", post)
	}
	// A cancelled legacy ticket never calls back: close the runtime and
	// check nothing ran.
	if err := rt.Idle(ctxFor(t, time.Second)); err != nil {
		t.Fatal(err)
	}
	if out := evalLua(t, rt, `return #got`); out[0] != int64(3) {
		t.Errorf("callbacks after cancel: %v", out)
	}
}

func TestURLCloseEndsTransfers(t *testing.T) {
	stub := newStub(t, lua.HTTPAnswer{Host: "dev.local", Delay: time.Hour})
	rt, err := lua.New(lua.Options{HTTP: stub})
	if err != nil {
		t.Fatal(err)
	}
	evalLua(t, rt, `C4:url():Get('http://dev.local/') C4:urlGet('http://dev.local/x')`)
	closed := make(chan error, 1)
	go func() { closed <- rt.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for transfers in flight")
	}
}

func TestHTTPAnswersFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "answers.yaml")
	fixture := `answers:
  - method: GET
    url: https://api.example.com/v1/*
    status: 200
    headers: {Content-Type: application/json}
    body: '{"ok":true}'
    delay: 10ms
  - host: dev.local
    refuse: true
    times: 2
`
	if err := os.WriteFile(path, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := lua.LoadHTTPAnswers(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []lua.HTTPAnswer{
		{Method: "GET", URL: "https://api.example.com/v1/*", Status: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`, Delay: 10 * time.Millisecond},
		{Host: "dev.local", Refuse: true, Times: 2},
	}
	if fmtAny(got) != fmtAny(want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if _, err := lua.ParseHTTPAnswers("a.json", []byte(`{"answers":[{"host":"h","status":204}]}`)); err != nil {
		t.Errorf("JSON fixture: %v", err)
	}
	for _, tc := range []struct{ data, want string }{
		{"answers:\n  - host: h\n    stauts: 200\n", "field stauts not found"},
		{"answers:\n  - host: h\n    delay: soon\n", "answers[0].delay"},
		{"answers:\n  - host: h\n  - status: 200\n", "answers[1]: an answer needs a url or a host"},
		{"answers:\n  - host: h\n    status: 42\n", "answers[0]: status 42"},
		{"answers:\n  - url: /relative\n", "answers[0]: url \"/relative\""},
		{"answers:\n  - host: h\n    times: -1\n", "answers[0]: times -1"},
		{"answers: [", "fix.yaml"},
	} {
		_, err := lua.ParseHTTPAnswers("fix.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix.yaml") {
			t.Errorf("%q: error %v, want one naming fix.yaml and %q", tc.data, err, tc.want)
		}
	}
	if _, err := lua.LoadHTTPAnswers(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("a missing fixture file loaded")
	}
}

func FuzzHTTPAnswers(f *testing.F) {
	for _, seed := range []string{
		"answers:\n  - host: h\n    status: 200\n    body: x\n",
		"answers:\n  - method: POST\n    url: https://a.example/p*\n    delay: 5ms\n    times: 1\n",
		`{"answers":[{"host":"h","refuse":true}]}`,
		"answers: []\n",
		"answers:\n  - host: h\n    headers: {A: b}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		answers, err := lua.ParseHTTPAnswers("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		// What parses is accepted by the stub as it is.
		s, err := lua.NewHTTPStub(answers...)
		if err != nil {
			t.Fatalf("parsed answers refused by the stub: %v", err)
		}
		s.Close()
	})
}

func TestURLDownloadFile(t *testing.T) {
	stub := newStub(t, lua.HTTPAnswer{Host: "dev.local", Path: "/fw.bin", Body: "\x00firmware\xff"})
	dir := t.TempDir()
	rt := newRuntime(t, lua.Options{HTTP: stub, FilesDir: dir})
	evalLua(t, rt, urlDriver+`
		track(C4:url()):DownloadFile('http://dev.local/fw.bin', 'SANDBOX', 'fw.bin')`)
	awaitLua(t, rt, "done ~= nil")
	out := evalLua(t, rt, `return done.code, #log`)
	if fmtAny(out) != fmtAny([]any{int64(0), int64(0)}) {
		t.Errorf("download: OnDone code and other callbacks: %v", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "fw.bin")); err != nil || string(b) != "\x00firmware\xff" {
		t.Errorf("downloaded file: %q, %v", b, err)
	}
	evalLua(t, rt, urlDriver+`
		track(C4:url()):DownloadFile('http://dev.local/fw.bin', 'SANDBOX', '../escape.bin')`)
	awaitLua(t, rt, "done ~= nil")
	if out := evalLua(t, rt, `return done.code`); out[0] != int64(23) {
		t.Errorf("download outside the sandbox: code %v, want 23", out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.bin")); err == nil {
		t.Error("a download escaped the sandbox")
	}
}
