// lpack's string.pack and string.unpack, which controllers add to the
// string library: drivers of binary protocols build and read frames with
// them. lpack's letters are not Lua 5.3's: unpack returns the next position
// first, and a number after a letter repeats it (for 'A' in unpack, it is
// the length).
//
// The sizes of 'l', 'L' and 'a' follow the C types on the controller, which
// are not documented; the shim takes 4 bytes (32-bit ARM controllers).
package lua

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// packItem is one letter of a format with its repeat count.
type packItem struct {
	letter byte
	count  int // -1 when the format gives none
	order  binary.ByteOrder
}

func parsePackFormat(f string) ([]packItem, error) {
	var items []packItem
	var order binary.ByteOrder = binary.LittleEndian
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch c {
		case '<', '=':
			order = binary.LittleEndian
			continue
		case '>':
			order = binary.BigEndian
			continue
		case ' ', ',':
			continue
		}
		if !strings.ContainsRune("zpPaAfdncbhHiIlL", rune(c)) {
			return nil, fmt.Errorf("bad format letter %q", c)
		}
		it := packItem{letter: c, count: -1, order: order}
		for i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '9' {
			if it.count < 0 {
				it.count = 0
			}
			it.count = it.count*10 + int(f[i+1]-'0')
			if it.count > 1<<24 {
				return nil, fmt.Errorf("count too large in format %q", f)
			}
			i++
		}
		items = append(items, it)
	}
	return items, nil
}

// intSize is the width of the integer letters.
func intSize(c byte) int {
	switch c {
	case 'c', 'b':
		return 1
	case 'h', 'H':
		return 2
	}
	return 4
}

func putUint(o binary.ByteOrder, b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		o.PutUint16(b, uint16(v))
	case 4:
		o.PutUint32(b, uint32(v))
	case 8:
		o.PutUint64(b, v)
	}
}

func getUint(o binary.ByteOrder, b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(o.Uint16(b))
	case 4:
		return uint64(o.Uint32(b))
	}
	return o.Uint64(b)
}

// lpackPack is string.pack(format, values...).
func lpackPack(L *glua.LState) int {
	items, err := parsePackFormat(L.CheckString(1))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	var out []byte
	arg := 2
	for _, it := range items {
		n := max(it.count, 1)
		for range n {
			switch it.letter {
			case 'z', 'p', 'P', 'a', 'A':
				s := L.CheckString(arg)
				switch it.letter {
				case 'p':
					if len(s) > 255 {
						L.ArgError(arg, "string too long for 'p'")
					}
					out = append(out, byte(len(s)))
				case 'P':
					if len(s) > 65535 {
						L.ArgError(arg, "string too long for 'P'")
					}
					out = binary.BigEndian.AppendUint16(out, 0)
					putUint(it.order, out[len(out)-2:], uint64(len(s)))
				case 'a':
					out = append(out, 0, 0, 0, 0)
					putUint(it.order, out[len(out)-4:], uint64(len(s)))
				}
				out = append(out, s...)
				if it.letter == 'z' {
					out = append(out, 0)
				}
			case 'f':
				out = append(out, 0, 0, 0, 0)
				putUint(it.order, out[len(out)-4:], uint64(math.Float32bits(float32(L.CheckNumber(arg)))))
			case 'd', 'n':
				out = append(out, make([]byte, 8)...)
				putUint(it.order, out[len(out)-8:], math.Float64bits(float64(L.CheckNumber(arg))))
			default:
				size := intSize(it.letter)
				out = append(out, make([]byte, size)...)
				putUint(it.order, out[len(out)-size:], uint64(int64(L.CheckNumber(arg))))
			}
			arg++
		}
	}
	L.Push(glua.LString(out))
	return 1
}

// lpackUnpack is string.unpack(data, format[, init]): the position after
// the last value read, then the values. It stops early, as lpack does, when
// the data runs out.
func lpackUnpack(L *glua.LState) int {
	data := L.CheckString(1)
	items, err := parsePackFormat(L.CheckString(2))
	if err != nil {
		L.ArgError(2, err.Error())
	}
	pos := L.OptInt(3, 1) - 1
	if pos < 0 {
		pos = 0
	}
	var vals []glua.LValue
	take := func(n int) ([]byte, bool) {
		if n < 0 || pos+n > len(data) {
			return nil, false
		}
		b := []byte(data[pos : pos+n])
		pos += n
		return b, true
	}
	ok := true
	for _, it := range items {
		if !ok {
			break
		}
		if it.letter == 'A' {
			b, got := take(max(it.count, 0))
			if ok = got; ok {
				vals = append(vals, glua.LString(b))
			}
			continue
		}
		for range max(it.count, 1) {
			var v glua.LValue
			switch it.letter {
			case 'z':
				end := strings.IndexByte(data[pos:], 0)
				if end < 0 {
					ok = false
					break
				}
				v = glua.LString(data[pos : pos+end])
				pos += end + 1
			case 'p', 'P', 'a':
				size := map[byte]int{'p': 1, 'P': 2, 'a': 4}[it.letter]
				var lb, s []byte
				if lb, ok = take(size); ok {
					if s, ok = take(int(getUint(it.order, lb))); ok {
						v = glua.LString(s)
					}
				}
			case 'f':
				var b []byte
				if b, ok = take(4); ok {
					v = glua.LNumber(math.Float32frombits(uint32(getUint(it.order, b))))
				}
			case 'd', 'n':
				var b []byte
				if b, ok = take(8); ok {
					v = glua.LNumber(math.Float64frombits(getUint(it.order, b)))
				}
			default:
				size := intSize(it.letter)
				var b []byte
				if b, ok = take(size); ok {
					u := getUint(it.order, b)
					if it.letter == 'c' || it.letter == 'h' || it.letter == 'i' || it.letter == 'l' {
						shift := 64 - 8*size
						v = glua.LNumber(int64(u<<shift) >> shift)
					} else {
						v = glua.LNumber(u)
					}
				}
			}
			if !ok {
				break
			}
			vals = append(vals, v)
		}
	}
	L.Push(glua.LNumber(pos + 1))
	for _, v := range vals {
		L.Push(v)
	}
	return 1 + len(vals)
}

// installPack adds pack and unpack to the string library.
func installPack(L *glua.LState) {
	s, ok := L.GetGlobal("string").(*glua.LTable)
	if !ok {
		return
	}
	s.RawSetString("pack", L.NewFunction(lpackPack))
	s.RawSetString("unpack", L.NewFunction(lpackUnpack))
}
