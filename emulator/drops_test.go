// Tests that messages mochi gives up on are in the journal.
package emulator_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// TestSlowSubscriberDropsAreJournaled has a QoS 1 subscriber on the DUT
// listener that neither reads nor acknowledges while a publisher sends
// more messages than mochi keeps in flight for one client. mochi drops the
// rest ("client store quota reached", a full outbound queue); each of them
// must be in the journal as a drop record, so that every message is either
// delivered to the subscriber on the wire or journaled as dropped, and the
// drop records agree with mochi's own counters.
func TestSlowSubscriberDropsAreJournaled(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	sub := dial(t, b.DUTAddr, 4)
	sub.connect("slow")
	sub.subscribe("slow/#", 1, 1)

	const n = 8192 + 2000 // mochi keeps 8192 messages in flight per client
	pub := dial(t, b.ControlAddr, 4)
	pub.connect("pub")
	acked := make(chan error, 1)
	go func() {
		for range n {
			if _, err := pub.next(30 * time.Second); err != nil {
				acked <- err
				return
			}
		}
		acked <- nil
	}()
	for i := range n {
		pub.publish(fmt.Sprintf("slow/%d", i), 1, uint16(i%65535+1), "m")
	}
	if err := <-acked; err != nil {
		t.Fatalf("publisher's acks: %v", err)
	}

	// Now let the subscriber read what it was sent, so that every message
	// mochi did not drop crosses the wire and is journaled.
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = sub.next(100 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-readerDone }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	delivered := journal.Filter{Kind: journal.KindPacket, Client: "slow", Dir: "to_client", Type: "PUBLISH"}
	dropped := journal.Filter{Kind: journal.KindDrop, Client: "slow"}
	var drops, sent []journal.Record
	for {
		st := b.Journal.Stats()
		drops, sent = b.Journal.Records(dropped), b.Journal.Records(delivered)
		missing := n - len(drops) - len(sent)
		if missing <= 0 || ctx.Err() != nil {
			break
		}
		// Every record still missing comes after st.Seq: wait until that
		// many more have been added, of any kind, rather than copying
		// the whole journal again for each new record (thousands of
		// times while the reader drains the subscriber's socket).
		_, _ = b.Journal.WaitFor(ctx, journal.Filter{AfterSeq: st.Seq}, missing)
	}
	info := b.Server().Info
	mochiDropped := atomic.LoadInt64(&info.InflightDropped) + atomic.LoadInt64(&info.MessagesDropped)
	t.Logf("%d published, %d delivered on the wire, %d drop records, mochi counted %d dropped", n, len(sent), len(drops), mochiDropped)
	if len(drops) == 0 {
		t.Fatalf("mochi dropped %d messages; the journal has no drop record", mochiDropped)
	}
	if int64(len(drops)) != mochiDropped {
		t.Errorf("%d drop records, mochi counted %d", len(drops), mochiDropped)
	}
	seen := map[string]int{}
	for _, r := range append(sent, drops...) {
		seen[r.Topic]++
	}
	for i := range n {
		if topic := fmt.Sprintf("slow/%d", i); seen[topic] != 1 {
			t.Fatalf("message %s: delivered or dropped %d times, want once (of %d delivered, %d dropped)", topic, seen[topic], len(sent), len(drops))
		}
	}
	if r := drops[0]; r.Cause == "" || !r.Dropped || r.QoS != 1 || r.Conn == 0 || r.Dir != "to_client" {
		t.Errorf("drop record lacks detail: %+v", r)
	}

	// The subscriber never acknowledged: when its clean session ends,
	// mochi discards the 8,192 messages in flight, one by one, and each
	// must be journaled too. Ended here rather than in the broker's Close,
	// which gives its clients 5 s, and under the race detector mochi can
	// take longer than that over 8,192 messages.
	sub.conn.Close()
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	if all, err := b.Journal.WaitFor(wctx, dropped, n); err != nil {
		t.Fatalf("after the subscriber left, %d drop records of %d messages: %v", len(all), n, err)
	}
}

// TestOversizeDropIsJournaled has an MQTT 5 subscriber that allows packets
// of at most 64 bytes; mochi drops a larger message for it without a word
// on the wire, and the journal must say so.
func TestOversizeDropIsJournaled(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	sub := dial(t, b.DUTAddr, 5)
	sub.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: "small", Keepalive: 30, Clean: true},
		Properties:  packets.Properties{MaximumPacketSize: 64},
	})
	sub.expect(packets.Connack)
	sub.subscribe("big/#", 1, 1)
	pub := dial(t, b.ControlAddr, 4)
	pub.connect("pub")
	pub.publish("big/one", 0, 0, strings.Repeat("x", 200))
	pub.publish("big/two", 0, 0, "small")
	if got := sub.decode(sub.expect(packets.Publish)); got.TopicName != "big/two" {
		t.Fatalf("subscriber got %q first, want the small message", got.TopicName)
	}
	drops, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Kind: journal.KindDrop, Client: "small"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := drops[0]; r.Topic != "big/one" || r.PayloadSize != 200 || !strings.Contains(r.Cause, "maximum packet size") {
		t.Fatalf("drop record %+v", r)
	}
}

// TestInflightDiscardedWithSessionIsJournaled: a clean-session subscriber
// that leaves with QoS 1 messages unacknowledged takes them with it; mochi
// discards them through its OnQosDropped hook, and the journal says so.
func TestInflightDiscardedWithSessionIsJournaled(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	sub := dial(t, b.DUTAddr, 4)
	sub.connect("leaver")
	sub.subscribe("q/#", 1, 1)
	pub := dial(t, b.ControlAddr, 4)
	pub.connect("pub")
	for i := range 3 {
		pub.publish(fmt.Sprintf("q/%d", i), 1, uint16(i+1), "m")
		pub.expect(packets.Puback)
		sub.expect(packets.Publish) // received, never acknowledged
	}
	sub.conn.Close()
	drops, err := b.Journal.WaitFor(waitCtx(t), journal.Filter{Kind: journal.KindDrop, Client: "leaver"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]bool{}
	for _, r := range drops {
		topics[r.Topic] = true
		if !strings.Contains(r.Cause, "session") || r.QoS != 1 {
			t.Errorf("drop record %+v", r)
		}
	}
	if len(drops) != 3 || !topics["q/0"] || !topics["q/1"] || !topics["q/2"] {
		t.Errorf("drop records name topics %v, want q/0, q/1 and q/2 once each", topics)
	}
}
