// Package faults makes the broker emulator misbehave on purpose. It is the
// rule language: a Rule matches packets crossing the device-under-test
// listener and applies one Action to them (drop, delay, duplicate, rewrite,
// corrupt, cut, stall, refuse, restart); a Set holds the armed rules, and
// plans (YAML) and the HTTP API (JSON) write rules as specs. Each action
// lives in a file of its own and registers itself (see RegisterAction).
//
// Actions only decide: they write an Outcome, and the wire package beneath
// (emulator/faults/wire), which re-frames the MQTT byte stream of every
// connection in both directions, carries it out. An action that needs no
// new kind of effect is added without touching the wire.
package faults

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Direction says which way a packet travels.
type Direction uint8

const (
	ToBroker Direction = 1 << iota // sent by the client
	ToClient                       // sent by the broker
	Both     = ToBroker | ToClient
)

func (d Direction) String() string {
	switch d {
	case ToBroker:
		return "to_broker"
	case ToClient:
		return "to_client"
	case Both:
		return "both"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// ParseDirection reads to_broker, to_client or both.
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "to_broker":
		return ToBroker, nil
	case "to_client":
		return ToClient, nil
	case "both", "":
		return Both, nil
	}
	return 0, fmt.Errorf("direction %q: want to_broker, to_client or both", s)
}

// MarshalText writes the direction's name.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the direction's name.
func (d *Direction) UnmarshalText(b []byte) error {
	v, err := ParseDirection(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Match selects packets. Zero fields match anything; occurrence fields
// (Nth, First, Every, Probability) are counted among the packets that the
// other fields matched, across all connections of the listener.
type Match struct {
	Direction Direction `json:"direction,omitempty"`
	Packets   []byte    `json:"-"`                   // packet types; empty matches every type
	Client    string    `json:"client,omitempty"`    // glob (path.Match) on the client id
	Topic     string    `json:"topic,omitempty"`     // MQTT topic filter, PUBLISH only
	QoS       *int      `json:"qos,omitempty"`       // PUBLISH QoS
	PacketID  *int      `json:"packet_id,omitempty"` // packet identifier
	Dup       *bool     `json:"dup,omitempty"`       // PUBLISH DUP flag

	Nth         int           `json:"nth,omitempty"`         // only the nth match (1-based)
	First       int           `json:"first,omitempty"`       // only the first N matches
	Every       int           `json:"every,omitempty"`       // every k-th match
	Probability *float64      `json:"probability,omitempty"` // 0..1 per match, seeded per rule
	After       time.Duration `json:"after,omitempty"`       // not before this long after arming
	Until       time.Duration `json:"until,omitempty"`       // not after this long after arming
}

// Rule is one fault: which packets, what happens to them, how often.
type Rule struct {
	Name   string `json:"name"`
	Match  Match  `json:"match"`
	Action Action `json:"-"`
	// Times bounds how often the rule fires; 0 means no bound.
	Times int `json:"times,omitempty"`
	// Seed for Probability and Jitter; nil derives it from the set's seed and
	// the rule's name, so a plan replays the same with the same seed.
	Seed *int64 `json:"seed,omitempty"`
}

// Action is what a rule does to a matched packet. One type per kind of
// fault, each in its own file. Apply records the decision in the Outcome;
// the wire carries it out, so actions never touch sockets themselves.
type Action interface {
	// Kind is the action's key in fault plans and the HTTP API ("drop", ...).
	Kind() string
	// Check reports whether the action can apply to what the match selects,
	// for example a reason code valid for the packet type.
	Check(m Match) error
	// Apply decides what happens to the packet. rnd is the rule's own
	// seeded source, for jitter.
	Apply(p *Packet, o *Outcome, rnd *rand.Rand)
}

// Outcome collects what the actions that matched decided. The zero value
// forwards the packet unchanged.
type Outcome struct {
	Rule   string // name of the last rule that acted
	Action string // kind of the last action that acted

	Drop   bool
	Delay  time.Duration
	Copies int    // extra copies to send after the packet
	Raw    []byte // replacement bytes, when rewritten

	// Disconnect ends the connection before or after the packet.
	Disconnect     string // "", "close", "reset", "mqtt"
	DisconnectCode byte   // reason for "mqtt"
	DisconnectWhen string // "before" or "after"

	Stall      time.Duration // stop reading and writing, keep the socket
	Reply      []byte        // sent back towards the packet's sender (refuse)
	Restart    time.Duration // bounce the listener, down for this long
	Restarting bool
}
