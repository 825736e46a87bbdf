package steps

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mqtthil/mqtthil/emulator/faults"
)

// target is the packets a fault step aims at, as written in plain words:
//
//	the next PUBACK to "sensor"
//	the 2nd PUBLISH from "sensor" on "home/temp"
//	the first 3 PUBREC to the client
//	every 3rd PUBACK
type target struct {
	text   string
	match  faults.Match
	client string // a client's scenario name, turned into its id when the rule is armed
	// optional: the step ends "if it comes", so the scenario may end
	// without the rule having fired.
	optional bool
}

const targetRe = `((?:the next|the first -?\d+|the -?\d+(?:st|nd|rd|th)|every -?\d+(?:st|nd|rd|th)|every) [A-Za-z]+(?: (?:to|from) (?:the client|the broker|"[^"]*"))?(?: on "[^"]*")?(?: if it comes)?)`

var targetParts = regexp.MustCompile(`^(the next|the first (-?\d+)|the (-?\d+)(?:st|nd|rd|th)|every (-?\d+)(?:st|nd|rd|th)|every) ([A-Za-z]+)(?: (to|from) (the client|the broker|"([^"]*)"))?(?: on "([^"]*)")?( if it comes)?$`)

func parseTarget(s string) (target, error) {
	m := targetParts.FindStringSubmatch(s)
	if m == nil {
		return target{}, fmt.Errorf("%q does not say which packets: expected for example `the next PUBACK to \"sensor\"`", s)
	}
	t := target{text: s, optional: m[10] != ""}
	count := func(v, what string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s in %q must be 1 or more", what, s)
		}
		return n, nil
	}
	var err error
	switch {
	case m[1] == "the next":
		t.match.Nth = 1
	case m[2] != "":
		t.match.First, err = count(m[2], "the number of packets")
	case m[3] != "":
		t.match.Nth, err = count(m[3], "the position")
	case m[4] != "":
		t.match.Every, err = count(m[4], "the spacing")
	}
	if err != nil {
		return target{}, err
	}
	typ, err := packetType(m[5])
	if err != nil {
		return target{}, err
	}
	t.match.Packets = []byte{typ}
	switch {
	case m[7] == "the client":
		t.match.Direction = faults.ToClient
	case m[7] == "the broker":
		t.match.Direction = faults.ToBroker
	case m[6] == "to":
		t.match.Direction = faults.ToClient
		t.client = m[8]
	case m[6] == "from":
		t.match.Direction = faults.ToBroker
		t.client = m[8]
	default:
		t.match.Direction = defaultDirection(typ)
	}
	if m[6] != "" && m[7] != "the client" && m[7] != "the broker" && m[8] == "" {
		return target{}, fmt.Errorf("a client name cannot be empty in %q", s)
	}
	if m[9] != "" {
		if typ != 3 {
			return target{}, fmt.Errorf("only PUBLISH packets have a topic, in %q", s)
		}
		t.match.Topic = m[9]
	}
	if dir := onlyDirection(typ); dir != 0 && t.match.Direction != dir {
		return target{}, fmt.Errorf("%s only travels %s, in %q", faults.PacketNames[typ], dirWords(dir), s)
	}
	return t, nil
}

// onlyDirection is the one way a packet type travels, or 0 when it goes both ways.
func onlyDirection(typ byte) faults.Direction {
	switch typ {
	case 1, 8, 10, 12: // CONNECT SUBSCRIBE UNSUBSCRIBE PINGREQ
		return faults.ToBroker
	case 2, 9, 11, 13: // CONNACK SUBACK UNSUBACK PINGRESP
		return faults.ToClient
	}
	return 0
}

func defaultDirection(typ byte) faults.Direction {
	if d := onlyDirection(typ); d != 0 {
		return d
	}
	return faults.Both
}

func dirWords(d faults.Direction) string {
	switch d {
	case faults.ToBroker:
		return "to the broker"
	case faults.ToClient:
		return "to the client"
	}
	return "both ways"
}

func (t target) String() string { return strings.TrimSpace(t.text) }
