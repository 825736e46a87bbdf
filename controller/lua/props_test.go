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
