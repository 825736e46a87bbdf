// The colour conversions light drivers use (C4:ColorXYtoRGB and the rest).
// The controller does not document their formulas, so these are the
// standard ones, chosen here: CIE 1931 xy chromaticity, the sRGB primaries
// with the D65 white point and the sRGB transfer curve, McCamy's cubic for
// correlated colour temperature, and Kim et al.'s cubic spline of the
// Planckian locus for the way back. Scales follow how drivers call them:
// RGB 0-255, hue in degrees 0-360, saturation and value 0-100, answers
// unrounded.

package lua

import (
	"math"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) colorFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"ColorRGBtoXY":  colorFn(3, func(a []float64) []float64 { x, y := rgbToXY(a[0], a[1], a[2]); return []float64{x, y} }),
		"ColorXYtoRGB":  colorFn(2, func(a []float64) []float64 { r, g, b := xyToRGB(a[0], a[1]); return []float64{r, g, b} }),
		"ColorHSVtoRGB": colorFn(3, func(a []float64) []float64 { r, g, b := hsvToRGB(a[0], a[1], a[2]); return []float64{r, g, b} }),
		"ColorRGBtoHSV": colorFn(3, func(a []float64) []float64 { h, s, v := rgbToHSV(a[0], a[1], a[2]); return []float64{h, s, v} }),
		"ColorHSVtoXY": colorFn(3, func(a []float64) []float64 {
			x, y := rgbToXY(hsvToRGB(a[0], a[1], a[2]))
			return []float64{x, y}
		}),
		"ColorXYtoHSV": colorFn(2, func(a []float64) []float64 { h, s, v := rgbToHSV(xyToRGB(a[0], a[1])); return []float64{h, s, v} }),
		"ColorXYtoCCT": colorFn(2, func(a []float64) []float64 { return []float64{xyToCCT(a[0], a[1])} }),
		"ColorCCTtoXY": colorFn(1, func(a []float64) []float64 { x, y := cctToXY(a[0]); return []float64{x, y} }),
	}
}

// colorFn reads n numbers (numeric strings accepted, as Lua's arithmetic
// would) and pushes what conv answers.
func colorFn(n int, conv func([]float64) []float64) glua.LGFunction {
	return func(L *glua.LState) int {
		args := make([]float64, n)
		for i := range args {
			args[i] = float64(L.CheckNumber(i + 2))
		}
		out := conv(args)
		for _, v := range out {
			L.Push(glua.LNumber(v))
		}
		return len(out)
	}
}

// d65 is the white point the conversions fall back to for black, which has
// no chromaticity.
const d65x, d65y = 0.3127, 0.3290

func srgbToLinear(c float64) float64 {
	if c <= 0.04045 {
		return c / 12.92
	}
	return math.Pow((c+0.055)/1.055, 2.4)
}

func linearToSRGB(c float64) float64 {
	if c <= 0.0031308 {
		return 12.92 * c
	}
	return 1.055*math.Pow(c, 1/2.4) - 0.055
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// rgbToXY: sRGB (0-255) to CIE 1931 xy through linear light and XYZ.
func rgbToXY(r, g, b float64) (float64, float64) {
	rl := srgbToLinear(clamp(r, 0, 255) / 255)
	gl := srgbToLinear(clamp(g, 0, 255) / 255)
	bl := srgbToLinear(clamp(b, 0, 255) / 255)
	X := 0.4124*rl + 0.3576*gl + 0.1805*bl
	Y := 0.2126*rl + 0.7152*gl + 0.0722*bl
	Z := 0.0193*rl + 0.1192*gl + 0.9505*bl
	sum := X + Y + Z
	if sum == 0 {
		return d65x, d65y
	}
	return X / sum, Y / sum
}

// xyToRGB: CIE 1931 xy to the brightest sRGB colour of that chromaticity
// (0-255). A chromaticity outside the sRGB gamut is brought in by dropping
// the negative components; the largest component is scaled to 255.
func xyToRGB(x, y float64) (float64, float64, float64) {
	if y <= 0 {
		x, y = d65x, d65y
	}
	X, Y, Z := x/y, 1.0, (1-x-y)/y
	rl := 3.2406*X - 1.5372*Y - 0.4986*Z
	gl := -0.9689*X + 1.8758*Y + 0.0415*Z
	bl := 0.0557*X - 0.2040*Y + 1.0570*Z
	rl, gl, bl = math.Max(rl, 0), math.Max(gl, 0), math.Max(bl, 0)
	m := math.Max(rl, math.Max(gl, bl))
	if m == 0 {
		return 0, 0, 0
	}
	return 255 * linearToSRGB(rl/m), 255 * linearToSRGB(gl/m), 255 * linearToSRGB(bl/m)
}

// hsvToRGB: hue in degrees, saturation and value 0-100, to RGB 0-255.
func hsvToRGB(h, s, v float64) (float64, float64, float64) {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	s, v = clamp(s, 0, 100)/100, clamp(v, 0, 100)/100
	c := v * s
	hp := h / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch {
	case hp < 1:
		r, g = c, x
	case hp < 2:
		r, g = x, c
	case hp < 3:
		g, b = c, x
	case hp < 4:
		g, b = x, c
	case hp < 5:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := v - c
	return 255 * (r + m), 255 * (g + m), 255 * (b + m)
}

// rgbToHSV: RGB 0-255 to hue in degrees (0 for greys), saturation and
// value 0-100.
func rgbToHSV(r, g, b float64) (float64, float64, float64) {
	r, g, b = clamp(r, 0, 255)/255, clamp(g, 0, 255)/255, clamp(b, 0, 255)/255
	mx := math.Max(r, math.Max(g, b))
	mn := math.Min(r, math.Min(g, b))
	d := mx - mn
	var h float64
	switch {
	case d == 0:
		h = 0
	case mx == r:
		h = 60 * math.Mod((g-b)/d, 6)
	case mx == g:
		h = 60 * ((b-r)/d + 2)
	default:
		h = 60 * ((r-g)/d + 4)
	}
	if h < 0 {
		h += 360
	}
	s := 0.0
	if mx > 0 {
		s = d / mx
	}
	return h, 100 * s, 100 * mx
}

// xyToCCT is McCamy's cubic approximation of correlated colour
// temperature, in kelvin, rounded to a whole kelvin.
func xyToCCT(x, y float64) float64 {
	n := (x - 0.3320) / (0.1858 - y)
	return math.Round(449*n*n*n + 3525*n*n + 6823.3*n + 5520.33)
}

// cctToXY is Kim et al.'s cubic spline of the Planckian locus, defined
// from 1667 K to 25000 K; temperatures outside are clamped to that range.
func cctToXY(k float64) (float64, float64) {
	t := clamp(k, 1667, 25000)
	var x float64
	if t <= 4000 {
		x = -0.2661239e9/(t*t*t) - 0.2343589e6/(t*t) + 0.8776956e3/t + 0.179910
	} else {
		x = -3.0258469e9/(t*t*t) + 2.1070379e6/(t*t) + 0.2226347e3/t + 0.240390
	}
	var y float64
	switch {
	case t <= 2222:
		y = -1.1063814*x*x*x - 1.34811020*x*x + 2.18555832*x - 0.20219683
	case t <= 4000:
		y = -0.9549476*x*x*x - 1.37418593*x*x + 2.09137015*x - 0.16748867
	default:
		y = 3.0817580*x*x*x - 5.87338670*x*x + 3.75112997*x - 0.37001483
	}
	return x, y
}
