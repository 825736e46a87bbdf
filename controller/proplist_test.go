package controller

import (
	"reflect"
	"strconv"
	"testing"
)

func TestPropsList(t *testing.T) {
	names := func(l PropList) []any {
		var out []any
		for _, p := range l {
			out = append(out, p.Def.Name+"="+toText(p.Value))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   Props
		want []any
	}{
		{"nil", nil, nil},
		{"named keys sorted", Props{"MESSAGE_EXPIRY_INTERVAL": 5, "CONTENT_TYPE": "a"},
			[]any{"CONTENT_TYPE=a", "MESSAGE_EXPIRY_INTERVAL=5"}},
		{"a decimal key is the property of that number", Props{"3": "b", "CONTENT_TYPE": "a"},
			[]any{"CONTENT_TYPE=b", "CONTENT_TYPE=a"}},
		{"the sequence first, in index order, repeats kept",
			Props{"CONTENT_TYPE": "z", "2": PropEntry{"MESSAGE_EXPIRY_INTERVAL", 20}, "1": PropEntry{"2", 10}, "10": PropEntry{"USER_PROPERTY", "u"}},
			[]any{"MESSAGE_EXPIRY_INTERVAL=10", "MESSAGE_EXPIRY_INTERVAL=20", "USER_PROPERTY=u", "CONTENT_TYPE=z"}},
		{"unknown names ignored, in both parts", Props{"NOPE": 1, "1": PropEntry{"NOPE", 2}, "2": PropEntry{"99", 3}}, nil},
		{"a numbered key without a pair is a property number", Props{"1": 1}, []any{"PAYLOAD_FORMAT_INDICATOR=1"}},
		{"a pair under a key that is no index is a value", Props{"01": PropEntry{"CONTENT_TYPE", "a"}}, []any{"PAYLOAD_FORMAT_INDICATOR=?"}},
		{"PropSeq keeps the order given", PropSeq(PropEntry{"USER_PROPERTY", "b"}, PropEntry{"USER_PROPERTY", "a"}),
			[]any{"USER_PROPERTY=b", "USER_PROPERTY=a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(tc.in.List()); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func toText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return "?"
}
