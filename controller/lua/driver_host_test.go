// The DriverHost seen from a scenario: the project steered through it, and
// the values and requests it waits on.

package lua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
)

// hostDriver answers what a scenario does to it through the host: an
// action, a proxy message, a timer on its own clock, an HTTP request.
const hostDriverXML = `<devicedata><name>Host Test</name>
  <events><event><id>1</id><name>Static</name></event></events>
  <config><script file="driver.lua"/>
    <properties><property><name>State</name><type>STRING</type><default>idle</default></property></properties>
    <actions><action><name>Do It</name><command>DO_IT</command></action></actions>
  </config></devicedata>`

const hostDriverLua = `
PersistData = PersistData or {}
PersistData.starts = (PersistData.starts or 0) + 1
function OnDriverInit()
  C4:AddVariable("LEVEL", "0", "NUMBER")
  C4:AddEvent(7, "Dynamic")
end
function ExecuteCommand(cmd, p)
  if cmd == "LUA_ACTION" and p.ACTION == "DO_IT" then
    C4:SetTimer(10000, function() C4:UpdateProperty("State", "done") end)
  end
end
function ReceivedFromProxy(b, cmd, p)
  C4:SetVariable("LEVEL", p.LEVEL)
  C4:FireEventByID(7)
  C4:url():OnDone(function(t, r, code) C4:UpdateProperty("State", "http " .. tostring(r[1] and r[1].body)) end):Get("http://dev.example/level")
end
`

func TestDriverHostPlaysTheProject(t *testing.T) {
	dir := writeFiles(t, map[string]string{"driver.xml": hostDriverXML, "driver.lua": hostDriverLua})
	// At 0.001 the driver's 10 s timer fires after 10 ms.
	h, err := lua.NewDriverHost(controller.DriverOptions{TimeScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.AnswerHTTP(controller.HTTPAnswer{Method: "GET", URL: "http://dev.example/*", Body: "42"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(dir, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := h.ExecuteAction("Do It", nil); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := h.AwaitValue(ctx, controller.PropertyValue, "State", "done", time.Time{}); err != nil || !ok {
		t.Fatalf("State %q %v: %v", got, ok, err)
	}
	if err := h.ReceivedFromProxy(5001, "SET_LEVEL", map[string]string{"LEVEL": "40"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind       controller.ValueKind
		name, want string
	}{
		{controller.VariableValue, "LEVEL", "40"},
		{controller.PropertyValue, "State", "http 42"},
	} {
		if got, ok, err := h.AwaitValue(ctx, c.kind, c.name, c.want, time.Time{}); err != nil || !ok {
			t.Errorf("%s %s: %q %v: %v", c.kind, c.name, got, ok, err)
		}
	}
	if ev := h.Events(); ev[1] != "Static" || ev[7] != "Dynamic" {
		t.Errorf("events %v", ev)
	}
	if reqs := h.HTTPRequests(); len(reqs) != 1 || reqs[0].URL != "http://dev.example/level" || reqs[0].Outcome != "answer 0" {
		t.Errorf("requests %+v", reqs)
	}

	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, ok, err := h.AwaitValue(short, controller.VariableValue, "NOPE", "1", time.Time{}); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a missing variable: ok %v, err %v", ok, err)
	}
	if _, _, err := h.AwaitValue(ctx, controller.PropertyValue, "Nope", "1", time.Time{}); err == nil {
		t.Error("a missing property is no error")
	}

	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, err := h.Eval("PersistData.starts"); err != nil || got != "2" {
		t.Errorf("after the restart PersistData.starts is %q (%v), want 2", got, err)
	}
	calls := map[string]controller.DriverCall{}
	for _, c := range h.Calls() {
		calls[c.Name] = c
	}
	if c := calls["AddVariable"]; c.Count != 2 || c.Status != controller.CallEmulated {
		t.Errorf("AddVariable in the calls: %+v", c)
	}
}
