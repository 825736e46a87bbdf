package emulator_test

import (
	"runtime/metrics"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/bench"
	"github.com/mqtthil/mqtthil/emulator"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sysc() (r, w, cs float64) {
	b, _ := os.ReadFile("/proc/self/io")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			r, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			w, _ = strconv.ParseFloat(v, 64)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return r, w, float64(ms.NumGC)*1000 + float64(ms.TotalAlloc>>20)/1000
}

func mutexWait() float64 {
	s := []metrics.Sample{{Name: "/sync/mutex/wait/total:seconds"}, {Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

func BenchmarkTmpAB(b *testing.B) {
	const n = 20000
	load := bench.Load{QoS: 1, Size: 256, Pairs: 1, Messages: n, Window: 64}
	ctx := context.Background()
	var er, mr, ec, mc, pr []float64
	for i := range b.N {
		_ = i
		e := emulator.StartTest(b, emulator.Options{Rules: bench.IdleRules()})
		c0 := cpuNow()
		r0, w0, s0 := sysc()
		mw := mutexWait()
		r, err := bench.Run(ctx, e.DUTAddr, load)
		r1, w1, s1 := sysc()
		fmt.Printf("emu mutex wait %.1f ms\n", (mutexWait()-mw)*1000)
		_ = fmt.Sprintf("emu   reads/msg %.2f writes/msg %.2f gc %.3f\n", (r1-r0)/n, (w1-w0)/n, (s1 - s0))
		if err != nil {
			b.Fatal(err)
		}
		ec = append(ec, float64(cpuNow()-c0)/1e3/n)
		er = append(er, r.Rate)
		e.Close()
		bare, _ := bench.StartMochi(ctx)
		c0 = cpuNow()
		r0, w0, s0 = sysc()
		mw = mutexWait()
		r, err = bench.Run(ctx, bare.Addr, load)
		r1, w1, s1 = sysc()
		fmt.Printf("mochi mutex wait %.1f ms\n", (mutexWait()-mw)*1000)
		_ = fmt.Sprintf("mochi reads/msg %.2f writes/msg %.2f gc %.3f\n", (r1-r0)/n, (w1-w0)/n, (s1 - s0))
		mc = append(mc, float64(cpuNow()-c0)/1e3/n)
		bare.Close()
		if err != nil {
			b.Fatal(err)
		}
		mr = append(mr, r.Rate)
	}
	for i := range er {
		pr = append(pr, er[i]/mr[i])
	}
	fmt.Printf("paired median %.3f  ", median(pr))
	fmt.Printf("rate emu %.0f mochi %.0f ratio %.3f | cpu µs/msg emu %.2f mochi %.2f ratio %.3f\n",
		median(er), median(mr), median(er)/median(mr), median(ec), median(mc), median(mc)/median(ec))
}

func BenchmarkTmpEmu(b *testing.B) {
	load := bench.Load{QoS: 1, Size: 256, Pairs: 1, Messages: 20000, Window: 64}
	ctx := context.Background()
	for range b.N {
		e := emulator.StartTest(b, emulator.Options{Rules: bench.IdleRules()})
		if _, err := bench.Run(ctx, e.DUTAddr, load); err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}
