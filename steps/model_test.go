// Tests the fingerprint against the simulated controller following each
// model: every case must name the model it runs, and only that one.
package steps_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/steps"
)

func TestFingerprintNamesTheModel(t *testing.T) {
	// Mostly waiting (a case waits a second for a callback the model
	// does not send): beside the other tests that wait.
	t.Parallel()
	for _, name := range controller.Models() {
		t.Run(name, func(t *testing.T) {
			m := controller.MustModel(name)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := steps.Fingerprint(ctx, steps.FingerprintOptions{
				NewController: func() (controller.Controller, error) { return sim.New(sim.Options{Model: m}), nil },
				Quiet:         time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Matching) != 1 || res.Matching[0] != name {
				t.Fatalf("matching %v, want only %s: %+v", res.Matching, name, res.Cases)
			}
			for _, c := range res.Cases {
				if c.Err != "" || !c.Matches(m) {
					t.Errorf("case %s: %+v", c.Change.Key, c)
				}
			}
			var out bytes.Buffer
			res.Print(&out)
			if !strings.Contains(out.String(), "behaves like: "+name) {
				t.Errorf("printed:\n%s", out.String())
			}
		})
	}
}
