package lua_test

import (
	"reflect"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

func TestIdentityAndPropertyCalls(t *testing.T) {
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": `
function OnPropertyChanged(name) changedBy = name end
function OnDriverLateInit()
  C4:AllowExecute(true)
  C4:UpdateProperty("Status", 42)
  C4:UpdatePropertyList("Mode", "x,y,z", "y")
  C4:SetPropertyAttribs("Level", 1)
end`})
	for _, c := range []struct {
		code string
		want any
	}{
		{"return Properties.Status", "42"},
		{"return Properties.Mode", "y"},
		{"return changedBy", nil}, // UpdateProperty never calls OnPropertyChanged
		{"return C4:GetVersionInfo().version", "3.4.0.0"},
		{"return C4:GetCapability('nothing')", ""},
		{"return C4:GetC4zDir():sub(-1)", "/"},
		{"return C4:EvaluateExpression('GREATER_THAN', '10', 9)", true},
		{"return C4:EvaluateExpression('EQUAL', 'abc', 'abc')", true},
		{"return C4:EvaluateExpression('LESS_THAN_OR_EQUAL', 3, 2)", false},
		{"return pcall(C4.EvaluateExpression, C4, 'ABOUT', 1, 2)", false},
	} {
		if got := eval(t, rt, c.code); got != c.want {
			t.Errorf("%s = %#v, want %#v", c.code, got, c.want)
		}
	}
	if v, ok := rt.Updated("Status"); !ok || v != "42" {
		t.Errorf("Updated(Status) = %q, %v", v, ok)
	}
	if s := rt.PropertyState("Mode"); !reflect.DeepEqual(s.Items, []string{"x", "y", "z"}) || s.Hidden {
		t.Errorf("Mode state %+v", s)
	}
	if s := rt.PropertyState("Level"); !s.Hidden {
		t.Errorf("Level not hidden: %+v", s)
	}
}
