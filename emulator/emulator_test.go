package emulator_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

func ptr[T any](v T) *T { return &v }

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPublishQoS1RoundTrip(t *testing.T) {
	for _, version := range []byte{3, 4, 5} {
		t.Run(string('0'+version), func(t *testing.T) {
			t.Parallel()
			b := emulator.StartTest(t, emulator.Options{})
			sub := dial(t, b.DUTAddr, version)
			sub.connect("sub")
			sub.subscribe("a/#", 1, 1)
			pub := dial(t, b.DUTAddr, version)
			ack := pub.decode(pub.connect("pub"))
			if ack.ReasonCode != 0 {
				t.Fatalf("CONNACK code %d", ack.ReasonCode)
			}
			pub.publish("a/b", 1, 7, "hello")
			pa := pub.decode(pub.expect(packets.Puback))
			if pa.PacketID != 7 {
				t.Errorf("PUBACK id %d, want 7", pa.PacketID)
			}
			msg := sub.decode(sub.expect(packets.Publish))
			if string(msg.Payload) != "hello" || msg.TopicName != "a/b" {
				t.Errorf("subscriber got %q on %q", msg.Payload, msg.TopicName)
			}
			recs, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Client: "pub", Type: "PUBACK", Dir: "to_client"}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if recs[0].PacketID != 7 {
				t.Errorf("journal PUBACK id %d, want 7", recs[0].PacketID)
			}
			pubs := b.Journal.Records(journal.Filter{Client: "pub", Type: "PUBLISH", Dir: "to_broker"})
			if len(pubs) != 1 || pubs[0].QoS != 1 || pubs[0].Topic != "a/b" || pubs[0].PayloadSize != 5 {
				t.Errorf("journal PUBLISH records: %v", pubs)
			}
		})
	}
}

// The two loss points told apart: a PUBLISH lost on its way to the broker
// is never delivered; a PUBACK lost on its way back was delivered.
func TestLossPoints(t *testing.T) {
	cases := []struct {
		name      string
		rule      faults.Rule
		delivered bool
	}{
		{"publish lost to broker", faults.Rule{Name: "lose-publish",
			Match: faults.Match{Direction: faults.ToBroker, Packets: []byte{3}}, Action: faults.Drop{}}, false},
		{"puback lost to client", faults.Rule{Name: "lose-puback",
			Match: faults.Match{Direction: faults.ToClient, Packets: []byte{4}}, Action: faults.Drop{}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := emulator.StartTest(t, emulator.Options{Rules: []faults.Rule{tc.rule}})
			sub := dial(t, b.ControlAddr, 4) // observer on the control listener
			sub.connect("observer")
			sub.subscribe("t", 1, 1)
			pub := dial(t, b.DUTAddr, 4)
			pub.connect("dut")
			pub.publish("t", 1, 1, "x")
			if tc.delivered {
				sub.expect(packets.Publish)
			} else {
				// Once the broker has journaled the drop, nothing is on its way.
				if _, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Type: "PUBLISH", Dropped: "yes"}, 1); err != nil {
					t.Fatal(err)
				}
				sub.silent(200 * time.Millisecond)
			}
			pub.silent(100 * time.Millisecond) // no PUBACK either way
			dropped := b.Journal.Records(journal.Filter{Dropped: "yes"})
			if len(dropped) != 1 || dropped[0].Rule != tc.rule.Name {
				t.Fatalf("dropped records: %v", dropped)
			}
		})
	}
}

// A closed broker lets go of its memory at once. The fault layer's
// safety-net timer on each closed connection must not keep the connection,
// and through it the journal, alive: a process that runs broker after
// broker (scenarios, benchmark rounds) would carry each one's journal into
// the next.
func TestClosedBrokerReleasesJournal(t *testing.T) {
	b, err := emulator.Start(waitCtx(t), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := dial(t, b.DUTAddr, 4)
	pub.connect("pub")
	pub.publish("a/b", 1, 1, "x")
	pub.expect(packets.Puback)
	pub.conn.Close()
	if _, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Kind: journal.KindClose}, 1); err != nil {
		t.Fatal(err)
	}
	collected := make(chan struct{})
	runtime.AddCleanup(b.Journal, func(ch chan struct{}) { close(ch) }, collected)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = nil
	// Well inside the fault layer's two-second grace for closing.
	deadline := time.After(time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-deadline:
			t.Fatal("the journal of a closed broker is still reachable a second after Close")
		case <-time.After(20 * time.Millisecond): // give the cleanup goroutine its turn
		}
	}
}
