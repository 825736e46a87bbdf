//go:build libmosquitto

// Tests that calls reach libmosquitto as they are: the codes here are the
// library's own, with no check of this package in front of them, and a
// failed TLS handshake is reported as the linked release's loop reports it.
package mosq

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

// newBare makes a controller, closed when the test ends, and one client
// of it that has not connected.
func newBare(t testing.TB, id string) (*Controller, *Client) {
	t.Helper()
	ctl := New()
	t.Cleanup(func() {
		if err := ctl.Close(); err != nil {
			t.Error(err)
		}
	})
	c, err := ctl.NewMosqClient(id, true)
	if err != nil {
		t.Fatal(err)
	}
	return ctl, c
}

func TestConnectCodesComeFromTheLibrary(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	x := &h{t: t, b: b}
	_, port := x.hostPort()
	cases := []struct {
		name      string
		host      string
		port, ka  int
		want      int
		reconnect int // what Reconnect returns after it
	}{
		{"empty host", "", port, 60, controller.ErrEAI, controller.ErrEAI},
		{"unknown host", "no-such-host.invalid", port, 60, controller.ErrEAI, controller.ErrEAI},
		{"port 0", "127.0.0.1", 0, 60, controller.ErrErrno, controller.ErrErrno},
		{"port over 65535", "127.0.0.1", 65536, 60, controller.ErrInval, controller.ErrInval},
		{"keep-alive 4", "127.0.0.1", port, 4, controller.ErrInval, controller.ErrInval},
		{"port beyond a C int", "127.0.0.1", 1 << 40, 60, controller.ErrInval, controller.ErrInval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newBare(t, "mosq-calls")
			r := controller.NewRecorder(c)
			if got := c.Connect(tc.host, tc.port, tc.ka, nil); got.Code != tc.want {
				t.Fatalf("Connect = %+v, want %d", got, tc.want)
			}
			if got := c.Reconnect(); got.Code != tc.reconnect {
				t.Fatalf("Reconnect = %+v, want %d", got, tc.reconnect)
			}
			if evs := r.Events(); len(evs) != 0 {
				t.Fatalf("callbacks for calls that failed: %v", evs)
			}
		})
	}
}

// libmosquitto before 2.0.13 closes the socket of a failed handshake and
// says nothing; from 2.0.13 its loop reports onDisconnect(8).
func TestTLSFailureAsTheLibraryReportsIt(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := emulator.StartTest(t, emulator.Options{DUTTLS: certs.WrongName})
	x := &h{t: t, b: b}
	host, port := x.hostPort()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	x.ctx = ctx
	// On loopback the broker's answer can arrive while Connect is still
	// in the handshake, and the call itself then returns 8; only a
	// handshake that fails in the network loop shows what the loop does.
	var c *Client
	var r *controller.Recorder
	for attempt := 0; ; attempt++ {
		_, c = newBare(t, "mosq-calls")
		r = controller.NewRecorder(c)
		x.ok(c.SetTlsCertificates(certs.CAFile, "", "", ""), "SetTlsCertificates")
		rc := c.Connect(host, port, 60, nil)
		if rc.Code == 0 {
			break
		}
		if rc.Code != controller.ErrTLS || attempt == 9 {
			t.Fatalf("Connect = %+v", rc)
		}
		c.Destroy()
	}
	x.r, x.c = r, c
	linked := controller.Model{Name: "libmosquitto-" + Version(), Version: Version()}
	if !linked.Has(controller.ChangeTLSFailureCallback) {
		// The socket goes without a word: Disconnect finds none.
		deadline := time.Now().Add(10 * time.Second)
		for c.Disconnect(nil).Code != controller.ErrNoConn {
			if time.Now().After(deadline) {
				t.Fatal("the failed handshake left a connection")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Callbacks come in order: the onConnect of a good connection
		// follows anything the failure had reported.
		x.ok(c.SetTlsInsecure(true), "SetTlsInsecure")
		x.ok(c.Reconnect(), "Reconnect")
		x.waitEv(controller.Is(controller.OnConnect, 0), 1)
		if evs := r.Events(); evs[0].Kind != controller.OnConnect {
			t.Fatalf("the failed handshake was reported: %v", evs)
		}
		return
	}
	ev := x.waitEv(func(e controller.Event) bool { return e.Kind == controller.OnDisconnect }, 1)[0]
	if ev.Reason != controller.ErrTLS {
		t.Fatalf("onDisconnect(%d), want 8", ev.Reason)
	}
}

// A process with many files open hands the client a socket numbered above
// FD_SETSIZE, which mosquitto_loop's select refuses; the network loop
// must go on regardless.
func TestSocketAboveFDSetSize(t *testing.T) {
	var held []*os.File
	t.Cleanup(func() {
		for _, f := range held {
			_ = f.Close() // only held to use up descriptor numbers
		}
	})
	for len(held) < 1100 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Skipf("cannot hold enough descriptors open: %v", err)
		}
		held = append(held, f)
	}
	x := start(t, 311, nil)
	r := x.c.Publish("t", []byte("x"), 1, false, nil)
	if r.Code != 0 {
		t.Fatalf("Publish = %+v", r)
	}
	x.waitEv(controller.Is(controller.OnPublish, r.MsgID), 1)
}
