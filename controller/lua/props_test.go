package lua

import (
	"reflect"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/mqtthil/mqtthil/controller"
)

// listOf renders a property list as name=value strings, in order.
func listOf(p controller.Props) []string {
	var out []string
	for _, e := range p.List() {
		out = append(out, e.Def.Name+"="+reflect.ValueOf(e.Value).String())
	}
	return out
}

// TestPropsFromLua reads the table shapes a driver can write, as the
// binding reads them.
func TestPropsFromLua(t *testing.T) {
	for _, tc := range []struct {
		name, table string
		want        []string
		user        any // the USER_PROPERTY value of the first entry carrying one
	}{
		{"named keys", `{CONTENT_TYPE = "a", MESSAGE_EXPIRY_INTERVAL = 5}`,
			[]string{"CONTENT_TYPE=a", "MESSAGE_EXPIRY_INTERVAL=<int Value>"}, nil},
		{"a numbered key next to its name repeats the property", `{CONTENT_TYPE = "a", [3] = "b"}`,
			[]string{"CONTENT_TYPE=b", "CONTENT_TYPE=a"}, nil},
		{"a sequence of pairs, in order, before the keys", `{ {"CONTENT_TYPE", "x"}, {3, "y"}, CONTENT_TYPE = "z" }`,
			[]string{"CONTENT_TYPE=x", "CONTENT_TYPE=y", "CONTENT_TYPE=z"}, nil},
		{"a user property as one pair", `{ {"USER_PROPERTY", {"k", "v"}} }`,
			[]string{"USER_PROPERTY=<[][2]string Value>"}, [][2]string{{"k", "v"}}},
		{"a user property as pairs with a repeated key", `{USER_PROPERTY = { {"k", "1"}, {"k", "2"} }}`,
			[]string{"USER_PROPERTY=<[][2]string Value>"}, [][2]string{{"k", "1"}, {"k", "2"}}},
		{"a user property table of keys", `{USER_PROPERTY = {room = "hall"}}`,
			[]string{"USER_PROPERTY=<map[string]string Value>"}, map[string]string{"room": "hall"}},
		{"a user property of no shape", `{USER_PROPERTY = {"k", "v", "w"}}`,
			[]string{"USER_PROPERTY=<[]interface {} Value>"}, []any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			L := glua.NewState()
			defer L.Close()
			if err := L.DoString("t = " + tc.table); err != nil {
				t.Fatal(err)
			}
			p := propsFromLua(L.GetGlobal("t").(*glua.LTable))
			if got := listOf(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("list %v, want %v", got, tc.want)
			}
			if tc.user != nil {
				for _, e := range p.List() {
					if e.Def.Name == "USER_PROPERTY" && !reflect.DeepEqual(e.Value, tc.user) {
						t.Errorf("user property %#v, want %#v", e.Value, tc.user)
					}
				}
			}
			if _, invalid := tc.user.([]any); invalid {
				return // refused with 3 whatever it becomes: not a shape Go passes
			}
			// What the Lua controller hands a driver reads back the same.
			back := propsFromLua(propsToLua(L, p).(*glua.LTable))
			if !reflect.DeepEqual(back.List(), p.List()) {
				t.Errorf("round trip through Lua: %#v, want %#v", back.List(), p.List())
			}
		})
	}
}

// FuzzPropsFromLua builds a property table from arbitrary bytes, each
// three bytes one entry (a key of one of several kinds, a value of one of
// several shapes), and reads it as the binding does: no panic, every entry
// of the list names a known property, and what the Lua controller hands a
// driver reads back to the same list.
func FuzzPropsFromLua(f *testing.F) {
	f.Add([]byte{0, 2, 1, 1, 2, 2})
	f.Add([]byte{2, 38, 3, 2, 38, 4, 1, 3, 0})
	f.Add([]byte{3, 1, 5, 0, 0, 0, 4, 255, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 300 {
			return
		}
		L := glua.NewState()
		defer L.Close()
		tbl := L.NewTable()
		names := []string{"CONTENT_TYPE", "MESSAGE_EXPIRY_INTERVAL", "USER_PROPERTY", "NOPE", "2", "38"}
		for i := 0; i+2 < len(data); i += 3 {
			kind, a, b := data[i]%5, data[i+1], data[i+2]
			var v glua.LValue
			switch b % 6 {
			case 0:
				v = glua.LNumber(int(a) - 3)
			case 1:
				v = glua.LString(string(rune(a)))
			case 2: // a pair
				p := L.NewTable()
				p.RawSetInt(1, glua.LString(names[int(a)%len(names)]))
				p.RawSetInt(2, glua.LNumber(a))
				v = p
			case 3: // user property pairs
				p := L.NewTable()
				for j := 1; j <= int(a%3)+1; j++ {
					kv := L.NewTable()
					kv.RawSetInt(1, glua.LString("k"))
					kv.RawSetInt(2, glua.LNumber(j))
					p.RawSetInt(j, kv)
				}
				v = p
			case 4:
				v = glua.LBool(a%2 == 0)
			default:
				p := L.NewTable()
				p.RawSetString("k", glua.LString("v"))
				v = p
			}
			switch kind {
			case 0, 1:
				tbl.RawSetString(names[int(a)%len(names)], v)
			case 2:
				tbl.RawSetInt(int(a%4)+1, v)
			case 3:
				tbl.RawSetInt(int(a), v)
			default:
				tbl.RawSetString(string(rune(a)), v)
			}
		}
		p := propsFromLua(tbl)
		list := p.List()
		for _, e := range list {
			if _, ok := controller.PropDefByID(int(e.Def.ID)); !ok {
				t.Fatalf("unknown property %+v in the list", e.Def)
			}
		}
		back := propsFromLua(propsToLua(L, p).(*glua.LTable)).List()
		if len(back) != len(list) {
			t.Fatalf("round trip: %d entries, want %d", len(back), len(list))
		}
	})
}
