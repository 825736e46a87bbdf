package remote

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtthil/mqtthil/emulator"
)

// rawClient is a harness-side client that sends requests as given and
// collects what the probe answers.
type rawClient struct {
	pc    *paho.Client
	resp  chan map[string]any
	event chan map[string]any
}

func dialRaw(t *testing.T, addr, station string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{resp: make(chan map[string]any, 64), event: make(chan map[string]any, 64)}
	rc.pc = paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			var m map[string]any
			if err := json.Unmarshal(pr.Packet.Payload, &m); err != nil {
				m = map[string]any{"unreadable": string(pr.Packet.Payload)}
			}
			ch := rc.event
			if pr.Packet.Topic == respTopic(station) {
				ch = rc.resp
			}
			select {
			case ch <- m:
			default:
			}
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rc.pc.Connect(ctx, &paho.Connect{ClientID: "raw-" + station, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: respTopic(station), QoS: 1}, {Topic: eventTopic(station), QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rc.pc.Disconnect(&paho.Disconnect{})
		<-rc.pc.Done()
	})
	return rc
}

func (rc *rawClient) send(t *testing.T, station, payload string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rc.pc.Publish(ctx, &paho.Publish{Topic: reqTopic(station), QoS: 1, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-rc.resp:
		return m
	case <-ctx.Done():
		t.Fatalf("no response to %s", payload)
	}
	return nil
}

// Bad and unknown requests get an error response; the probe raises no Lua
// error and keeps answering.
func TestProbeRefusesBadRequests(t *testing.T) {
	v, err := StartVirtual(t.Context(), VirtualOptions{Probe: probeDir})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rc := dialRaw(t, v.Addr, v.Station)
	for _, c := range []struct{ req, id, err string }{
		{`not json`, "", "not a JSON object"},
		{`[1,2]`, "", "no id"},
		{`{"v":1,"op":"ping"}`, "", "no id"},
		{`{"v":2,"id":"a","op":"ping"}`, "a", "schema version 2"},
		{`{"v":1,"id":"b","op":"frobnicate"}`, "b", "unknown op"},
		{`{"v":1,"id":"c","op":"call","obj":99,"method":"Publish"}`, "c", "no object 99"},
		{`{"v":1,"id":"d","op":"create","client_id":{"x":1}}`, "d", "client_id"},
		{`{"v":1,"id":"e","op":"put_file","name":"../x","data":{"hex":"00"}}`, "e", "plain file name"},
		{`{"v":1,"id":"f","op":"put_file","name":"x","data":{"hex":"0"}}`, "f", "bad hex"},
	} {
		m := rc.send(t, v.Station, c.req)
		if m["ok"] != false || m["id"] != c.id || !strings.Contains(m["error"].(string), c.err) || m["v"] != float64(1) {
			t.Errorf("%s: %v", c.req, m)
		}
	}
	// A method outside the API is refused; a wrong argument type is what
	// the driver would see.
	m := rc.send(t, v.Station, `{"v":1,"id":"g","op":"create","client_id":"x"}`)
	obj := m["result"].(map[string]any)["obj"]
	if m := rc.send(t, v.Station, `{"v":1,"id":"h","op":"call","obj":`+jsonText(obj)+`,"method":"Destroy"}`); m["ok"] != false {
		t.Errorf("Destroy: %v", m)
	}
	m = rc.send(t, v.Station, `{"v":1,"id":"i","op":"call","obj":`+jsonText(obj)+`,"method":"Publish","args":[{"a":1}],"n":1}`)
	if m["ok"] != true || !strings.Contains(jsonText(m["result"]), "raised") {
		t.Errorf("Publish with a table topic: %v", m)
	}
	if m := rc.send(t, v.Station, `{"v":1,"id":"j","op":"ping"}`); m["ok"] != true {
		t.Errorf("ping after the bad requests: %v", m)
	}
	if errs := v.RT.Errors(); len(errs) > 0 {
		t.Fatalf("the probe raised Lua errors: %v", errs)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The probe's control channel comes back after the broker drops it, and it
// says hello again; the event sequence goes on.
func TestProbeReconnectsControlChannel(t *testing.T) {
	// Mostly waiting (for the probe to come back, for a request to time
	// out), on a broker of its own: beside the other test that waits.
	t.Parallel()
	b := emulator.StartTest(t, emulator.Options{OpenDUT: true})
	// The DUT listener stands in for the control listener here, so that it
	// can be bounced.
	v, err := StartVirtual(t.Context(), VirtualOptions{Probe: probeDir, ControlAddr: b.DUTAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Dial(t.Context(), Config{Timeout: 5 * time.Second, HeartbeatMisses: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := dialRaw(t, b.ControlAddr, v.Station)
	if err := b.Restart(0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// The harness's own connection went too; the raw observer on the
	// control listener sees the probe's new hello.
	for {
		select {
		case m := <-rc.event:
			// The first hello (seq 1) may still be on its way.
			if seq, _ := m["seq"].(float64); m["type"] == "hello" && seq > 1 {
				if m["boot"] != c.boot {
					t.Fatalf("hello from boot %v, want %s", m["boot"], c.boot)
				}
				return
			}
		case <-ctx.Done():
			s, _ := v.RT.Updated("Control Channel")
			t.Fatalf("no hello after the control channel dropped (Control Channel %q)", s)
		}
	}
}

// A controller that reboots mid-run: the scenario in flight loses its
// probe (an error, within the request deadline), and the next one waits
// for the probe to come back and carries on with the new boot.
func TestProbeRebootBetweenScenarios(t *testing.T) {
	// Mostly waiting (for the probe to come back, for a request to time
	// out), on a broker of its own: beside the other test that waits.
	t.Parallel()
	b := emulator.StartTest(t, emulator.Options{})
	opts := VirtualOptions{Probe: probeDir, ControlAddr: b.ControlAddr, Station: "reboot"}
	v1, err := StartVirtual(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: b.ControlAddr, Station: "reboot", Timeout: time.Second, Reset: true}
	c1, err := DialWait(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	cl, err := c1.NewClient("x", true)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range cl.Events() {
		}
	}()
	v1.Close() // the controller goes away
	start := time.Now()
	if r := cl.SetMaxInflightMessages(5); r.Code != 13 || !strings.Contains(r.Err, "no response") {
		t.Fatalf("a call to a rebooted controller: %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the call took %v", d)
	}
	if !errors.Is(c1.Err(), ErrBench) {
		t.Fatalf("err = %v", c1.Err())
	}
	// It comes back (after the harness started waiting).
	opts.Background = true
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type dialed struct {
		c   *Controller
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := DialWait(ctx, cfg)
		ch <- dialed{c, err}
	}()
	v2, err := StartVirtual(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	d := <-ch
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.c.Close()
	if d.c.boot == c1.boot {
		t.Fatalf("the same boot %s after a restart", c1.boot)
	}
	if _, err := d.c.NewClient("y", true); err != nil {
		t.Fatal(err)
	}
}

// Probes started in the same second still tell their boots apart.
func TestProbeBootsDiffer(t *testing.T) {
	a, b := virtual(t), virtual(t)
	if a.boot == "" || a.boot == b.boot {
		t.Fatalf("boots %q and %q", a.boot, b.boot)
	}
}
