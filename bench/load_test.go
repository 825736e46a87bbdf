package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator/journal"
)

func requireExternal() bool { return os.Getenv("MQTTHIL_REQUIRE_EXTERNAL") == "1" }

// The load generator moves every message through each broker, at every
// QoS, and the emulator's journal keeps every packet of it.
func TestLoadThroughEachBroker(t *testing.T) {
	t.Parallel() // beside TestScale, which mostly waits
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	starters := map[string]func(context.Context) (*Broker, error){
		"emulator":  StartEmulator,
		"mochi":     StartMochi,
		"mosquitto": func(ctx context.Context) (*Broker, error) { return StartMosquitto(ctx, t.TempDir()) },
	}
	for _, name := range []string{"emulator", "mochi", "mosquitto"} {
		t.Run(name, func(t *testing.T) {
			b, err := starters[name](ctx)
			if err == errNoMosquitto {
				if requireExternal() {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for _, qos := range []byte{0, 1, 2} {
				l := Load{QoS: qos, Size: 64, Pairs: 2, Messages: 500, Window: 16}
				r, err := Run(ctx, b.Addr, l)
				if err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				if r.Messages != 1000 || r.Rate <= 0 || r.P99 < r.P50 || r.P50 <= 0 {
					t.Fatalf("%s: result %+v", l, r)
				}
				if b.Emulator != nil {
					st := b.Emulator.Journal.Stats()
					pubs := b.Emulator.Journal.Records(journal.Filter{Type: "PUBLISH", Dir: "to_broker"})
					if st.Lost != 0 || len(pubs) != 1000 {
						t.Fatalf("%s: journal kept %d PUBLISHes to the broker, lost %d", l, len(pubs), st.Lost)
					}
					b.Emulator.Journal.Reset()
				}
			}
		})
	}
}

func TestLoadRefusesNonsense(t *testing.T) {
	if _, err := Run(context.Background(), "127.0.0.1:1", Load{QoS: 3, Size: 64, Pairs: 1, Messages: 1, Window: 1}); err == nil {
		t.Fatal("QoS 3 accepted")
	}
	if _, err := Run(context.Background(), "127.0.0.1:1", Load{QoS: 1, Size: 4, Pairs: 1, Messages: 1, Window: 1}); err == nil {
		t.Fatal("a payload too small for the send time accepted")
	}
}
