package controller

import (
	"sort"
	"strconv"
)

// A driver passes MQTT 5 properties as one Lua table, and a Lua table can
// hold a key only once. So that a call can still carry a property twice (a
// repeated USER_PROPERTY is legal; a repeated MESSAGE_EXPIRY_INTERVAL must
// reach the library's check, which answers 22), the table has an ordered
// part as well, the way any Lua table does: its sequence t[1], t[2], ...
// whose entries are {property, value} pairs. Props mirrors such a table
// with its integer keys written in decimal ("1", "2", ...), and PropEntry
// is the value at such a key. PropList is what a call hands the client
// library: every property, in order, as many times as the table names it.

// PropEntry is one {property, value} pair of a table's sequence part.
// Property is the API name or the identifier in decimal.
type PropEntry struct {
	Property string
	Value    any
}

// Prop is one property of a call, in the client library's list.
type Prop struct {
	Def   PropDef
	Value any
}

// PropList is a call's properties in the order the controller's binding
// adds them to the library's list.
type PropList []Prop

// PropSeq makes a property table that holds only a sequence part: the
// entries in this order, repeats allowed.
func PropSeq(entries ...PropEntry) Props {
	p := make(Props, len(entries))
	for i, e := range entries {
		p[strconv.Itoa(i+1)] = e
	}
	return p
}

// seqIndex reads a key of a table's sequence part: a whole number from 1
// up, written in decimal without sign or leading zeros.
func seqIndex(key string) (int, bool) {
	if key == "" || key[0] < '1' || key[0] > '9' || len(key) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(key)
	return n, err == nil
}

// List is the property list the controller's binding builds from a table:
// first the sequence part's pairs in index order (a binding walking the
// table with lua_next meets the array part first, in order), then the
// other keys sorted as strings (the rest of a Lua table has no order the
// model could follow; sorting makes it repeatable). A key is an API name,
// or an identifier in decimal ([3] or ["3"] is CONTENT_TYPE); a numbered
// key whose value is a PropEntry is a sequence entry instead. Keys and
// entries that name no property are ignored, as the binding ignores them.
// Values are left as they are: each client checks them as its library
// does.
func (p Props) List() PropList {
	if len(p) == 0 {
		return nil
	}
	type seqEntry struct {
		i int
		e PropEntry
	}
	var seq []seqEntry
	var keys []string
	for k, v := range p {
		if e, ok := v.(PropEntry); ok {
			if i, ok := seqIndex(k); ok {
				seq = append(seq, seqEntry{i, e})
				continue
			}
		}
		keys = append(keys, k)
	}
	sort.Slice(seq, func(a, b int) bool { return seq[a].i < seq[b].i })
	sort.Strings(keys)
	var out PropList
	for _, s := range seq {
		if def, ok := LookupProp(s.e.Property); ok {
			out = append(out, Prop{Def: def, Value: s.e.Value})
		}
	}
	for _, k := range keys {
		if def, ok := LookupProp(k); ok {
			out = append(out, Prop{Def: def, Value: p[k]})
		}
	}
	return out
}
