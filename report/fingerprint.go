package report

import (
	"fmt"
	"strings"
)

// Fingerprint is the manifest's record of which libmosquitto release the
// controller behaved like (mqtthil fingerprint), taken before the
// scenarios ran.
type Fingerprint struct {
	// Model is the release the run was told the controller follows
	// (--model).
	Model string `json:"model"`
	// Matching are the releases every case that ran matched; Agrees says
	// whether Model is one of them.
	Matching []string          `json:"matching"`
	Agrees   bool              `json:"agrees"`
	Cases    []FingerprintCase `json:"cases"`
	// Station is the station whose controller it was, in a pool.
	Station string `json:"station,omitempty"`
	// Error is set when the fingerprint could not run at all.
	Error string `json:"error,omitempty"`
}

// FingerprintCase is one case: the change it looks for, what the
// controller did, and the releases that do the same.
type FingerprintCase struct {
	Change   string   `json:"change"`
	Since    string   `json:"since"`
	Observed string   `json:"observed,omitempty"`
	Like     []string `json:"like,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Summary is the fingerprint in one line, for the report's header.
func (f *Fingerprint) Summary() string {
	if f == nil {
		return ""
	}
	if f.Error != "" {
		return "not taken: " + f.Error
	}
	like := "no single release"
	if len(f.Matching) > 0 {
		like = strings.Join(f.Matching, " or ")
	}
	s := "behaves like " + like
	if !f.Agrees {
		s += fmt.Sprintf(" — NOT the run's model %s", f.Model)
	}
	var cases []string
	for _, c := range f.Cases {
		seen := c.Observed
		if c.Error != "" {
			seen = "not run: " + c.Error
		}
		cases = append(cases, fmt.Sprintf("%s (since %s): %s", c.Change, c.Since, seen))
	}
	if len(cases) > 0 {
		s += " · " + strings.Join(cases, "; ")
	}
	return s
}
