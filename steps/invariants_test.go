package steps_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/record"
	"github.com/mqtthil/mqtthil/steps"
)

// twice is a controller whose clients report every onPublish two times.
type twice struct{ controller.Controller }

func (t twice) NewClient(id string, clean bool) (controller.Client, error) {
	c, err := t.Controller.NewClient(id, clean)
	if err != nil {
		return nil, err
	}
	out := make(chan controller.Event)
	go func() {
		defer close(out)
		for ev := range c.Events() {
			out <- ev
			if ev.Kind == controller.OnPublish {
				out <- ev
			}
		}
	}()
	return twiceClient{c, out}, nil
}

type twiceClient struct {
	controller.Client
	ev chan controller.Event
}

func (c twiceClient) Events() <-chan controller.Event { return c.ev }

func TestInvariantsCatchADoubleOnPublish(t *testing.T) {
	opts := simOptions(t)
	inner := opts.NewController
	opts.NewController = func() (controller.Controller, error) {
		c, err := inner()
		return twice{c}, err
	}
	opts.Deadline = 300e6
	var mu sync.Mutex
	var rec *record.Scenario
	opts.OnScenarioEnd = func(r *record.Scenario) { mu.Lock(); rec = r; mu.Unlock() }
	status := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) { steps.Register(sc, opts) },
		Options:             &godog.Options{Format: "progress", Output: &strings.Builder{}, Paths: []string{"testdata/invariants.feature"}, Strict: true},
	}.Run()
	if status == 0 {
		t.Fatal("a controller that reports twice passed")
	}
	want := `every Publish that returned 0 gets exactly one onPublish with its message id:
    message 1 ("21.5" on "home/t", QoS 1, id 1): 2 onPublish callbacks`
	if rec == nil || rec.Status != "failed" || !strings.Contains(rec.Error, want) {
		t.Fatalf("record %+v, want a failure saying %q", rec, want)
	}
}
