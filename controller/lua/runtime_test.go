package lua_test

import (
	"archive/zip"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/emulator"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newRuntime(t *testing.T, opts lua.Options) *lua.Runtime {
	t.Helper()
	rt, err := lua.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// writeDriver writes driver.lua (and driver.xml when given) into a new folder.
func writeDriver(t *testing.T, code, xml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "driver.lua"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if xml != "" {
		if err := os.WriteFile(filepath.Join(dir, "driver.xml"), []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "driver.lua")
}

func hostPort(t *testing.T, b *emulator.Broker) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(b.DUTAddr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func waitTrace(t *testing.T, rt *lua.Runtime, what string, cond func([]lua.Entry) bool) {
	t.Helper()
	if err := rt.Trace().Wait(ctxFor(t, 5*time.Second), cond); err != nil {
		var b strings.Builder
		rt.Trace().WriteJSONL(&b)
		t.Fatalf("waiting for %s: %v\ntrace:\n%s", what, err, b.String())
	}
}

func has(name string, n int) func([]lua.Entry) bool {
	return func(es []lua.Entry) bool {
		c := 0
		for _, e := range es {
			if e.Kind == lua.KindCallback && e.Name == name {
				c++
			}
		}
		return c >= n
	}
}

const publisher = `
local published = false
client = C4:MQTT("lua-test", true)
client:OnConnect(function(obj, rc, flags, msg)
  local code, id = obj:Publish("t/state", "on", 1, false)
  assert(code == 0 and id == 1, "publish returned " .. tostring(code))
  published = true
end)
client:OnPublish(function(obj, id, rc, msg)
  assert(published, "onPublish ran before Publish returned")
  acked = id
end)
function OnDriverLateInit()
  client:Connect(Properties["Host"], tonumber(Properties["Port"]), 60)
end
`

func TestDriverPublishAndTrace(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	host, port := hostPort(t, b)
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(writeDriver(t, publisher, "")); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetProperties(map[string]string{"Host": host, "Port": strconv.Itoa(port)}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	waitTrace(t, rt, "onPublish", has("onPublish", 1))
	if err := rt.Idle(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if errs := rt.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	out, err := rt.Exec("check", "return acked")
	if err != nil || len(out) != 1 || out[0] != int64(1) {
		t.Fatalf("acked = %v, %v", out, err)
	}
	var names []string
	for _, e := range rt.Trace().Entries() {
		if e.Kind != lua.KindCall && e.Kind != lua.KindReturn && e.Kind != lua.KindCallback {
			continue // entry points, C4 calls and logs are checked elsewhere
		}
		names = append(names, e.Kind+":"+e.Name)
		if e.Client != "lua-test" {
			t.Errorf("entry of client %q", e.Client)
		}
	}
	want := "call:MQTT return:MQTT call:OnConnect return:OnConnect call:OnPublish return:OnPublish call:Connect return:Connect callback:onConnect call:Publish return:Publish callback:onPublish"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("trace\n got %s\nwant %s", got, want)
	}
	es := rt.Trace().Entries()
	last := es[len(es)-1]
	if len(last.Args) != 4 || last.Args[0] != int64(1) || last.Args[1] != int64(0) || last.Args[2] != "Success" || last.Args[3] != nil {
		t.Errorf("onPublish args %v", last.Args)
	}
	ret := es[len(es)-2]
	if len(ret.Ret) != 2 || ret.Ret[0] != int64(0) || ret.Ret[1] != int64(1) {
		t.Errorf("Publish returned %v", ret.Ret)
	}
	c := lua.Correlate(es)
	if c.Matched != 1 || len(c.Outstanding) != 0 || len(c.Unexpected) != 0 {
		t.Errorf("correlation %+v", c)
	}
}

func TestRunawayScriptStopped(t *testing.T) {
	rt := newRuntime(t, lua.Options{Deadline: 100 * time.Millisecond})
	path := writeDriver(t, "local x = 0\nfunction OnDriverInit()\n  while true do\n    x = x + 1\n  end\nend\n", "")
	if err := rt.Load(path); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := rt.Init()
	var le *lua.Error
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a Lua error", err)
	}
	if le.File != path || le.Line < 3 || le.Line > 5 || !strings.Contains(le.Message, "runaway") {
		t.Errorf("error %q at %s:%d", le.Message, le.File, le.Line)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	// The state is usable afterwards.
	out, err := rt.Exec("after", "return 1 + 1")
	if err != nil || out[0] != int64(2) {
		t.Fatalf("after a runaway: %v %v", out, err)
	}
}

func TestSandbox(t *testing.T) {
	path := writeDriver(t, "", "")
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "data.txt"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(path); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ code, want string }{
		{`os.execute("true")`, "os.execute is not allowed"},
		{`os.exit(1)`, "os.exit is not allowed"},
		{`io.open("/etc/passwd")`, "outside the driver's folder"},
		{`io.open("../x")`, "outside the driver's folder"},
		{`dofile("/etc/passwd")`, "outside the driver's folder"},
		{`io.popen("ls")`, "io.popen is not allowed"},
		{`C4:SendWOL("x")`, "C4:SendWOL is not emulated"},
		{`C4:MQTT("x"):Frobnicate()`, "no method Frobnicate"},
		{`require("socket")`, "socket"},
	} {
		_, err := rt.Exec("snippet", c.code)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.code, err, c.want)
		}
	}
	out, err := rt.Exec("snippet", `local f = assert(io.open("data.txt")); local s = f:read("*a"); f:close(); return s`)
	if err != nil || out[0] != "inside" {
		t.Errorf("reading inside the folder: %v %v", out, err)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	path := writeDriver(t, "function OnDriverInit()\n  local t = nil\n  return t.x\nend\n", "")
	if err := rt.Load(path); err != nil {
		t.Fatal(err)
	}
	err := rt.Init()
	var le *lua.Error
	if !errors.As(err, &le) || le.File != path || le.Line != 3 || !strings.Contains(le.Traceback, "stack traceback") {
		t.Fatalf("got %#v", err)
	}
	rt2 := newRuntime(t, lua.Options{})
	path2 := writeDriver(t, "function x(\n  end end\n", "")
	err = rt2.Load(path2)
	if !errors.As(err, &le) || le.File != path2 || le.Line == 0 {
		t.Fatalf("syntax error: %#v", err)
	}
}

func TestCallbackErrorIsReported(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	path := writeDriver(t, "function OnDriverInit()\n  C4:SetTimer(1, function(t)\n    error('boom')\n  end)\nend\n", "")
	if err := rt.Load(path); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Second)
	for len(rt.Errors()) == 0 {
		if err := rt.Idle(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("no error from the timer")
		case <-time.After(time.Millisecond):
		}
	}
	var le *lua.Error
	if err := rt.NewErrors(); !errors.As(err, &le) || le.Line != 3 || le.In != "timer" || !strings.Contains(le.Message, "boom") {
		t.Fatalf("got %v", err)
	}
	if rt.NewErrors() != nil {
		t.Error("NewErrors returned the same error twice")
	}
}

func TestTimersAndJSON(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(writeDriver(t, `
ticks = 0
function OnDriverInit()
  rep = C4:SetTimer(5, function(t) ticks = ticks + 1; if ticks == 3 then t:Cancel(); done = true end end, true)
  never = C4:SetTimer(5, function() fired = true end)
  never:Cancel()
end`, "")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Init(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Second)
	for {
		out, err := rt.Exec("poll", "return done")
		if err != nil {
			t.Fatal(err)
		}
		if out[0] == true {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the repeating timer did not fire three times")
		case <-time.After(5 * time.Millisecond):
		}
	}
	out, err := rt.Exec("json", `
local s = C4:JsonEncode({b = {1, 2, "x"}, a = true, n = 1.5}, false, true)
local v = C4:JsonDecode('{"k": [1, {"z": null}], "s": "t"}')
return s, v.k[1], v.s, ticks, fired, C4:GetDeviceID(), C4:GetVersionInfo().version`)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != `{"a":true,"b":[1,2,"x"],"n":1.5}` || out[1] != int64(1) || out[2] != "t" || out[3] != int64(3) || out[4] != nil || out[5] != int64(1001) {
		t.Errorf("got %v", out)
	}
}

func TestC4ZPackage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sensor.c4z")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{
		"driver.xml": `<devicedata><name>Sensor</name><version>7</version><config><properties>
<property><name>Topic</name><type>STRING</type><default>home/sensor</default></property>
</properties><commands><command><name>Ping</name></command></commands></config></devicedata>`,
		"driver.lua":     `helper = require("lib.helper")` + "\n" + `function ExecuteCommand(cmd, p) last = cmd .. ":" .. (p.x or "") end`,
		"lib/helper.lua": `return { topic = function() return Properties["Topic"] end }`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	rt := newRuntime(t, lua.Options{})
	if err := rt.Load(path); err != nil {
		t.Fatal(err)
	}
	info := rt.Info()
	if info.Name != "Sensor" || len(info.Properties) != 1 || info.Commands[0] != "Ping" {
		t.Errorf("info %+v", info)
	}
	if err := rt.ExecuteCommand("Ping", map[string]string{"x": "1"}); err != nil {
		t.Fatal(err)
	}
	out, err := rt.Exec("check", "return helper.topic(), last")
	if err != nil || out[0] != "home/sensor" || out[1] != "Ping:1" {
		t.Fatalf("got %v %v", out, err)
	}
}

func TestControllerThroughLua(t *testing.T) {
	b := emulator.StartTest(t, emulator.Options{})
	host, port := hostPort(t, b)
	ctl, err := lua.NewController(lua.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	c, err := ctl.NewClient("ctl-test", true)
	if err != nil {
		t.Fatal(err)
	}
	rec := controller.NewRecorder(c)
	ctx := ctxFor(t, 5*time.Second)
	if r := c.Connect(host, port, 60, nil); r.Code != 0 {
		t.Fatal(r)
	}
	if ev, err := rec.WaitFor(ctx, controller.Is(controller.OnConnect, 0)); err != nil || ev.Reason != 0 {
		t.Fatal(ev, err)
	}
	if r := c.Publish("t", []byte("x"), 3, false, nil); r.Code != 3 || r.MsgID != 0 || r.Err == "" {
		t.Errorf("QoS 3: %+v", r)
	}
	r := c.Publish("t", []byte("x"), 1, false, nil)
	if r.Code != 0 || r.MsgID != 1 {
		t.Fatal(r)
	}
	ev, err := rec.WaitFor(ctx, controller.Is(controller.OnPublish, 1))
	if err != nil || ev.Reason != 0 || ev.Message != "Success" || ev.Client != "ctl-test" {
		t.Fatal(ev, err)
	}
	if s := c.ErrorCodeToString(4); s != controller.ErrorString(4) {
		t.Errorf("ErrorCodeToString %q", s)
	}
	c.Destroy()
	select {
	case <-rec.Done():
	case <-ctx.Done():
		t.Fatal("events not closed after Destroy")
	}
	sum := lua.Summarize(ctl.Runtime().Trace().Entries())
	if sum.Calls["Publish"] != 2 || sum.Returns["Publish"]["3"] != 1 || sum.Correlation.Matched != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestAwaitFollowsTimers(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	if _, err := rt.Exec("setup", "n = 0; C4:SetTimer(2, function(t) n = n + 1; if n == 5 then t:Cancel() end end, true)"); err != nil {
		t.Fatal(err)
	}
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) {
		return L.GetGlobal("n").String() == "5", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := rt.Await(ctx, func(L *glua.LState) (bool, error) { return false, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}
