// Driver code is compiled here rather than by LState.Load, to work around
// a gopher-lua compiler fault: a multiple assignment whose right-hand side
// reads a variable it also assigns (`a, b = b, a`, `x, y = y, x + y`)
// assigns one target before reading the next value, so a swap leaves both
// variables equal. Lua evaluates every expression first and only then
// assigns. Public driver code swaps values (curve ladders, list
// reversals), so each multiple assignment is rewritten, before
// compilation, into the order Lua defines: the tables and keys of indexed
// targets, then every value, into hidden locals; then one plain assignment
// per target.

package lua

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// compileChunk parses and compiles Lua source the way LState.Load does,
// with multiple assignments rewritten. Errors are the *glua.ApiError Load
// would return.
func compileChunk(L *glua.LState, src, name string) (*glua.LFunction, error) {
	key := protoKey{name: name, sum: sha256.Sum256([]byte(src))}
	if proto := protos.get(key); proto != nil {
		return L.NewFunctionFromProto(proto), nil
	}
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, &glua.ApiError{Type: glua.ApiErrorSyntax, Object: glua.LString(err.Error()), Cause: err}
	}
	rw := &assignRewriter{}
	rw.walk(reflect.ValueOf(chunk))
	proto, err := glua.Compile(chunk, name)
	if err != nil {
		return nil, &glua.ApiError{Type: glua.ApiErrorSyntax, Object: glua.LString(err.Error()), Cause: err}
	}
	protos.put(key, proto, len(src))
	return L.NewFunctionFromProto(proto), nil
}

// protos keeps compiled chunks by name and source. The same code is
// compiled again and again otherwise: a driver (the probe driver above
// all) for every scenario, and a scenario's awaited expression after every
// callback of the driver. A compiled proto is never changed, and
// gopher-lua runs one proto in many states. Bounded by the source it
// holds: past protoCacheMax bytes, or entries, it starts again empty.
var protos = protoCache{m: map[protoKey]*glua.FunctionProto{}}

const protoCacheMax = 32 << 20

type protoKey struct {
	name string
	sum  [sha256.Size]byte
}

type protoCache struct {
	mu    sync.Mutex
	m     map[protoKey]*glua.FunctionProto
	bytes int
}

func (c *protoCache) get(k protoKey) *glua.FunctionProto {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *protoCache) put(k protoKey, p *glua.FunctionProto, size int) {
	if size > protoCacheMax/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes+size > protoCacheMax || len(c.m) >= 4096 {
		clear(c.m)
		c.bytes = 0
	}
	c.m[k] = p
	c.bytes += size
}

var stmtsType = reflect.TypeFor[[]ast.Stmt]()

// assignRewriter visits every statement list of a chunk, nested function
// bodies included, and replaces each multiple assignment.
type assignRewriter struct{ n int }

func (rw *assignRewriter) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			rw.walk(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			rw.walk(v.Field(i))
		}
	case reflect.Slice:
		if v.Type() == stmtsType {
			for i := range v.Len() {
				if a, ok := v.Index(i).Interface().(*ast.AssignStmt); ok && len(a.Lhs) > 1 {
					v.Index(i).Set(reflect.ValueOf(rw.rewrite(a)))
				}
			}
		}
		for i := range v.Len() {
			rw.walk(v.Index(i))
		}
	}
}

// rewrite turns `t1, t2[k] = e1, e2` into
//
//	do local o, k' = t2, k; local v1, v2 = e1, e2; t1 = v1; o[k'] = v2 end
//
// The hidden names cannot clash with the driver's: they are not Lua
// identifiers.
func (rw *assignRewriter) rewrite(a *ast.AssignStmt) ast.Stmt {
	rw.n++
	line, last := a.Line(), a.LastLine()
	ident := func(name string) *ast.IdentExpr {
		e := &ast.IdentExpr{Value: name}
		e.SetLine(line)
		e.SetLastLine(last)
		return e
	}
	local := func(names []string, exprs []ast.Expr) ast.Stmt {
		s := &ast.LocalAssignStmt{Names: names, Exprs: exprs}
		s.SetLine(line)
		s.SetLastLine(last)
		return s
	}
	var refNames []string
	var refExprs []ast.Expr
	targets := make([]ast.Expr, len(a.Lhs))
	for i, lhs := range a.Lhs {
		if get, ok := lhs.(*ast.AttrGetExpr); ok {
			o, k := fmt.Sprintf("(obj%d.%d)", rw.n, i), fmt.Sprintf("(key%d.%d)", rw.n, i)
			refNames = append(refNames, o, k)
			refExprs = append(refExprs, get.Object, get.Key)
			t := &ast.AttrGetExpr{Object: ident(o), Key: ident(k)}
			t.SetLine(get.Line())
			t.SetLastLine(get.LastLine())
			targets[i] = t
		} else {
			targets[i] = lhs
		}
	}
	var stmts []ast.Stmt
	if len(refNames) > 0 {
		stmts = append(stmts, local(refNames, refExprs))
	}
	vals := make([]string, len(a.Lhs))
	for i := range vals {
		vals[i] = fmt.Sprintf("(val%d.%d)", rw.n, i)
	}
	stmts = append(stmts, local(vals, a.Rhs))
	for i, t := range targets {
		s := &ast.AssignStmt{Lhs: []ast.Expr{t}, Rhs: []ast.Expr{ident(vals[i])}}
		s.SetLine(line)
		s.SetLastLine(last)
		stmts = append(stmts, s)
	}
	do := &ast.DoBlockStmt{Stmts: stmts}
	do.SetLine(line)
	do.SetLastLine(last)
	return do
}

// installLoadstring makes loadstring compile through compileChunk too, so
// code a driver builds at run time gets the same assignment order.
func installLoadstring(L *glua.LState) {
	L.SetGlobal("loadstring", L.NewFunction(func(L *glua.LState) int {
		src := L.CheckString(1)
		fn, err := compileChunk(L, src, L.OptString(2, "<string>"))
		if err != nil {
			L.Push(glua.LNil)
			L.Push(err.(*glua.ApiError).Object)
			return 2
		}
		L.Push(fn)
		return 1
	}))
}
