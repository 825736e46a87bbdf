package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/internal/syncbuf"
)

// dialMQTT connects an MQTT 3.1.1 client, written byte by byte, and waits
// for an accepting CONNACK.
func dialMQTT(t *testing.T, addr, id string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, byte(len(id))}, id...)
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := wire.ReadFrame(bufio.NewReader(c))
	if err != nil || raw[0] != 0x20 || raw[3] != 0 {
		t.Fatalf("CONNACK: % x, %v", raw, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = dispatch(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	code, _, stderr := run(t)
	if code != 2 || !strings.Contains(stderr, "broker") || !strings.Contains(stderr, "Subcommands:") {
		t.Errorf("no arguments: %d %q", code, stderr)
	}
	code, stdout, _ := run(t, "help")
	if code != 0 || !strings.Contains(stdout, "  broker ") {
		t.Errorf("help: %d %q", code, stdout)
	}
	code, _, stderr = run(t, "bogus")
	if code != 2 || !strings.Contains(stderr, `no subcommand "bogus"`) {
		t.Errorf("bogus: %d %q", code, stderr)
	}
	code, stdout, _ = run(t, "help", "broker")
	for _, f := range []string{"-dut", "-control", "-api", "-plan", "-seed", "-max-qos", "-receive-maximum",
		"-retain-available", "-max-packet-size", "-topic-alias-max", "-journal", "-journal-cap", "-journal-bytes",
		"-writes-pending", "-allow-anonymous", "-user", "-password", "-control-user", "-control-password"} {
		if !strings.Contains(stdout, "  "+f+" ") && !strings.Contains(stdout, "  "+f+"\n") {
			t.Errorf("help broker does not list %s", f)
		}
	}
	if code != 0 {
		t.Errorf("help broker: %d", code)
	}
}

func TestBrokerFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: a\n    match: {probability: 1.5}\n    drop: {}\n"), 0o644)
	free := []string{"--dut", "127.0.0.1:0", "--control", "127.0.0.1:0", "--api", "127.0.0.1:0"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--plan", bad}, 1, bad + ":3: rules[0].match.probability: 1.5 is outside 0..1"},
		{[]string{"--plan", filepath.Join(dir, "none.yaml")}, 1, "none.yaml"},
		{[]string{"--user", "u"}, 1, "--user needs --password"},
		{[]string{"--control-password", "p"}, 1, "--control-password needs --control-user"},
		{[]string{"--max-qos", "3"}, 1, "maximum_qos 3 is outside 0..2"},
		{[]string{"--max-qos", "x"}, 2, "want a whole number"},
		{[]string{"--receive-maximum", "70000"}, 1, "receive_maximum"},
		{[]string{"--seed", "1.5"}, 2, "want a whole number"},
		{[]string{"--journal-cap", "-1"}, 1, "--journal-cap"},
		{[]string{"--journal-bytes", "-2"}, 1, "--journal-bytes"},
		{[]string{"--writes-pending", "-1"}, 1, "--writes-pending"},
		{[]string{"--journal-bytes", "1TB"}, 2, "want a whole number of bytes"},
		{[]string{"--api", "0.0.0.0:0"}, 1, "not on loopback"},
		{[]string{"--dut", "0.0.0.0:0"}, 1, "not on loopback"},
		{[]string{"--journal", filepath.Join(dir, "no", "such", "dir", "j.jsonl")}, 1, "journal:"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--tls-cert", bad}, 1, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", bad, "--tls-key", bad}, 1, "--tls-cert/--tls-key"},
		{[]string{"--nope"}, 2, "flag provided but not defined: -nope"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, append(append([]string{"broker"}, free...), c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("broker %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// runBroker in-process: flags reach the emulator, and cancelling the
// context (as SIGINT does) stops it with the journal flushed.
func TestRunBrokerInProcess(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "p.yaml")
	os.WriteFile(plan, []byte("seed: 3\nrules:\n  - {name: x, match: {packet: AUTH}, drop: {}}\n"), 0o644)
	jpath := filepath.Join(dir, "j.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runBroker(ctx, []string{"--dut", "127.0.0.1:0", "--control", "127.0.0.1:0", "--api", "",
			"--plan", plan, "--seed", "11", "--journal", jpath, "--max-qos", "1", "--retain-available=false",
			"--user", "dev", "--password", "pw", "--journal-bytes", "1MiB"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "ready\n") {
		select {
		case code := <-done:
			t.Fatalf("broker ended with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s %s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval, with a deadline
	}
	out := stdout.String()
	for _, want := range []string{"seed: 11 (--seed)", "plan: " + plan + " (1 rules)", "maximum_qos=1", "retain_available=false"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "api:") {
		t.Errorf("--api '' still serves the API:\n%s", out)
	}
	var dut string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "dut: "); ok {
			dut = v
		}
	}
	// Anonymous clients are refused: the DUT listener wants credentials.
	c, err := net.DialTimeout("tcp", dut, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4}, "anon"...)
	c.Write(append([]byte{0x10, byte(len(body))}, body...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := wire.ReadFrame(bufio.NewReader(c))
	if err != nil || raw[0] != 0x20 || raw[3] == 0 {
		t.Errorf("anonymous CONNECT answered % x, %v; want a refusing CONNACK", raw, err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop when its context ended")
	}
	if !strings.Contains(stderr.String(), "or 1048576 bytes") {
		t.Errorf("--journal-bytes 1MiB is not the journal's bound: %s", stderr.String())
	}
	f, err := os.Open(jpath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	if !strings.Contains(string(data), `"type":"CONNACK"`) {
		t.Errorf("journal file lacks the CONNACK:\n%s", data)
	}
}

// Credentials can come from the environment instead of flags.
func TestBrokerCredentialsFromEnv(t *testing.T) {
	t.Setenv("MQTTHIL_DUT_USER", "driver")
	code, _, stderr := run(t, "broker", "--dut", "127.0.0.1:0", "--control", "127.0.0.1:0", "--api", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "--user needs --password") {
		t.Fatalf("exit %d, stderr %q: the user name from MQTTHIL_DUT_USER was not read", code, stderr)
	}
}
