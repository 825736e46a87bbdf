package lua_test

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// Big-number answers worked out by hand (small moduli); the digest is the
// FIPS 180-2 "abc" vector.
func TestOpenSSLModule(t *testing.T) {
	// require reaches the module only in a loaded driver, as on a controller.
	rt := loaded(t, lua.Options{}, map[string]string{"driver.xml": minimalXML, "driver.lua": ""})
	for _, tc := range []struct {
		code string
		want any
	}{
		{`local bn = require("openssl").bn return bn.tostring(bn.powmod(4, 13, 497))`, "445"},
		{`local bn = require("openssl").bn return bn.tostring(bn.invmod(3, 11))`, "4"},
		{`local bn = require("openssl").bn return bn.invmod(2, 4) == nil`, true},
		{`local bn = require("openssl").bn local r = bn.sqrtmod(2, 7) return bn.tostring(bn.sqrmod(r, 7))`, "2"},
		{`local bn = require("openssl").bn return bn.sqrtmod(3, 7) == nil`, true},
		{`local bn = require("openssl").bn return bn.tostring(bn.submod(1, 2, 7))`, "6"},
		{`local bn = require("openssl").bn return bn.tostring(bn.addmod(5, 4, 7))`, "2"},
		{`local bn = require("openssl").bn return bn.tostring(bn.mulmod(5, 4, 7))`, "6"},
		{`local bn = require("openssl").bn return bn.tostring(bn.mod(-7, 3))`, "-1"},
		{`local bn = require("openssl").bn return bn.tostring(bn.text("\1\0"))`, "256"},
		{`local bn = require("openssl").bn return bn.totext(bn.number(256)) == "\1\0"`, true},
		{`local bn = require("openssl").bn return bn.tohex(bn.number("0xff"))`, "FF"},
		{`local bn = require("openssl").bn return tostring(bn.number(2) + 3) .. tostring(bn.number(2) * "5") .. tostring(-bn.number(1))`, "510-1"},
		{`local bn = require("openssl").bn return bn.number(5) == bn.number(5), bn.number(4) < bn.number(5)`, true},
		{`local bn = require("openssl").bn return bn.compare(bn.number(9), 2)`, int64(1)},
		{`local bn = require("openssl").bn return bn.iszero(bn.number(0)) and bn.isodd(bn.number(7)) and not bn.isodd(bn.number(8))`, true},
		{`local bn = require("openssl").bn return bn.number(10):tostring()`, "10"},
		{`local bn = require("openssl").bn return bn.tostring(bn.pow(2, 100))`, "1267650600228229401496703205376"},
		{`return require("openssl").digest.digest("sha256", "abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`local d = require("openssl").digest local c = d.new("sha512") c:update("a") return c:final("bc", true) == d.digest("SHA512", "abc", true)`, true},
		{`return #require("openssl").rand.bytes(16)`, int64(16)},
		{`return require("openssl").hex("\1\255")`, "01ff"},
		{`return require("openssl").pkey == nil`, true},
		{`return pcall(require("openssl").digest.new, "nope")`, false},
		{`return pcall(require("openssl").bn.number, "12x")`, false},
	} {
		got := evalLua(t, rt, tc.code)
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("%s = %#v, want %#v", tc.code, got, tc.want)
		}
	}
}
