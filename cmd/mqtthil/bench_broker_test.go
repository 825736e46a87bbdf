package main

import (
	"context"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/bench"
)

// The bench's brokers run as `mqtthil bench-broker` processes: each serves
// a load, reports its resident set through /proc, and stops cleanly when
// the bench closes its stdin.
func TestBenchBrokerProcesses(t *testing.T) {
	t.Parallel()
	exe := mqtthilBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	// The two brokers at once: each process is measured on its own, and
	// most of a subtest is IdleMemory's settling second.
	for _, name := range []string{"emulator", "mochi"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := bench.StartProcess(ctx, name, exe, benchBrokerCommand)
			if err != nil {
				t.Fatal(err)
			}
			if b.Pid == 0 || b.Emulator != nil {
				t.Fatalf("%s: pid %d, in-process emulator %v: want a process of its own", name, b.Pid, b.Emulator != nil)
			}
			r, err := bench.Run(ctx, b.Addr, bench.BrokerLoad(1, 64, 2, 2000))
			if err != nil {
				b.Close()
				t.Fatalf("load on %s: %v", name, err)
			}
			if r.Messages != 2000 || r.Rate <= 0 {
				t.Errorf("load on %s: %+v", name, r)
			}
			idle, err := bench.IdleMemory(ctx, b, 50)
			if err != nil {
				b.Close()
				t.Fatalf("idle memory on %s: %v", name, err)
			}
			if idle.Conns != 50 || idle.Before <= 0 || idle.After <= 0 {
				t.Errorf("idle memory on %s: %+v", name, idle)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("closing %s: %v", name, err)
			}
		})
	}
}

func TestBenchBrokerRefusesUnknownBroker(t *testing.T) {
	for _, args := range [][]string{{benchBrokerCommand}, {benchBrokerCommand, "hivemq"}} {
		if code, _, stderr := runCmd(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, code, exitUsage, stderr)
		}
	}
}
