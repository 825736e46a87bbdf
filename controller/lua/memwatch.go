// A safety net for memory the size checks on natives cannot see: string
// concatenation is a VM instruction, so `s = s .. s` in a loop doubles
// memory each step until the deadline. While the driver runs, the live
// heap is sampled; growth past the limit since the entry began stops the
// driver at its next instruction. The heap is the whole process's, so the
// limit is generous (four times Options.MaxMemory).

package lua

import (
	"fmt"
	"runtime/metrics"
	"time"
)

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// watchMemory starts the sampler; close ends it.
func (w *watchdog) watchMemory(limit uint64) {
	w.memQuit = make(chan struct{})
	w.memDone = make(chan struct{})
	go func() {
		defer close(w.memDone)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.memQuit:
				return
			case <-t.C:
			}
			w.mu.Lock()
			armed, base := w.armed != 0 && !w.fired, w.heapAtArm
			w.mu.Unlock()
			if !armed {
				continue
			}
			if now := heapBytes(); now > base+limit {
				w.stop(fmt.Errorf("stopped: the driver's memory grew by %s in one call, more than the limit of %s (runaway allocation?)", size(float64(now-base)), size(float64(limit))))
			}
		}
	}()
}
