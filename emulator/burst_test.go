// Tests that a burst of QoS 0 messages loses none that nobody recorded:
// the fault-injection harness must not invent faults of its own.
package emulator_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator"
	faultwire "github.com/mqtthil/mqtthil/emulator/faults/wire"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/memnet"
	"github.com/mqtthil/mqtthil/internal/mqttcodec"
)

// TestQoS0BurstLosesNothingUnrecorded bursts QoS 0 messages from one
// client to one subscriber that reads slowly (a pause every few hundred
// messages), both on the DUT listener. Every message must either reach the
// subscriber or be in the journal as a drop: delivered + drops = sent.
func TestQoS0BurstLosesNothingUnrecorded(t *testing.T) {
	cases := []struct {
		name      string
		pending   int
		flowWait  time.Duration
		n         int
		wantDrops bool
	}{
		// The emulator's defaults: a short queue, and a publisher that
		// waits for a subscriber whose queue is half full. The burst is
		// some fifteen times what the subscriber's socket buffers, the
		// backlog and the queue hold (burstSocketBuffer), two and a half
		// times under the race detector.
		{"default queue", 0, 0, 180000, false},
		// Flow control keeps even a very short queue from overrunning
		// while the subscriber reads; if it does overrun, each loss is
		// journaled.
		{"short queue, flow control", 16, 0, 50000, false},
		// Without flow control (bare mochi's way) a short queue must
		// lose messages under the same burst, and journal each.
		{"short queue, no flow control", 16, -1, 50000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			if raceEnabled {
				n /= 6
			}
			b, sub, pub := startBurst(t, emulator.Options{WritesPending: tc.pending, FlowWait: tc.flowWait, JournalCap: 4 * n, JournalBytes: -1}, "burst")
			sent := burst(t, pub, "burst/x", 64, n)

			delivered, target := 0, -1 // target: what is owed once every message is queued or dropped
			var readErr error
			idleSince := time.Now()
			for target < 0 || delivered < target {
				select {
				case err := <-sent:
					if err != nil {
						t.Fatalf("publisher: %v", err)
					}
					// The broker may still hold megabytes of the burst
					// when the publisher's last write returns.
					raw, err := pub.next(30 * time.Second)
					if err != nil || raw[0]>>4 != packets.Pingresp {
						t.Fatalf("waiting for PINGRESP: % x, %v", raw, err)
					}
					sent = nil
					target = n - len(b.Journal.Records(journal.Filter{Kind: journal.KindDrop, Client: "burst-sub"}))
					continue
				default:
				}
				// The short deadline is for noticing the publisher's end
				// while nothing arrives: it applies to a frame's first
				// byte only, since a frame cut by it would be lost.
				sub.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				_, err := sub.br.Peek(1)
				var raw []byte
				if err == nil {
					sub.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
					raw, err = faultwire.ReadFrame(sub.br)
				}
				if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
					if time.Since(idleSince) > 30*time.Second {
						readErr = err
						break
					}
					continue
				}
				if err != nil {
					readErr = err
					break
				}
				idleSince = time.Now()
				if raw[0]>>4 == packets.Publish {
					delivered++
					if delivered%500 == 0 {
						time.Sleep(time.Millisecond) // a slowish subscriber
					}
				}
			}
			drops := b.Journal.Records(journal.Filter{Kind: journal.KindDrop, Client: "burst-sub"})
			t.Logf("sent %d, delivered %d, journaled drops %d (read ended: %v)", n, delivered, len(drops), readErr)
			if delivered+len(drops) != n {
				t.Fatalf("sent %d, delivered %d + journaled drops %d = %d: %d lost unrecorded",
					n, delivered, len(drops), delivered+len(drops), n-delivered-len(drops))
			}
			if tc.wantDrops && len(drops) == 0 {
				t.Errorf("a %d-long queue without flow control dropped nothing: the test no longer exercises drops", tc.pending)
			}
			for _, r := range drops {
				if r.Cause != "outbound queue full" || r.QoS != 0 {
					t.Fatalf("drop record %+v", r)
				}
			}
		})
	}
}

// burstSocketBuffer is the kernel buffer, in bytes, that each end of a
// burst test's loopback connections asks for each way. Left to itself
// Linux grows a loopback connection's buffers to megabytes, which a burst
// of 64-byte messages must fill, some hundred thousand of them, before
// the backlog behind mochi's writer (8192 writes) and then mochi's queue
// fill and the publisher has to wait for the subscriber. At 64 KiB the
// two ends hold some 3,500 messages, so some 12,000 fill the whole way to
// the queue, on the same real sockets. (At 8 KiB TCP's delayed
// acknowledgements stall the subscriber's reads for tens of milliseconds
// each, and a burst takes minutes.)
const burstSocketBuffer = 64 << 10

// startBurst starts a broker with opts, a subscriber (name-sub) to name/#
// at QoS 0 and a publisher (name-pub), both MQTT 3.1.1 on the DUT
// listener, on real sockets with small buffers (burstSocketBuffer).
func startBurst(t *testing.T, opts emulator.Options, name string) (*emulator.Broker, *wire, *wire) {
	t.Helper()
	opts.Listen = func(ctx context.Context, network, address string) (net.Listener, error) {
		l, err := (&net.ListenConfig{}).Listen(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return smallBufferListener{l}, nil
	}
	b, sub, pub := startBurstOn(t, nil, opts, name)
	for _, w := range []*wire{sub, pub} {
		setSmallBuffers(t, w.conn)
	}
	return b, sub, pub
}

// smallBufferListener gives every connection it accepts small buffers.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			err = errors.Join(tc.SetReadBuffer(burstSocketBuffer), tc.SetWriteBuffer(burstSocketBuffer))
		}
	}
	return c, err
}

// setSmallBuffers gives a client's end of a connection small buffers.
func setSmallBuffers(t *testing.T, c net.Conn) {
	t.Helper()
	tc, ok := c.(*net.TCPConn)
	if !ok {
		t.Fatalf("%T is not a TCP connection", c)
	}
	if err := errors.Join(tc.SetReadBuffer(burstSocketBuffer), tc.SetWriteBuffer(burstSocketBuffer)); err != nil {
		t.Fatal(err)
	}
}

// startBurstOn is startBurst on the in-memory network n (real sockets
// when n is nil).
func startBurstOn(t *testing.T, n *memnet.Network, opts emulator.Options, name string) (*emulator.Broker, *wire, *wire) {
	t.Helper()
	connect := func(addr string) *wire { return dial(t, addr, 4) }
	if n != nil {
		opts.Listen = n.Listen
		connect = func(addr string) *wire { return dialIn(t, n, addr, 4) }
	}
	b := emulator.StartTest(t, opts)
	sub := connect(b.DUTAddr)
	sub.connect(name + "-sub")
	sub.subscribe(name+"/#", 0, 1)
	pub := connect(b.DUTAddr)
	pub.connect(name + "-pub")
	return b, sub, pub
}

// burst has pub send n QoS 0 messages of size bytes to topic as fast as
// its socket takes them, then a PINGREQ; the channel gets the end of the
// writing. mochi handles a client's packets in order, handing each PUBLISH
// to the subscriber's queue (or dropping it) before the next: the PINGRESP
// that answers means every message is queued or dropped.
func burst(t *testing.T, pub *wire, topic string, size, n int) <-chan error {
	t.Helper()
	frame, err := mqttcodec.Encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
		ProtocolVersion: 4, TopicName: topic, Payload: make([]byte, size)})
	if err != nil {
		t.Fatal(err)
	}
	ping, _ := mqttcodec.Encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}, ProtocolVersion: 4})
	sent := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pub.conn, 64<<10)
		for range n {
			if _, err := bw.Write(frame); err != nil {
				sent <- err
				return
			}
		}
		bw.Write(ping)
		sent <- bw.Flush()
	}()
	return sent
}
