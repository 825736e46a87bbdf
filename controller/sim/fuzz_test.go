package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// FuzzCallArgs feeds Publish, Subscribe and Unsubscribe arbitrary
// arguments on a client with no connection: no panic, codes in the known
// set, a msgId only with code 0.
func FuzzCallArgs(f *testing.F) {
	f.Add("a/b", []byte("x"), 1, true, "CONTENT_TYPE", "text", 5)
	f.Add("", []byte{}, -1, false, "TOPIC_ALIAS", "", 311)
	f.Add("a/+/#", []byte{0}, 3, false, "3", "\xff", 3)
	f.Add("\xed\xa0\x80", []byte(nil), 2, true, "USER_PROPERTY", "k", 5)
	f.Add("#", []byte("p"), 0, false, "PAYLOAD_FORMAT_INDICATOR", "2", 5)
	ctl := sim.New()
	closeAtEnd(f, ctl)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, qos int, retain bool, pkey, pval string, version int) {
		c, err := ctl.NewSimClient("fuzz", true)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy()
		c.ForceMqttVersion(version)
		props := controller.Props{pkey: pval}
		if len(pval) > 0 {
			props[pkey+"_n"] = int(pval[0])
		}
		for _, r := range []controller.Ret{
			c.Publish(topic, payload, qos, retain, props),
			c.Publish(topic, payload, qos, retain, nil),
			c.Subscribe(topic, qos, props),
			c.Unsubscribe(topic, nil),
			c.SetWill(topic, payload, qos, retain, props),
		} {
			if r.Code < 0 || r.Code > 26 || (r.Code != 0 && r.Err == "") {
				t.Fatalf("bad return %+v", r)
			}
			if r.MsgID != 0 && r.Code != 0 {
				t.Fatalf("msgId with an error: %+v", r)
			}
		}
	})
}

// FuzzIncoming sends arbitrary bytes from a broker after CONNACK: the
// client must not panic, must end the connection with one onDisconnect
// when the broker closes, and Destroy must return.
func FuzzIncoming(f *testing.F) {
	f.Add(false, []byte{0x40, 2, 0, 1})
	f.Add(true, []byte{0x50, 3, 0, 1, 0x80})
	f.Add(true, []byte{0x30, 5, 0, 1, 't', 'h', 'i'})
	f.Add(false, []byte{0x34, 7, 0, 1, 't', 0, 5, 'h', 'i', 0x62, 2, 0, 5})
	f.Add(true, []byte{0x90, 4, 0, 1, 0, 0x80})
	f.Add(true, []byte{0xE0, 2, 139, 0})
	f.Add(true, []byte{0x40, 0x7f, 0, 1, 0, 0x7c, 26, 0, 1})
	f.Add(false, []byte{0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add(true, []byte{0x20, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, v5 bool, data []byte) {
		fb, c, r, ctx := fakeClient(t, v5, 60, sim.Options{})
		c.Publish("t", []byte("x"), 1, false, nil)
		c.Publish("t", []byte("x"), 2, false, nil)
		c.Subscribe("s", 1, nil)
		// The client may already have hung up on what it read: a failed
		// write or close is part of what is fuzzed, onDisconnect reports it.
		_, _ = fb.nc.Write(data)
		_ = fb.nc.Close()
		ev, err := r.WaitFor(ctx, controller.Is(controller.OnDisconnect, 0))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Reason < 0 || ev.Reason > 255 {
			t.Fatalf("onDisconnect %d", ev.Reason)
		}
		done := make(chan struct{})
		go func() { c.Destroy(); close(done) }()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		select {
		case <-done:
		case <-dctx.Done():
			t.Fatal("Destroy did not return")
		}
		if n := len(r.Filter(controller.Is(controller.OnDisconnect, 0))); n != 1 {
			t.Fatalf("%d onDisconnect", n)
		}
	})
}
