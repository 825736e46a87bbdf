// Package bench measures brokers and clients the same way side by side:
// the broker emulator, bare mochi and mosquitto under one load generator,
// and the simulated controller's client. Results are meant to be read as
// ratios between brokers measured in the same run.
package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/faults/wire"
)

// Load is one measurement: Pairs publishers each sending Messages to their
// own subscriber, with at most Window messages of each publisher
// unfinished at a time.
type Load struct {
	QoS      byte
	Size     int // payload bytes, at least 8 (the send time rides in it)
	Pairs    int
	Messages int // per publisher
	Window   int
}

// BrokerLoad is the load `mqtthil bench` puts on each broker: messages in
// all, shared among pairs publishers, each with up to 128/pairs messages
// unfinished. Benchmarks that compare brokers use it, so that their numbers
// and the bench's describe the same load.
func BrokerLoad(qos byte, size, pairs, messages int) Load {
	return Load{QoS: qos, Size: size, Pairs: pairs, Messages: messages / pairs, Window: 128 / pairs}
}

func (l Load) String() string {
	return fmt.Sprintf("QoS %d, %d B, %d to %d", l.QoS, l.Size, l.Pairs, l.Pairs)
}

// Result is what a load measured. Latency is from writing a PUBLISH to its
// end: PUBACK for QoS 1, PUBCOMP for QoS 2, delivery to the subscriber for
// QoS 0.
type Result struct {
	Messages int           `json:"messages"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Rate     float64       `json:"msgs_per_s"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
}

// Run puts the load on the broker at addr and waits for every message to be
// delivered and finished, or for ctx to end.
func Run(ctx context.Context, addr string, l Load) (Result, error) {
	if l.Size < 8 || l.Pairs < 1 || l.Messages < 1 || l.Window < 1 || l.QoS > 2 {
		return Result{}, fmt.Errorf("bench: load %+v: want size ≥ 8, pairs, messages and window ≥ 1, QoS 0..2", l)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	errs := make(chan error, 2*l.Pairs)
	var subsReady, pubsReady sync.WaitGroup
	start := make(chan struct{})
	var conns []*conn
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	delivered := make([]chan struct{}, l.Pairs)
	for i := range l.Pairs {
		topic := fmt.Sprintf("bench/%d", i)
		sub, err := dialMQTT(ctx, addr, fmt.Sprintf("bench-sub-%d", i))
		if err != nil {
			return Result{}, err
		}
		pub, err := dialMQTT(ctx, addr, fmt.Sprintf("bench-pub-%d", i))
		if err != nil {
			sub.close()
			return Result{}, err
		}
		conns = append(conns, sub, pub)
		if err := sub.subscribe(topic, l.QoS); err != nil {
			return Result{}, err
		}
		delivered[i] = make(chan struct{}, l.Window)
		subsReady.Add(1)
		pubsReady.Add(1)
		go func(ch chan struct{}) {
			subsReady.Done()
			lat, err := sub.receive(ctx, l, ch)
			mu.Lock()
			if l.QoS == 0 {
				lats = append(lats, lat...)
			}
			mu.Unlock()
			errs <- err
		}(delivered[i])
		go func(ch chan struct{}) {
			pubsReady.Done()
			<-start
			lat, err := pub.publish(ctx, topic, l, ch)
			mu.Lock()
			lats = append(lats, lat...)
			mu.Unlock()
			errs <- err
		}(delivered[i])
	}
	subsReady.Wait()
	pubsReady.Wait()
	t0 := time.Now()
	close(start)
	var firstErr error
	for range 2 * l.Pairs {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	elapsed := time.Since(t0)
	if firstErr != nil {
		return Result{}, firstErr
	}
	n := l.Pairs * l.Messages
	slices.Sort(lats)
	r := Result{Messages: n, Elapsed: elapsed, Rate: float64(n) / elapsed.Seconds()}
	if len(lats) > 0 {
		r.P50, r.P99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return r, nil
}

// conn is a bare MQTT 3.1.1 client: the same bytes for every broker.
type conn struct {
	nc net.Conn
	br *bufio.Reader
	wm sync.Mutex
	bw *bufio.Writer
}

func dialMQTT(ctx context.Context, addr, id string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", addr, err)
	}
	c := &conn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), bw: bufio.NewWriterSize(nc, 64<<10)}
	c.send(connectFrame(id), true)
	raw, err := c.next(5 * time.Second)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: %s: waiting for CONNACK: %w", id, err)
	}
	if raw[0]>>4 != packets.Connack || len(raw) < 4 || raw[3] != 0 {
		nc.Close()
		return nil, fmt.Errorf("bench: %s: refused: % x", id, raw)
	}
	return c, nil
}

// connectFrame is an MQTT 3.1.1 CONNECT for a clean session.
func connectFrame(id string) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Keepalive: 60, Clean: true}}
	var buf bytes.Buffer
	pk.ConnectEncode(&buf)
	return buf.Bytes()
}

func (c *conn) close() { c.nc.Close() }

func (c *conn) send(b []byte, flush bool) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	if flush {
		return c.bw.Flush()
	}
	return nil
}

func (c *conn) flush() error {
	c.wm.Lock()
	defer c.wm.Unlock()
	return c.bw.Flush()
}

func (c *conn) next(d time.Duration) ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return wire.ReadFrame(c.br)
}

func (c *conn) subscribe(topic string, qos byte) error {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: topic, Qos: qos}}}
	var buf bytes.Buffer
	pk.SubscribeEncode(&buf)
	c.send(buf.Bytes(), true)
	raw, err := c.next(5 * time.Second)
	if err != nil {
		return fmt.Errorf("bench: waiting for SUBACK: %w", err)
	}
	if raw[0]>>4 != packets.Suback {
		return fmt.Errorf("bench: expected SUBACK, got % x", raw)
	}
	return nil
}

// ack builds a PUBACK, PUBREC, PUBREL or PUBCOMP.
func ack(typ byte, id uint16) []byte {
	first := typ << 4
	if typ == packets.Pubrel {
		first |= 2
	}
	return []byte{first, 2, byte(id >> 8), byte(id)}
}

// stall is how long a run may go without any packet before it is given up.
const stall = 10 * time.Second

// publish sends l.Messages on topic, keeping at most l.Window unfinished,
// and returns each message's latency.
func (c *conn) publish(ctx context.Context, topic string, l Load, delivered <-chan struct{}) ([]time.Duration, error) {
	// One frame, its packet id and send time patched for each message: the
	// writer copies it out before the next patch.
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: l.QoS}, ProtocolVersion: 4,
		TopicName: topic, PacketID: 1, Payload: make([]byte, l.Size)}
	var buf bytes.Buffer
	pk.PublishEncode(&buf)
	frame := buf.Bytes()
	stamp := frame[len(frame)-l.Size:]
	sent := make([]atomic.Int64, 65536) // send time by packet id
	slots := make(chan struct{}, l.Window)
	lats := make([]time.Duration, 0, l.Messages)
	var latMu sync.Mutex
	readErr := make(chan error, 1)
	if l.QoS > 0 {
		go func() {
			readErr <- c.readAcks(l, sent, slots, func(d time.Duration) {
				latMu.Lock()
				lats = append(lats, d)
				latMu.Unlock()
			})
		}()
	} else {
		go func() {
			for range l.Messages {
				select {
				case <-delivered:
					<-slots
				case <-ctx.Done():
					readErr <- ctx.Err()
					return
				}
			}
			readErr <- nil
		}()
	}
	for i := range l.Messages {
		id := uint16(i%65535 + 1)
		select {
		case slots <- struct{}{}:
		default:
			if err := c.flush(); err != nil {
				return nil, err
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		now := time.Now().UnixNano()
		binary.BigEndian.PutUint64(stamp, uint64(now))
		if l.QoS > 0 {
			binary.BigEndian.PutUint16(frame[len(frame)-l.Size-2:], id)
			sent[id].Store(now)
		}
		if err := c.send(frame, false); err != nil {
			return nil, err
		}
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	latMu.Lock()
	defer latMu.Unlock()
	return lats, nil
}

// readAcks finishes the publisher's messages as acks arrive.
func (c *conn) readAcks(l Load, sent []atomic.Int64, slots <-chan struct{}, lat func(time.Duration)) error {
	for done := 0; done < l.Messages; {
		raw, err := c.next(stall)
		if err != nil {
			return fmt.Errorf("bench: publisher after %d of %d: %w", done, l.Messages, err)
		}
		if len(raw) < 4 {
			continue
		}
		id := binary.BigEndian.Uint16(raw[2:4])
		switch raw[0] >> 4 {
		case packets.Puback, packets.Pubcomp:
			lat(time.Duration(time.Now().UnixNano() - sent[id].Load()))
			done++
			<-slots
		case packets.Pubrec:
			if err := c.send(ack(packets.Pubrel, id), false); err != nil {
				return err
			}
		}
		// PUBRELs go out once everything that has arrived is answered.
		if c.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// receive takes l.Messages from the subscription, acknowledging as the QoS
// requires. For QoS 0 it returns the delivery latencies.
func (c *conn) receive(ctx context.Context, l Load, delivered chan<- struct{}) ([]time.Duration, error) {
	var lats []time.Duration
	for got, finished := 0, 0; got < l.Messages || (l.QoS == 2 && finished < l.Messages); {
		raw, err := c.next(stall)
		if err != nil {
			return nil, fmt.Errorf("bench: subscriber after %d of %d: %w", got, l.Messages, err)
		}
		p, err := faults.Parse(raw, faults.ToClient, 4)
		if err != nil {
			return nil, fmt.Errorf("bench: subscriber: %w", err)
		}
		quiet := c.br.Buffered() == 0
		switch p.Type {
		case packets.Publish:
			got++
			switch p.QoS {
			case 0:
				if len(raw) >= 8 {
					t := int64(binary.BigEndian.Uint64(raw[len(raw)-l.Size:]))
					lats = append(lats, time.Duration(time.Now().UnixNano()-t))
				}
				select {
				case delivered <- struct{}{}:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			case 1:
				err = c.send(ack(packets.Puback, uint16(p.PacketID)), quiet)
			case 2:
				err = c.send(ack(packets.Pubrec, uint16(p.PacketID)), quiet)
			}
		case packets.Pubrel:
			finished++
			err = c.send(ack(packets.Pubcomp, uint16(p.PacketID)), quiet)
		}
		if err != nil {
			return nil, err
		}
		if quiet {
			if err := c.flush(); err != nil {
				return nil, err
			}
		}
	}
	return lats, nil
}

var errNoMosquitto = errors.New("mosquitto is not installed (Debian package mosquitto)")

// Median is the middle value of v (the upper one of an even count); v is
// left as it was. It panics on an empty v.
func Median[T cmp.Ordered](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
