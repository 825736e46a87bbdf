package sim_test

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator/faults/wire"
)

// fake is a scripted broker for byte-exact packets the emulator cannot
// produce: one connection, read and written frame by frame.
type fake struct {
	t  testing.TB
	ln net.Listener
	nc net.Conn
	br *bufio.Reader
}

func newFake(t testing.TB) *fake {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() }) // the test is over; a failed close changes nothing
	return &fake{t: t, ln: ln}
}

func (f *fake) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fake) accept() {
	f.t.Helper()
	if err := f.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	nc, err := f.ln.Accept()
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = nc.Close() }) // the test is over; a failed close changes nothing
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	f.nc, f.br = nc, bufio.NewReader(nc)
}

// read returns the next packet from the client.
func (f *fake) read() []byte {
	f.t.Helper()
	raw, err := wire.ReadFrame(f.br)
	if err != nil {
		f.t.Fatalf("fake broker read: %v", err)
	}
	return raw
}

func (f *fake) write(b ...byte) {
	f.t.Helper()
	if _, err := f.nc.Write(b); err != nil {
		f.t.Fatalf("fake broker write: %v", err)
	}
}

// fakeClient connects a sim client (MQTT 5 when v5) to a fake broker and
// completes CONNECT/CONNACK.
func fakeClient(t testing.TB, v5 bool, keepalive int, opts sim.Options) (*fake, *sim.Client, *controller.Recorder, context.Context) {
	f := newFake(t)
	ctl := sim.New(opts)
	closeAtEnd(t, ctl)
	c, err := ctl.NewSimClient("fake", true)
	if err != nil {
		t.Fatal(err)
	}
	if v5 {
		c.ForceMqttVersion(5)
	}
	r := controller.NewRecorder(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if ret := c.Connect("127.0.0.1", f.port(), keepalive, nil); ret.Code != 0 {
		t.Fatal(ret)
	}
	f.accept()
	if p := f.read(); p[0]>>4 != 1 {
		t.Fatalf("first packet %x, want CONNECT", p)
	}
	if v5 {
		f.write(0x20, 3, 0, 0, 0)
	} else {
		f.write(0x20, 2, 0, 0)
	}
	if _, err := r.WaitFor(ctx, controller.Is(controller.OnConnect, 0)); err != nil {
		t.Fatal(err)
	}
	return f, c, r, ctx
}

// TestAckLengths: QoS 1 and 2 acks in every legal MQTT 5 length.
func TestAckLengths(t *testing.T) {
	for _, tc := range []struct {
		name   string
		qos    int
		ack    []byte // after the packet id
		reason int
		props  bool
	}{
		{"puback id only", 1, nil, 0, false},
		{"puback reason", 1, []byte{16}, 16, false},
		{"puback reason empty props", 1, []byte{16, 0}, 16, false},
		{"puback reason user property", 1, []byte{0, 7, 38, 0, 1, 'k', 0, 1, 'v'}, 0, true},
		{"pubcomp id only", 2, nil, 0, false},
		{"pubcomp reason", 2, []byte{146}, 146, false},
		{"pubcomp reason empty props", 2, []byte{0, 0}, 0, false},
		{"pubcomp reason user property", 2, []byte{0, 7, 38, 0, 1, 'k', 0, 1, 'v'}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c, r, ctx := fakeClient(t, true, 60, sim.Options{})
			ret, id := publishToFake(t, f, c, tc.qos)
			typ := byte(0x40)
			if tc.qos == 2 {
				f.write(0x50, 2, id[0], id[1])
				if rel := f.read(); rel[0] != 0x62 || rel[2] != id[0] || rel[3] != id[1] {
					t.Fatalf("want PUBREL, got %x", rel)
				}
				typ = 0x70
			}
			f.write(append([]byte{typ, byte(2 + len(tc.ack)), id[0], id[1]}, tc.ack...)...)
			ev, err := r.WaitFor(ctx, controller.Is(controller.OnPublish, ret.MsgID))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Reason != tc.reason || (ev.Props != nil) != tc.props {
				t.Fatalf("onPublish %+v", ev)
			}
		})
	}
}

// TestWrongKindAck: a PUBACK for a QoS 2 message closes the connection
// with onDisconnect(2); acks for unknown ids are ignored, and a PUBREC for
// an unknown id is answered with PUBREL.
func TestWrongKindAck(t *testing.T) {
	f, c, r, ctx := fakeClient(t, false, 60, sim.Options{})
	ret := c.Publish("t", []byte("x"), 2, false, nil)
	f.read()
	f.write(0x40, 2, 0, 99) // PUBACK unknown id: ignored
	f.write(0x70, 2, 0, 98) // PUBCOMP unknown id: ignored
	f.write(0x50, 2, 0, 97) // PUBREC unknown id: PUBREL
	if rel := f.read(); rel[0] != 0x62 || rel[3] != 97 {
		t.Fatalf("want PUBREL 97, got %x", rel)
	}
	f.write(0x40, 2, 0, byte(ret.MsgID)) // PUBACK for the QoS 2 message
	ev, err := r.WaitFor(ctx, controller.Is(controller.OnDisconnect, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Reason != 2 || len(r.Filter(controller.Is(controller.OnPublish, 0))) != 0 {
		t.Fatalf("onDisconnect %+v, events %v", ev, r.Events())
	}
}

// TestInboundQoS2: PUBREC for inbound QoS 2, onMessage after PUBREL, and a
// PUBREL for an unknown id answered with PUBCOMP.
func TestInboundQoS2(t *testing.T) {
	f, _, r, ctx := fakeClient(t, false, 60, sim.Options{})
	f.write(0x34, 7, 0, 1, 't', 0, 5, 'h', 'i') // PUBLISH qos 2 id 5
	if rec := f.read(); rec[0] != 0x50 || rec[3] != 5 {
		t.Fatalf("want PUBREC 5, got %x", rec)
	}
	f.write(0x62, 2, 0, 6) // PUBREL unknown id
	if comp := f.read(); comp[0] != 0x70 || comp[3] != 6 {
		t.Fatalf("want PUBCOMP 6, got %x", comp)
	}
	if n := len(r.Filter(controller.Is(controller.OnMessage, 0))); n != 0 {
		t.Fatal("onMessage before PUBREL")
	}
	f.write(0x62, 2, 0, 5)
	if comp := f.read(); comp[0] != 0x70 || comp[3] != 5 {
		t.Fatalf("want PUBCOMP 5, got %x", comp)
	}
	ev, err := r.WaitFor(ctx, controller.Is(controller.OnMessage, 5))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Topic != "t" || string(ev.Payload) != "hi" || ev.QoS != 2 {
		t.Fatalf("onMessage %+v", ev)
	}
	f.write(0x32, 7, 0, 1, 't', 0, 7, 'q', '1') // QoS 1: PUBACK
	if ack := f.read(); ack[0] != 0x40 || ack[3] != 7 {
		t.Fatalf("want PUBACK 7, got %x", ack)
	}
}

// TestKeepAlive: PINGREQ when idle; onDisconnect(19) when the broker stops
// answering. One keep-alive second is 20 ms here.
func TestKeepAlive(t *testing.T) {
	f, _, r, ctx := fakeClient(t, false, 5, sim.Options{KeepAliveUnit: 20 * time.Millisecond})
	if p := f.read(); p[0] != 0xC0 {
		t.Fatalf("want PINGREQ, got %x", p)
	}
	f.write(0xD0, 0)
	if p := f.read(); p[0] != 0xC0 {
		t.Fatalf("want a second PINGREQ, got %x", p)
	}
	// No PINGRESP this time.
	ev, err := r.WaitFor(ctx, controller.Is(controller.OnDisconnect, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Reason != 19 {
		t.Fatalf("onDisconnect %d, want 19", ev.Reason)
	}
}

// TestBrokerDisconnectReason: an MQTT 5 DISCONNECT passes its raw reason.
func TestBrokerDisconnectReason(t *testing.T) {
	f, _, r, ctx := fakeClient(t, true, 60, sim.Options{})
	f.write(0xE0, 2, 139, 0)
	ev, err := r.WaitFor(ctx, controller.Is(controller.OnDisconnect, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Reason != 139 {
		t.Fatalf("onDisconnect %d, want 139", ev.Reason)
	}
}

// publishToFake publishes "x" to "t" over MQTT 5 and reads the PUBLISH off
// the fake broker: it returns the call's result and the packet id bytes.
func publishToFake(t *testing.T, f *fake, c *sim.Client, qos int) (controller.Ret, []byte) {
	t.Helper()
	ret := c.Publish("t", []byte("x"), qos, false, nil)
	if ret.Code != 0 {
		t.Fatal(ret)
	}
	p := f.read()
	return ret, p[len(p)-4 : len(p)-2] // topic "t", id, empty props, payload "x"
}
