package remote

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtthil/mqtthil/emulator"
)

// A probe that comes online while the harness waits for the answer to a
// hello it sent too early (nobody was subscribed to the request topic):
// the probe's own hello event makes the harness ask again at once, so the
// dial does not sit out the request deadline.
func TestHelloAskedAgainWhenProbeComesOnline(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	const station = "late"
	requests := watchRequests(t, b.ControlAddr, station)
	type dialed struct {
		c   *Controller
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		// A deadline far beyond the test's: only the hello event can end
		// the wait in time.
		c, err := Dial(context.Background(), Config{Addr: b.ControlAddr, Station: station, Timeout: 10 * time.Minute, HeartbeatMisses: -1})
		done <- dialed{c, err}
	}()
	deadline := time.After(60 * time.Second)
	select {
	case r := <-requests:
		if r["op"] != "hello" {
			t.Fatalf("first request %v, want hello", r)
		}
	case d := <-done:
		t.Fatalf("Dial ended before any probe ran: %v", d.err)
	case <-deadline:
		t.Fatal("the harness sent no hello")
	}
	v, err := StartVirtual(t.Context(), VirtualOptions{Probe: probeDir, ControlAddr: b.ControlAddr, Station: station})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	select {
	case d := <-done:
		if d.err != nil {
			t.Fatalf("Dial: %v", d.err)
		}
		defer d.c.Close()
		if id := d.c.Identity(); id.DriverVersion != "probe 1" {
			t.Errorf("identity %+v", id)
		}
	case <-deadline:
		t.Fatal("the probe came online and said hello, but the harness still waits for the answer to its first hello")
	}
}

// watchRequests subscribes to a station's request topic and passes on
// each request the harness sends.
func watchRequests(t *testing.T, addr, station string) <-chan map[string]any {
	t.Helper()
	out := make(chan map[string]any, 16)
	onRequests(t, addr, station, "watch-"+station, func(_ *paho.Client, req map[string]any) {
		select {
		case out <- req:
		default:
		}
	})
	return out
}
