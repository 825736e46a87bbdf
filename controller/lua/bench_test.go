package lua_test

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
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
