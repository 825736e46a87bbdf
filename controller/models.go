// The controller's firmware may link a later libmosquitto 2.0.x than the
// 2.0.11 the model starts from, and a driver can see some of what changed
// between releases. This file is the one table of those changes: the
// simulated controller asks it which behaviour to show, the step library
// and the differential check read scenario tags against it, and the
// fingerprint turns it into the cases that tell releases apart.
package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Model is one libmosquitto release the simulated controller can follow.
type Model struct {
	// Name is how runs select it: "libmosquitto-2.0.11".
	Name string
	// Version is the release: "2.0.11".
	Version string
}

// DefaultModel is the release Debian bookworm ships and controller/mosq
// links: the model's baseline.
const DefaultModel = "libmosquitto-2.0.11"

// LatestModel is the newest 2.0.x release whose sources the model was
// checked against.
const LatestModel = "libmosquitto-2.0.20"

// ModelTagPrefix starts a scenario tag naming the model versions a
// scenario's expectations hold for: @model-2.0.11, @model-2.0.20.
const ModelTagPrefix = "@model-"

// Behaviours that changed across 2.0.x releases; Changes ties each to the
// release that brought it.
const (
	// PUBLISH and will properties: PAYLOAD_FORMAT_INDICATOR above 1 is
	// refused with 2.
	ChangePayloadFormatCheck = "payload-format-check"
	// PUBLISH and will properties: a RESPONSE_TOPIC that is not a valid
	// topic name (a wildcard in it) is refused with 2.
	ChangeResponseTopicCheck = "response-topic-check"
	// A failed TLS handshake ends the connection with onDisconnect(8);
	// before, the socket was closed with no callback at all.
	ChangeTLSFailureCallback = "tls-failure-callback"
	// A QoS 1/2 publish one byte over the broker's Maximum Packet Size
	// passes the early check (which counts one byte of packet id) and is
	// then refused with 25 by the send: the id is used up and the message
	// stays queued. Before, the library aborted at that point.
	ChangeOversizeSendRefusal = "oversize-send-refusal"
	// An MQTT 5 PUBACK, PUBREC, PUBREL or PUBCOMP with a reason code the
	// standard does not allow on it ends the connection with
	// onDisconnect(2); before, the code was passed on as it came.
	ChangeAckReasonCheck = "ack-reason-check"
)

// Change is one behaviour a driver can see that a release changed.
type Change struct {
	Key string
	// Since is the first release with the new behaviour.
	Since string
	// Before and After say what a driver sees up to and from Since.
	Before, After string
}

// Changes is the table, oldest release first.
var Changes = []Change{
	{ChangePayloadFormatCheck, "2.0.12",
		"PAYLOAD_FORMAT_INDICATOR 2 or more on Publish/SetWill is accepted and sent",
		"refused with 2, no id"},
	{ChangeAckReasonCheck, "2.0.12",
		"an MQTT 5 ack's reason code is passed to onPublish whatever it is",
		"a reason code not allowed on that ack gives onDisconnect(2) (PUBREC 153 refused until 2.0.18)"},
	{ChangeTLSFailureCallback, "2.0.13",
		"a failed TLS handshake closes the socket with no callback",
		"onDisconnect(8)"},
	{ChangeOversizeSendRefusal, "2.0.16",
		"QoS 1/2 publish one byte over Maximum Packet Size aborts the library (the model returns 25 with no id)",
		"25; the id is used up and the message stays queued unsent"},
	{ChangeResponseTopicCheck, "2.0.20",
		"RESPONSE_TOPIC holding + or # is accepted and sent",
		"refused with 2, no id"},
}

// Models lists the models a run can select, oldest first.
func Models() []string { return []string{DefaultModel, LatestModel} }

// LookupModel finds a model by name; "" is the default, and a bare
// version ("2.0.20") names the model of that release.
func LookupModel(name string) (Model, error) {
	if name == "" {
		name = DefaultModel
	}
	if !strings.HasPrefix(name, "libmosquitto-") {
		name = "libmosquitto-" + name
	}
	if !slices.Contains(Models(), name) {
		return Model{}, fmt.Errorf("model %q: known models are %s", name, strings.Join(Models(), ", "))
	}
	return Model{Name: name, Version: strings.TrimPrefix(name, "libmosquitto-")}, nil
}

// MustModel is LookupModel for names known to be valid.
func MustModel(name string) Model {
	m, err := LookupModel(name)
	if err != nil {
		panic(err)
	}
	return m
}

// Has reports whether the model shows a changed behaviour (the release
// that brought it is not later than the model's). The zero Model is the
// default one.
func (m Model) Has(key string) bool {
	v := m.Version
	if v == "" {
		v = MustModel(DefaultModel).Version
	}
	for _, c := range Changes {
		if c.Key == key {
			return versionLess(c.Since, v) || c.Since == v
		}
	}
	panic("controller: no model change " + key)
}

// Tag is the scenario tag naming this model's version.
func (m Model) Tag() string { return ModelTagPrefix + m.Version }

// ModelTags picks the model versions out of a scenario's tags, in order;
// none means the scenario holds for every model.
func ModelTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, ModelTagPrefix); ok {
			out = append(out, v)
		}
	}
	return out
}

// ModelSkip says why a scenario with these tags does not run under the
// model: "" when it runs.
func ModelSkip(m Model, tags []string) string {
	vs := ModelTags(tags)
	if len(vs) == 0 || slices.Contains(vs, m.Version) {
		return ""
	}
	return fmt.Sprintf("written for model %s, the run models %s", strings.Join(vs, " or "), m.Version)
}

// versionLess compares dotted release numbers numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
