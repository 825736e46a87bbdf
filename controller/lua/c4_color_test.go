package lua_test

import (
	"math"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// Reference values: the sRGB primaries and D65 white point (IEC 61966-2-1),
// the Planckian locus at 2700 K and 6500 K (CIE tables), and the HSV
// hexcone worked out by hand.
func TestColorConversions(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct {
		code string
		want []float64
		tol  float64
	}{
		{`return C4:ColorRGBtoXY(255, 255, 255)`, []float64{0.3127, 0.3290}, 0.0005},
		{`return C4:ColorRGBtoXY(255, 0, 0)`, []float64{0.64, 0.33}, 0.0005},
		{`return C4:ColorRGBtoXY(0, 255, 0)`, []float64{0.30, 0.60}, 0.0005},
		{`return C4:ColorRGBtoXY(0, 0, 255)`, []float64{0.15, 0.06}, 0.0005},
		{`return C4:ColorRGBtoXY(0, 0, 0)`, []float64{0.3127, 0.3290}, 0.0005},
		{`return C4:ColorRGBtoXY("255", "0", "0")`, []float64{0.64, 0.33}, 0.0005},
		{`return C4:ColorXYtoRGB(0.64, 0.33)`, []float64{255, 0, 0}, 0.5},
		{`return C4:ColorXYtoRGB(0.3127, 0.3290)`, []float64{255, 255, 255}, 0.5},
		{`return C4:ColorXYtoRGB(C4:ColorRGBtoXY(255, 128, 0))`, []float64{255, 128, 0}, 0.5},
		{`return C4:ColorHSVtoRGB(120, 75, 100)`, []float64{63.75, 255, 63.75}, 1e-9},
		{`return C4:ColorHSVtoRGB(0, 100, 100)`, []float64{255, 0, 0}, 1e-9},
		{`return C4:ColorHSVtoRGB(300, 100, 50)`, []float64{127.5, 0, 127.5}, 1e-9},
		{`return C4:ColorHSVtoRGB(0, 0, 100)`, []float64{255, 255, 255}, 1e-9},
		{`return C4:ColorRGBtoHSV(0, 0, 255)`, []float64{240, 100, 100}, 1e-9},
		{`return C4:ColorRGBtoHSV(255, 255, 0)`, []float64{60, 100, 100}, 1e-9},
		{`return C4:ColorRGBtoHSV(255, 0, 127.5)`, []float64{330, 100, 100}, 1e-9},
		{`return C4:ColorRGBtoHSV(128, 128, 128)`, []float64{0, 0, 50.196}, 0.001},
		{`return C4:ColorHSVtoXY(0, 100, 100)`, []float64{0.64, 0.33}, 0.0005},
		{`return C4:ColorXYtoHSV(0.15, 0.06)`, []float64{240, 100, 100}, 0.1},
		{`return C4:ColorXYtoCCT(0.3127, 0.3290)`, []float64{6505}, 0},
		{`return C4:ColorCCTtoXY(2700)`, []float64{0.4599, 0.4106}, 0.001},
		{`return C4:ColorCCTtoXY(6500)`, []float64{0.3135, 0.3237}, 0.001},
		{`return C4:ColorCCTtoXY(500)`, []float64{0.5646, 0.4029}, 0.001},
		{`return C4:ColorXYtoCCT(C4:ColorCCTtoXY(2700))`, []float64{2700}, 15},
		{`return C4:ColorXYtoCCT(C4:ColorCCTtoXY(4000))`, []float64{4000}, 15},
	} {
		got := evalLua(t, rt, tc.code)
		if len(got) != len(tc.want) {
			t.Errorf("%s = %v, want %v", tc.code, got, tc.want)
			continue
		}
		for i, w := range tc.want {
			if g := toFloat(got[i]); math.Abs(g-w) > tc.tol {
				t.Errorf("%s = %v, want %v (±%v)", tc.code, got, tc.want, tc.tol)
				break
			}
		}
	}
	if _, err := rt.Exec("test", `return C4:ColorXYtoRGB("x", 1)`); err == nil {
		t.Error("ColorXYtoRGB with a non-number was accepted")
	}
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return math.NaN()
}
