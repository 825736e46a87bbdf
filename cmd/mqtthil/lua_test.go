package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLuaRunsADriverUnderAFaultPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := filepath.Join(dir, "cut.yaml")
	os.WriteFile(plan, []byte("rules:\n  - name: cut\n    match: {direction: to_client, packet: PUBACK, nth: 1}\n    disconnect: {mode: close}\n    times: 1\n"), 0o644)
	trace := filepath.Join(dir, "trace.jsonl")
	code, stdout, stderr := runCmd(t, "lua", "../../fixtures/drivers/state-publisher",
		"--property", "Broker Host={{dut.host}}", "--property", "Broker Port={{dut.port}}",
		"--property", "Reconnect Delay (ms)=20", "--plan", plan,
		"--command", "Set Temperature:value=21.5", "--for", "600ms", "--trace", trace)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"1 fault rules", "Publish                  0×1", "onDisconnect             1", "message ids: 1 matched, 0 unmatched", "Lua errors: 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			TNs    int64  `json:"t_ns"`
			Client string `json:"client"`
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Args   []any  `json:"args"`
			Ret    []any  `json:"ret"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("trace line %q: %v", sc.Text(), err)
		}
		if e.Client != "room-sensor-1" || e.TNs <= 0 {
			t.Errorf("trace line %s", sc.Text())
		}
		kinds[e.Kind+" "+e.Name]++
		if e.Kind == "callback" && e.Name == "onPublish" && (len(e.Args) != 4 || e.Args[0] != float64(1)) {
			t.Errorf("onPublish args %v", e.Args)
		}
	}
	if kinds["call Publish"] != 1 || kinds["return Publish"] != 1 || kinds["callback onPublish"] != 1 || kinds["call Reconnect"] != 1 {
		t.Errorf("trace kinds %v", kinds)
	}
}

func TestLuaReportsTheBuggyDriversLeak(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := filepath.Join(dir, "cut.yaml")
	os.WriteFile(plan, []byte("rules:\n  - name: cut\n    match: {direction: to_client, packet: PUBACK, nth: 1}\n    disconnect: {mode: close}\n    times: 1\n"), 0o644)
	code, stdout, stderr := runCmd(t, "lua", "--plan", plan, "../../fixtures/drivers/leaky-publisher",
		"--property", "Broker Host={{dut.host}}", "--property", "Broker Port={{dut.port}}",
		"--property", "Reconnect Delay (ms)=20", "--command", "Set Temperature:value=21.5", "--for", "400ms")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d for a message the driver never had answered\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	if !strings.Contains(stdout, "unmatched: room-sensor-2 Publish id 1") || !strings.Contains(stderr, "unanswered: room-sensor-2 Publish id 1") {
		t.Errorf("the leak is not reported:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

func TestLuaErrorExitsNonZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "driver.lua")
	os.WriteFile(path, []byte("function OnDriverInit()\n  C4:MQTT('x'):OnPublish(function() end)\n  C4:SetTimer(1, function() local t = nil; return t.x end)\nend\n"), 0o644)
	code, stdout, stderr := runCmd(t, "lua", path, "--for", "200ms", "--trace", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, path+":3: ") || !strings.Contains(stderr, "stack traceback") || !strings.Contains(stdout, "Lua errors: 1") {
		t.Errorf("stderr:\n%s\nstdout:\n%s", stderr, stdout)
	}
	if !strings.Contains(stdout, `"kind":"call","name":"OnPublish"`) {
		t.Errorf("--trace - wrote no trace to stdout:\n%s", stdout)
	}
}

func TestLuaUsage(t *testing.T) {
	for _, args := range [][]string{
		{"lua"},
		{"lua", "a.lua", "b.lua"},
		{"lua", "a.lua", "--property", "novalue"},
		{"lua", "a.lua", "--command", ":x=1"},
		{"lua", "a.lua", "--command", "Go:x"},
		{"lua", "a.lua", "--for", "-1s"},
		{"lua", "a.lua", "--plan", "/nonexistent.yaml"},
		{"lua", "a.lua", "--time-scale", "0"},
		{"lua", "a.lua", "--reload-after", "2s", "--for", "1s"},
		{"lua", "a.lua", "--lua-path", "/nonexistent"},
		{"lua", "a.lua", "--project", "/nonexistent.yaml"},
		{"lua", "a.lua", "--http", "/nonexistent.yaml"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr:\n%s", args, code, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "lua", "/nonexistent/driver.lua", "--for", "0s"); code != exitUsage || !strings.Contains(stderr, "nonexistent") {
		t.Errorf("missing driver: exit %d\n%s", code, stderr)
	}
}

// TestDriverChecksCatchTheLeak runs the steps that the state publisher
// passes against the leaky publisher: the msgId check on the driver's own
// trace fails and names the message.
func TestDriverChecksCatchTheLeak(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := execute(ctx, runConfig{controller: "sim", concurrency: 1, seed: 1, out: t.TempDir(), format: "progress",
		timeScale: 0.05, fixtures: "../../fixtures", paths: []string{"testdata/drivers/leaky.feature"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.scenarios) != 1 || r.scenarios[0].Outcome != "failed" {
		t.Fatalf("scenarios %+v", r.scenarios)
	}
	for _, want := range []string{"every Publish of the driver gets its onPublish", "room-sensor-2: Publish id 1", "has had no onPublish"} {
		if !strings.Contains(r.scenarios[0].Account, want) {
			t.Errorf("the failure does not say %q:\n%s", want, r.scenarios[0].Account)
		}
	}
}

// The README's lua example: the state publisher publishes, the plan loses
// its PUBACK, and the msgId left unanswered fails the run.
func TestLuaReadmeExampleShowsALostAck(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, "lua", "../../fixtures/drivers/state-publisher",
		"--property", "Broker Host={{dut.host}}", "--property", "Broker Port={{dut.port}}",
		"--command", "Set Temperature:value=21.5",
		"--plan", "../../fixtures/plans/lose-first-puback.yaml", "--for", "1s")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	for _, want := range []string{"Publish                  0×1", "unmatched: room-sensor-1 Publish id 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// A driver that uses the DriverWorks environment: its project from a file,
// its web from declared answers, a faster clock, and a restart mid-run
// that keeps its persisted data. The summary names every C4 function it
// called and how the environment gives it.
func TestLuaRunsADriverInItsEnvironment(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, "lua", "../../fixtures/drivers/weather-feed",
		"--property", "Broker Host={{dut.host}}", "--property", "Broker Port={{dut.port}}",
		"--http", "../../fixtures/http/weather.yaml", "--project", "../../controller/lua/testdata/project.yaml",
		"--time-scale", "0.01", "--reload-after", "300ms", "--for", "2s",
		"--command", "LUA_ACTION:ACTION=READ_NOW")
	if code != exitPassed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"restarting the driver after 300ms",
		"C4 functions: ",
		"  UpdateProperty ",
		"GET http://weather.example/now (answer 0)",
		"Lua errors: 0",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout)
		}
	}
	// Two starts, each reading once on connecting and once more on the
	// command (the first start only), then every 300 s of the driver's
	// clock: at 0.01, every 3 s of ours, so not within the run. The second
	// start has 1.7 s to connect and read: with 0.5 s, on a machine with
	// both cores busy, it once had not read by the end.
	if n := strings.Count(stdout, "GET http://weather.example/now (answer 0)"); n != 3 {
		t.Errorf("%d requests answered, want 3 (two starts and the command):\n%s", n, stdout)
	}
}

func TestLuaCallsTableNamesMissingFunctions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "driver.lua")
	os.WriteFile(path, []byte("function OnDriverInit()\n  C4:InvalidateState()\n  if C4.NoSuchThing then C4:NoSuchThing() end\n  C4:UpdateProperty('x', '1')\nend\n"), 0o644)
	code, stdout, stderr := runCmd(t, "lua", path, "--for", "0s")
	if code != exitPassed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, re := range []string{
		`C4 functions: 3 \(1 emulated, 1 recorded only, 1 missing\)`,
		`\n  InvalidateState +1  recorded only\n`,
		`\n  NoSuchThing +\d+  missing\n`,
		`\n  UpdateProperty +1  emulated\n`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("the calls table does not match %s:\n%s", re, stdout)
		}
	}
}

func TestLuaPathReachesSharedModules(t *testing.T) {
	dir := t.TempDir()
	drv, lib := filepath.Join(dir, "driver"), filepath.Join(dir, "lib")
	os.MkdirAll(filepath.Join(lib, "shared"), 0o755)
	os.MkdirAll(drv, 0o755)
	os.WriteFile(filepath.Join(lib, "shared", "greet.lua"), []byte("return { hello = function() return 'hi' end }\n"), 0o644)
	os.WriteFile(filepath.Join(drv, "driver.lua"), []byte("local g = require('shared.greet')\nfunction OnDriverInit() print(g.hello()) end\n"), 0o644)
	if code, stdout, stderr := runCmd(t, "lua", drv, "--for", "0s"); code != exitFailed || !strings.Contains(stderr, "shared.greet") {
		t.Errorf("without --lua-path: exit %d, want %d naming the module\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	code, stdout, stderr := runCmd(t, "lua", drv, "--lua-path", lib, "--for", "0s")
	if code != exitPassed || !strings.Contains(stdout, "driver: hi") {
		t.Errorf("with --lua-path: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// With a project, the project's other drivers run too, and a msgId one of
// them never had answered fails the run as the driver's own would.
func TestLuaHoldsTheProjectsDriversToThePromise(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	peer := filepath.Join(dir, "peer")
	os.MkdirAll(peer, 0o755)
	os.WriteFile(filepath.Join(peer, "driver.lua"), []byte(`
		function OnDriverLateInit()
			m = C4:MQTT("peer-1")
			m:OnConnect(function(_, rc) if rc == 0 then m:Publish("home/peer", "hi", 1, false) end end)
			m:Connect(Properties["Host"], tonumber(Properties["Port"]), 30)
		end`), 0o644)
	project := filepath.Join(dir, "project.yaml")
	os.WriteFile(project, []byte("devices:\n  - id: 1002\n    driver: peer\n    properties: {Host: '{{dut.host}}', Port: '{{dut.port}}'}\n"), 0o644)
	plan := filepath.Join(dir, "lose.yaml")
	os.WriteFile(plan, []byte("rules:\n  - name: lose\n    match: {direction: to_client, packet: PUBACK, client: peer-1}\n    drop: {}\n"), 0o644)
	code, stdout, stderr := runCmd(t, "lua", "../../fixtures/drivers/mqtt-hub", "--project", project, "--plan", plan,
		"--property", "Broker Host={{dut.host}}", "--property", "Broker Port={{dut.port}}", "--for", "500ms")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d for the other driver's unanswered message\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	if !strings.Contains(stdout, "device 1002: ") || !strings.Contains(stderr, "unanswered: device 1002: peer-1 Publish id 1") {
		t.Errorf("the other driver's message is not reported:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
