package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

const probeDir = "../../fixtures/probe-driver"

func virtual(t *testing.T) *VirtualController {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vc, err := NewVirtual(ctx, VirtualOptions{Probe: probeDir}, Config{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vc.Close() })
	return vc
}

func TestProbeRoundTrip(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	vc := virtual(t)
	id := vc.Identity()
	if id.Kind != "remote" || id.DriverVersion != "probe 1" || id.DeviceID != "1001" || id.Firmware == "" {
		t.Fatalf("identity %+v", id)
	}
	cl, err := vc.NewClient("sensor", true)
	if err != nil {
		t.Fatal(err)
	}
	rec := controller.NewRecorder(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Before Connect: Publish returns 4 with no msgId? Not asserted here;
	// only that the values come back as the call returned them.
	if r := cl.SetMaxInflightMessages(20); r != (controller.Ret{}) {
		t.Fatalf("SetMaxInflightMessages: %+v", r)
	}
	if r := cl.ForceMqttVersion(5); r.Code != 0 {
		t.Fatalf("ForceMqttVersion: %+v", r)
	}
	host, port := splitAddr(t, b.DUTAddr)
	if r := cl.Connect(host, port, 30, nil); r.Code != 0 {
		t.Fatalf("Connect: %+v", r)
	}
	if _, err := rec.WaitFor(ctx, controller.Is(controller.OnConnect, 0)); err != nil {
		t.Fatal(err)
	}
	payload := []byte{0, 1, 2, 0xff, '"', '\\', '\n'}
	r := cl.Publish("probe/t", payload, 1, false, controller.Props{"CONTENT_TYPE": "bin", "USER_PROPERTY": map[string]string{"a": "b"}})
	if r.Code != 0 || r.MsgID == 0 {
		t.Fatalf("Publish: %+v", r)
	}
	if _, err := rec.WaitFor(ctx, controller.Is(controller.OnPublish, r.MsgID)); err != nil {
		t.Fatal(err)
	}
	s := cl.Subscribe("probe/#", 1, nil)
	if s.Code != 0 || s.MsgID == 0 {
		t.Fatalf("Subscribe: %+v", s)
	}
	p2 := cl.Publish("probe/echo", payload, 1, false, nil)
	msg, err := rec.WaitFor(ctx, func(e controller.Event) bool { return e.Kind == controller.OnMessage && e.Topic == "probe/echo" })
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Payload) != string(payload) || msg.QoS != 1 || msg.Client != "sensor" {
		t.Fatalf("onMessage %+v", msg)
	}
	if _, err := rec.WaitFor(ctx, controller.Is(controller.OnPublish, p2.MsgID)); err != nil {
		t.Fatal(err)
	}
	bad := cl.Publish("probe/#", nil, 1, false, nil)
	if bad.Code == 0 || bad.HasMsgID() || bad.Err == "" {
		t.Fatalf("Publish to a wildcard topic: %+v", bad)
	}
	if got := cl.ErrorCodeToString(4); got == "" {
		t.Fatal("ErrorCodeToString returned nothing")
	}
	// Every callback came after the call that caused it.
	for _, e := range rec.Events() {
		if e.Kind == controller.OnPublish && e.MsgID == r.MsgID && e.Reason != 0 {
			t.Fatalf("onPublish %+v", e)
		}
	}
	cl.Destroy()
	select {
	case <-rec.Done():
	case <-ctx.Done():
		t.Fatal("events did not end after Destroy")
	}
	if err := vc.Err(); err != nil {
		t.Fatal(err)
	}
}

// The same calls through the remote controller and the Lua runtime give
// the same returns.
func TestProbeReturnsMatchLua(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	vc := virtual(t)
	lc, err := lua.NewController(lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	host, port := splitAddr(t, b.DUTAddr)
	pass := "pw"
	run := func(c controller.Controller, id string) []controller.Ret {
		cl, err := c.NewClient(id, true)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Destroy()
		go func() {
			for range cl.Events() {
			}
		}()
		return []controller.Ret{
			cl.Publish("t", []byte("x"), 1, false, nil),
			cl.ForceMqttVersion(7),
			cl.SetUsernameAndPassword("u", nil),
			cl.SetUsernameAndPassword("u", &pass),
			cl.SetWill("w", []byte("bye"), 3, false, nil),
			cl.SetWill("w", []byte("bye"), 1, true, nil),
			cl.ClearWill(),
			cl.SetMaxInflightMessages(-1),
			cl.Subscribe("a/#", 0, nil),
			cl.Unsubscribe("a/#", nil),
			cl.Connect(host, port, 30, controller.Props{"SESSION_EXPIRY_INTERVAL": 10}),
			cl.Publish("", []byte("x"), 1, false, nil),
			cl.Publish("t", []byte("x"), 9, false, nil),
		}
	}
	got, want := run(vc, "remote-1"), run(lc, "lua-1")
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: remote %+v, lua %+v", i, got[i], want[i])
		}
	}
	if err := vc.Err(); err != nil {
		t.Fatal(err)
	}
}

// Nobody answers: the request ends at its deadline with a bench error.
func TestMissingResponseIsBenchError(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	start := time.Now()
	_, err := Dial(context.Background(), Config{Addr: b.ControlAddr, Station: "nobody", Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrBench) || !strings.Contains(err.Error(), "no response to hello") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// startFake is a probe driver in Go on the control listener: answer
// gives each request's result and the events to send before the response.
func startFake(t *testing.T, addr, station string, answer func(req map[string]any) (string, []string)) {
	t.Helper()
	onRequests(t, addr, station, "fake-"+station, func(pc *paho.Client, req map[string]any) {
		result, evs := answer(req)
		ctx := context.Background()
		for _, e := range evs {
			pc.Publish(ctx, &paho.Publish{Topic: eventTopic(station), Payload: []byte(e)})
		}
		last := int64(0)
		for _, e := range evs {
			var ev event
			json.Unmarshal([]byte(e), &ev)
			last = ev.Seq
		}
		resp := fmt.Sprintf(`{"v":1,"id":%q,"ok":true,"result":%s,"seq":%d}`, req["id"], result, last)
		pc.Publish(ctx, &paho.Publish{Topic: respTopic(station), Payload: []byte(resp)})
	})
}

// onRequests connects an MQTT client named clientID to the control
// listener, subscribes it to the station's request topic and hands each
// request that parses to fn, with the client to answer on; it disconnects
// when the test ends.
func onRequests(t *testing.T, addr, station, clientID string, fn func(pc *paho.Client, req map[string]any)) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var pc *paho.Client
	pc = paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			var req map[string]any
			if json.Unmarshal(pr.Packet.Payload, &req) == nil {
				fn(pc, req)
			}
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: reqTopic(station), QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pc.Disconnect(&paho.Disconnect{})
		<-pc.Done()
	})
}

// booted answers hello and create as a probe that booted as "b1" and sends
// no heartbeats, and leaves every other request to answer.
func booted(answer func(req map[string]any) (string, []string)) func(req map[string]any) (string, []string) {
	return func(req map[string]any) (string, []string) {
		switch req["op"] {
		case "hello":
			return `{"identity":{"probe_version":"t"},"boot":"b1","heartbeat_s":0}`, nil
		case "create":
			return `{"obj":1}`, nil
		}
		return answer(req)
	}
}

// fakeClient dials the fake probe of station and makes client "x" on it.
func fakeClient(t *testing.T, addr, station string) (*Controller, controller.Client) {
	t.Helper()
	c, err := Dial(t.Context(), Config{Addr: addr, Station: station, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl, err := c.NewClient("x", true)
	if err != nil {
		t.Fatal(err)
	}
	return c, cl
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return h, n
}

func TestEventGapIsBenchError(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	station := "gap"
	startFake(t, b.ControlAddr, station, booted(func(req map[string]any) (string, []string) {
		if req["op"] == "call" {
			// The call emits event 1; event 2 never arrives; 3 does.
			return `{"ret":[0],"n":1}`, []string{
				`{"v":1,"type":"callback","seq":1,"boot":"b1","obj":1,"cb":"onLog","args":[1,"a"],"n":2}`,
				`{"v":1,"type":"callback","seq":3,"boot":"b1","obj":1,"cb":"onLog","args":[1,"c"],"n":2}`,
			}
		}
		return `{}`, nil
	}))
	c, cl := fakeClient(t, b.ControlAddr, station)
	rec := controller.NewRecorder(cl)
	r := cl.ClearWill()
	// The call returned what the probe answered, or the gap already
	// showed; either way the controller reports the lost event.
	select {
	case <-c.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("the gap went unnoticed")
	}
	err := c.Err()
	if !errors.Is(err, ErrBench) || !strings.Contains(err.Error(), "1 event(s) lost") {
		t.Fatalf("ret %+v, err = %v", r, err)
	}
	// Later calls return at once with the error.
	if r := cl.Publish("t", nil, 0, false, nil); r.Code != controller.ErrUnknown || !strings.Contains(r.Err, "lost") {
		t.Fatalf("after the gap: %+v", r)
	}
	for _, e := range rec.Events() {
		if e.Line == "c" {
			t.Fatal("an event after the gap was delivered")
		}
	}
}

// A probe that goes silent (no heartbeat) and one that restarted (a new
// boot) are bench errors.
func TestSilentAndRestartedProbe(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	startFake(t, b.ControlAddr, "silent", func(req map[string]any) (string, []string) {
		return `{"identity":{"probe_version":"t"},"boot":"b1","heartbeat_s":0.05}`, nil
	})
	c, err := Dial(t.Context(), Config{Addr: b.ControlAddr, Station: "silent", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("a silent probe went unnoticed")
	}
	if err := c.Err(); !errors.Is(err, ErrBench) || !strings.Contains(err.Error(), "3 heartbeats") {
		t.Fatalf("err = %v", err)
	}

	startFake(t, b.ControlAddr, "reboot", booted(func(req map[string]any) (string, []string) {
		return `{"ret":[0],"n":1}`, []string{`{"v":1,"type":"hello","seq":1,"boot":"b2","identity":{}}`}
	}))
	c2, cl := fakeClient(t, b.ControlAddr, "reboot")
	go func() {
		for range cl.Events() {
		}
	}()
	cl.ClearWill()
	select {
	case <-c2.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("a restarted probe went unnoticed")
	}
	if err := c2.Err(); !errors.Is(err, ErrBench) || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("err = %v", err)
	}
}

// The health check fails clearly when the DUT listener refuses the probe's
// object.
func TestHealthCheckFails(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{DUTAuth: map[string]string{"u": "p"}})
	vc := virtual(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := HealthCheck(ctx, vc.Controller, b.DUTAddr)
	if err == nil || !strings.Contains(err.Error(), "connecting to the DUT listener") {
		t.Fatalf("err = %v", err)
	}
	ok := emulator.StartTest(t, emulator.Options{})
	if err := HealthCheck(ctx, vc.Controller, ok.DUTAddr); err != nil {
		t.Fatal(err)
	}
}

// Callbacks the probe reported before its response are handed over before
// the call returns.
func TestEventsBeforeTheReturn(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	startFake(t, b.ControlAddr, "order", booted(func(req map[string]any) (string, []string) {
		if req["op"] == "call" {
			return `{"ret":[0,7],"n":2}`, []string{
				`{"v":1,"type":"callback","seq":1,"boot":"b1","obj":1,"cb":"onPublish","args":[6,0,"Success",null],"n":4}`,
				`{"v":1,"type":"callback","seq":2,"boot":"b1","obj":1,"cb":"onMessage","args":[0,{"hex":"612f62"},{"hex":"00ff"},0,true,{"USER_PROPERTY":{"k":"v"},"MESSAGE_EXPIRY_INTERVAL":9}],"n":6}`,
			}
		}
		return `{}`, nil
	}))
	c, cl := fakeClient(t, b.ControlAddr, "order")
	r := cl.Publish("t", []byte("p"), 1, false, nil)
	if r != (controller.Ret{Code: 0, MsgID: 7}) {
		t.Fatalf("Publish returned %+v", r)
	}
	for i, want := range []controller.EventKind{controller.OnPublish, controller.OnMessage} {
		select {
		case ev := <-cl.Events():
			if ev.Kind != want || ev.Client != "x" {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if ev.Kind == controller.OnMessage {
				if ev.Topic != "a/b" || string(ev.Payload) != "\x00\xff" || !ev.Retain || ev.Props["MESSAGE_EXPIRY_INTERVAL"] != 9 || ev.Props["USER_PROPERTY"].(map[string]string)["k"] != "v" {
					t.Fatalf("onMessage %+v", ev)
				}
			}
		default:
			t.Fatalf("event %d was not handed over before the call returned", i)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestPropsArg: a table that is only a sequence of pairs goes as a JSON
// array, which the probe's decoder turns back into a Lua sequence.
func TestPropsArg(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   controller.Props
		want string
	}{
		{"none", nil, `null`},
		{"named", controller.Props{"CONTENT_TYPE": "a"}, `{"CONTENT_TYPE":"a"}`},
		{"sequence", controller.PropSeq(controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 1}, controller.PropEntry{Property: "2", Value: 2}),
			`[["MESSAGE_EXPIRY_INTERVAL",1],[2,2]]`},
		{"mixed", controller.Props{"1": controller.PropEntry{Property: "CONTENT_TYPE", Value: "a"}, "CONTENT_TYPE": "b"},
			`{"1":["CONTENT_TYPE","a"],"CONTENT_TYPE":"b"}`},
		{"user pairs", controller.Props{"USER_PROPERTY": [][2]string{{"k", "1"}, {"k", "2"}}}, `{"USER_PROPERTY":[["k","1"],["k","2"]]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(propsArg(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

// TestProbeRepeatsAndEmptyID: through the probe, a table that repeats a
// property reaches C4:MQTT's Publish as a Lua sequence (22), and
// C4:MQTT("") is a call of its own.
func TestProbeRepeatsAndEmptyID(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	vc := virtual(t)
	if cl, err := vc.NewClientEmptyID(false); err == nil {
		cl.Destroy()
		t.Error(`C4:MQTT("", false) made an object`)
	}
	cl, err := vc.NewClientEmptyID(true)
	if err != nil {
		t.Fatalf(`C4:MQTT("", true): %v`, err)
	}
	defer cl.Destroy()
	rec := controller.NewRecorder(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := cl.ForceMqttVersion(5); r.Code != 0 {
		t.Fatalf("ForceMqttVersion: %+v", r)
	}
	host, port := splitAddr(t, b.DUTAddr)
	if r := cl.Connect(host, port, 30, nil); r.Code != 0 {
		t.Fatalf("Connect: %+v", r)
	}
	if _, err := rec.WaitFor(ctx, func(e controller.Event) bool { return e.Kind == controller.OnConnect }); err != nil {
		t.Fatal(err)
	}
	twice := controller.PropSeq(controller.PropEntry{Property: "MESSAGE_EXPIRY_INTERVAL", Value: 10}, controller.PropEntry{Property: "2", Value: 20})
	if r := cl.Publish("t", []byte("x"), 1, false, twice); r.Code != controller.ErrDuplicateProperty || r.MsgID != 0 {
		t.Errorf("a property twice: %+v, want 22 and no id", r)
	}
	users := controller.PropSeq(
		controller.PropEntry{Property: "USER_PROPERTY", Value: [][2]string{{"k", "1"}}},
		controller.PropEntry{Property: "USER_PROPERTY", Value: [][2]string{{"k", "2"}}},
	)
	r := cl.Publish("t", []byte("x"), 1, false, users)
	if r.Code != 0 {
		t.Fatalf("a user property key twice: %+v", r)
	}
	pubs, err := b.Journal.WaitFor(ctx, journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: "PUBLISH"}, 1)
	if err != nil || pubs[0].Props != "user_property=k:1 user_property=k:2" {
		t.Errorf("on the wire: %v (%v)", pubs, err)
	}
	if err := vc.Err(); err != nil {
		t.Fatal(err)
	}
}
