package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/remote"
	"github.com/mqtthil/mqtthil/report"
)

// TestRemoteControllerMatchesSim runs the feature suite against the
// simulated controller and against the remote controller on virtual
// stations (the probe driver in the Lua runtime, every call and callback
// over the control channel) and requires the same outcome for every
// scenario (matchPaths under the race detector). A scenario whose outcomes
// differ is run again on both, up to three times, and counts as the same
// once a round agrees.
func TestRemoteControllerMatchesSim(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the feature suite twice")
	}
	requireSameOutcomes(t, "remote", "virtual", matchPaths())
}

func TestProbeBuild(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "probe.c4z")
	var stdout, stderr strings.Builder
	if code := runProbe(t.Context(), []string{"build", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// The package loads in the Lua runtime as a driver does on the
	// controller: its properties are the probe's.
	rt, err := lua.New(lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Load(out); err != nil {
		t.Fatal(err)
	}
	info := rt.Info()
	names := map[string]bool{}
	for _, p := range info.Properties {
		names[p.Name] = true
	}
	for _, want := range []string{"Harness Host", "Control Port", "Station ID", "Control User", "Control Password", "Heartbeat (s)"} {
		if !names[want] {
			t.Errorf("the probe has no property %q", want)
		}
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteNeedsStation(t *testing.T) {
	cfg := runConfig{controller: "remote", station: "bench.yaml", concurrency: 1, timeScale: 1, out: t.TempDir(), format: "progress", paths: []string{"../../features/faults.feature"}}
	if _, err := execute(t.Context(), cfg, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "--station") {
		t.Fatalf("err = %v", err)
	}
}

// A run folder carries SHA256SUMS; mqtthil verify finds a changed file.
// The run's two scenarios are on virtual time (they only need to leave a
// folder behind: journals, scenario records, the reports).
func TestVerifyRunFolder(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cfg := runConfig{controller: "sim", concurrency: 2, seed: 1, timeScale: 1, virtual: t, out: out, format: "progress", fixtures: "../../fixtures",
		paths: []string{"../../features/faults.feature:11", "../../features/faults.feature:25"}}
	if _, err := execute(t.Context(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := runVerify(t.Context(), []string{out}, &stdout, &stderr); code != 0 {
		t.Fatalf("verify a fresh run folder: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if err := os.WriteFile(filepath.Join(out, report.ManifestFile), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := runVerify(t.Context(), []string{out}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), report.ManifestFile+": changed") {
		t.Fatalf("verify after a change: exit %d\n%s", code, stdout.String())
	}
}

func writeStation(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "station.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A station file's expectations are checked before the first scenario: a
// controller that is not the one expected stops the run with no results.
func TestStationHealthCheck(t *testing.T) {
	t.Parallel()
	// Two scenarios, two at a time: the check is what is tested here; the
	// whole feature runs on virtual stations, and is held to sim, in
	// TestRemoteControllerMatchesSim.
	paths := []string{"../../features/onpublish_outcomes.feature:49", "../../features/onpublish_outcomes.feature:65"}
	run := func(station string, concurrency int) error {
		out := t.TempDir()
		cfg := runConfig{controller: "remote", station: station, concurrency: concurrency, seed: 1, timeScale: 0.05, out: out, format: "progress", fixtures: "../../fixtures", paths: paths}
		_, err := execute(t.Context(), cfg, io.Discard)
		if err != nil {
			if files, _ := filepath.Glob(filepath.Join(out, report.ScenariosDir, "*")); len(files) > 0 {
				t.Errorf("a run stopped by its health check left %d scenario file(s)", len(files))
			}
		}
		return err
	}
	if err := run(writeStation(t, "name: v\nvirtual: true\nexpect:\n  device_id: \"1001\"\n  probe_version: \"1\"\n"), 2); err != nil {
		t.Fatalf("the expected controller: %v", err)
	}
	err := run(writeStation(t, "name: v\nvirtual: true\nexpect:\n  device_id: \"9999\"\n"), 2)
	if err == nil || !strings.Contains(err.Error(), `health check: the controller reports device id "1001"; station v expects "9999"`) {
		t.Fatalf("another controller: %v", err)
	}
	err = run(writeStation(t, "name: v\nvirtual: true\nspeed: 3\n"), 2)
	if err == nil || !strings.Contains(err.Error(), "speed") {
		t.Fatalf("an unknown key: %v", err)
	}
	err = run(writeStation(t, "station_id: b\ncontrol:\n  listen: 127.0.0.1:0\n"), 4)
	if err == nil || !strings.Contains(err.Error(), "--concurrency 1") {
		t.Fatalf("a bench with concurrency 4: %v", err)
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// mqtthil station --virtual as a bench: the probe starts first and waits
// for the run's control listener; the run gives the same outcomes as sim.
// Three scenarios of different shapes (a fault on the bench's DUT
// listener, an MQTT 5 reason code, payloads from a doc string and a
// fixture file) cross the bench: the whole feature's outcomes on the
// remote controller are held to sim by TestRemoteControllerMatchesSim.
func TestVirtualBenchStation(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs scenarios on a station")
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- runStationWith(ctx, []string{"--virtual", "--control", addr, "--station-id", "bench-t", "--user", "probe", "--password", "pw"}, &stdout, &stderr, 0.05)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("station exit %d: %s", code, stderr.String())
		}
	}()
	station := writeStation(t, fmt.Sprintf("name: bench\nstation_id: bench-t\ncontrol:\n  listen: %s\n  user: probe\n  password: pw\ndut:\n  listen: 127.0.0.1:0\n  host: 127.0.0.1\ntimeouts:\n  connect: 30s\n  request: 10s\n", addr))
	const feature = "features/onpublish_outcomes.feature"
	lines := []string{"49", "65", "88"}
	var paths []string
	for _, l := range lines {
		paths = append(paths, "../../"+feature+":"+l)
	}
	out := t.TempDir()
	cfg := runConfig{controller: "remote", station: station, concurrency: 1, seed: 1, timeScale: 0.05, out: out, format: "progress", fixtures: "../../fixtures", paths: paths}
	// sim's outcomes for the feature are those of the shared baseline,
	// which holds it.
	var r *runResult
	baseline, err := withSimOutcomes(t, matchPaths(), func() (err error) {
		r, err = execute(t.Context(), cfg, io.Discard)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rem := map[string]string{}
	for _, s := range r.scenarios {
		rem[s.Feature+": "+s.Name] = s.Outcome + " " + accountLine(s.Account)
	}
	if len(rem) != len(lines) {
		t.Fatalf("the run on the bench gave %d scenario(s), want %d (lines %v): %v", len(rem), len(lines), lines, rem)
	}
	sim := map[string]string{}
	for k := range rem {
		if v, ok := baseline[k]; ok {
			sim[k] = v
		}
	}
	if d := differing(sim, rem); len(d) > 0 {
		for _, k := range d {
			t.Errorf("%s\n  sim:    %s\n  remote: %s", k, sim[k], rem[k])
		}
	}
	if r.identity.Kind != "remote" || r.identity.DriverVersion != "probe 1" {
		t.Errorf("identity %+v", r.identity)
	}
	run, err := report.LoadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if m := run.Manifest; !strings.HasPrefix(m.Station, "bench on ") || m.Controller.DriverVersion != "probe 1" {
		t.Errorf("manifest station %q, controller %+v", m.Station, m.Controller)
	}
	if p, err := report.VerifySums(out); err != nil || len(p) > 0 {
		t.Errorf("SHA256SUMS: %v %v", p, err)
	}
}

// An interrupted run (its context ended, as SIGINT ends it) runs no more
// scenarios, records them as not run, and still writes its folder.
func TestInterruptedRun(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := runConfig{controller: "sim", concurrency: 2, seed: 1, timeScale: 0.05, out: out, format: "progress", fixtures: "../../fixtures", paths: []string{"../../features/faults.feature"}}
	r, err := execute(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.scenarios) == 0 {
		t.Fatal("no scenario records")
	}
	for _, s := range r.scenarios {
		if s.Outcome != report.Skipped || !strings.Contains(s.Account, "not run: the run was interrupted") {
			t.Errorf("%s: %s %q", s.Name, s.Outcome, s.Account)
		}
	}
	if p, err := report.VerifySums(out); err != nil || len(p) > 0 {
		t.Errorf("SHA256SUMS: %v %v", p, err)
	}
}

func TestInterruptedRunExitCode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr strings.Builder
	code := runRun(ctx, []string{"--time-scale", "0.05", "--fixtures", "../../fixtures", "--out", t.TempDir(), "../../features/faults.feature"}, &stdout, &stderr)
	if code != exitHarness || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
}

// A bench station whose control listener is off loopback without
// credentials is refused before any listener opens, as `mqtthil broker`
// refuses one.
func TestBenchStationOffLoopbackNeedsCredentials(t *testing.T) {
	var st remote.Station
	st.Name, st.StationID = "bench", "bench"
	st.Control.Listen = "0.0.0.0:0"
	st.Timeouts.Connect = 1e9 // one second: before the rule, the run waited this long for a probe
	_, err := benchStation(runConfig{concurrency: 1}, st)
	if err == nil || !strings.Contains(err.Error(), "not on loopback") {
		t.Fatalf("benchStation: %v, want a refusal for an anonymous listener off loopback", err)
	}
}
