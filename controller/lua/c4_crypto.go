// The encoding and crypto functions of the C4 shim: Base64, Encode/Decode,
// Hash, HMAC, PBKDF2, AES Encrypt/Decrypt, UUID and the global tohex. Drivers
// sign requests and keep secrets with these, so they must give the bytes a
// controller gives; everything is built on the Go standard library.
//
// The crypto calls answer result, err: err nil on success, result nil on
// failure. Which encoding a call uses when opts leaves it out is not
// documented (public code always passes them); the shim takes 'NONE', the
// raw bytes, for every one.
package lua

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

func (r *Runtime) cryptoFunctions() map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"Base64Encode":        c4Base64Encode,
		"Base64Decode":        c4Base64Decode,
		"Encode":              c4Encode,
		"Decode":              c4Decode,
		"Hash":                c4Hash,
		"HMAC":                c4HMAC,
		"PBKDF2":              c4PBKDF2,
		"Encrypt":             func(L *glua.LState) int { return c4Crypt(L, true) },
		"Decrypt":             func(L *glua.LState) int { return c4Crypt(L, false) },
		"GetSupportedCiphers": c4SupportedCiphers,
		"GetSupportedDigests": c4SupportedDigests,
		"UUID":                c4UUID,
		"XmlEscapeString":     c4XMLEscape,
		"ParseXml":            c4ParseXML,
	}
}

// pushResult pushes the result, err pair of the crypto calls.
func pushResult(L *glua.LState, s string, err error) int {
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(glua.LString(s))
	L.Push(glua.LNil)
	return 2
}

// encodeAs writes raw bytes in one of the shim's encodings.
func encodeAs(enc string, b []byte) (string, error) {
	switch strings.ToUpper(enc) {
	case "", "NONE":
		return string(b), nil
	case "HEX":
		return hex.EncodeToString(b), nil
	case "BASE64":
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", fmt.Errorf("unknown encoding %q (want NONE, HEX or BASE64)", enc)
}

// decodeFrom reads bytes given in one of the shim's encodings.
func decodeFrom(enc, s string) ([]byte, error) {
	switch strings.ToUpper(enc) {
	case "", "NONE":
		return []byte(s), nil
	case "HEX":
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid HEX data: %w", err)
		}
		return b, nil
	case "BASE64":
		return decodeBase64(s)
	}
	return nil, fmt.Errorf("unknown encoding %q (want NONE, HEX or BASE64)", enc)
}

// decodeBase64 takes the standard alphabet, with or without padding, and
// ignores line breaks (PEM-style text).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("invalid BASE64 data: %w", err)
	}
	return b, nil
}

// optField reads opts[key] when opts is a table.
func optField(L *glua.LState, opts glua.LValue, key, def string) string {
	t, ok := opts.(*glua.LTable)
	if !ok {
		return def
	}
	v := t.RawGetString(key)
	if v == glua.LNil {
		return def
	}
	return L.ToStringMeta(v).String()
}

func c4Base64Encode(L *glua.LState) int {
	L.Push(glua.LString(base64.StdEncoding.EncodeToString([]byte(L.CheckString(2)))))
	return 1
}

// C4:Base64Decode returns the bytes; on text that is not Base64 it returns
// nil and a message (the controller's answer there is not documented).
func c4Base64Decode(L *glua.LState) int {
	b, err := decodeBase64(L.CheckString(2))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(glua.LString(b))
	return 1
}

func c4Encode(L *glua.LState) int {
	s, err := encodeAs(L.CheckString(3), []byte(L.CheckString(2)))
	return pushResult(L, s, err)
}

func c4Decode(L *glua.LState) int {
	b, err := decodeFrom(L.CheckString(3), L.CheckString(2))
	return pushResult(L, string(b), err)
}

// digests are the names C4:GetSupportedDigests lists; lookups ignore case,
// '-' and '_' (public code passes both 'SHA256' and 'sha1').
var digests = map[string]func() hash.Hash{
	"MD5":    md5.New,
	"SHA1":   sha1.New,
	"SHA224": sha256.New224,
	"SHA256": sha256.New,
	"SHA384": sha512.New384,
	"SHA512": sha512.New,
}

func digestOf(name string) (func() hash.Hash, error) {
	key := strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(name))
	if h, ok := digests[key]; ok {
		return h, nil
	}
	return nil, fmt.Errorf("unsupported digest %q", name)
}

func c4Hash(L *glua.LState) int {
	h, err := digestOf(L.CheckString(2))
	if err != nil {
		return pushResult(L, "", err)
	}
	opts := L.Get(4)
	data, err := decodeFrom(optField(L, opts, "data_encoding", "NONE"), L.CheckString(3))
	if err != nil {
		return pushResult(L, "", fmt.Errorf("data: %w", err))
	}
	d := h()
	d.Write(data)
	s, err := encodeAs(optField(L, opts, "return_encoding", "NONE"), d.Sum(nil))
	return pushResult(L, s, err)
}

func c4HMAC(L *glua.LState) int {
	h, err := digestOf(L.CheckString(2))
	if err != nil {
		return pushResult(L, "", err)
	}
	opts := L.Get(5)
	key, err := decodeFrom(optField(L, opts, "key_encoding", "NONE"), L.CheckString(3))
	if err != nil {
		return pushResult(L, "", fmt.Errorf("key: %w", err))
	}
	data, err := decodeFrom(optField(L, opts, "data_encoding", "NONE"), L.CheckString(4))
	if err != nil {
		return pushResult(L, "", fmt.Errorf("data: %w", err))
	}
	m := hmac.New(h, key)
	m.Write(data)
	s, err := encodeAs(optField(L, opts, "return_encoding", "NONE"), m.Sum(nil))
	return pushResult(L, s, err)
}

func c4PBKDF2(L *glua.LState) int {
	h, err := digestOf(L.CheckString(2))
	if err != nil {
		return pushResult(L, "", err)
	}
	password := L.CheckString(3)
	opts := L.Get(7)
	salt, err := decodeFrom(optField(L, opts, "salt_encoding", "NONE"), L.CheckString(4))
	if err != nil {
		return pushResult(L, "", fmt.Errorf("salt: %w", err))
	}
	iter, keyLen := L.CheckInt(5), L.CheckInt(6)
	if iter < 1 || keyLen < 1 {
		return pushResult(L, "", fmt.Errorf("iterations and key length must be 1 or more (got %d, %d)", iter, keyLen))
	}
	key, err := pbkdf2.Key(h, password, salt, iter, keyLen)
	if err != nil {
		return pushResult(L, "", err)
	}
	s, err := encodeAs(optField(L, opts, "return_encoding", "NONE"), key)
	return pushResult(L, s, err)
}

// cipherSpec is one entry of C4:GetSupportedCiphers.
type cipherSpec struct {
	keyLen int
	mode   string // CBC, ECB or CTR
}

var ciphers = map[string]cipherSpec{}

func init() {
	for _, bits := range []int{128, 192, 256} {
		for _, mode := range []string{"CBC", "ECB", "CTR"} {
			ciphers[fmt.Sprintf("AES-%d-%s", bits, mode)] = cipherSpec{keyLen: bits / 8, mode: mode}
		}
	}
}

func (c cipherSpec) ivLen() int {
	if c.mode == "ECB" {
		return 0
	}
	return aes.BlockSize
}

// fitLen pads a short key or IV with zero bytes, as the controller does, and
// refuses a long one.
func fitLen(what string, b []byte, n int) ([]byte, error) {
	if len(b) > n {
		return nil, fmt.Errorf("%s is %d bytes, more than the cipher's %d", what, len(b), n)
	}
	out := make([]byte, n)
	copy(out, b)
	return out, nil
}

// c4Crypt is C4:Encrypt and C4:Decrypt (cipher, key, iv, data[, opts]).
func c4Crypt(L *glua.LState, encrypt bool) int {
	name := L.CheckString(2)
	spec, ok := ciphers[strings.ToUpper(name)]
	if !ok {
		return pushResult(L, "", fmt.Errorf("unsupported cipher %q", name))
	}
	opts := L.Get(6)
	key, err := decodeFrom(optField(L, opts, "key_encoding", "NONE"), L.CheckString(3))
	if err == nil {
		key, err = fitLen("key", key, spec.keyLen)
	}
	if err != nil {
		return pushResult(L, "", fmt.Errorf("key: %w", err))
	}
	var iv []byte
	if L.Get(4) != glua.LNil && spec.ivLen() > 0 {
		iv, err = decodeFrom(optField(L, opts, "iv_encoding", "NONE"), L.CheckString(4))
		if err != nil {
			return pushResult(L, "", fmt.Errorf("iv: %w", err))
		}
	}
	if iv, err = fitLen("iv", iv, spec.ivLen()); err != nil {
		return pushResult(L, "", err)
	}
	data, err := decodeFrom(optField(L, opts, "data_encoding", "NONE"), L.CheckString(5))
	if err != nil {
		return pushResult(L, "", fmt.Errorf("data: %w", err))
	}
	padding := true
	if t, ok := opts.(*glua.LTable); ok {
		if v := t.RawGetString("padding"); v != glua.LNil {
			padding = glua.LVAsBool(v)
		}
	}
	out, err := aesCrypt(spec, key, iv, data, padding, encrypt)
	if err != nil {
		return pushResult(L, "", err)
	}
	s, err := encodeAs(optField(L, opts, "return_encoding", "NONE"), out)
	return pushResult(L, s, err)
}

func aesCrypt(spec cipherSpec, key, iv, data []byte, padding, encrypt bool) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	if spec.mode == "CTR" {
		out := make([]byte, len(data))
		cipher.NewCTR(block, iv).XORKeyStream(out, data)
		return out, nil
	}
	if encrypt && padding {
		n := bs - len(data)%bs
		data = append(append([]byte(nil), data...), bytes.Repeat([]byte{byte(n)}, n)...)
	}
	if len(data)%bs != 0 {
		return nil, fmt.Errorf("data is %d bytes, not a multiple of the %d-byte block (padding off)", len(data), bs)
	}
	out := make([]byte, len(data))
	switch {
	case spec.mode == "CBC" && encrypt:
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, data)
	case spec.mode == "CBC":
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	default: // ECB: each block on its own; Go has no ECB mode type.
		for i := 0; i < len(data); i += bs {
			if encrypt {
				block.Encrypt(out[i:i+bs], data[i:i+bs])
			} else {
				block.Decrypt(out[i:i+bs], data[i:i+bs])
			}
		}
	}
	if !encrypt && padding {
		if len(out) == 0 {
			return nil, errors.New("bad decrypt: no data")
		}
		n := int(out[len(out)-1])
		if n == 0 || n > bs || n > len(out) {
			return nil, errors.New("bad decrypt: wrong padding (wrong key or iv?)")
		}
		for _, c := range out[len(out)-n:] {
			if int(c) != n {
				return nil, errors.New("bad decrypt: wrong padding (wrong key or iv?)")
			}
		}
		out = out[:len(out)-n]
	}
	return out, nil
}

func c4SupportedCiphers(L *glua.LState) int {
	t := L.NewTable()
	for name, c := range ciphers {
		e := L.NewTable()
		bs := aes.BlockSize
		if c.mode == "CTR" {
			bs = 1
		}
		e.RawSetString("BlockSize", glua.LNumber(bs))
		e.RawSetString("KeyLength", glua.LNumber(c.keyLen))
		e.RawSetString("IVLength", glua.LNumber(c.ivLen()))
		t.RawSetString(name, e)
	}
	L.Push(t)
	return 1
}

func c4SupportedDigests(L *glua.LState) int {
	t := L.NewTable()
	for name, h := range digests {
		e := L.NewTable()
		e.RawSetString("Size", glua.LNumber(h().Size()))
		t.RawSetString(name, e)
	}
	L.Push(t)
	return 1
}

// UUID namespaces of RFC 4122 appendix C.
var uuidNamespaces = map[string]string{
	"DNS":    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
	"URL":    "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
	"OID":    "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
	"X500DN": "6ba7b814-9dad-11d1-80b4-00c04fd430c8",
}

// parseUUID reads 32 hex digits, with or without dashes and braces.
func parseUUID(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
		t = t[1 : len(t)-1]
	}
	if len(t) == 36 {
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return nil, fmt.Errorf("invalid UUID %q", s)
		}
		t = strings.ReplaceAll(t, "-", "")
	}
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("invalid UUID %q", s)
	}
	return b, nil
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// c4UUID is C4:UUID(type, ...): "NIL", "STRING" text, "NAME" digest
// namespace name (versions 3 and 5), "RANDOM" (version 4).
func c4UUID(L *glua.LState) int {
	fail := func(err error) int {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	var b []byte
	switch kind := strings.ToUpper(L.OptString(2, "RANDOM")); kind {
	case "NIL":
		b = make([]byte, 16)
	case "STRING":
		var err error
		if b, err = parseUUID(L.CheckString(3)); err != nil {
			return fail(err)
		}
	case "RANDOM":
		b = make([]byte, 16)
		rand.Read(b)
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
	case "NAME":
		var h hash.Hash
		var version byte
		switch d := strings.ToUpper(L.CheckString(3)); d {
		case "MD5":
			h, version = md5.New(), 0x30
		case "SHA1":
			h, version = sha1.New(), 0x50
		default:
			return fail(fmt.Errorf("UUID NAME: unknown digest %q (want MD5 or SHA1)", d))
		}
		nsName := L.CheckString(4)
		ns, ok := uuidNamespaces[strings.ToUpper(nsName)]
		if !ok {
			return fail(fmt.Errorf("UUID NAME: unknown namespace %q (want DNS, URL, OID or X500DN)", nsName))
		}
		nsb, _ := parseUUID(ns)
		h.Write(nsb)
		h.Write([]byte(L.CheckString(5)))
		b = h.Sum(nil)[:16]
		b[6] = b[6]&0x0f | version
		b[8] = b[8]&0x3f | 0x80
	default:
		return fail(fmt.Errorf("UUID: unknown type %q (want NIL, STRING, NAME or RANDOM)", kind))
	}
	L.Push(glua.LString(formatUUID(b)))
	return 1
}
