// Tests of the run's verdict as an exit code: the harness's and the
// fixtures' trouble is 3, the controller's is 1, usage is 2.
package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/difftest"
	"github.com/mqtthil/mqtthil/record"
)

// writeFeature writes a one-scenario feature into a fresh folder.
func writeFeature(t *testing.T, steps ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "x.feature")
	src := "Feature: f\n  Scenario: s\n    Given a client \"sensor\"\n"
	for _, s := range steps {
		src += "    And " + s + "\n"
	}
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	fixtures, _ := filepath.Abs("../../fixtures")
	typo := t.TempDir()
	os.WriteFile(filepath.Join(typo, "typo.yaml"), []byte("rules:\n  - name: x\n    match: {packet: PUBAK}\n    drop: {}\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing plan", []string{"--fixtures", fixtures, writeFeature(t, `the broker follows the fault plan "plans/no-such.yaml"`)}, exitHarness, "no-such.yaml"},
		{"plan typo", []string{"--fixtures", typo, writeFeature(t, `the broker follows the fault plan "typo.yaml"`)}, exitHarness, "PUBAK"},
		{"missing driver", []string{"--fixtures", fixtures, writeFeature(t, `the driver "drivers/no-such" is running`)}, exitHarness, "drivers/no-such"},
		{"misspelt client", []string{"--fixtures", fixtures, writeFeature(t, `the broker answers the next PUBACK to "sensr" with reason 16`,
			`client "sensor" is connected`, `client "sensor" publishes "x" to "home/t" with QoS 1`)}, exitHarness, `never fired`},
		{"controller's failure", []string{"--fixtures", fixtures, writeFeature(t, `client "sensor" is connected`,
			`client "sensor" publishes "x" to "home/t" with QoS 1`, `the call returns 3 and no message id`)}, exitFailed, "failed"},
		{"bad tags", []string{"--tags", "@mqtt5&&", "testdata/fails"}, exitUsage, `a tag is missing at column 9`},
		{"bad tag", []string{"--tags", "@a,@b c", "testdata/fails"}, exitUsage, `"@b c" at column 4 is not a tag`},
		{"station without remote", []string{"--station", "virtual", "testdata/fails"}, exitUsage, "needs --controller remote"},
		{"no scenario", []string{"--tags", "@nothing", "testdata/fails"}, exitUsage, "no scenario to run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"run", "--out", t.TempDir()}, tc.args...)...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
}

// Fixtures are found beside the features, not in the folder the run starts
// in.
func TestRunFromAnotherFolder(t *testing.T) {
	// The scenario that follows a fault plan from the fixtures, which a
	// run from elsewhere must still find.
	abs, _ := filepath.Abs("../../features/faults.feature")
	feature := abs + ":64"
	if b, err := os.ReadFile(abs); err != nil || !strings.Contains(strings.Split(string(b), "\n")[63], "Scenario: slow acks from a fault plan") {
		t.Fatalf("faults.feature line 64 is no longer the fault plan scenario (%v)", err)
	}
	out := t.TempDir()
	t.Chdir(t.TempDir())
	code, stdout, stderr := runCmd(t, "run", "--out", out, "--time-scale", "0.2", feature)
	if code != exitPassed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// JUnit names the feature from the run's root, not from where it began,
	// and without the line it was asked for by.
	if b, _ := os.ReadFile(filepath.Join(out, "junit.xml")); !strings.Contains(string(b), `classname="features/faults.feature"`) {
		t.Errorf("junit.xml class names:\n%s", b)
	}
	code, _, stderr = runCmd(t, "run", "--out", out, "--fixtures", "nowhere", feature)
	if code != exitHarness || !strings.Contains(stderr, "looked up in nowhere") {
		t.Fatalf("a fixtures folder that does not exist: exit %d\n%s", code, stderr)
	}
}

// Every outline row has a name of its own that says its values.
func TestRunOutlineNames(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "o.feature")
	os.WriteFile(f, []byte(`Feature: o
  Scenario Outline: publish at every QoS
    Given a client "c"
    And client "c" is connected
    When client "c" publishes "x" to "home/t" with QoS <qos>
    Then the call returns 0 and a message id

    Examples:
      | qos |
      | 1   |
      | 2   |
`), 0o644)
	out := t.TempDir()
	if code, stdout, stderr := runCmd(t, "run", "--out", out, f); code != exitPassed {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, file := range []string{"junit.xml", "cucumber.json"} {
		b, _ := os.ReadFile(filepath.Join(out, file))
		for _, want := range []string{"publish at every QoS (qos=1)", "publish at every QoS (qos=2)"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", file, want)
			}
		}
	}
}

// The console prints each scenario whole when it ends: a line (progress) or
// a block with its steps and their lines (pretty), never interleaved.
func TestRunConsole(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCmd(t, "run", "--fingerprint", "warn", "--out", t.TempDir(), "--format", "pretty", "--concurrency", "2", "testdata/fails")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	body, _, _ := strings.Cut(stdout, "\nmqtthil: ")
	// The fingerprint's line comes first, before any scenario.
	first, rest, _ := strings.Cut(body, "\n")
	if !strings.HasPrefix(first, "fingerprint (") {
		t.Errorf("the run does not start with the fingerprint:\n%s", stdout)
	}
	body = rest
	blocks := strings.Split(strings.TrimSpace(body), "\n\n")
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2:\n%s", len(blocks), stdout)
	}
	for _, b := range blocks {
		lines := strings.Split(b, "\n")
		if !strings.HasPrefix(lines[0], "cmd/mqtthil/testdata/fails/fails.feature: ") {
			t.Errorf("block does not start with its scenario:\n%s", b)
		}
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "  ") {
				t.Errorf("a line of another scenario inside a block:\n%s", b)
			}
		}
	}
	if !strings.Contains(stdout, "  failed    :7    the call returns 3 and no message id") {
		t.Errorf("the failed step is not shown with its line:\n%s", stdout)
	}
	if strings.Contains(stdout, "steps (") { // godog's summary, with a duration of its own
		t.Errorf("a second summary with its own duration:\n%s", stdout)
	}
	_, stdout, _ = runCmd(t, "run", "--out", t.TempDir(), "testdata/fails")
	if !strings.Contains(stdout, "] passed    cmd/mqtthil/testdata/fails/fails.feature: right expectation") {
		t.Errorf("progress does not name the scenarios as they end:\n%s", stdout)
	}
}

// On mosq, a scenario the divergence list names is an expected divergence
// with the list's reason, not a failure; one that passed is reported as a
// divergence that no longer happens.
func TestApplyDivergence(t *testing.T) {
	kept := map[string]difftest.Divergence{"features/a.feature: s": {Scenario: "features/a.feature: s", Action: "accept", Reason: "the library misses the keep-alive"}}
	for _, tc := range []struct {
		uri, status, want, stale string
	}{
		{"features/a.feature", record.Failed, record.Diverged, ""},
		{"features/a.feature", record.TimedOut, record.Diverged, ""},
		{"features/a.feature", record.Error, record.Error, ""},
		{"features/a.feature", record.Passed, record.Passed, "features/a.feature: s"},
		{"features/b.feature", record.Failed, record.Failed, ""},
	} {
		r := &record.Scenario{URI: tc.uri, Name: "s", Status: tc.status, Error: "no onDisconnect"}
		stale := applyDivergence(r, kept)
		if r.Status != tc.want || stale != tc.stale {
			t.Errorf("%s %s: status %q stale %q, want %q %q", tc.uri, tc.status, r.Status, stale, tc.want, tc.stale)
		}
		if r.Status == record.Diverged && !strings.Contains(r.Error, "misses the keep-alive") {
			t.Errorf("the reason is not given: %q", r.Error)
		}
	}
	// The shipped list may be empty (it is when the model and the library
	// agree everywhere), but it must read.
	if _, err := difftest.Divergences(); err != nil {
		t.Fatalf("the divergence list: %v", err)
	}
}
