// Tests the model table: which release shows which behaviour, and how
// scenario tags select models.
package controller

import "testing"

func TestModelHas(t *testing.T) {
	cases := []struct {
		model, key string
		want       bool
	}{
		{"", ChangePayloadFormatCheck, false},
		{"libmosquitto-2.0.11", ChangeResponseTopicCheck, false},
		{"libmosquitto-2.0.11", ChangeTLSFailureCallback, false},
		{"libmosquitto-2.0.20", ChangePayloadFormatCheck, true},
		{"2.0.20", ChangeResponseTopicCheck, true},
		{"2.0.20", ChangeOversizeSendRefusal, true},
	}
	for _, c := range cases {
		m, err := LookupModel(c.model)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Has(c.key); got != c.want {
			t.Errorf("%q.Has(%s) = %v, want %v", c.model, c.key, got, c.want)
		}
	}
	if _, err := LookupModel("libmosquitto-1.6.9"); err == nil {
		t.Error("an unknown model was accepted")
	}
}

func TestModelSkip(t *testing.T) {
	m11, m20 := MustModel(DefaultModel), MustModel(LatestModel)
	if s := ModelSkip(m11, []string{"@mqtt5"}); s != "" {
		t.Errorf("untagged scenario skipped: %s", s)
	}
	if s := ModelSkip(m11, []string{"@model-2.0.20"}); s == "" {
		t.Error("a 2.0.20 scenario runs under 2.0.11")
	}
	if s := ModelSkip(m20, []string{"@model-2.0.11", "@model-2.0.20"}); s != "" {
		t.Errorf("scenario for both skipped: %s", s)
	}
}

func TestVersionLess(t *testing.T) {
	if !versionLess("2.0.9", "2.0.11") || versionLess("2.0.12", "2.0.12") || versionLess("2.0.20", "2.0.13") {
		t.Error("versions compare as text")
	}
}
