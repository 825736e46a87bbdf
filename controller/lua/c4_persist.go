// Persistence: the PersistData global and the C4:Persist* store. Both
// live outside the Lua state (as deep copies) so that a restart of the
// driver finds them again, as on the controller.

package lua

import (
	"sort"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// persistStore is what the controller keeps for a driver across restarts.
type persistStore struct {
	mu       sync.Mutex
	values   map[string]persistValue
	registry map[string]any
	data     any // snapshot of PersistData; nil before the first save
}

type persistValue struct {
	v         any
	encrypted bool
}

func newPersistStore() *persistStore {
	return &persistStore{values: map[string]persistValue{}, registry: map[string]any{}}
}

// pTable is a snapshot of a Lua table, keys kept with their types.
type pTable struct {
	keys, vals []any
}

// snapshot deep-copies a Lua value out of the state. Functions, userdata
// and threads cannot be stored.
func snapshot(v glua.LValue, depth int) (any, bool) {
	switch v := v.(type) {
	case *glua.LNilType:
		return nil, true
	case glua.LBool:
		return bool(v), true
	case glua.LNumber:
		return float64(v), true
	case glua.LString:
		return string(v), true
	case *glua.LTable:
		if depth > 100 {
			return nil, false
		}
		t := &pTable{}
		ok := true
		v.ForEach(func(k, e glua.LValue) {
			ks, kok := snapshot(k, depth+1)
			es, eok := snapshot(e, depth+1)
			if !kok || !eok {
				ok = false
				return
			}
			t.keys = append(t.keys, ks)
			t.vals = append(t.vals, es)
		})
		return t, ok
	}
	return nil, false
}

func restore(L *glua.LState, v any) glua.LValue {
	switch v := v.(type) {
	case bool:
		return glua.LBool(v)
	case float64:
		return glua.LNumber(v)
	case string:
		return glua.LString(v)
	case *pTable:
		t := L.NewTable()
		for i, k := range v.keys {
			t.RawSet(restore(L, k), restore(L, v.vals[i]))
		}
		return t
	}
	return glua.LNil
}

func (r *Runtime) persistFunctions() map[string]glua.LGFunction {
	s := r.store
	return map[string]glua.LGFunction{
		"PersistSetValue": func(L *glua.LState) int {
			name := L.CheckString(2)
			v := storable(L, 3, "PersistSetValue")
			s.mu.Lock()
			s.values[name] = persistValue{v: v, encrypted: L.ToBool(4)}
			s.mu.Unlock()
			return 0
		},
		// A value read with a different encrypted flag than it was stored
		// with is not found: public libraries read encrypted first, then
		// fall back to a plain read and save again.
		"PersistGetValue": func(L *glua.LState) int {
			name := L.CheckString(2)
			s.mu.Lock()
			pv, ok := s.values[name]
			s.mu.Unlock()
			if !ok || pv.encrypted != L.ToBool(3) {
				L.Push(glua.LNil)
				return 1
			}
			L.Push(restore(L, pv.v))
			return 1
		},
		"PersistDeleteValue": func(L *glua.LState) int {
			s.mu.Lock()
			delete(s.values, L.CheckString(2))
			s.mu.Unlock()
			return 0
		},
		// The controller-wide registry, kept with the Persist store.
		"RegistrySetValue": func(L *glua.LState) int {
			v := storable(L, 3, "RegistrySetValue")
			s.mu.Lock()
			s.registry[L.CheckString(2)] = v
			s.mu.Unlock()
			return 0
		},
		"RegistryGetValue": func(L *glua.LState) int {
			s.mu.Lock()
			v := s.registry[L.CheckString(2)]
			s.mu.Unlock()
			L.Push(restore(L, v))
			return 1
		},
		"RegistryDeleteValue": func(L *glua.LState) int {
			s.mu.Lock()
			delete(s.registry, L.CheckString(2))
			s.mu.Unlock()
			return 0
		},
		"PersistDeleteAll": func(L *glua.LState) int {
			s.mu.Lock()
			clear(s.values)
			s.mu.Unlock()
			return 0
		},
	}
}

// storable is argument n as the store keeps it; a value holding a
// function, userdata or thread raises a Lua error.
func storable(L *glua.LState, n int, fn string) any {
	v, ok := snapshot(L.Get(n), 0)
	if !ok {
		L.ArgError(n, fn+" stores numbers, strings, booleans and tables of them only")
	}
	return v
}

// savePersistData snapshots the PersistData global, as the controller's
// writer does.
func (r *Runtime) savePersistData(L *glua.LState) {
	v, _ := snapshot(L.GetGlobal("PersistData"), 0)
	r.store.mu.Lock()
	r.store.data = v
	r.store.mu.Unlock()
}

// restorePersistData puts the saved PersistData in place before the chunk
// runs, as the controller does on load.
func (r *Runtime) restorePersistData(L *glua.LState) {
	r.store.mu.Lock()
	data := r.store.data
	r.store.mu.Unlock()
	if t, ok := restore(L, data).(*glua.LTable); ok {
		L.SetGlobal("PersistData", t)
	}
}

// PersistKeys lists the names in the Persist store.
func (r *Runtime) PersistKeys() []string {
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	out := make([]string, 0, len(r.store.values))
	for k := range r.store.values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
