package lua_test

import (
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestScaledClockFiresA30sTimerFast(t *testing.T) {
	rt := loaded(t, lua.Options{TimeScale: 0.01}, map[string]string{"driver.lua": `
function OnDriverLateInit()
  t0, os0 = C4:GetTime(), os.time()
  C4:SetTimer(30000, function(timer) fired = C4:GetTime() - t0; osd = os.time() - os0 end)
end`})
	start := time.Now()
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) { return L.GetGlobal("fired") != glua.LNil, nil })
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	if wall > 2*time.Second {
		t.Errorf("a 30 s timer at scale 0.01 took %v of wall time", wall)
	}
	if ms := eval(t, rt, "return fired").(int64); ms < 30000 || ms > 40000 {
		t.Errorf("driver clock moved %d ms by the time the 30 s timer fired", ms)
	}
	if d := eval(t, rt, "return osd").(int64); d < 29 || d > 40 {
		t.Errorf("os.time moved %d s", d)
	}
}

func TestLegacyTimersAndCallAsync(t *testing.T) {
	rt := loaded(t, lua.Options{TimeScale: 0.01}, map[string]string{"driver.lua": `
log = {}
function OnTimerExpired(id)
  log[#log + 1] = "expired"
  if id == rep then count = (count or 0) + 1; if count == 3 then killed = C4:KillTimer(rep) end end
end
function OnDriverLateInit()
  rep = C4:AddTimer(1, "SECONDS", true)
  C4:CallAsync(function() log[#log + 1] = "async" end)
  log[#log + 1] = "handler"
end`})
	err := rt.Await(ctxFor(t, 5*time.Second), func(L *glua.LState) (bool, error) { return L.GetGlobal("killed") != glua.LNil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := eval(t, rt, "return log[1] .. ',' .. log[2] .. ',' .. killed .. ',' .. rep"); got != "handler,async,0,1" {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{`C4:SetTimer(0, function() end)`, `C4:SetTimer(10, "nope")`, `C4:AddTimer(1, "FORTNIGHTS")`} {
		if _, err := rt.Exec("bad", bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestTimeFunctionsReadTheClock(t *testing.T) {
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	rt := loaded(t, lua.Options{Start: start}, map[string]string{"driver.lua": "x = 1"})
	if got := eval(t, rt, "return os.date('!%Y-%m-%d', os.time())"); got != "2030-06-01" {
		t.Errorf("os.date = %v", got)
	}
	if got := eval(t, rt, "return math.floor(C4:GetTime('s') / 86400)"); got != start.Unix()/86400 {
		t.Errorf("GetTime(s) days = %v", got)
	}
	if got := eval(t, rt, "local t, s = C4:ParseIso8601DateTime('2024-01-02T03:04:05Z'); return t.year * 100 + t.month + s - s"); got != int64(202401) {
		t.Errorf("ParseIso8601DateTime = %v", got)
	}
}
