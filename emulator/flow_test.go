// Tests of the flow control in front of mochi's short outbound queues.
package emulator_test

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// TestFlowWaitIsBounded has a subscriber that reads nothing while a
// publisher bursts more QoS 0 messages than the subscriber's socket, the
// backlog behind mochi's writer and mochi's queue can hold together. The
// publisher waits for the subscriber once, for FlowWait, and then no more:
// its burst ends (PINGRESP comes) long before a wait per message would
// allow, the rest is dropped, and every message is delivered once the
// subscriber reads or is journaled as a drop.
func TestFlowWaitIsBounded(t *testing.T) {
	const wait = 200 * time.Millisecond
	// 1 KiB messages: the loopback socket buffers take a few megabytes,
	// the backlog 8192 writes, mochi's queue 256; the rest must drop.
	const n = 40000
	b, sub, pub := startBurst(t, emulator.Options{FlowWait: wait, JournalCap: 4 * n, JournalBytes: -1}, "stuck")
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
	// One wait per dropped message would take len(drops) × wait; the
	// burst itself takes seconds on a loaded machine, a wait per message
	// thousands of them.
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
