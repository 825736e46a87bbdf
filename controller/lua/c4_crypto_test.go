package lua_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/lua"
)

// evalLua runs code in a fresh runtime and returns what it returned.
func evalLua(t *testing.T, rt *lua.Runtime, code string) []any {
	t.Helper()
	out, err := rt.Exec("test", code)
	if err != nil {
		t.Fatalf("%s: %v", code, err)
	}
	return out
}

// The expected values were computed with openssl (dgst, enc, kdf) and are
// RFC 2202 / RFC 4231 / RFC 4122 vectors where those exist.
func TestCryptoKnownVectors(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	const k256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	const iv = "000102030405060708090a0b0c0d0e0f"
	hexOpts := `{key_encoding='HEX', iv_encoding='HEX', return_encoding='HEX'}`
	for _, tc := range []struct{ code, want string }{
		{`return C4:Hash('MD5', 'abc', {return_encoding='HEX'})`, "900150983cd24fb0d6963f7d28e17f72"},
		{`return C4:Hash('sha1', 'abc', {return_encoding='HEX'})`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{`return C4:Hash('SHA256', 'abc', {return_encoding='HEX'})`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`return C4:Hash('SHA512', 'abc', {return_encoding='BASE64'})`, "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="},
		{`return C4:Hash('SHA256', '616263', {data_encoding='HEX', return_encoding='HEX'})`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`return (C4:Hash('MD5', 'abc')):len()`, "16"},
		{`return C4:HMAC('SHA256', 'key', 'The quick brown fox jumps over the lazy dog', {return_encoding='HEX'})`, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{`return C4:HMAC('MD5', 'key', 'The quick brown fox jumps over the lazy dog', {return_encoding='HEX'})`, "80070713463e7749b90c2dc24911e275"},
		{`return C4:HMAC('SHA1', '4a656665', 'what do ya want for nothing?', {key_encoding='HEX', return_encoding='HEX'})`, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{`return C4:PBKDF2('SHA256', 'password', 'salt', 4096, 32, {return_encoding='HEX'})`, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
		{`return C4:Encrypt('AES-256-CBC', '` + k256 + `', '` + iv + `', 'hello world', ` + hexOpts + `)`, "b575a2c03e577110f6c0103c28719896"},
		{`return C4:Encrypt('AES-128-CBC', 'key', nil, 'hello world', {return_encoding='HEX'})`, "ee21283ca34fc340c65234e030efccd8"},
		{`return C4:Encrypt('AES-256-ECB', '` + k256 + `', nil, 'exactly sixteen!', {key_encoding='HEX', return_encoding='BASE64'})`, "uKgzjVZc6SKvm9s2H+cGcp87dQSSb4vTbjEY6QOkzUo="},
		{`return C4:Encrypt('AES-256-ECB', '` + k256 + `', nil, 'exactly sixteen!', {key_encoding='HEX', return_encoding='HEX', padding=false})`, "b8a8338d565ce922af9bdb361fe70672"},
		{`return C4:Encrypt('AES-128-CTR', '000102030405060708090a0b0c0d0e0f', '` + iv + `', 'hello ctr', ` + hexOpts + `)`, "62f167d92e4e933183"},
		{`return C4:Decrypt('AES-256-CBC', '` + k256 + `', '` + iv + `', 'b575a2c03e577110f6c0103c28719896', {key_encoding='HEX', iv_encoding='HEX', data_encoding='HEX'})`, "hello world"},
		{`return C4:Base64Encode('hello world')`, "aGVsbG8gd29ybGQ="},
		{`return C4:Base64Decode('aGVsbG8gd29ybGQ=')`, "hello world"},
		{`return C4:Base64Decode('aGVsbG8gd29ybGQ')`, "hello world"},
		{`return C4:Encode('\1\2\255', 'HEX')`, "0102ff"},
		{`return C4:Decode('AQL/', 'BASE64') == '\1\2\255'`, "true"},
		{`return C4:UUID('NIL')`, "00000000-0000-0000-0000-000000000000"},
		{`return C4:UUID('NAME', 'MD5', 'DNS', 'www.example.com')`, "5df41881-3aed-3515-88a7-2f4a814cf09e"},
		{`return C4:UUID('NAME', 'SHA1', 'DNS', 'www.example.com')`, "2ed6657d-e927-568b-95e1-2665a8aea6a2"},
		{`return C4:UUID('STRING', '{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}')`, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{`return C4:UUID('STRING', '6ba7b8109dad11d180b400c04fd430c8')`, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{`return tohex('DF 80 70') == '\223\128\112'`, "true"},
		{`return C4:GetSupportedDigests().SHA256.Size`, "32"},
		{`return C4:GetSupportedCiphers()['AES-256-CBC'].KeyLength`, "32"},
	} {
		out := evalLua(t, rt, tc.code)
		if len(out) == 0 || toString(out[0]) != tc.want {
			t.Errorf("%s\n got %v\nwant %s", tc.code, out, tc.want)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "nil"
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtAny(v), "\n", " "), "  ", " "))
}

func TestCryptoRoundTripsAndErrors(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	out := evalLua(t, rt, `
		local ok = {}
		for _, c in ipairs({'AES-128-CBC', 'AES-192-CBC', 'AES-256-CBC', 'AES-128-ECB', 'AES-256-CTR'}) do
			for _, msg in ipairs({'', 'x', 'sixteen byte msg', string.rep('\0\255', 33)}) do
				local enc = assert(C4:Encrypt(c, 'k', 'iv', msg))
				local dec = assert(C4:Decrypt(c, 'k', 'iv', enc))
				ok[#ok+1] = (dec == msg) and 'y' or ('n:' .. c .. ':' .. #msg)
			end
		end
		local u = C4:UUID('RANDOM')
		return table.concat(ok), u, C4:UUID('RANDOM') ~= u`)
	if got := out[0].(string); strings.Trim(got, "y") != "" {
		t.Errorf("round trips: %s", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(out[1].(string)) || out[2] != true {
		t.Errorf("random UUIDs: %v", out)
	}
	// Every failure is nil, message.
	for _, code := range []string{
		`return C4:Hash('SHA3', 'abc')`,
		`return C4:Hash('SHA256', 'zz', {data_encoding='HEX'})`,
		`return C4:Hash('SHA256', 'abc', {return_encoding='ROT13'})`,
		`return C4:HMAC('SHA256', '!!', 'abc', {key_encoding='BASE64'})`,
		`return C4:Encrypt('AES-256-GCM', 'k', 'iv', 'x')`,
		`return C4:Encrypt('AES-128-CBC', string.rep('k', 17), nil, 'x')`,
		`return C4:Encrypt('AES-128-CBC', 'k', string.rep('i', 17), 'x')`,
		`return C4:Encrypt('AES-128-CBC', 'k', nil, 'not sixteen', {padding=false})`,
		`return C4:Decrypt('AES-128-CBC', 'k', nil, 'sixteen byte msg')`,
		`return C4:Decrypt('AES-128-CBC', 'k', nil, '')`,
		`return C4:PBKDF2('SHA1', 'p', 's', 0, 16)`,
		`return C4:Encode('x', 'BASE32')`,
		`return C4:Decode('xyz', 'HEX')`,
		`return C4:UUID('STRING', 'not-a-uuid')`,
		`return C4:UUID('NAME', 'SHA256', 'DNS', 'x')`,
		`return C4:UUID('NAME', 'MD5', 'ISBN', 'x')`,
		`return C4:UUID('TIME')`,
		`return C4:Base64Decode('***')`,
	} {
		out := evalLua(t, rt, code)
		if len(out) != 2 || out[0] != nil {
			t.Errorf("%s: got %v, want nil, message", code, out)
			continue
		}
		if msg, _ := out[1].(string); msg == "" {
			t.Errorf("%s: no message: %v", code, out)
		}
	}
}

func TestParseIso8601DateTime(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	for _, tc := range []struct{ in, want string }{
		{`'2024-02-29T23:59:58Z'`, "2024 2 29 23 59 58 5 60 1709251198 0"},
		{`'2024-02-29T23:59:58.25+01:00'`, "2024 2 29 22 59 58 5 60 1709247598 250000"},
		{`'20240101T000000Z'`, "2024 1 1 0 0 0 2 1 1704067200 0"},
		{`' 2024-01-01 '`, "2024 1 1 0 0 0 2 1 1704067200 0"},
		{`' 2024-01-01 ', true`, "nothing"},
		{`'yesterday'`, "nothing"},
	} {
		out := evalLua(t, rt, `
			local t, s, us = C4:ParseIso8601DateTime(`+tc.in+`)
			if not t then return 'nothing' end
			return string.format('%d %d %d %d %d %d %d %d %d %d', t.year, t.month, t.day, t.hour, t.min, t.sec, t.wday, t.yday, s, us)`)
		if out[0] != tc.want {
			t.Errorf("ParseIso8601DateTime(%s) = %v, want %s", tc.in, out[0], tc.want)
		}
	}
}

func TestXML(t *testing.T) {
	rt := newRuntime(t, lua.Options{})
	out := evalLua(t, rt, `
		local root = C4:ParseXml([[<?xml version="1.0" encoding="ISO-8859-1"?>
<devices count="2">
  <device id="7" name="Lamp &amp; shade">on</device>
  <device id="9"/>
</devices>]])
		local a = root.ChildNodes[1]
		local b = root.ChildNodes[2]
		local bad, err = C4:ParseXml('<a><b></a>')
		return root.Name, root.Attributes.count, #root.ChildNodes, a.Attributes.name, a.Value, b.Value, root.Value,
			bad, type(err), C4:XmlEscapeString([[<a href="x">&'</a>]])`)
	want := []any{"devices", "2", int64(2), "Lamp & shade", "on", "", "", nil, "string", `&lt;a href="x"&gt;&amp;'&lt;/a&gt;`}
	if fmtAny(out) != fmtAny(want) {
		t.Errorf("got  %v\nwant %v", out, want)
	}
}
