package lua

import (
	"os"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// The same source under the same name is compiled once; another name or
// another source is compiled on its own; what a cached chunk does is what
// a fresh one does, swaps included.
func TestCompiledChunksAreShared(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	src := "local a, b = 1, 2; a, b = b, a; return a * 10 + b"
	f1, err := compileChunk(L, src, "shared")
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := compileChunk(L, src, "shared")
	f3, _ := compileChunk(L, src, "other name")
	f4, _ := compileChunk(L, src+" ", "shared")
	if f1.Proto != f2.Proto || f1.Proto == f3.Proto || f1.Proto == f4.Proto {
		t.Errorf("protos: same %v, other name %v, other source %v", f1.Proto == f2.Proto, f1.Proto == f3.Proto, f1.Proto == f4.Proto)
	}
	for _, fn := range []*glua.LFunction{f1, f2} {
		L.Push(fn)
		if err := L.PCall(0, 1, nil); err != nil {
			t.Fatal(err)
		}
		if got := L.Get(-1); got != glua.LNumber(21) {
			t.Errorf("the swap gave %v", got)
		}
		L.Pop(1)
	}
	if _, err := compileChunk(L, "return +", "bad"); err == nil {
		t.Error("a syntax error compiled")
	}
}

// The cache holds at most protoCacheMax bytes of source.
func TestProtoCacheIsBounded(t *testing.T) {
	var c protoCache
	c.m = map[protoKey]*glua.FunctionProto{}
	p := &glua.FunctionProto{}
	for i := range 10 {
		c.put(protoKey{name: strings.Repeat("x", i)}, p, protoCacheMax/5)
		if c.bytes > protoCacheMax {
			t.Fatalf("%d bytes held", c.bytes)
		}
	}
	c.put(protoKey{name: "huge"}, p, protoCacheMax)
	if c.get(protoKey{name: "huge"}) != nil {
		t.Error("a source bigger than a quarter of the cache was kept")
	}
}

// BenchmarkCompileProbeDriver compiles the probe driver, cold and from the
// cache; the ratio of the two is what every scenario on a virtual station
// saves.
func BenchmarkCompileProbeDriver(b *testing.B) {
	src, err := os.ReadFile("../../fixtures/probe-driver/driver.lua")
	if err != nil {
		b.Fatal(err)
	}
	L := glua.NewState()
	defer L.Close()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			protos.mu.Lock()
			clear(protos.m)
			protos.bytes = 0
			protos.mu.Unlock()
			if _, err := compileChunk(L, string(src), "driver.lua"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := compileChunk(L, string(src), "driver.lua"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
