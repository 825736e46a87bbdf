package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/internal/syncbuf"
)

// The binary under test is built once per test process, into a temporary
// folder removed when the tests end.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain runs twice as many parallel tests at a time as go test's
// default (GOMAXPROCS), unless -parallel is given: most tests here spend
// their time waiting on processes, stations, sockets and real-time
// deadlines rather than computing, and at the default the waiting ones
// held the machine's few slots while its cores idled.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func mqtthilBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mqtthil-bin-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(buildDir, "mqtthil"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "mqtthil")
}

// brokerProc is `mqtthil broker` running as a subprocess.
type brokerProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addrs   map[string]string // the "key: value" lines printed before "ready"
	journal string
	stderr  *syncbuf.Buffer
	done    chan struct{}
	stopped bool
}

// startBroker runs `mqtthil broker` on free loopback ports with the plan
// (YAML text, may be empty) and waits for it to print "ready".
func startBroker(t *testing.T, plan string, extra ...string) *brokerProc {
	t.Helper()
	bin := mqtthilBinary(t)
	dir := t.TempDir()
	args := []string{"broker", "--dut", "127.0.0.1:0", "--control", "127.0.0.1:0", "--api", "127.0.0.1:0",
		"--journal", filepath.Join(dir, "journal.jsonl")}
	if plan != "" {
		path := filepath.Join(dir, "plan.yaml")
		if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--plan", path)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProc{t: t, cmd: cmd, addrs: map[string]string{}, journal: filepath.Join(dir, "journal.jsonl"),
		stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		cancel()
	})

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("mqtthil broker ended before it was ready:\n%s", p.stderrText())
			}
			if line == "ready" {
				go func() {
					for range lines {
					}
				}()
				for _, k := range []string{"dut", "control", "api", "seed"} {
					if p.addrs[k] == "" {
						t.Fatalf("mqtthil broker printed no %q line: %v", k, p.addrs)
					}
				}
				return p
			}
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("unexpected line from mqtthil broker: %q", line)
			}
			p.addrs[k] = v
		case <-deadline:
			t.Fatalf("mqtthil broker not ready after 30s:\n%s", p.stderrText())
		}
	}
}

// port is the DUT listener's port, as mosquitto_pub's -p wants it.
func (p *brokerProc) dutHostPort() (string, string) {
	host, port, ok := strings.Cut(p.addrs["dut"], ":")
	if !ok {
		p.t.Fatalf("dut address %q", p.addrs["dut"])
	}
	return host, port
}

// stop sends SIGTERM and waits for a clean exit.
func (p *brokerProc) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("mqtthil broker did not stop within 20s of SIGTERM")
		return
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("mqtthil broker exited with %d after SIGTERM:\n%s", code, p.stderrText())
	}
}

// get calls the broker's API and decodes the JSON answer into v.
func (p *brokerProc) get(path string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.addrs["api"]+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		p.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// records polls the journal over the API until at least n records match
// the query, or the deadline passes.
func (p *brokerProc) records(query string, n int, within time.Duration) []journal.Record {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var recs []journal.Record
		p.get("/journal?format=json&"+query, &recs)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("journal: %d record(s) for %s after %s, want %d: %+v", len(recs), query, within, n, recs)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, with a deadline
	}
}

func (p *brokerProc) stderrText() string {
	return p.stderr.String()
}

// The subprocess prints its addresses, serves the API, stops on SIGTERM,
// and leaves the journal flushed in its file.
func TestBrokerProcess(t *testing.T) {
	t.Parallel()
	p := startBroker(t, "seed: 5\nrules:\n  - {name: noop, match: {packet: AUTH}, drop: {}}\n")
	if !strings.HasPrefix(p.addrs["seed"], "5 ") {
		t.Errorf("seed line %q", p.addrs["seed"])
	}
	if !strings.HasPrefix(p.addrs["api"], "http://127.0.0.1:") || strings.HasSuffix(p.addrs["dut"], ":0") {
		t.Errorf("addresses %v", p.addrs)
	}
	var h struct {
		Status string `json:"status"`
		DUT    string `json:"dut"`
		Rules  int    `json:"rules"`
	}
	p.get("/healthz", &h)
	if h.Status != "ok" || h.DUT != p.addrs["dut"] || h.Rules != 1 {
		t.Errorf("healthz %+v", h)
	}

	c := dialMQTT(t, p.addrs["dut"], "proc-1")
	c.Close()
	p.records("kind=close&client=proc-1", 1, 10*time.Second)
	p.stop()
	data, err := os.ReadFile(p.journal)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"client":"proc-1"`) || !strings.Contains(string(data), `"kind":"close"`) {
		t.Errorf("journal file after SIGTERM:\n%s", data)
	}
	if !strings.Contains(p.stderrText(), "stopped") {
		t.Errorf("stderr: %s", p.stderrText())
	}
}
