package report_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/internal/syncbuf"
)

// browser is one headless chromium driven over its DevTools pipe (the
// --remote-debugging-pipe protocol: JSON messages ending in a NUL byte,
// commands on the browser's descriptor 3, replies and events on 4). The
// test process starts one (sharedBrowser) and every page of every test is
// a tab of it in a browser context of its own: a browser start costs
// seconds, a context next to nothing.
type browser struct {
	// mu gives the browser to one tab at a time: the pipe carries one
	// conversation, and the load-time test's pages are not timed beside
	// another test's.
	mu     sync.Mutex
	cmd    *exec.Cmd
	cancel context.CancelFunc
	cmds   *os.File      // our end of the browser's descriptor 3
	msgs   *os.File      // our end of its descriptor 4
	rd     *bufio.Reader // over msgs
	next   int
	done   chan struct{}
	events []cdpEvent // events read while waiting for something else

	stderr *syncbuf.Buffer
}

type cdpEvent struct {
	session, method string
	params          json.RawMessage
}

var shared struct {
	once sync.Once
	b    *browser
	dir  string
	err  error
}

// sharedBrowser is the test process's browser, started by the first test
// that asks; TestMain closes it.
func sharedBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	shared.once.Do(func() { shared.b, shared.dir, shared.err = startBrowser(bin) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.b
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.b != nil {
		shared.b.close()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// startBrowser starts chromium with the flags chromium() uses, and a
// profile folder of its own, returned for removal.
func startBrowser(bin string) (*browser, string, error) {
	dir, err := os.MkdirTemp("", "mqtthil-chromium-")
	if err != nil {
		return nil, "", err
	}
	cmdsR, cmdsW, err := os.Pipe()
	if err != nil {
		return nil, dir, err
	}
	msgsR, msgsW, err := os.Pipe()
	if err != nil {
		return nil, dir, err
	}
	// A bound on the whole test process's use of the browser.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--window-size=1280,900", "--remote-debugging-pipe", "about:blank")
	cmd.WaitDelay = 5 * time.Second
	cmd.ExtraFiles = []*os.File{cmdsR, msgsW}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, dir, err
	}
	cmdsR.Close()
	msgsW.Close()
	b := &browser{cmd: cmd, cancel: cancel, cmds: cmdsW, msgs: msgsR, rd: bufio.NewReader(msgsR), done: make(chan struct{}), stderr: stderr}
	go func() { cmd.Wait(); close(b.done) }()
	return b, dir, nil
}

// close ends chromium with Browser.close; one that does not end is killed.
func (b *browser) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.send("", "Browser.close", nil)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cancel()
		<-b.done
	}
	b.cancel()
	b.cmds.Close()
	b.msgs.Close()
}

// send writes a command and returns its id.
func (b *browser) send(session, method string, params any) int {
	b.next++
	m := map[string]any{"id": b.next, "method": method}
	if params != nil {
		m["params"] = params
	}
	if session != "" {
		m["sessionId"] = session
	}
	data, _ := json.Marshal(m)
	b.cmds.SetWriteDeadline(time.Now().Add(10 * time.Second))
	b.cmds.Write(append(data, 0))
	return b.next
}

// message is anything the browser writes: a reply or an event.
type message struct {
	ID        int             `json:"id"`
	Method    string          `json:"method"`
	SessionID string          `json:"sessionId"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// read reads one message within the deadline.
func (b *browser) read(deadline time.Time) (message, error) {
	b.msgs.SetReadDeadline(deadline)
	line, err := b.rd.ReadBytes(0)
	if err != nil {
		return message{}, fmt.Errorf("%v\n%s", err, b.stderr.String())
	}
	var r message
	if err := json.Unmarshal(line[:len(line)-1], &r); err != nil {
		return message{}, fmt.Errorf("message %q: %v", line, err)
	}
	return r, nil
}

// tab is a page in a browser context of its own (no cache, no state from
// an earlier page) in a 1280x900 viewport. While it is open the browser is
// its test's alone.
type tab struct {
	t       *testing.T
	b       *browser
	context string
	session string
	closed  bool
}

// open makes a tab; its test must close it.
func (b *browser) open(t *testing.T) *tab {
	t.Helper()
	b.mu.Lock()
	tb := &tab{t: t, b: b}
	opened := false
	defer func() {
		if !opened {
			tb.close() // a call failed: the browser goes back all the same
		}
	}()
	var bc struct {
		ID string `json:"browserContextId"`
	}
	tb.call(&bc, "Target.createBrowserContext", map[string]any{})
	tb.context = bc.ID
	var tg struct {
		ID string `json:"targetId"`
	}
	tb.call(&tg, "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.ID})
	var at struct {
		ID string `json:"sessionId"`
	}
	tb.call(&at, "Target.attachToTarget", map[string]any{"targetId": tg.ID, "flatten": true})
	tb.session = at.ID
	tb.call(nil, "Page.enable", map[string]any{})
	tb.call(nil, "Page.setLifecycleEventsEnabled", map[string]any{"enabled": true})
	tb.call(nil, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	opened = true
	return tb
}

// close disposes of the tab's browser context and gives the browser back;
// a second close does nothing. It does not end the test: it runs
// deferred, after a failure too.
func (tb *tab) close() {
	if tb.closed {
		return
	}
	tb.closed = true
	defer tb.b.mu.Unlock()
	if tb.context != "" {
		tb.session = ""
		if err := tb.try(nil, "Target.disposeBrowserContext", map[string]any{"browserContextId": tb.context}); err != nil {
			tb.t.Errorf("closing a tab: %v", err)
		}
	}
	// Events of a page that is gone are of no use to the next tab.
	tb.b.events = nil
}

// call sends a command (to the tab's page once it has one) and waits for
// its reply, keeping the events read meanwhile; into, if set, receives the
// result.
func (tb *tab) call(into any, method string, params any) {
	tb.t.Helper()
	if err := tb.try(into, method, params); err != nil {
		tb.t.Fatal(err)
	}
}

// try is call that returns what went wrong.
func (tb *tab) try(into any, method string, params any) error {
	b := tb.b
	id := b.send(tb.session, method, params)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := b.read(deadline)
		if err != nil {
			return fmt.Errorf("chromium %s: no reply: %v", method, err)
		}
		if r.Method != "" {
			b.events = append(b.events, cdpEvent{r.SessionID, r.Method, r.Params})
			continue
		}
		if r.ID != id {
			continue // the reply to a command not waited for
		}
		if r.Error != nil {
			return fmt.Errorf("chromium %s: %s", method, r.Error.Message)
		}
		if into != nil {
			if err := json.Unmarshal(r.Result, into); err != nil {
				return fmt.Errorf("chromium %s: result %s: %v", method, r.Result, err)
			}
		}
		return nil
	}
}

// navigate loads page (a file) and returns once this navigation's load
// event has fired: the lifecycle event carries the navigation's loader,
// so the load of the tab's first, blank page is not mistaken for it.
func (tb *tab) navigate(page string) {
	tb.t.Helper()
	var nav struct {
		LoaderID  string `json:"loaderId"`
		ErrorText string `json:"errorText"`
	}
	tb.call(&nav, "Page.navigate", map[string]any{"url": "file://" + page})
	if nav.ErrorText != "" || nav.LoaderID == "" {
		tb.t.Fatalf("chromium: navigating to %s: %q (loader %q)", page, nav.ErrorText, nav.LoaderID)
	}
	b := tb.b
	deadline := time.Now().Add(60 * time.Second)
	for {
		for i, ev := range b.events {
			if ev.session != tb.session || ev.method != "Page.lifecycleEvent" {
				continue
			}
			var lc struct {
				Name     string `json:"name"`
				LoaderID string `json:"loaderId"`
			}
			if json.Unmarshal(ev.params, &lc) == nil && lc.Name == "load" && lc.LoaderID == nav.LoaderID {
				b.events = append(b.events[:i], b.events[i+1:]...)
				return
			}
		}
		r, err := b.read(deadline)
		if err != nil {
			tb.t.Fatalf("chromium: no load event for %s: %v", page, err)
		}
		if r.Method != "" {
			b.events = append(b.events, cdpEvent{r.SessionID, r.Method, r.Params})
		}
	}
}

// evaluate runs a script expression in the page, waits for the promise it
// may return, and returns its value.
func (tb *tab) evaluate(into any, expr string) {
	tb.t.Helper()
	var ev struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	tb.call(&ev, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true})
	if ev.Exception != nil {
		tb.t.Fatalf("chromium: %s: %s", expr, ev.Exception.Text)
	}
	if err := json.Unmarshal(ev.Result.Value, into); err != nil {
		tb.t.Fatalf("chromium: %s: value %s: %v", expr, ev.Result.Value, err)
	}
}

// probeDone is the probe's result once its load listener has written it:
// the listener may still be running when the load event is reported.
const probeDone = `new Promise(function(done){
var read=function(){return document.body.getAttribute('data-probe');};
if(read())return done(read());
new MutationObserver(function(_,o){if(read()){o.disconnect();done(read());}}).observe(document.body,{attributes:true});})`

// probe waits for the probe of a page loaded with it (probedPage).
func (tb *tab) probe() probed {
	tb.t.Helper()
	var s string
	tb.evaluate(&s, probeDone)
	var p probed
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		tb.t.Fatalf("probe %q: %v", s, err)
	}
	return p
}

// scrollbars shows or hides the scroll bars of the pages loaded next.
func (tb *tab) scrollbars(show bool) {
	tb.t.Helper()
	tb.call(nil, "Emulation.setScrollbarsHidden", map[string]any{"hidden": !show})
}

// screenshot writes a PNG of the viewport.
func (tb *tab) screenshot(path string) {
	tb.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	tb.call(&shot, "Page.captureScreenshot", map[string]any{"format": "png"})
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// load opens a copy of a run folder's report with the probe in it, in a
// tab of its own, and returns what the probe found.
func (b *browser) load(t *testing.T, dir string) probed {
	t.Helper()
	page := probedPage(t, dir)
	tb := b.open(t)
	defer tb.close()
	tb.navigate(page)
	return tb.probe()
}
