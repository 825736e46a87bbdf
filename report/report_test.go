package report

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/record"
)

func reason(n int) *int { return &n }

// sampleRun writes a run folder with a failed scenario (a dropped PUBACK,
// a resend with DUP, an observer) and a passed one.
func sampleRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sw, err := NewScenarioWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	j := journal.New(0)
	for _, r := range []journal.Record{
		{Kind: journal.KindOpen, Conn: 1, Client: "sensor-1"},
		{Kind: journal.KindPacket, Conn: 1, Client: "sensor-1", Dir: "to_broker", Type: "CONNECT"},
		{Kind: journal.KindPacket, Conn: 1, Client: "sensor-1", Dir: "to_client", Type: "CONNACK", Reason: reason(0)},
		{Kind: journal.KindPacket, Conn: 1, Client: "sensor-1", Dir: "to_broker", Type: "PUBLISH", PacketID: 1, QoS: 1, Topic: "home/t"},
		{Kind: journal.KindPacket, Conn: 1, Client: "sensor-1", Dir: "to_client", Type: "PUBACK", PacketID: 1, Rule: "lost-ack", Action: "drop", Dropped: true},
		{Kind: journal.KindPacket, Conn: 2, Client: "sensor-1", Dir: "to_broker", Type: "PUBLISH", PacketID: 1, QoS: 1, Dup: true, Topic: "home/t"},
		{Kind: journal.KindPacket, Conn: 2, Client: "sensor-1", Dir: "to_client", Type: "PUBACK", PacketID: 1, Reason: reason(16), Rule: "nms", Action: "rewrite reason"},
		{Kind: journal.KindFault, Conn: 2, Rule: "stall", Action: "stall"},
	} {
		j.Add(r)
	}
	failed := &record.Scenario{
		Name: "lost </script> PUBACK & more", URI: "features/faults.feature", Status: "failed", Tags: []string{"@mqtt5"},
		Error:      "features/faults.feature:9: onPublish reports that message with reason 0: got 16",
		FailedStep: &record.StepRef{File: "features/faults.feature", Line: 9, Text: "onPublish reports that message with reason 0", Status: "failed"},
		Seed:       3, Identity: controller.Identity{Kind: "sim"}, Started: start, Ended: at(50),
		Calls: []record.Call{
			{At: at(1), Client: "sensor", Call: "Connect", Args: "keep-alive 60"},
			{At: at(2), Client: "sensor", Call: "Publish", Args: `"21.5" QoS 1`, Ret: controller.Ret{MsgID: 1}},
			{At: at(3), Client: "sensor", Call: "Publish", Args: `"22" QoS 1`, Ret: controller.Ret{MsgID: 2}},
		},
		Events: []controller.Event{
			{Kind: controller.OnConnect, At: at(1), Client: "sensor-1", Message: "Connection Accepted."},
			{Kind: controller.OnPublish, At: at(40), Client: "sensor-1", MsgID: 1, Reason: 16, Message: "No matching subscribers"},
		},
		Clients:  map[string]string{"sensor": "sensor-1"},
		Faults:   []record.FaultRule{{Name: "step-1-drop", Match: `the next PUBACK to "sensor"`, From: "features/faults.feature:6", Fired: 1}},
		Observer: []controller.Event{{Kind: controller.OnMessage, At: at(5), Client: "observer", Topic: "home/t", Payload: make([]byte, 1000)}},
		Journal:  j,
	}
	passed := &record.Scenario{Name: "fine", URI: "features/a.feature", Status: "passed", Started: start, Ended: at(5)}
	for _, r := range []*record.Scenario{failed, passed} {
		if _, err := sw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := json.Marshal(Manifest{Harness: "v0", Controller: controller.Identity{Kind: "sim", Model: "model x"}, Station: "bench-7", Seed: 3, Started: start, Ended: at(60)})
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), m, 0o644); err != nil {
		t.Fatal(err)
	}
	cucumber := `[{"uri":"features/faults.feature","elements":[{"name":"lost </script> PUBACK & more","type":"scenario","line":3,
	"steps":[{"keyword":"Given ","name":"a client","line":4,"result":{"status":"passed"}},{"keyword":"Then ","name":"onPublish reports that message with reason 0","line":9,"result":{"status":"failed","error_message":"got 16"}}]}]}]`
	if err := os.WriteFile(filepath.Join(dir, CucumberFile), []byte(cucumber), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunFolderRoundTrip(t *testing.T) {
	dir := sampleRun(t)
	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 2 || run.Scenarios[0].URI != "features/a.feature" {
		t.Fatalf("scenarios %+v", run.Scenarios)
	}
	f := run.Scenarios[1]
	if f.Outcome != Failed || len(f.Records) != 8 || f.Records[4].Rule != "lost-ack" || !f.Records[4].Dropped || f.JournalStart.IsZero() {
		t.Fatalf("failed scenario read back as %+v", f)
	}
	if len(f.Observer) != 1 || len(f.Observer[0].Payload) != payloadCutoff {
		t.Errorf("observer payload kept %d bytes, want %d", len(f.Observer[0].Payload), payloadCutoff)
	}
	if st := run.Steps[f.File]; len(st) != 2 || st[1].Status != "failed" {
		t.Errorf("steps %+v", st)
	}
	if c := run.Counts(); c[Failed] != 1 || c[Passed] != 1 {
		t.Errorf("counts %v", c)
	}
	if _, err := LoadRun(t.TempDir()); err == nil {
		t.Error("an empty folder read as a run")
	}
}

func TestHTMLReport(t *testing.T) {
	dir := sampleRun(t)
	run, err := Regenerate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		"bench-7", "model x", ">1</b> failed", ">1</b> passed",
		"fault layer", "observer", "PUBLISH id 1 q1 DUP", "drop (rule lost-ack)", "rewrite reason (rule nms)",
		"PUBACK id 1 rc 16", "⚡ stall", "onPublish(1, 16 No matching subscribers)", "no callback for msgId 2",
		"lost &lt;/script&gt; PUBACK &amp; more", "features/faults.feature:9", "got 16",
		"the next PUBACK to &#34;sensor&#34;: fired 1×",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Count(page, "</script>") != 2 { // the passed scenario's kept body, and the page's script
		t.Errorf("%d </script> in the page, want 2", strings.Count(page, "</script>"))
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Error("the page loads something from the network")
	}
	// the failed scenario comes first, open, its diagram drawn; the
	// passed one's body waits in a script element
	if fi, pi := strings.Index(page, `class="sc o-failed" id="sc0" open`), strings.Index(page, `class="sc o-passed" id="sc1"><summary>`); fi < 0 || pi < fi {
		t.Errorf("failed scenario not first and open (%d, %d)", fi, pi)
	}
	// the return that gave msgId 1 links to its onPublish, and back
	ret := regexp.MustCompile(`<g id="(d0-r\d+)"><a href="#(d0-r\d+)">`).FindAllStringSubmatch(page, -1)
	if len(ret) != 2 || ret[0][1] != ret[1][2] || ret[0][2] != ret[1][1] {
		t.Errorf("msgId links %v", ret)
	}
	for _, svg := range regexp.MustCompile(`(?s)<svg class="sq".*?</svg>`).FindAllString(page, -1) {
		if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
			t.Errorf("diagram is not well-formed XML: %v", err)
		}
	}
	js := ScenarioOf(run.Scenarios[1], 3)
	if !strings.Contains(js.Account, "Failing step: features/faults.feature:9") || !strings.Contains(js.Journal, "(5 earlier records left out)") ||
		!strings.Contains(js.Journal, "sensor: Publish returned 0, msgId 1") {
		t.Errorf("JUnit view:\n%s\n%s", js.Account, js.Journal)
	}
}

func TestLongScenarioKeepsBothEnds(t *testing.T) {
	sf := &ScenarioFile{Outcome: Failed, JournalFile: "x.jsonl"}
	sf.Started = time.Now()
	sf.JournalStart = sf.Started
	for i := range 1000 {
		sf.Records = append(sf.Records, journal.Record{Seq: uint64(i + 1), TNs: int64(i), Kind: journal.KindPacket, Dir: "to_broker", Type: "PINGREQ"})
	}
	svg := newDiagram(sf, "d").SVG()
	if !strings.Contains(svg, "601 rows left out here: x.jsonl has them all") || !strings.Contains(svg, "scenario failed") {
		t.Errorf("long diagram: %.300s", svg)
	}
	if n := strings.Count(svg, `class="tm"`); n != maxRows+1 {
		t.Errorf("%d rows drawn, want %d", n, maxRows+1)
	}
}
