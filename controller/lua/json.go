package lua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	glua "github.com/yuin/gopher-lua"
)

// C4:JsonEncode(value): a table whose keys are 1..n is an array, any other
// table an object with its keys sorted.
func c4JSONEncode(L *glua.LState) int {
	var b bytes.Buffer
	if err := encodeJSON(&b, L.Get(2), 0); err != nil {
		L.RaiseError("C4:JsonEncode: %v", err)
	}
	L.Push(glua.LString(b.String()))
	return 1
}

func encodeJSON(b *bytes.Buffer, v glua.LValue, depth int) error {
	if depth > 100 {
		return fmt.Errorf("tables nested too deep (a cycle?)")
	}
	switch v := v.(type) {
	case *glua.LNilType:
		b.WriteString("null")
	case glua.LBool:
		b.WriteString(strconv.FormatBool(bool(v)))
	case glua.LNumber:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%v cannot be written as JSON", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			b.WriteString(strconv.FormatInt(int64(f), 10))
		} else {
			b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case glua.LString:
		s, _ := json.Marshal(string(v))
		b.Write(s)
	case *glua.LTable:
		n := v.Len()
		count := 0
		v.ForEach(func(glua.LValue, glua.LValue) { count++ })
		if n > 0 && n == count {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				if err := encodeJSON(b, v.RawGetInt(i), depth+1); err != nil {
					return err
				}
			}
			b.WriteByte(']')
			return nil
		}
		type kv struct {
			k string
			v glua.LValue
		}
		var kvs []kv
		var bad error
		v.ForEach(func(k, val glua.LValue) {
			switch k.(type) {
			case glua.LString, glua.LNumber:
				kvs = append(kvs, kv{k.String(), val})
			default:
				bad = fmt.Errorf("a %s key cannot be written as JSON", k.Type())
			}
		})
		if bad != nil {
			return bad
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
		b.WriteByte('{')
		for i, e := range kvs {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(e.k)
			b.Write(s)
			b.WriteByte(':')
			if err := encodeJSON(b, e.v, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("a %s cannot be written as JSON", v.Type())
	}
	return nil
}

// C4:JsonDecode(text) returns the value, or nil and an error message.
func c4JSONDecode(L *glua.LState) int {
	s := L.CheckString(2)
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(toLua(L, v))
	return 1
}

// toLua converts decoded JSON, or a Go value of the controller API, to Lua.
func toLua(L *glua.LState, v any) glua.LValue {
	switch v := v.(type) {
	case nil:
		return glua.LNil
	case bool:
		return glua.LBool(v)
	case json.Number:
		f, _ := v.Float64()
		return glua.LNumber(f)
	case float64:
		return glua.LNumber(v)
	case int:
		return glua.LNumber(v)
	case int64:
		return glua.LNumber(v)
	case uint32:
		return glua.LNumber(v)
	case uint16:
		return glua.LNumber(v)
	case uint8:
		return glua.LNumber(v)
	case string:
		return glua.LString(v)
	case []byte:
		return glua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case []int:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, glua.LNumber(e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, glua.LString(e))
		}
		return t
	}
	return glua.LString(fmt.Sprint(v))
}

// fromLua converts a Lua value to plain Go values for the trace: numbers
// that are whole become int64, tables with keys 1..n slices, other tables
// maps with string keys, functions and userdata their type name.
func fromLua(v glua.LValue, depth int) any {
	switch v := v.(type) {
	case *glua.LNilType:
		return nil
	case glua.LBool:
		return bool(v)
	case glua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return int64(f)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Sprint(f)
		}
		return f
	case glua.LString:
		return string(v)
	case *glua.LTable:
		if depth > 20 {
			return "table"
		}
		n := v.Len()
		count := 0
		v.ForEach(func(glua.LValue, glua.LValue) { count++ })
		if n > 0 && n == count {
			out := make([]any, n)
			for i := range n {
				out[i] = fromLua(v.RawGetInt(i+1), depth+1)
			}
			return out
		}
		out := map[string]any{}
		v.ForEach(func(k, e glua.LValue) { out[k.String()] = fromLua(e, depth+1) })
		return out
	}
	return v.Type().String()
}
