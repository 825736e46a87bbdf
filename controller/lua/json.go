package lua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// jsonOpts are JsonEncode's optional arguments.
type jsonOpts struct {
	formatted    bool // indent (whitespace is not specified; two spaces)
	encodeArrays bool // tables with keys 1..n become JSON arrays
	symmetric    bool // numeric keys marked ":index:n" so decode restores them
	null         glua.LValue
}

// C4:JsonEncode(value[, formatted[, encodeArrays[, symmetric]]]): tables
// are objects unless encodeArrays is set, keys sorted; a bare number,
// string or boolean is wrapped as {":number:":v} and the like; c4json.null
// is null. A value JSON cannot hold gives nil and a message.
func c4JSONEncode(L *glua.LState) int {
	o := jsonOpts{formatted: L.OptBool(3, false), encodeArrays: L.OptBool(4, false), symmetric: L.OptBool(5, false), null: c4jsonNull(L)}
	v := L.Get(2)
	var b bytes.Buffer
	var err error
	switch v.(type) {
	case glua.LString, glua.LNumber, glua.LBool:
		w := L.NewTable()
		w.RawSetString(":"+v.Type().String()+":", v)
		err = encodeJSON(&b, w, 0, o)
	case *glua.LNilType:
		err = fmt.Errorf("nothing to encode")
	default:
		err = encodeJSON(&b, v, 0, o)
	}
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString("C4:JsonEncode: " + err.Error()))
		return 2
	}
	L.Push(glua.LString(b.String()))
	return 1
}

func newline(b *bytes.Buffer, o jsonOpts, depth int) {
	if o.formatted {
		b.WriteByte('\n')
		for range depth {
			b.WriteString("  ")
		}
	}
}

func encodeJSON(b *bytes.Buffer, v glua.LValue, depth int, o jsonOpts) error {
	if depth > 100 {
		return fmt.Errorf("tables nested too deep (a cycle?)")
	}
	if o.null != nil && v == o.null {
		b.WriteString("null")
		return nil
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
		if o.encodeArrays && n > 0 && n == count {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				newline(b, o, depth+1)
				if err := encodeJSON(b, v.RawGetInt(i), depth+1, o); err != nil {
					return err
				}
			}
			newline(b, o, depth)
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
			switch k := k.(type) {
			case glua.LString:
				kvs = append(kvs, kv{string(k), val})
			case glua.LNumber:
				key := k.String()
				if o.symmetric {
					key = ":index:" + key
				}
				kvs = append(kvs, kv{key, val})
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
			newline(b, o, depth+1)
			s, _ := json.Marshal(e.k)
			b.Write(s)
			b.WriteByte(':')
			if o.formatted {
				b.WriteByte(' ')
			}
			if err := encodeJSON(b, e.v, depth+1, o); err != nil {
				return err
			}
		}
		if len(kvs) > 0 {
			newline(b, o, depth)
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("a %s cannot be written as JSON", v.Type())
	}
	return nil
}

// C4:JsonDecode(text[, decodeNull]) returns the value, or nil and an error
// message. null is an empty table, or c4json.null with decodeNull; the
// wrappers JsonEncode puts around bare values are taken off, and
// ":index:n" keys become numeric keys again.
func c4JSONDecode(L *glua.LState) int {
	s := L.CheckString(2)
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		err = fmt.Errorf("text after the JSON value")
	}
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	var null glua.LValue
	if L.OptBool(3, false) {
		null = c4jsonNull(L)
	}
	L.Push(decodeJSONValue(L, v, null))
	return 1
}

func decodeJSONValue(L *glua.LState, v any, null glua.LValue) glua.LValue {
	switch v := v.(type) {
	case nil:
		if null != nil {
			return null
		}
		return L.NewTable()
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, decodeJSONValue(L, e, null))
		}
		return t
	case map[string]any:
		if len(v) == 1 {
			for k, e := range v {
				switch k {
				case ":number:", ":string:", ":boolean:":
					return decodeJSONValue(L, e, null)
				}
			}
		}
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			if n, ok := strings.CutPrefix(k, ":index:"); ok {
				if f, err := strconv.ParseFloat(n, 64); err == nil {
					t.RawSet(glua.LNumber(f), decodeJSONValue(L, e, null))
					continue
				}
			}
			t.RawSetString(k, decodeJSONValue(L, e, null))
		}
		return t
	}
	return toLua(L, v)
}

// c4jsonNull is the c4json.null value of the state, nil when the driver
// has none.
func c4jsonNull(L *glua.LState) glua.LValue {
	if t, ok := L.GetGlobal("c4json").(*glua.LTable); ok {
		if v := t.RawGetString("null"); v != glua.LNil {
			return v
		}
	}
	return nil
}

// installC4JSON sets the global c4json with its null marker (a userdata,
// as gopher-lua has no light userdata).
func installC4JSON(L *glua.LState) {
	t := L.NewTable()
	null := L.NewUserData()
	mt := L.NewTable()
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int { L.Push(glua.LString("null")); return 1 }))
	L.SetMetatable(null, mt)
	t.RawSetString("null", null)
	L.SetGlobal("c4json", t)
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
