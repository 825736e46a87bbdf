package lua_test

import (
	"fmt"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func fmtAny(v any) string { return fmt.Sprintf("%#v", v) }

// Expected values are those of LuaJIT's BitOp (its documented examples and
// its test suite's identities), worked out by hand for 32-bit signed
// results.
func TestBitLibrary(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want any
	}{
		{`bit.tobit(0xffffffff)`, int64(-1)},
		{`bit.tobit(0xffffffff + 1)`, int64(0)},
		{`bit.tobit(2^40 + 1234)`, int64(1234)},
		{`bit.tobit(-1)`, int64(-1)},
		{`bit.bnot(0)`, int64(-1)},
		{`bit.band(0x12345678, 0xff)`, int64(0x78)},
		{`bit.bor(1, 2, 4, 8)`, int64(15)},
		{`bit.bxor(0xa5a5a5a5, 0x5a5a5a5a)`, int64(-1)},
		{`bit.lshift(1, 31)`, int64(-2147483648)},
		{`bit.lshift(1, 32)`, int64(1)},
		{`bit.rshift(-1, 28)`, int64(15)},
		{`bit.arshift(-256, 4)`, int64(-16)},
		{`bit.rol(0x12345678, 12)`, int64(0x45678123)},
		{`bit.ror(0x12345678, 12)`, int64(0x67812345)},
		{`bit.bswap(0x12345678)`, int64(0x78563412)},
		{`bit.tohex(1)`, "00000001"},
		{`bit.tohex(-1)`, "ffffffff"},
		{`bit.tohex(0x87654321, -8)`, "87654321"},
		{`bit.tohex(0x87654321, 4)`, "4321"},
		{`bit.tohex(0xabcd, -4)`, "ABCD"},
		{`bit.mod(7, 3)`, int64(1)},
	} {
		out := evalLua(t, rt, "return "+tc.code)
		if len(out) != 1 || out[0] != tc.want {
			t.Errorf("%s = %v, want %v", tc.code, out, tc.want)
		}
	}
}

func TestLpack(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want string
	}{
		{`local s = string.pack('>H', 0x1234) return s == '\18\52'`, "true"},
		{`local s = string.pack('<H', 0x1234) return s == '\52\18'`, "true"},
		{`local s = string.pack('>I', 0x01020304) return s == '\1\2\3\4'`, "true"},
		{`return string.pack('b3', 65, 66, 67)`, "ABC"},
		{`return string.pack('z', 'hi') == 'hi\0'`, "true"},
		{`return string.pack('p', 'hi') == '\2hi'`, "true"},
		{`return string.pack('>P', 'hi') == '\0\2hi'`, "true"},
		{`return string.pack('A', 'raw')`, "raw"},
		{`return table.concat({string.unpack('\18\52\0\5', '>Hh')}, ',')`, "5,4660,5"},
		{`return table.concat({string.unpack('\255\255', '<h')}, ',')`, "3,-1"},
		{`return table.concat({string.unpack('\2hiXYZ', 'pA3')}, ',')`, "7,hi,XYZ"},
		{`return table.concat({string.unpack('ab\0cd\0', 'z', 4)}, ',')`, "7,cd"},
		{`return table.concat({string.unpack('\1', '>H')}, ',')`, "1"},
		{`local n, x = string.unpack(string.pack('>d', 1.5), '>d') return x`, "1.5"},
		{`local n, x = string.unpack(string.pack('<f', -2.25), '<f') return x`, "-2.25"},
		{`return select('#', string.unpack('\1\2\3', 'b3'))`, "4"},
	} {
		out := evalLua(t, rt, tc.code)
		if len(out) == 0 || toString(out[0]) != tc.want {
			t.Errorf("%s = %v, want %s", tc.code, out, tc.want)
		}
	}
	if _, err := rt.Exec("bad", `return string.pack('Q', 1)`); err == nil {
		t.Error("string.pack with an unknown letter: no error")
	}
}
