// The registry of actions. Each action registers itself from its own file:
// its key in plans and the HTTP API, the spec type plans write its
// arguments in, how a spec becomes the action and how the action is
// written back as a spec. Plans, the API and rule listings know actions
// only through it, so adding an action is adding a file.
package faults

import (
	"fmt"
	"slices"
	"sync"
)

// actionType is one registered kind of action.
type actionType struct {
	key     string
	order   int
	newSpec func() any                 // a pointer to a zero spec, for the decoder to fill
	build   func(spec any) Action      // the action a filled spec asks for
	spec    func(a Action) (any, bool) // a as its spec; false when a is not of this kind
}

var (
	actionsMu sync.RWMutex
	actions   []*actionType // in order
)

// RegisterAction makes an action known to fault plans and the HTTP API
// under key, which must be what the action's Kind returns. S is the spec
// type its arguments are written in (json tags name the keys; a
// `plan:"required"` tag makes one mandatory); build turns a spec into the
// action, and spec writes an action (given as A or *A) back. order places
// the key among the others where messages list them. Validation is the
// action's Check, run on every rule whatever way it arrives. Registering a
// key twice panics: it is a programming error.
func RegisterAction[S any, A Action](key string, order int, build func(*S) A, spec func(A) *S) {
	t := &actionType{
		key:     key,
		order:   order,
		newSpec: func() any { return new(S) },
		build:   func(v any) Action { return build(v.(*S)) },
		spec: func(a Action) (any, bool) {
			switch v := any(a).(type) {
			case A:
				return spec(v), true
			case *A:
				if v != nil {
					return spec(*v), true
				}
			}
			return nil, false
		},
	}
	actionsMu.Lock()
	defer actionsMu.Unlock()
	for _, o := range actions {
		if o.key == key {
			panic(fmt.Sprintf("faults: action %q registered twice", key))
		}
	}
	i, _ := slices.BinarySearchFunc(actions, order, func(a *actionType, order int) int { return a.order - order })
	for i < len(actions) && actions[i].order == order {
		i++
	}
	actions = slices.Insert(slices.Clone(actions), i, t) // readers may hold the old slice
}

// actionTypes is the registry at this moment, in order.
func actionTypes() []*actionType {
	actionsMu.RLock()
	defer actionsMu.RUnlock()
	return actions
}

func actionTypeOf(key string) *actionType {
	for _, t := range actionTypes() {
		if t.key == key {
			return t
		}
	}
	return nil
}

// ActionKeys lists the keys of the registered actions, in order.
func ActionKeys() []string {
	var keys []string
	for _, t := range actionTypes() {
		keys = append(keys, t.key)
	}
	return keys
}
