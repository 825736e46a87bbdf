// Memory per connection: a broker's resident set with many clients
// connected and doing nothing, the cost a harness with a thousand
// simulated controllers pays before any message moves.
package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Idle is what n idle connections cost a broker process.
type Idle struct {
	Broker  string `json:"broker"`
	Conns   int    `json:"conns"`
	Before  int64  `json:"rss_before_bytes"`
	After   int64  `json:"rss_after_bytes"`
	PerConn int64  `json:"bytes_per_conn"`
}

// settle is how long the broker is given, once the last client is
// accepted, to finish setting the clients up before its resident set is
// read.
const settle = time.Second

// IdleMemory connects n clients to b, which must run in a process of its
// own, each with CONNECT and nothing after, and reads the broker's
// resident set before and after.
func IdleMemory(ctx context.Context, b *Broker, n int) (Idle, error) {
	if b.Pid == 0 {
		return Idle{}, fmt.Errorf("bench: %s does not run in a process of its own", b.Name)
	}
	before, err := ProcessRSS(b.Pid)
	if err != nil {
		return Idle{}, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", b.Addr)
		if err != nil {
			return Idle{}, fmt.Errorf("bench: idle client %d of %d: %w", i, n, err)
		}
		conns = append(conns, c)
		if _, err := c.Write(connectFrame(fmt.Sprintf("idle-%d", i))); err != nil {
			return Idle{}, fmt.Errorf("bench: idle client %d: %w", i, err)
		}
		// CONNACK is four bytes for MQTT 3.1.1.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var ack [4]byte
		if _, err := io.ReadFull(c, ack[:]); err != nil {
			return Idle{}, fmt.Errorf("bench: idle client %d: waiting for CONNACK: %w", i, err)
		}
		if ack[0]>>4 != 2 || ack[3] != 0 {
			return Idle{}, fmt.Errorf("bench: idle client %d: refused: % x", i, ack)
		}
	}
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return Idle{}, ctx.Err()
	}
	after, err := ProcessRSS(b.Pid)
	if err != nil {
		return Idle{}, err
	}
	return Idle{Broker: b.Name, Conns: n, Before: before, After: after, PerConn: (after - before) / int64(n)}, nil
}
