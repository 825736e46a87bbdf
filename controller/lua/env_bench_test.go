package lua_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/sim"
)

// squishedDriver writes a driver.lua of about lines lines: modules in
// package.preload, each required by the driver.
func squishedDriver(b *testing.B, lines int) string {
	b.Helper()
	var src strings.Builder
	mods := lines / 100
	for m := range mods {
		fmt.Fprintf(&src, "package.preload[\"gen.m%d\"] = function(...)\nlocal M = {}\n", m)
		for f := range 48 {
			fmt.Fprintf(&src, "function M.f%d(x)\n  return x + %d\nend\n", f, f)
		}
		src.WriteString("return M\nend\n")
	}
	src.WriteString("mods = {}\n")
	for m := range mods {
		fmt.Fprintf(&src, "mods[%d] = require(\"gen.m%d\")\n", m, m)
	}
	src.WriteString("function OnDriverInit() C4:UpdateProperty('Loaded', 'yes') end\n")
	dir := b.TempDir()
	p := filepath.Join(dir, "driver.lua")
	if err := os.WriteFile(p, []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if n := strings.Count(src.String(), "\n"); n < lines {
		b.Fatalf("generated %d lines", n)
	}
	return p
}

// BenchmarkLoadSquished20k loads (compiles, runs the chunk and every
// preloaded module) a 20,000-line squished driver and initialises it.
func BenchmarkLoadSquished20k(b *testing.B) {
	path := squishedDriver(b, 20000)
	for b.Loop() {
		rt, err := lua.New(lua.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.Load(path); err != nil {
			b.Fatal(err)
		}
		if err := rt.Init(); err != nil {
			b.Fatal(err)
		}
		rt.Close()
	}
}

// BenchmarkReconnectTimer30sScaled is the wall time a driver's 30 s timer
// takes at TimeScale 0.01 (ideal: 300 ms).
func BenchmarkReconnectTimer30sScaled(b *testing.B) {
	for b.Loop() {
		rt, err := lua.New(lua.Options{TimeScale: 0.01})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := rt.Exec("arm", "C4:SetTimer(30000, function() fired = true end)"); err != nil {
			b.Fatal(err)
		}
		err = rt.Await(b.Context(), func(L *glua.LState) (bool, error) { return L.GetGlobal("fired") == glua.LTrue, nil })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "wall-ms")
		rt.Close()
	}
}

// BenchmarkGetDeviceID is the rate of C4:GetDeviceID calls from a Lua
// loop, through the recording wrapper.
func BenchmarkGetDeviceID(b *testing.B) {
	rt, err := lua.New(lua.Options{Deadline: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	n := max(b.N, 1000)
	b.ResetTimer()
	start := time.Now()
	if _, err := rt.Exec("loop", fmt.Sprintf("for i = 1, %d do C4:GetDeviceID() end", n)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkPublishCallShimVsSim compares the cost of obj:Publish through
// the Lua shim with sim.Client.Publish called from Go, both on a client
// that is not connected (so only the call itself is measured).
func BenchmarkPublishCallShimVsSim(b *testing.B) {
	n := max(b.N, 1000)
	rt, err := lua.New(lua.Options{Deadline: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Exec("mk", "c = C4:MQTT('bench', true)"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if _, err := rt.Exec("loop", fmt.Sprintf("for i = 1, %d do c:Publish('t', 'x', 0, false) end", n)); err != nil {
		b.Fatal(err)
	}
	luaRate := float64(n) / time.Since(start).Seconds()

	s := sim.New(sim.Options{})
	defer s.Close()
	c, err := s.NewSimClient("bench-go", true)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte("x")
	start = time.Now()
	for range n {
		c.Publish("t", payload, 0, false, nil)
	}
	goRate := float64(n) / time.Since(start).Seconds()
	b.ReportMetric(luaRate, "lua-calls/s")
	b.ReportMetric(goRate, "go-calls/s")
	b.ReportMetric(luaRate/goRate, "lua/go")
}
