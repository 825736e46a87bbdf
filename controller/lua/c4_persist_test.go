package lua_test

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestPersistStore(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.lua": "x = 1"})
	for _, c := range []struct {
		code string
		want any
	}{
		{"C4:PersistSetValue('a', {n = 1, list = {'x', 'y'}}); return C4:PersistGetValue('a').list[2]", "y"},
		{"C4:PersistSetValue('s', 'secret', true); return C4:PersistGetValue('s')", nil},
		{"return C4:PersistGetValue('s', true)", "secret"},
		{"C4:PersistDeleteValue('a'); return C4:PersistGetValue('a')", nil},
		{"return select('#', pcall(C4.PersistSetValue, C4, 'f', function() end)) == 2", true},
	} {
		if got := eval(t, rt, c.code); got != c.want {
			t.Errorf("%s = %#v, want %#v", c.code, got, c.want)
		}
	}
	if keys := rt.PersistKeys(); len(keys) != 1 || keys[0] != "s" {
		t.Errorf("keys %v", keys)
	}
}
