// The global bit library (LuaJIT's BitOp) that controllers give every
// driver, PUC Lua ones included: drivers build packets and checksums with
// it. Results are signed 32-bit numbers, as BitOp returns them.
package lua

import (
	"fmt"
	"math"
	"math/bits"

	glua "github.com/yuin/gopher-lua"
)

// tobit reduces a Lua number modulo 2^32 to a signed 32-bit integer.
// BitOp leaves the rounding of fractions implementation-defined; this one
// truncates toward minus infinity.
func tobit(n glua.LNumber) int32 {
	f := math.Floor(float64(n))
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	f = math.Mod(f, 4294967296)
	if f < 0 {
		f += 4294967296
	}
	return int32(uint32(f))
}

func bitArg(L *glua.LState, i int) uint32 { return uint32(tobit(L.CheckNumber(i))) }

func pushBit(L *glua.LState, v uint32) int {
	L.Push(glua.LNumber(int32(v)))
	return 1
}

// bitFold is band, bor and bxor: any number of arguments, at least one.
func bitFold(op func(a, b uint32) uint32) glua.LGFunction {
	return func(L *glua.LState) int {
		v := bitArg(L, 1)
		for i := 2; i <= L.GetTop(); i++ {
			v = op(v, bitArg(L, i))
		}
		return pushBit(L, v)
	}
}

// bitShift reads the value and a shift count, of which only the low 5 bits
// count.
func bitShift(op func(v uint32, n uint) uint32) glua.LGFunction {
	return func(L *glua.LState) int {
		return pushBit(L, op(bitArg(L, 1), uint(bitArg(L, 2)&31)))
	}
}

var bitFuncs = map[string]glua.LGFunction{
	"tobit":   func(L *glua.LState) int { return pushBit(L, bitArg(L, 1)) },
	"bnot":    func(L *glua.LState) int { return pushBit(L, ^bitArg(L, 1)) },
	"band":    bitFold(func(a, b uint32) uint32 { return a & b }),
	"bor":     bitFold(func(a, b uint32) uint32 { return a | b }),
	"bxor":    bitFold(func(a, b uint32) uint32 { return a ^ b }),
	"lshift":  bitShift(func(v uint32, n uint) uint32 { return v << n }),
	"rshift":  bitShift(func(v uint32, n uint) uint32 { return v >> n }),
	"arshift": bitShift(func(v uint32, n uint) uint32 { return uint32(int32(v) >> n) }),
	"rol":     bitShift(func(v uint32, n uint) uint32 { return bits.RotateLeft32(v, int(n)) }),
	"ror":     bitShift(func(v uint32, n uint) uint32 { return bits.RotateLeft32(v, -int(n)) }),
	"bswap":   func(L *glua.LState) int { return pushBit(L, bits.ReverseBytes32(bitArg(L, 1))) },
	// bit.tohex(x[, n]): n hex digits (8 by default), upper case when n < 0.
	"tohex": func(L *glua.LState) int {
		v := bitArg(L, 1)
		n := int(tobit(L.OptNumber(2, 8)))
		format := "%0*x"
		if n < 0 {
			format, n = "%0*X", -n
		}
		n = min(n, 8)
		s := fmt.Sprintf(format, 8, v)
		L.Push(glua.LString(s[8-n:]))
		return 1
	},
	// bit.mod is listed by older controller documentation.
	"mod": func(L *glua.LState) int {
		a, b := tobit(L.CheckNumber(1)), tobit(L.CheckNumber(2))
		if b == 0 {
			L.ArgError(2, "bit.mod: division by zero")
		}
		return pushBit(L, uint32(a%b))
	},
}

// installBit sets the global bit table.
func installBit(L *glua.LState) {
	t := L.NewTable()
	for name, fn := range bitFuncs {
		t.RawSetString(name, L.NewFunction(fn))
	}
	L.SetGlobal("bit", t)
}
