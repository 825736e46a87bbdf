//go:build libmosquitto

package mosq

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator"
)

// TestNoLeakAcrossClients creates and destroys thousands of clients, half
// of them connected with a QoS 1 publish in flight or done, and shows that
// nothing stays behind: no goroutine, no C context, no cgo handle, and the
// C heap does not grow with the number of clients (the second, larger
// round may not add more than a small bound over the first).
func TestNoLeakAcrossClients(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	b := emulator.StartTest(t, emulator.Options{})
	x := &h{t: t, b: b}
	host, port := x.hostPort()
	ctl := New()
	t.Cleanup(func() {
		if err := ctl.Close(); err != nil {
			t.Error(err)
		}
	})

	round := func(n int) {
		const workers = 16
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += workers {
					c, err := ctl.NewClient("", true)
					if err != nil {
						errs <- err
						return
					}
					rec := controller.NewRecorder(c)
					if i%2 == 0 {
						c.Connect(host, port, 60, nil)
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						if _, err := rec.WaitFor(ctx, controller.Is(controller.OnConnect, 0)); err != nil {
							cancel()
							errs <- err
							c.Destroy()
							return
						}
						cancel()
						c.Publish("leak/t", []byte("payload"), 1, false, nil)
						c.Subscribe("leak/#", 1, nil)
					}
					c.Destroy()
					<-rec.Done()
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	settle := func() {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && runtime.NumGoroutine() > baseG {
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
	}

	baseG = runtime.NumGoroutine()
	round(300)
	settle()
	g1, heap1 := runtime.NumGoroutine(), cHeapInUse()
	const n = 3000
	start := time.Now()
	round(n)
	settle()
	g2, heap2 := runtime.NumGoroutine(), cHeapInUse()
	growth := heap2 - heap1
	t.Logf("%d clients in %v; goroutines %d -> %d -> %d; C heap in use %d -> %d bytes (%+d, %.1f bytes per client); live contexts %d, live clients %d",
		n, time.Since(start).Round(time.Millisecond), baseG, g1, g2, heap1, heap2, growth, float64(growth)/n, liveContexts(), live.Load())
	if liveContexts() != 0 || live.Load() != 0 {
		t.Errorf("%d C contexts and %d clients remain", liveContexts(), live.Load())
	}
	if g2 > g1+2 {
		t.Errorf("goroutines grew from %d to %d", g1, g2)
	}
	// A leak of one small allocation per client would be tens of bytes
	// per client; allow less than 64 bytes per client of allocator noise.
	if growth > 64*n {
		t.Errorf("C heap grew by %d bytes over %d clients", growth, n)
	}
}

var baseG int
