package lua_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/lua"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
)

// BenchmarkControllerCall is the cost of one call made from Go through
// Lua: a Publish that fails at once (not connected).
func BenchmarkControllerCall(b *testing.B) {
	ctl, err := lua.NewController(lua.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ctl.Close()
	c, err := ctl.NewClient("bench", true)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte("x")
	b.ReportAllocs()
	for b.Loop() {
		c.Publish("t", payload, 0, false, nil)
	}
}

// benchDriver publishes n QoS 1 messages as a driver would: up to window
// unacknowledged at once, the next ones from onPublish, then calls done().
const benchDriver = `
function Run(host, port, n, window)
  local c = C4:MQTT("bench-lua", true)
  local sent, acked = 0, 0
  local payload = string.rep("x", 64)
  local function fill()
    while sent < n and sent - acked < window do
      local rc = c:Publish("bench/t", payload, 1, false)
      if rc ~= 0 then error("Publish returned " .. rc) end
      sent = sent + 1
    end
  end
  c:SetMaxInflightMessages(100)
  c:OnConnect(function(obj, rc) if rc ~= 0 then error("onConnect " .. rc) end fill() end)
  c:OnPublish(function() acked = acked + 1; if acked == n then done() else fill() end end)
  c:Connect(host, port, 60)
end
`

// publishFromGo publishes n QoS 1 messages on a sim client called directly
// from Go, with the same window, and returns the messages per second.
func publishFromGo(b *testing.B, br *emulator.Broker, n, window int) float64 {
	ctl := sim.New()
	defer ctl.Close()
	c, err := ctl.NewSimClient("bench-go", true)
	if err != nil {
		b.Fatal(err)
	}
	c.SetMaxInflightMessages(100)
	host, port := hostPortB(b, br)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	payload := bytes.Repeat([]byte("x"), 64)
	start := time.Now()
	if r := c.Connect(host, port, 60, nil); r.Code != 0 {
		b.Fatal(r)
	}
	sent, acked := 0, 0
	for acked < n {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				b.Fatal("client gone")
			}
			switch ev.Kind {
			case controller.OnConnect:
			case controller.OnPublish:
				acked++
			default:
				continue
			}
			for sent < n && sent-acked < window {
				if r := c.Publish("bench/t", payload, 1, false, nil); r.Code != 0 {
					b.Fatal(r)
				}
				sent++
			}
		case <-ctx.Done():
			b.Fatalf("%d of %d acked: %v", acked, n, ctx.Err())
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// publishFromLua is the same from a driver's Lua code through the shim.
func publishFromLua(b *testing.B, br *emulator.Broker, n, window int) float64 {
	rt, err := lua.New(lua.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	done := make(chan struct{})
	if err := rt.Do(func(L *glua.LState) error {
		L.SetGlobal("done", L.NewFunction(func(*glua.LState) int { close(done); return 0 }))
		return L.DoString(benchDriver)
	}); err != nil {
		b.Fatal(err)
	}
	host, port := hostPortB(b, br)
	start := time.Now()
	if _, err := rt.Exec("run", fmt.Sprintf("Run(%q, %d, %d, %d)", host, port, n, window)); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("not done: %v", rt.Errors())
	}
	rate := float64(n) / time.Since(start).Seconds()
	if errs := rt.Errors(); len(errs) > 0 {
		b.Fatal(errs)
	}
	return rate
}

// BenchmarkPublishQoS1LuaVsGo publishes the same QoS 1 messages from Go
// straight on the sim client and from Lua through the shim, in one run, and
// reports both rates and their ratio (lua/go; the target is at least 0.5).
func BenchmarkPublishQoS1LuaVsGo(b *testing.B) {
	br := emulator.StartTest(b, emulator.Options{JournalCap: 1})
	const window = 1000
	n := max(b.N, 2000)
	var goRate, luaRate float64
	for range 3 {
		goRate += publishFromGo(b, br, n, window)
		luaRate += publishFromLua(b, br, n, window)
	}
	b.ReportMetric(goRate/3, "go-msgs/s")
	b.ReportMetric(luaRate/3, "lua-msgs/s")
	b.ReportMetric(luaRate/goRate, "lua/go")
}

func hostPortB(b *testing.B, br *emulator.Broker) (string, int) {
	h, p, err := net.SplitHostPort(br.DUTAddr)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}
