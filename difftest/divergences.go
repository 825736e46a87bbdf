package difftest

import (
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The list is embedded so that `mqtthil run --controller mosq` reports a
// listed divergence as expected from whatever folder it runs in.
//
//go:embed divergences.yaml
var divergencesYAML []byte

// Divergence is one kept difference between the model and libmosquitto.
type Divergence struct {
	Scenario string `yaml:"scenario"` // "<feature file>: <scenario name>"
	Action   string `yaml:"action"`   // skip_mosq or accept
	Reason   string `yaml:"reason"`
}

// Divergences reads divergences.yaml, by scenario.
func Divergences() (map[string]Divergence, error) {
	var f struct {
		Divergences []Divergence `yaml:"divergences"`
	}
	if err := yaml.Unmarshal(divergencesYAML, &f); err != nil {
		return nil, fmt.Errorf("divergences.yaml: %w", err)
	}
	out := map[string]Divergence{}
	for i, d := range f.Divergences {
		if d.Scenario == "" || d.Reason == "" || (d.Action != "skip_mosq" && d.Action != "accept") {
			return nil, fmt.Errorf("divergences.yaml entry %d: needs scenario, action (skip_mosq or accept) and reason: %+v", i+1, d)
		}
		if _, dup := out[d.Scenario]; dup {
			return nil, fmt.Errorf("divergences.yaml lists %q twice", d.Scenario)
		}
		out[d.Scenario] = d
	}
	return out, nil
}
