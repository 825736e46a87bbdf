package controller

import (
	"math"
	"sort"
)

// Property values reach a client from Go callers and from Lua, so the same
// property can come as any integer or float type, as a string or bytes, and
// USER_PROPERTY as one of several map shapes. These read them the one way
// every implementation must.

// PropInt reads a whole number; a float must have no fraction.
func PropInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || n < -1<<62 || n > 1<<62 {
			return 0, false
		}
		return int64(n), true
	case float32:
		return PropInt(float64(n))
	}
	return 0, false
}

// PropString reads text given as a string or bytes.
func PropString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// PropPairs reads USER_PROPERTY as key/value pairs: a table of keys and
// values gives them sorted by key, a list of pairs (a Lua sequence of
// {key, value}) in its own order, repeated keys included.
func PropPairs(v any) ([][2]string, bool) {
	var out [][2]string
	switch m := v.(type) {
	case map[string]string:
		for k, v := range m {
			out = append(out, [2]string{k, v})
		}
	case map[string]any:
		for k, v := range m {
			s, ok := PropString(v)
			if !ok {
				return nil, false
			}
			out = append(out, [2]string{k, s})
		}
	case [][2]string:
		return m, true
	default:
		return nil, false
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, true
}

// PropNumber reads the value of a byte, two-byte, four-byte or
// variable-length integer property: a whole number from 0 to the most its
// kind holds.
func PropNumber(kind PropKind, v any) (uint32, bool) {
	n, ok := PropInt(v)
	if !ok {
		return 0, false
	}
	limit := int64(math.MaxUint32)
	switch kind {
	case KindByte:
		limit = math.MaxUint8
	case KindU16:
		limit = math.MaxUint16
	case KindVarint:
		limit = 268435455
	}
	if n < 0 || n > limit {
		return 0, false
	}
	return uint32(n), true
}
