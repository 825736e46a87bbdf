// Tests of the flow control in front of mochi's short outbound queues.
package emulator_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/memnet"
)

// TestFlowWaitIsBounded has a subscriber that reads nothing while a
// publisher bursts more QoS 0 messages than the subscriber's connection,
// the backlog behind mochi's writer and mochi's queue can hold together.
// The publisher waits for the subscriber once, for FlowWait, and then no
// more: its burst ends (PINGRESP comes) long before a wait per message
// would allow, the rest is dropped, and every message is delivered once
// the subscriber reads or is journaled as a drop. It runs in a bubble on
// the in-memory network: the flow wait is the point, not the sockets
// (TestQoS0BurstLosesNothingUnrecorded bursts on real ones). A 64 KiB
// connection and a 1 MiB backlog fill with a few thousand messages, and
// the waits take no real time.
func TestFlowWaitIsBounded(t *testing.T) {
	synctest.Test(t, flowWaitIsBounded)
}

func flowWaitIsBounded(t *testing.T) {
	const wait = 200 * time.Millisecond
	// 1 KiB messages: the subscriber's connection takes 64 KiB, the
	// backlog behind mochi's writer 1 MiB (MaxHeldBytes; by default it
	// takes 8192 writes, several times as many messages, and fills the
	// same way), mochi's queue 256: some 1,300 messages together; the
	// rest must drop.
	const n = 6000
	b, sub, pub := startBurstOn(t, memnet.New(), emulator.Options{FlowWait: wait, MaxHeldBytes: 1 << 20, JournalCap: 4 * n, JournalBytes: -1}, "stuck")
	start := time.Now()
	sent := burst(t, pub, "stuck/x", 1024, n)
	if err := <-sent; err != nil {
		t.Fatalf("publisher: %v", err)
	}
	// mochi handles the publisher's packets in order: PINGRESP means
	// every message was queued for the subscriber or dropped.
	raw, err := pub.next(120 * time.Second)
	if err != nil || raw[0]>>4 != packets.Pingresp {
		t.Fatalf("waiting for PINGRESP: % x, %v", raw, err)
	}
	took := time.Since(start)
	drops := b.Journal.Records(journal.Filter{Kind: journal.KindDrop, Client: "stuck-sub"})
	if len(drops) == 0 {
		t.Fatalf("a subscriber that read nothing lost none of %d messages: the test no longer fills its queue", n)
	}
	// One wait per dropped message would take len(drops) × wait; on the
	// bubble's clock the burst itself takes no time, only the waits.
	if limit := time.Duration(len(drops)) * wait / 20; took > limit {
		t.Errorf("the burst took %s with %d drops: publishers waited for a stuck subscriber more than once", took, len(drops))
	}
	for _, r := range drops {
		if r.Cause != "outbound queue full" || r.QoS != 0 {
			t.Fatalf("drop record %+v", r)
		}
	}

	// Now the subscriber reads: what was not dropped must arrive.
	target := n - len(drops)
	delivered := 0
	for delivered < target {
		sub.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		raw, err := faultwire.ReadFrame(sub.br)
		if err != nil {
			t.Fatalf("after %d of %d owed messages: %v", delivered, target, err)
		}
		if raw[0]>>4 == packets.Publish {
			delivered++
		}
	}
	t.Logf("sent %d, delivered %d, journaled drops %d, burst took %s", n, delivered, len(drops), took)
}
