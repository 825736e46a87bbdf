package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// NewController makes the controller whose client is measured (the
// simulated one, or in builds that have it, libmosquitto's).
type NewController func() controller.Controller

// connected creates a client on ctl and connects it to addr.
func connected(ctx context.Context, ctl controller.Controller, addr, id string, inflight int) (controller.Client, error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portS)
	c, err := ctl.NewClient(id, true)
	if err != nil {
		return nil, err
	}
	if r := c.SetMaxInflightMessages(inflight); !r.OK() {
		c.Destroy()
		return nil, fmt.Errorf("SetMaxInflightMessages: %d %s", r.Code, r.Err)
	}
	if r := c.Connect(host, port, 60, nil); !r.OK() {
		c.Destroy()
		return nil, fmt.Errorf("Connect: %d %s", r.Code, r.Err)
	}
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return nil, fmt.Errorf("client %s: destroyed while connecting", id)
			}
			if ev.Kind == controller.OnConnect {
				if ev.Reason != 0 {
					c.Destroy()
					return nil, fmt.Errorf("client %s: onConnect %d", id, ev.Reason)
				}
				return c, nil
			}
			if ev.Kind == controller.OnDisconnect {
				c.Destroy()
				return nil, fmt.Errorf("client %s: onDisconnect %d while connecting", id, ev.Reason)
			}
		case <-ctx.Done():
			c.Destroy()
			return nil, ctx.Err()
		}
	}
}

// Correlation is what a publishing run found about message ids.
type Correlation struct {
	Publishes  int     `json:"publishes"`
	Wraps      int     `json:"wraps"`      // times the id went from 65535 back to 1
	Mismatches int     `json:"mismatches"` // onPublish for an id not awaited, out of order, or twice
	Rate       float64 `json:"msgs_per_s"`
	P50        time.Duration
	P99        time.Duration
}

// Publish makes n publishes of size bytes at qos from one client of ctl,
// keeping at most window unanswered, and checks that every msgId Publish
// returned gets exactly one onPublish, in order.
func Publish(ctx context.Context, ctl controller.Controller, addr string, qos, size, n, window int) (Correlation, error) {
	c, err := connected(ctx, ctl, addr, "bench-client", window)
	if err != nil {
		return Correlation{}, err
	}
	defer c.Destroy()
	payload := make([]byte, size)
	out := Correlation{Publishes: n}
	pending := make([]int, 0, window) // msgIds in the order Publish returned them
	sentAt := make(map[int]time.Time, window)
	var lats Hist
	last := 0
	wait := func() error {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("client destroyed with %d messages unanswered", len(pending))
			}
			switch ev.Kind {
			case controller.OnPublish:
				if len(pending) == 0 || pending[0] != ev.MsgID {
					out.Mismatches++
					return nil
				}
				lats.Add(time.Since(sentAt[ev.MsgID]))
				delete(sentAt, ev.MsgID)
				pending = pending[1:]
			case controller.OnDisconnect:
				return fmt.Errorf("onDisconnect %d with %d messages unanswered", ev.Reason, len(pending))
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w with %d messages unanswered", ctx.Err(), len(pending))
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		for len(pending) >= window {
			if err := wait(); err != nil {
				return out, err
			}
		}
		r := c.Publish("bench/client", payload, qos, false, nil)
		if !r.OK() {
			return out, fmt.Errorf("publish %d returned %d (%s)", i+1, r.Code, r.Err)
		}
		if r.MsgID < last {
			out.Wraps++
		}
		last = r.MsgID
		pending = append(pending, r.MsgID)
		sentAt[r.MsgID] = time.Now()
	}
	for len(pending) > 0 {
		if err := wait(); err != nil {
			return out, err
		}
	}
	out.Rate = float64(n) / time.Since(start).Seconds()
	out.P50, out.P99 = lats.Quantile(0.5), lats.Quantile(0.99)
	return out, nil
}

// ScaleResult is what many controllers publishing at once cost.
type ScaleResult struct {
	Controllers int           `json:"controllers"`
	Publishes   int           `json:"publishes"`
	Answered    int           `json:"answered"`
	RSSBytes    int64         `json:"rss_bytes"` // peak resident set of this process
	P99         time.Duration `json:"p99_ns"`    // publish to onPublish
}

// Scale connects count controllers (one client each) and has each publish
// QoS 1 at perSecond for d, then reports memory and ack latency.
func Scale(ctx context.Context, newCtl NewController, addr string, count, perSecond int, d time.Duration) (ScaleResult, error) {
	type one struct {
		ctl controller.Controller
		c   controller.Client
	}
	all := make([]one, 0, count)
	var wg sync.WaitGroup // the callback goroutines, below
	defer func() {
		for _, o := range all {
			o.c.Destroy()
			o.ctl.Close()
		}
		wg.Wait() // destroying a client ends its goroutine
	}()
	resetPeakRSS()
	for i := range count {
		ctl := newCtl()
		c, err := connected(ctx, ctl, addr, fmt.Sprintf("scale-%d", i), 20)
		if err != nil {
			ctl.Close()
			return ScaleResult{}, fmt.Errorf("controller %d: %w", i, err)
		}
		all = append(all, one{ctl, c})
	}
	// Each controller's callbacks are taken by a goroutine of its own,
	// which does nothing else; the publishing is one goroutine's, this
	// one, for all of them, at evenly spread times. A goroutine per
	// controller that also published kept the deeper stack of a publish
	// call between its ticks, a thousand times over, in the process whose
	// memory this measures; one that waited in a select on its events and
	// the end of the run needed twice the smallest stack.
	type track struct {
		mu     sync.Mutex
		sentAt map[int]time.Time // msgId to publish time, while unanswered
	}
	tracks := make([]track, len(all))
	var (
		mu        sync.Mutex
		lats      Hist
		sent      int
		pending   atomic.Int64 // publishes sent and not yet answered
		published atomic.Bool  // publishing is over
		answered  = make(chan struct{})
		once      sync.Once
	)
	allAnswered := func() {
		if published.Load() && pending.Load() == 0 {
			once.Do(func() { close(answered) })
		}
	}
	for i, o := range all {
		tr := &tracks[i]
		tr.sentAt = map[int]time.Time{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range o.c.Events() {
				if ev.Kind != controller.OnPublish {
					continue
				}
				now := time.Now()
				tr.mu.Lock()
				t, ok := tr.sentAt[ev.MsgID]
				delete(tr.sentAt, ev.MsgID)
				tr.mu.Unlock()
				if ok {
					mu.Lock()
					lats.Add(now.Sub(t))
					mu.Unlock()
					pending.Add(-1)
					allAnswered()
				}
			}
		}()
	}
	firstErr := func() error {
		defer func() {
			published.Store(true)
			allAnswered()
		}()
		interval := time.Second / time.Duration(perSecond)
		step := interval / time.Duration(len(all))
		start := time.Now()
		end := start.Add(d)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for round := 0; ; round++ {
			for i, o := range all {
				due := start.Add(time.Duration(round)*interval + time.Duration(i)*step)
				if due.After(end) {
					return nil
				}
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				tr := &tracks[i]
				// Under the lock: the answer may come before the time
				// is noted otherwise.
				tr.mu.Lock()
				r := o.c.Publish("bench/scale", []byte("21.5"), 1, false, nil)
				if r.OK() {
					tr.sentAt[r.MsgID] = time.Now()
					pending.Add(1)
				}
				tr.mu.Unlock()
				if !r.OK() {
					return fmt.Errorf("controller %d: publish returned %d", i, r.Code)
				}
				sent++
			}
		}
	}()
	if firstErr != nil {
		// The callback goroutines end as the clients are destroyed.
		return ScaleResult{}, firstErr
	}
	select {
	case <-answered:
	case <-ctx.Done():
		return ScaleResult{}, fmt.Errorf("%d of %d publishes unanswered: %w", pending.Load(), sent, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return ScaleResult{Controllers: count, Publishes: sent, Answered: lats.Count(), RSSBytes: peakRSS(), P99: lats.Quantile(0.99)}, nil
}

// resetPeakRSS starts the peak resident set afresh, so that what the
// bench ran before in this process (the correlation run, the in-process
// brokers) does not count in the scale run's peak: the heap they left is
// collected and returned, and the kernel's high-water mark is reset to the
// current resident set (Linux: clear_refs, value 5). Where that cannot be
// done the peak is the process's.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // best effort, see above
}

// peakRSS reads this process's peak resident set size (Linux).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
