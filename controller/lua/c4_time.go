// Timers and time for the driver, all on the runtime's clock: C4:SetTimer
// and its timer objects, the legacy C4:AddTimer/KillTimer with
// OnTimerExpired, C4:GetTime, GetTickCount, GetUptime, CallAsync,
// ParseIso8601DateTime, and os.time/os.date/os.clock.

package lua

import (
	"math"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) timeFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"SetTimer":     r.c4SetTimer,
		"AddTimer":     r.c4AddTimer,
		"KillTimer":    r.c4KillTimer,
		"GetTime":      r.c4GetTime,
		"GetTickCount": func(L *glua.LState) int { L.Push(glua.LNumber(r.clock.Since().Milliseconds() + bootMs)); return 1 },
		"GetUptime": func(L *glua.LState) int {
			L.Push(glua.LNumber(float64(r.clock.Since().Milliseconds()+bootMs) / 1000))
			return 1
		},
		"CallAsync":            r.c4CallAsync,
		"ParseIso8601DateTime": c4ParseISO8601,
	}
}

// bootMs is how long the emulated controller had been up when the driver
// started: drivers compare tick counts, and a count near zero hides bugs.
const bootMs = 3_600_000

// timer is one C4:SetTimer or C4:AddTimer timer.
type timer struct {
	r         *Runtime
	env       *driverEnv
	fn        glua.LValue     // SetTimer callback; nil for AddTimer
	ud        *glua.LUserData // SetTimer object
	legacy    int             // AddTimer id
	period    time.Duration
	due       time.Duration // driver time since start of the next expiry
	repeating bool
	t         *time.Timer
	cancelled bool
}

func (r *Runtime) arm(t *timer) {
	r.timers[t] = struct{}{}
	t.t = time.AfterFunc(r.clock.wallUntil(t.due), t.expire)
}

// expire runs on the timer's goroutine: the callback is posted to the loop.
func (t *timer) expire() {
	t.r.post(func() {
		r := t.r
		if t.cancelled || r.env != t.env {
			return
		}
		if !t.repeating {
			t.cancelled = true
			delete(r.timers, t)
		}
		var err error
		if t.fn != nil {
			args := []glua.LValue{t.ud}
			if t.repeating {
				// One callback per period: a late timer is not coalesced,
				// so skips is always 0.
				args = append(args, glua.LNumber(0))
			}
			_, err = r.call("timer", t.fn, args...)
		} else {
			err = r.callEntry("OnTimerExpired", glua.LNumber(t.legacy))
		}
		if err != nil {
			r.addAsyncError(err)
		}
		if t.repeating && !t.cancelled {
			t.due += t.period
			t.t.Reset(r.clock.wallUntil(t.due))
		}
	})
}

// stop cancels the timer; only the loop goroutine calls it.
func (t *timer) stop() {
	t.cancelled = true
	t.t.Stop()
	delete(t.r.timers, t)
}

const timerMetaKey = "mqtthil.C4:SetTimer"

func (r *Runtime) timerMeta(L *glua.LState) *glua.LTable {
	if mt, ok := L.GetField(L.Get(glua.RegistryIndex), timerMetaKey).(*glua.LTable); ok {
		return mt
	}
	methods := L.NewTable()
	// Only Cancel is documented or used by public drivers; it is safe
	// before, inside and after the callback.
	methods.RawSetString("Cancel", L.NewFunction(func(L *glua.LState) int {
		if t, ok := L.CheckUserData(1).Value.(*timer); ok {
			t.stop()
		}
		return 0
	}))
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int { L.Push(glua.LString("C4:SetTimer")); return 1 }))
	L.SetField(L.Get(glua.RegistryIndex), timerMetaKey, mt)
	return mt
}

// c4SetTimer is C4:SetTimer(ms, fn[, repeat]). The controller's answer to
// a bad delay is undocumented; a Lua error names the mistake.
func (r *Runtime) c4SetTimer(L *glua.LState) int {
	ms := float64(L.CheckNumber(2))
	fn := L.CheckFunction(3)
	repeating := L.OptBool(4, false)
	if !(ms > 0) || math.IsInf(ms, 0) {
		L.ArgError(2, "the delay must be more than 0 milliseconds")
	}
	period := time.Duration(ms * float64(time.Millisecond))
	t := &timer{r: r, env: r.env, fn: fn, period: period, due: r.clock.Since() + period, repeating: repeating}
	t.ud = L.NewUserData()
	t.ud.Value = t
	L.SetMetatable(t.ud, r.timerMeta(L))
	r.arm(t)
	L.Push(t.ud)
	return 1
}

var timerUnits = map[string]time.Duration{
	"MILLISECONDS": time.Millisecond, "SECONDS": time.Second, "MINUTES": time.Minute, "HOURS": time.Hour,
}

// c4AddTimer is C4:AddTimer(interval, units[, repeat]) → id. No reference
// page exists; units default to SECONDS, as a Snap One template's comment
// reads AddTimer(1) as one second.
func (r *Runtime) c4AddTimer(L *glua.LState) int {
	n := float64(L.CheckNumber(2))
	unit := time.Second
	if s := L.OptString(3, ""); s != "" {
		u, ok := timerUnits[strings.ToUpper(s)]
		if !ok {
			L.ArgError(3, "units must be MILLISECONDS, SECONDS, MINUTES or HOURS")
		}
		unit = u
	}
	if !(n > 0) {
		L.ArgError(2, "the interval must be more than 0")
	}
	r.env.nextTimer++
	period := time.Duration(n * float64(unit))
	t := &timer{r: r, env: r.env, legacy: r.env.nextTimer, period: period, due: r.clock.Since() + period, repeating: L.OptBool(4, false)}
	r.env.legacyTimers[t.legacy] = t
	r.arm(t)
	L.Push(glua.LNumber(t.legacy))
	return 1
}

// c4KillTimer returns 0, which drivers store back in their timer variable.
func (r *Runtime) c4KillTimer(L *glua.LState) int {
	id := int(L.OptNumber(2, 0))
	if t := r.env.legacyTimers[id]; t != nil {
		t.stop()
		delete(r.env.legacyTimers, id)
	}
	L.Push(glua.LNumber(0))
	return 1
}

func (r *Runtime) stopLegacyTimers() {
	for id, t := range r.env.legacyTimers {
		t.stop()
		delete(r.env.legacyTimers, id)
	}
}

var getTimeUnits = map[string]float64{
	"us": 1e-3, "ns": 1e-6, "ms": 1, "s": 1e3, "min": 60e3, "h": 3600e3, "d": 86400e3,
	"w": 7 * 86400e3, "y": 365.25 * 86400e3, "dec": 3652.5 * 86400e3,
}

// c4GetTime is C4:GetTime([units[, fractional]]): milliseconds since the
// epoch by default; unknown units mean milliseconds.
func (r *Runtime) c4GetTime(L *glua.LState) int {
	ms := float64(r.clock.Now().UnixNano()) / 1e6
	div, ok := getTimeUnits[L.OptString(2, "ms")]
	if !ok {
		div = 1
	}
	v := ms / div
	if !L.OptBool(3, false) {
		v = math.Floor(v)
	}
	L.Push(glua.LNumber(v))
	return 1
}

func (r *Runtime) c4CallAsync(L *glua.LState) int {
	fn := L.CheckFunction(2)
	env := r.env
	r.post(func() {
		if r.env != env {
			return
		}
		if _, err := r.call("CallAsync", fn); err != nil {
			r.addAsyncError(err)
		}
	})
	return 0
}

// iso8601Layouts are the shapes C4:ParseIso8601DateTime accepts: the
// extended and the basic (compact) forms, with or without fractions and
// zone, and a bare date.
var iso8601Layouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"20060102T150405.999999999Z0700",
	"20060102T150405.999999999Z",
	"20060102T150405.999999999",
	"2006-01-02",
	"20060102",
}

// c4ParseISO8601 returns a date table (UTC, no isdst), the epoch seconds
// and the microseconds, or nothing when the text is not a date.
func c4ParseISO8601(L *glua.LState) int {
	s := L.CheckString(2)
	if !L.OptBool(3, false) {
		s = strings.TrimSpace(s)
	}
	var t time.Time
	var err error
	for _, layout := range iso8601Layouts {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return 0
	}
	t = t.UTC()
	tbl := L.NewTable()
	for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(), "min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay()} {
		tbl.RawSetString(k, glua.LNumber(v))
	}
	L.Push(tbl)
	L.Push(glua.LNumber(t.Unix()))
	L.Push(glua.LNumber(t.Nanosecond() / 1000))
	return 3
}

// installTime backs os.time, os.date and os.clock with the driver's clock.
func (r *Runtime) installTime(L *glua.LState) {
	osT := L.GetGlobal("os").(*glua.LTable)
	origTime := osT.RawGetString("time")
	origDate := osT.RawGetString("date")
	osT.RawSetString("time", L.NewFunction(func(L *glua.LState) int {
		if L.GetTop() >= 1 && L.Get(1) != glua.LNil {
			return passThrough(L, origTime)
		}
		L.Push(glua.LNumber(r.clock.Now().Unix()))
		return 1
	}))
	osT.RawSetString("date", L.NewFunction(func(L *glua.LState) int {
		if L.GetTop() < 2 || L.Get(2) == glua.LNil {
			L.SetTop(1)
			if L.Get(1) == glua.LNil {
				L.Replace(1, glua.LString("%c"))
			}
			L.Push(glua.LNumber(r.clock.Now().Unix()))
		}
		return passThrough(L, origDate)
	}))
	osT.RawSetString("clock", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(r.clock.Since().Seconds()))
		return 1
	}))
}

// passThrough calls fn with the current arguments and returns its results.
func passThrough(L *glua.LState, fn glua.LValue) int {
	top := L.GetTop()
	L.Push(fn)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, glua.MultRet)
	return L.GetTop() - top
}
