// Listener isolation, checked with clients no one here wrote: Debian's
// mosquitto_sub and mosquitto_pub.
package emulator_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// mosquitto finds a mosquitto client, skipping the test when it is not
// installed (failing it when MQTTHIL_REQUIRE_EXTERNAL=1).
func mosquitto(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MQTTHIL_REQUIRE_EXTERNAL") == "1" {
			t.Fatalf("%s is not installed and MQTTHIL_REQUIRE_EXTERNAL=1", name)
		}
		t.Skipf("%s is not installed (Debian's mosquitto-clients)", name)
	}
	return path
}

// lineTool runs a client and hands its stdout over line by line.
func lineTool(t *testing.T, name string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	// Line-buffered: the clients' debug lines (SUBACK) are not flushed on
	// their own when stdout is a pipe.
	if sb, err := exec.LookPath("stdbuf"); err == nil {
		args = append([]string{"-oL", name}, args...)
		name = sb
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	return lines
}

// until reads lines until one contains want, and returns those before it.
func until(t *testing.T, lines <-chan string, want string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the client ended before %q; it printed %q", want, seen)
			}
			if strings.Contains(l, want) {
				return seen
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("no %q within 30s; the client printed %q", want, seen)
		}
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := toolOutput(name, args...); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func toolOutput(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// A client of the DUT listener, with the DUT's credentials, neither reads
// nor writes the control channel's topics or $SYS; a control client sees
// everything.
func TestDUTClientsKeptOutOfControlTopics(t *testing.T) {
	sub, pub := mosquitto(t, "mosquitto_sub"), mosquitto(t, "mosquitto_pub")
	b := emulator.StartTest(t, emulator.Options{
		DUTAuth:     map[string]string{"driver": "dpw"},
		ControlAuth: map[string]string{"harness": "hpw"},
	})
	dutHost, dutPort := splitAddr(t, b.DUTAddr)
	ctlHost, ctlPort := splitAddr(t, b.ControlAddr)
	dut := []string{"-h", dutHost, "-p", dutPort, "-u", "driver", "-P", "dpw", "-q", "1"}
	ctl := []string{"-h", ctlHost, "-p", ctlPort, "-u", "harness", "-P", "hpw", "-q", "1"}

	// Reading: a DUT subscriber to everything it can name.
	dutSub := lineTool(t, sub, append(dut, "-d", "-v", "-i", "dut-sub", "-t", "#", "-t", "$SYS/#", "-t", "mqtthil/#", "-t", "$share/g/mqtthil/#")...)
	until(t, dutSub, "received SUBACK")
	runTool(t, pub, append(ctl, "-i", "ctl-pub", "-t", "mqtthil/bench-1/req", "-m", "control-secret")...)
	runTool(t, pub, append(ctl, "-i", "ctl-pub", "-t", "dev/end", "-m", "sentinel")...)
	before := until(t, dutSub, "dev/end sentinel")
	for _, l := range before {
		if strings.Contains(l, "control-secret") || strings.HasPrefix(l, "$SYS") {
			t.Errorf("the DUT subscriber got %q", l)
		}
	}
	for _, r := range b.Journal.Records(journal.Filter{Client: "dut-sub", Dir: "to_client", Type: "PUBLISH"}) {
		if r.Topic != "dev/end" {
			t.Errorf("journal: the DUT subscriber was sent %s", r.Topic)
		}
	}

	// Writing: a DUT client injecting into the control channel; the control
	// observer also sees $SYS.
	ctlSub := lineTool(t, sub, append(ctl, "-d", "-v", "-i", "ctl-sub", "-t", "mqtthil/#", "-t", "$SYS/#", "-t", "check/end")...)
	until(t, ctlSub, "received SUBACK")
	// mochi cuts an MQTT 3.1.1 client off for a QoS 1 publish it may not
	// make, as the standard allows: mosquitto_pub reports the lost
	// connection.
	if out, err := toolOutput(pub, append(dut, "-i", "dut-pub", "-t", "mqtthil/bench-1/resp", "-m", "injected")...); err == nil {
		t.Errorf("mosquitto_pub on the DUT listener published to the control channel: %s", out)
	}
	runTool(t, pub, append(dut, "-i", "dut-pub", "-t", "check/end", "-m", "sentinel")...)
	sawSys := false
	for _, l := range until(t, ctlSub, "check/end sentinel") {
		if strings.Contains(l, "injected") {
			t.Errorf("the control observer got the DUT client's %q", l)
		}
		sawSys = sawSys || strings.HasPrefix(l, "$SYS/")
	}
	if !sawSys {
		t.Error("the control observer got no $SYS message")
	}
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("address %q has no port", addr)
	}
	return addr[:i], addr[i+1:]
}
