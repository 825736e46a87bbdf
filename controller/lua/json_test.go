package lua_test

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestJSONPerSpec(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want any
	}{
		{`return C4:JsonEncode({1, 2, 'x'})`, `{"1":1,"2":2,"3":"x"}`},
		{`return C4:JsonEncode({1, 2, 'x'}, false, true)`, `[1,2,"x"]`},
		{`return C4:JsonEncode({[1] = 'a', [3] = 'c'}, false, true)`, `{"1":"a","3":"c"}`},
		{`return C4:JsonEncode('Bar')`, `{":string:":"Bar"}`},
		{`return C4:JsonEncode(42)`, `{":number:":42}`},
		{`return C4:JsonEncode(true)`, `{":boolean:":true}`},
		{`return C4:JsonEncode({a = c4json.null})`, `{"a":null}`},
		{`return C4:JsonEncode({[5] = 'x'}, false, false, true)`, `{":index:5":"x"}`},
		{`return C4:JsonEncode({a = {b = 1}}, true)`, "{\n  \"a\": {\n    \"b\": 1\n  }\n}"},
		{`return C4:JsonDecode('{":index:5":"x"}')[5]`, "x"},
		{`return C4:JsonDecode('{":number:":42}')`, int64(42)},
		{`return C4:JsonDecode(C4:JsonEncode('Bar'))`, "Bar"},
		{`return type(C4:JsonDecode('{"a":null}').a)`, "table"},
		{`return C4:JsonDecode('{"a":null}', true).a == c4json.null`, true},
		{`return C4:JsonDecode('[1,[2,3]]')[2][2]`, int64(3)},
		{`local v, err = C4:JsonDecode('{"a":') return v == nil and type(err)`, "string"},
		{`local v, err = C4:JsonDecode('{} x') return v == nil and type(err)`, "string"},
		{`local v, err = C4:JsonEncode({f = print}) return v == nil and type(err)`, "string"},
		{`local v, err = C4:JsonEncode(nil) return v == nil and type(err)`, "string"},
	} {
		out := evalLua(t, rt, tc.code)
		if len(out) == 0 || out[0] != tc.want {
			t.Errorf("%s = %#v, want %#v", tc.code, out, tc.want)
		}
	}
}
