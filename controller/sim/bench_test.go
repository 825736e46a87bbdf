package sim_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
)

// benchPublish measures one client publishing through the emulator on
// loopback: messages per second, and allocations per message (one op is
// one message, the client's and the broker's allocations together).
func benchPublish(b *testing.B, qos int) {
	br := emulator.StartTest(b, emulator.Options{JournalCap: 1})
	ctl := sim.New()
	closeAtEnd(b, ctl)
	c, err := ctl.NewSimClient(fmt.Sprintf("bench-qos%d", qos), true)
	if err != nil {
		b.Fatal(err)
	}
	c.SetMaxInflightMessages(100)
	x := &h{t: b, b: br, c: c}
	host, port := x.hostPort()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if r := c.Connect(host, port, 60, nil); r.Code != 0 {
		b.Fatal(r)
	}
	for ev := range c.Events() {
		if ev.Kind == controller.OnConnect {
			break
		}
	}
	slots := make(chan struct{}, 1000)
	done := make(chan int, 1)
	n := b.N
	go func() {
		got := 0
		for ev := range c.Events() {
			if ev.Kind == controller.OnPublish {
				<-slots
				got++
				if got == n {
					break
				}
			}
		}
		done <- got
	}()
	payload := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
		if r := c.Publish("bench/t", payload, qos, false, nil); r.Code != 0 {
			b.Fatal(r)
		}
	}
	select {
	case got := <-done:
		if got != n {
			b.Fatalf("%d of %d onPublish", got, n)
		}
	case <-ctx.Done():
		b.Fatal(ctx.Err())
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkPublishQoS1(b *testing.B) { benchPublish(b, 1) }
func BenchmarkPublishQoS0(b *testing.B) { benchPublish(b, 0) }

// BenchmarkIdleClients connects 1,000 clients and reports the heap and
// goroutines per idle connected client. The emulator runs in the same
// process, so its share of each connection is included.
func BenchmarkIdleClients(b *testing.B) {
	const clients = 1000
	for i := 0; i < b.N; i++ {
		br := emulator.StartTest(b, emulator.Options{})
		x := &h{t: b, b: br}
		host, port := x.hostPort()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		ctl := sim.New()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var recs []*controller.Recorder
		for k := 0; k < clients; k++ {
			c, err := ctl.NewSimClient(fmt.Sprintf("idle-%d", k), true)
			if err != nil {
				b.Fatal(err)
			}
			r := controller.NewRecorder(c)
			recs = append(recs, r)
			if ret := c.Connect(host, port, 60, nil); ret.Code != 0 {
				b.Fatal(ret)
			}
		}
		for _, r := range recs {
			if _, err := r.WaitFor(ctx, controller.Is(controller.OnConnect, 0)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/clients, "heap-bytes/client")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/clients, "goroutines/client")
		cancel()
		if err := ctl.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
