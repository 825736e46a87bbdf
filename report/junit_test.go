package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestWriteJUnit(t *testing.T) {
	scenarios := []Scenario{
		{Feature: "features/b.feature", Name: "ok", Outcome: Passed, Duration: 10 * time.Millisecond},
		{Feature: "features/a.feature", Name: "broken promise", Outcome: Failed, Account: "onPublish for msgId 3 never came\nwaited 5s", Journal: "#1 PUBLISH"},
		{Feature: "features/a.feature", Name: "bench down", Outcome: Error, Account: "broker emulator did not start"},
		{Feature: "features/a.feature", Name: "slow", Outcome: TimedOut, Account: "waited 5s for onConnect"},
		{Feature: "features/b.feature", Name: "needs hardware", Outcome: Skipped, Account: "needs @hardware; sim is not"},
	}
	props := []Property{{"controller.kind", "sim"}, {"seed", "7"}}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, "mqtthil", props, scenarios); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	if got.Tests != 5 || got.Failures != 1 || got.Errors != 2 || got.Skipped != 1 {
		t.Fatalf("totals %+v", got)
	}
	if len(got.Suites) != 2 || got.Suites[0].Name != "features/a.feature" {
		t.Fatalf("suites %+v", got.Suites)
	}
	a := got.Suites[0]
	if len(a.Properties) != 2 || a.Properties[0].Value != "sim" {
		t.Fatalf("properties %+v", a.Properties)
	}
	f := a.Cases[0]
	if f.Classname != "features/a.feature" || f.Failure == nil || f.Failure.Message != "onPublish for msgId 3 never came" ||
		!strings.Contains(f.Failure.Body, "waited 5s") || f.SystemOut != "#1 PUBLISH" {
		t.Fatalf("failed case %+v", f)
	}
	if a.Cases[2].Error == nil || a.Cases[2].Error.Type != TimedOut {
		t.Fatalf("timed-out case %+v", a.Cases[2])
	}
	if got.Suites[1].Cases[1].Skipped == nil || got.Suites[1].Cases[1].Skipped.Message == "" {
		t.Fatalf("skipped case %+v", got.Suites[1].Cases[1])
	}
	if err := WriteJUnit(&buf, "x", nil, []Scenario{{Outcome: "weird"}}); err == nil {
		t.Fatal("unknown outcome accepted")
	}
}
