// The broker processes of `mqtthil bench`: the bench starts the emulator
// and bare mochi each as a process of its own, as it does mosquitto, so
// that every broker runs the same way and none shares the load
// generator's process. Not on the command list; the bench is its user.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mqtthil/mqtthil/bench"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

func init() {
	register(command{name: benchBrokerCommand, run: runBenchBroker})
}

const benchBrokerCommand = "bench-broker"

// runBenchBroker serves one broker (emulator or mochi) on a free loopback
// port, writes its address on stdout and serves until stdin closes. The
// emulator's exit is 1 when its journal lost any record.
func runBenchBroker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "Usage: mqtthil %s emulator|mochi\n", benchBrokerCommand)
		return exitUsage
	}
	start := map[string]func(context.Context) (*bench.Broker, error){"emulator": bench.StartEmulator, "mochi": bench.StartMochi}[args[0]]
	if start == nil {
		fmt.Fprintf(stderr, "mqtthil %s: %q: want emulator or mochi\n", benchBrokerCommand, args[0])
		return exitUsage
	}
	b, err := start(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "mqtthil %s: %v\n", benchBrokerCommand, err)
		return exitHarness
	}
	fmt.Fprintf(stdout, "%s%s\n", bench.ServeLine, b.Addr)
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	var lost uint64
	var drops []journal.Record
	if b.Emulator != nil {
		lost = b.Emulator.Journal.Stats().Lost
		drops = b.Emulator.Journal.Records(journal.Filter{Kind: journal.KindDrop})
	}
	b.Close()
	code := exitPassed
	if lost != 0 {
		fmt.Fprintf(stderr, "mqtthil %s: the journal lost %d records\n", benchBrokerCommand, lost)
		code = exitFailed
	}
	if len(drops) != 0 {
		// A load the bench runs must not lose messages: say so, with the
		// cause, rather than leave only a subscriber that waited in vain.
		fmt.Fprintf(stderr, "mqtthil %s: the broker dropped %d messages on its own, the first to %s: %s\n",
			benchBrokerCommand, len(drops), drops[0].Client, drops[0].Cause)
		code = exitFailed
	}
	return code
}
