// The part of the lua-openssl module (require "openssl", OS 3.4.1 and
// later) that public drivers use: big numbers (openssl.bn) for their own
// curve and SRP arithmetic, message digests (openssl.digest) and random
// bytes (openssl.rand). Everything else of the module is absent, so a
// driver probing for it takes the path it takes without it.

package lua

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"math/big"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// opensslModule builds the table require "openssl" answers.
func opensslModule(L *glua.LState) glua.LValue {
	m := L.NewTable()
	m.RawSetString("bn", bnModule(L))
	m.RawSetString("digest", digestModule(L))
	rnd := L.NewTable()
	rnd.RawSetString("bytes", L.NewFunction(func(L *glua.LState) int {
		n := L.CheckInt(1)
		if n < 0 {
			L.ArgError(1, "length must not be negative")
		}
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			L.RaiseError("openssl.rand.bytes: %v", err)
		}
		L.Push(glua.LString(b))
		return 1
	}))
	m.RawSetString("rand", rnd)
	m.RawSetString("hex", L.NewFunction(func(L *glua.LState) int {
		s := L.CheckString(1)
		if L.OptBool(2, true) {
			L.Push(glua.LString(hex.EncodeToString([]byte(s))))
			return 1
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(glua.LString(b))
		return 1
	}))
	return m
}

// bnMeta is the registry name of the metatable of openssl.bn numbers.
const bnMeta = "openssl.bn"

func pushBN(L *glua.LState, v *big.Int) int {
	if v == nil {
		L.Push(glua.LNil)
		return 1
	}
	ud := L.NewUserData()
	ud.Value = v
	L.SetMetatable(ud, L.GetTypeMetatable(bnMeta))
	L.Push(ud)
	return 1
}

// bnArg reads argument i as a big number: a bn, a Lua number (its integer
// part) or a string in decimal or, with 0x, hexadecimal.
func bnArg(L *glua.LState, i int) *big.Int {
	switch v := L.Get(i).(type) {
	case *glua.LUserData:
		if b, ok := v.Value.(*big.Int); ok {
			return b
		}
	case glua.LNumber:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			L.ArgError(i, "not a finite number")
		}
		f := new(big.Float).SetFloat64(float64(v))
		n, _ := f.Int(nil)
		return n
	case glua.LString:
		s := strings.TrimSpace(string(v))
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		base := 10
		if low := strings.ToLower(s); strings.HasPrefix(low, "0x") {
			s, base = s[2:], 16
		}
		if n, ok := new(big.Int).SetString(s, base); ok {
			if neg {
				n.Neg(n)
			}
			return n
		}
		L.ArgError(i, fmt.Sprintf("not a number: %q", string(v)))
	}
	L.ArgError(i, "bn, number or string expected, got "+L.Get(i).Type().String())
	return nil
}

// nonNegMod is a mod m in [0, |m|), as OpenSSL's BN_nnmod and the *mod
// functions answer.
func nonNegMod(L *glua.LState, a, m *big.Int) *big.Int {
	nonZero(L, m)
	return new(big.Int).Mod(a, m) // Euclidean: never negative
}

func nonZero(L *glua.LState, d *big.Int) {
	if d.Sign() == 0 {
		L.RaiseError("openssl.bn: division by zero")
	}
}

func bnModule(L *glua.LState) *glua.LTable {
	bin := func(op func(L *glua.LState, a, b *big.Int) *big.Int) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int { return pushBN(L, op(L, bnArg(L, 1), bnArg(L, 2))) })
	}
	modOp := func(op func(a, b *big.Int) *big.Int) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			a, b, m := bnArg(L, 1), bnArg(L, 2), bnArg(L, 3)
			return pushBN(L, nonNegMod(L, op(a, b), m))
		})
	}
	div := func(L *glua.LState, a, b *big.Int) *big.Int {
		nonZero(L, b)
		return new(big.Int).Quo(a, b) // truncated, as BN_div
	}
	rem := func(L *glua.LState, a, b *big.Int) *big.Int {
		nonZero(L, b)
		return new(big.Int).Rem(a, b) // sign of a, as BN_mod
	}
	add := func(_ *glua.LState, a, b *big.Int) *big.Int { return new(big.Int).Add(a, b) }
	sub := func(_ *glua.LState, a, b *big.Int) *big.Int { return new(big.Int).Sub(a, b) }
	mul := func(_ *glua.LState, a, b *big.Int) *big.Int { return new(big.Int).Mul(a, b) }
	pow := func(L *glua.LState, a, b *big.Int) *big.Int {
		if b.Sign() < 0 {
			L.RaiseError("openssl.bn: negative exponent")
		}
		return new(big.Int).Exp(a, b, nil)
	}
	unary := func(op func(a *big.Int) *big.Int) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int { return pushBN(L, op(bnArg(L, 1))) })
	}
	test := func(op func(a *big.Int) bool) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int { L.Push(glua.LBool(op(bnArg(L, 1)))); return 1 })
	}
	t := L.NewTable()
	fns := map[string]*glua.LFunction{
		"number": unary(func(a *big.Int) *big.Int { return new(big.Int).Set(a) }),
		"text": L.NewFunction(func(L *glua.LState) int {
			return pushBN(L, new(big.Int).SetBytes([]byte(L.CheckString(1))))
		}),
		"totext": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LString(bnArg(L, 1).Bytes()))
			return 1
		}),
		"tostring": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LString(bnArg(L, 1).String()))
			return 1
		}),
		"tohex": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LString(strings.ToUpper(bnArg(L, 1).Text(16))))
			return 1
		}),
		"tonumber": L.NewFunction(func(L *glua.LState) int {
			f, _ := new(big.Float).SetInt(bnArg(L, 1)).Float64()
			L.Push(glua.LNumber(f))
			return 1
		}),
		"add": bin(add), "sub": bin(sub), "mul": bin(mul), "div": bin(div), "mod": bin(rem), "pow": bin(pow),
		"gcd": bin(func(_ *glua.LState, a, b *big.Int) *big.Int {
			return new(big.Int).GCD(nil, nil, new(big.Int).Abs(a), new(big.Int).Abs(b))
		}),
		"addmod": modOp(func(a, b *big.Int) *big.Int { return new(big.Int).Add(a, b) }),
		"submod": modOp(func(a, b *big.Int) *big.Int { return new(big.Int).Sub(a, b) }),
		"mulmod": modOp(func(a, b *big.Int) *big.Int { return new(big.Int).Mul(a, b) }),
		"powmod": L.NewFunction(func(L *glua.LState) int {
			a, e, m := bnArg(L, 1), bnArg(L, 2), bnArg(L, 3)
			nonZero(L, m)
			if e.Sign() < 0 {
				L.RaiseError("openssl.bn: negative exponent")
			}
			return pushBN(L, new(big.Int).Exp(nonNegMod(L, a, m), e, new(big.Int).Abs(m)))
		}),
		"sqrmod": L.NewFunction(func(L *glua.LState) int {
			a, m := bnArg(L, 1), bnArg(L, 2)
			return pushBN(L, nonNegMod(L, new(big.Int).Mul(a, a), m))
		}),
		// invmod and sqrtmod answer nil when there is no inverse or root.
		"invmod": L.NewFunction(func(L *glua.LState) int {
			a, m := bnArg(L, 1), bnArg(L, 2)
			return pushBN(L, new(big.Int).ModInverse(nonNegMod(L, a, m), new(big.Int).Abs(m)))
		}),
		"sqrtmod": L.NewFunction(func(L *glua.LState) int {
			a, p := bnArg(L, 1), bnArg(L, 2)
			if p.Sign() <= 0 || !p.ProbablyPrime(20) {
				L.RaiseError("openssl.bn.sqrtmod: the modulus must be an odd prime")
			}
			return pushBN(L, new(big.Int).ModSqrt(nonNegMod(L, a, p), p))
		}),
		"neg":     unary(func(a *big.Int) *big.Int { return new(big.Int).Neg(a) }),
		"abs":     unary(func(a *big.Int) *big.Int { return new(big.Int).Abs(a) }),
		"iszero":  test(func(a *big.Int) bool { return a.Sign() == 0 }),
		"isone":   test(func(a *big.Int) bool { return a.Cmp(big.NewInt(1)) == 0 }),
		"isodd":   test(func(a *big.Int) bool { return a.Bit(0) == 1 }),
		"isneg":   test(func(a *big.Int) bool { return a.Sign() < 0 }),
		"isprime": test(func(a *big.Int) bool { return a.Sign() > 0 && a.ProbablyPrime(20) }),
		"bits": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LNumber(bnArg(L, 1).BitLen()))
			return 1
		}),
		"compare": L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LNumber(bnArg(L, 1).Cmp(bnArg(L, 2))))
			return 1
		}),
		"random": L.NewFunction(func(L *glua.LState) int {
			bits := L.CheckInt(1)
			if bits <= 0 {
				return pushBN(L, new(big.Int))
			}
			n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
			if err != nil {
				L.RaiseError("openssl.bn.random: %v", err)
			}
			return pushBN(L, n)
		}),
	}
	for name, fn := range fns {
		t.RawSetString(name, fn)
	}
	mt := L.NewTypeMetatable(bnMeta)
	mt.RawSetString("__index", t)
	for meta, name := range map[string]string{"__add": "add", "__sub": "sub", "__mul": "mul", "__div": "div", "__mod": "mod", "__pow": "pow", "__unm": "neg", "__tostring": "tostring"} {
		mt.RawSetString(meta, fns[name])
	}
	cmp := func(ok func(int) bool) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			L.Push(glua.LBool(ok(bnArg(L, 1).Cmp(bnArg(L, 2)))))
			return 1
		})
	}
	mt.RawSetString("__eq", cmp(func(c int) bool { return c == 0 }))
	mt.RawSetString("__lt", cmp(func(c int) bool { return c < 0 }))
	mt.RawSetString("__le", cmp(func(c int) bool { return c <= 0 }))
	return t
}

// digestModule is openssl.digest: new(alg) answers a context with
// update(data) and final([data][, raw]); digest(alg, data[, raw]) is the
// one-shot form. Without raw the digest is lower-case hex, as
// lua-openssl answers.
func digestModule(L *glua.LState) *glua.LTable {
	const ctxMeta = "openssl.digest_ctx"
	mt := L.NewTypeMetatable(ctxMeta)
	out := func(L *glua.LState, sum []byte, raw bool) int {
		if raw {
			L.Push(glua.LString(sum))
		} else {
			L.Push(glua.LString(hex.EncodeToString(sum)))
		}
		return 1
	}
	methods := L.NewTable()
	ctxArg := func(L *glua.LState) *digestCtx {
		if ud, ok := L.Get(1).(*glua.LUserData); ok {
			if c, ok := ud.Value.(*digestCtx); ok {
				return c
			}
		}
		L.ArgError(1, "digest context expected")
		return nil
	}
	methods.RawSetString("update", L.NewFunction(func(L *glua.LState) int {
		ctxArg(L).h.Write([]byte(L.CheckString(2)))
		L.Push(glua.LTrue)
		return 1
	}))
	methods.RawSetString("final", L.NewFunction(func(L *glua.LState) int {
		c := ctxArg(L)
		raw := false
		switch v := L.Get(2).(type) {
		case glua.LString:
			c.h.Write([]byte(v))
			raw = glua.LVAsBool(L.Get(3))
		case glua.LBool:
			raw = bool(v)
		}
		return out(L, c.h.Sum(nil), raw)
	}))
	mt.RawSetString("__index", methods)
	newHash := func(L *glua.LState) *digestCtx {
		mk, err := digestOf(L.CheckString(1))
		if err != nil {
			L.ArgError(1, err.Error())
		}
		return &digestCtx{h: mk()}
	}
	t := L.NewTable()
	t.RawSetString("new", L.NewFunction(func(L *glua.LState) int {
		ud := L.NewUserData()
		ud.Value = newHash(L)
		L.SetMetatable(ud, mt)
		L.Push(ud)
		return 1
	}))
	t.RawSetString("digest", L.NewFunction(func(L *glua.LState) int {
		c := newHash(L)
		c.h.Write([]byte(L.CheckString(2)))
		return out(L, c.h.Sum(nil), glua.LVAsBool(L.Get(3)))
	}))
	return t
}

type digestCtx struct{ h hash.Hash }
