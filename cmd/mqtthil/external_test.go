package main

// Tests with MQTT clients no one here wrote: Debian's mosquitto-clients
// (mosquitto_pub, mosquitto_sub) against `mqtthil broker` with a plan.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

// needTool finds an outside tool. Missing, it skips the test, or fails it
// when MQTTHIL_REQUIRE_EXTERNAL=1 (as in CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("MQTTHIL_REQUIRE_EXTERNAL") == "1" {
		t.Fatalf("%s is not installed and MQTTHIL_REQUIRE_EXTERNAL=1: install Debian's mosquitto-clients (apt-get install mosquitto-clients)", name)
	}
	t.Skipf("%s is not installed: install Debian's mosquitto-clients to run this test (MQTTHIL_REQUIRE_EXTERNAL=1 makes this a failure)", name)
	return ""
}

// tool is an outside client running with a deadline.
type tool struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
	elapsed        time.Duration
}

func startTool(t *testing.T, timeout time.Duration, name string, args ...string) *tool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tl := &tool{cmd: exec.CommandContext(ctx, name, args...), done: make(chan struct{})}
	tl.cmd.Stdout, tl.cmd.Stderr = &tl.stdout, &tl.stderr
	tl.cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := tl.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		tl.err = tl.cmd.Wait()
		tl.elapsed = time.Since(start)
		close(tl.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-tl.done
	})
	return tl
}

// wait waits up to d for the tool to exit and reports whether it did.
func (tl *tool) wait(d time.Duration) bool {
	select {
	case <-tl.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (tl *tool) exited() bool {
	select {
	case <-tl.done:
		return true
	default:
		return false
	}
}

func (tl *tool) output() string {
	return "stdout: " + tl.stdout.String() + "\nstderr: " + tl.stderr.String()
}

func faultCounters(p *brokerProc, name string) (matched, fired int) {
	var list emulator.FaultList
	p.get("/faults", &list)
	for _, r := range list.Rules {
		if r.Rule.Name == name {
			return r.Matched, r.Fired
		}
	}
	p.t.Fatalf("rule %q is not armed: %+v", name, list.Rules)
	return 0, 0
}

// The PUBACK is lost on its way back: mosquitto_sub gets the message,
// mosquitto_pub never hears that it was delivered.
func TestMosquittoDeliveredButAckLost(t *testing.T) {
	sub := needTool(t, "mosquitto_sub")
	pub := needTool(t, "mosquitto_pub")
	t.Parallel()
	p := startBroker(t, `seed: 1
rules:
  - name: lose-first-puback
    match: {direction: to_client, packet: PUBACK, client: hil-pub, nth: 1}
    drop: {}
`)
	host, port := p.dutHostPort()

	s := startTool(t, time.Minute, sub, "-h", host, "-p", port, "-i", "hil-sub", "-t", "hil/ack", "-q", "1", "-C", "1", "-W", "50")
	p.records("type=SUBACK&client=hil-sub", 1, 20*time.Second)

	pb := startTool(t, time.Minute, pub, "-h", host, "-p", port, "-i", "hil-pub", "-t", "hil/ack", "-q", "1", "-m", "delivered-ack-lost")
	if !s.wait(30 * time.Second) {
		t.Fatalf("mosquitto_sub got nothing within 30s\n%s", s.output())
	}
	if s.err != nil || strings.TrimSpace(s.stdout.String()) != "delivered-ack-lost" {
		t.Fatalf("mosquitto_sub: %v\n%s", s.err, s.output())
	}

	acks := p.records("type=PUBACK&dir=to_client&client=hil-pub", 1, 20*time.Second)
	if !acks[0].Dropped || acks[0].Rule != "lose-first-puback" {
		t.Errorf("the PUBACK to mosquitto_pub was not dropped by the rule: %+v", acks[0])
	}
	if delivered := p.records("type=PUBACK&dir=to_client&client=hil-pub&dropped=no", 0, 0); len(delivered) != 0 {
		t.Errorf("a PUBACK reached mosquitto_pub: %+v", delivered)
	}
	if _, fired := faultCounters(p, "lose-first-puback"); fired != 1 {
		t.Errorf("rule fired %d times, want 1", fired)
	}
	if pb.exited() {
		t.Errorf("mosquitto_pub finished although its PUBACK was lost: %v\n%s", pb.err, pb.output())
	}
}

// The PUBACK comes back late: mosquitto_pub -q 1 takes at least the delay.
func TestMosquittoDelayedAck(t *testing.T) {
	pub := needTool(t, "mosquitto_pub")
	t.Parallel()
	const delay = 700 * time.Millisecond
	p := startBroker(t, `rules:
  - name: slow-ack
    match: {direction: to_client, packet: PUBACK}
    delay: {duration: 700ms}
`)
	host, port := p.dutHostPort()

	pb := startTool(t, time.Minute, pub, "-h", host, "-p", port, "-i", "hil-slow", "-t", "hil/slow", "-q", "1", "-m", "late")
	if !pb.wait(50 * time.Second) {
		t.Fatalf("mosquitto_pub did not finish\n%s", pb.output())
	}
	if pb.err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", pb.err, pb.output())
	}
	if pb.elapsed < delay {
		t.Errorf("mosquitto_pub -q 1 took %s, less than the %s the PUBACK was held back", pb.elapsed, delay)
	}
	acks := p.records("type=PUBACK&dir=to_client&client=hil-slow", 1, 10*time.Second)
	if acks[0].Rule != "slow-ack" || acks[0].Action != "delay" || acks[0].Dropped {
		t.Errorf("PUBACK record %+v, want it delayed by slow-ack", acks[0])
	}
}

// CONNECT is refused with "not authorised": mosquitto_pub gives up with a
// non-zero exit and says why, in MQTT 3.1.1 and in MQTT 5.
func TestMosquittoRefusedConnect(t *testing.T) {
	pub := needTool(t, "mosquitto_pub")
	t.Parallel()
	p := startBroker(t, `rules:
  - name: not-authorised
    match: {direction: to_broker, packet: CONNECT}
    refuse: {code: 5}
`)
	host, port := p.dutHostPort()
	for i, version := range []string{"mqttv311", "mqttv5"} {
		pb := startTool(t, time.Minute, pub, "-h", host, "-p", port, "-V", version, "-i", "hil-refused-"+version, "-t", "hil/x", "-q", "1", "-m", "never")
		if !pb.wait(50 * time.Second) {
			t.Fatalf("%s: mosquitto_pub did not give up\n%s", version, pb.output())
		}
		var exit *exec.ExitError
		if !errors.As(pb.err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%s: mosquitto_pub exit %v, want a non-zero exit\n%s", version, pb.err, pb.output())
		}
		if out := strings.ToLower(pb.output()); !strings.Contains(out, "authori") {
			t.Errorf("%s: mosquitto_pub does not report the refusal:\n%s", version, pb.output())
		}
		if _, fired := faultCounters(p, "not-authorised"); fired != i+1 {
			t.Errorf("%s: rule fired %d times, want %d", version, fired, i+1)
		}
	}
	if pubs := p.records("type=PUBLISH", 0, 0); len(pubs) != 0 {
		t.Errorf("a refused client got a PUBLISH through: %+v", pubs)
	}
}

// mosquitto_pub over TLS, with a client certificate, against `mqtthil
// broker --tls-cert --tls-key --tls-client-ca`: the fault layer works inside
// the TLS stream.
func TestMosquittoOverTLS(t *testing.T) {
	pub := needTool(t, "mosquitto_pub")
	t.Parallel()
	certs, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := startBroker(t, `rules:
  - name: lose-puback
    match: {direction: to_client, packet: PUBACK}
    drop: {}
`, "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-client-ca", certs.CAFile)
	host, port := p.dutHostPort()
	// Without a client certificate the broker refuses the handshake.
	pb := startTool(t, time.Minute, pub, "-h", host, "-p", port, "--cafile", certs.CAFile, "-i", "hil-tls-nocert", "-t", "hil/tls", "-q", "0", "-m", "x")
	if !pb.wait(50*time.Second) || pb.err == nil {
		t.Fatalf("mosquitto_pub without a client certificate: %v\n%s", pb.err, pb.output())
	}
	// With one, QoS 0 goes through; the QoS 1 PUBACK is dropped inside TLS.
	pb = startTool(t, time.Minute, pub, "-h", host, "-p", port, "--cafile", certs.CAFile, "--cert", certs.ClientCert, "--key", certs.ClientKey,
		"-i", "hil-tls", "-t", "hil/tls", "-q", "0", "-m", "through tls")
	if !pb.wait(50*time.Second) || pb.err != nil {
		t.Fatalf("mosquitto_pub with a client certificate: %v\n%s", pb.err, pb.output())
	}
	recs := p.records("type=PUBLISH&client=hil-tls", 1, 10*time.Second)
	if len(recs) != 1 || recs[0].Topic != "hil/tls" || recs[0].PayloadSize != len("through tls") {
		t.Fatalf("journal: %+v", recs)
	}
	pb = startTool(t, time.Minute, pub, "-h", host, "-p", port, "--cafile", certs.CAFile, "--cert", certs.ClientCert, "--key", certs.ClientKey,
		"-i", "hil-tls-q1", "-t", "hil/tls", "-q", "1", "-m", "ack lost")
	if dropped := p.records("type=PUBACK&client=hil-tls-q1", 1, 10*time.Second); len(dropped) != 1 || !dropped[0].Dropped {
		t.Fatalf("PUBACK records: %+v", dropped)
	}
	if pb.exited() {
		t.Fatalf("mosquitto_pub finished although its PUBACK was dropped:\n%s", pb.output())
	}
}
