package report_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/internal/syncbuf"
)

// browser is one headless chromium driven over its DevTools pipe (the
// --remote-debugging-pipe protocol: JSON messages ending in a NUL byte,
// commands on the browser's descriptor 3, replies and events on 4), so
// that a test loads many pages for the cost of one browser start.
type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	cmds   *os.File      // our end of the browser's descriptor 3
	msgs   *os.File      // our end of its descriptor 4
	rd     *bufio.Reader // over msgs
	next   int
	done   chan struct{}
	events []string // "session method" of the events read so far

	stderr *syncbuf.Buffer
}

// startBrowser starts chromium with the flags chromium() uses.
func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	cmdsR, cmdsW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	msgsR, msgsW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,900", "--remote-debugging-pipe", "about:blank")
	cmd.WaitDelay = 5 * time.Second
	cmd.ExtraFiles = []*os.File{cmdsR, msgsW}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	cmdsR.Close()
	msgsW.Close()
	b := &browser{t: t, cmd: cmd, cmds: cmdsW, msgs: msgsR, rd: bufio.NewReader(msgsR), done: make(chan struct{}), stderr: stderr}
	go func() { cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		// Browser.close ends chromium; a browser that does not end is
		// killed by the context.
		b.send("", "Browser.close", nil)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			cancel()
			<-b.done
		}
		cancel()
		cmdsW.Close()
		msgsR.Close()
	})
	return b
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

// call sends a command and waits for its reply, passing over events.
func (b *browser) call(session, method string, params any) json.RawMessage {
	b.t.Helper()
	id := b.send(session, method, params)
	b.msgs.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := b.rd.ReadBytes(0)
		if err != nil {
			b.t.Fatalf("chromium %s: no reply: %v\n%s", method, err, b.stderr.String())
		}
		var r struct {
			ID        int             `json:"id"`
			Method    string          `json:"method"`
			SessionID string          `json:"sessionId"`
			Result    json.RawMessage `json:"result"`
			Error     *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line[:len(line)-1], &r); err != nil {
			b.t.Fatalf("chromium %s: reply %q: %v", method, line, err)
		}
		if r.Method != "" {
			b.events = append(b.events, r.SessionID+" "+r.Method)
			continue
		}
		if r.ID != id {
			continue // the reply to a command not waited for
		}
		if r.Error != nil {
			b.t.Fatalf("chromium %s: %s", method, r.Error.Message)
		}
		return r.Result
	}
}

// load opens a copy of a run folder's report with the probe in it, in a
// browser context of its own (no cache, no state from an earlier page).
func (b *browser) load(dir string) probed {
	b.t.Helper()
	page := probedPage(b.t, dir)
	var bc struct {
		ID string `json:"browserContextId"`
	}
	json.Unmarshal(b.call("", "Target.createBrowserContext", map[string]any{}), &bc)
	defer b.call("", "Target.disposeBrowserContext", map[string]any{"browserContextId": bc.ID})
	var tg struct {
		ID string `json:"targetId"`
	}
	json.Unmarshal(b.call("", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.ID}), &tg)
	var at struct {
		ID string `json:"sessionId"`
	}
	json.Unmarshal(b.call("", "Target.attachToTarget", map[string]any{"targetId": tg.ID, "flatten": true}), &at)
	b.call(at.ID, "Page.enable", map[string]any{})
	b.call(at.ID, "Page.navigate", map[string]any{"url": "file://" + page})
	b.await(at.ID, "Page.loadEventFired")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ev struct {
			Result struct {
				Value any `json:"value"`
			} `json:"result"`
		}
		// Until the probe has run: the old page, or the new one before
		// its load event, has no data-probe.
		json.Unmarshal(b.call(at.ID, "Runtime.evaluate", map[string]any{
			"expression": "document.body && document.body.getAttribute('data-probe')", "returnByValue": true}), &ev)
		if s, ok := ev.Result.Value.(string); ok && s != "" {
			var p probed
			if err := json.Unmarshal([]byte(s), &p); err != nil {
				b.t.Fatalf("probe %q: %v", s, err)
			}
			return p
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the probe did not run in %s within 10s of the load event", page)
		}
		// The probe runs in a load listener, which may still be running
		// when the event is reported; it tells nothing when it is done, so
		// the page is asked again.
		time.Sleep(10 * time.Millisecond)
	}
}

// await reads until the session reports the event.
func (b *browser) await(session, method string) {
	b.t.Helper()
	want := session + " " + method
	b.msgs.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		for i, ev := range b.events {
			if ev == want {
				b.events = append(b.events[:i], b.events[i+1:]...)
				return
			}
		}
		line, err := b.rd.ReadBytes(0)
		if err != nil {
			b.t.Fatalf("chromium: no %s: %v\n%s", method, err, b.stderr.String())
		}
		var r struct {
			Method    string `json:"method"`
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal(line[:len(line)-1], &r) == nil && r.Method != "" {
			b.events = append(b.events, r.SessionID+" "+r.Method)
		}
	}
}
