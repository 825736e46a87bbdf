package faults

import (
	"fmt"
	"slices"
)

// validReasons lists, per packet type, the MQTT 5 reason codes the standard
// allows (MQTT 5.0 section 2.4 and each packet's reason code table).
// CONNACK also takes the MQTT 3.1.1 return codes 1..5, for refusing 3.1.1
// clients.
var validReasons = map[byte][]byte{
	CONNACK:    {0, 1, 2, 3, 4, 5, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 140, 144, 149, 151, 153, 154, 155, 156, 157, 159},
	PUBACK:     {0, 16, 128, 131, 135, 144, 145, 151, 153},
	PUBREC:     {0, 16, 128, 131, 135, 144, 145, 151, 153},
	PUBREL:     {0, 146},
	PUBCOMP:    {0, 146},
	SUBACK:     {0, 1, 2, 128, 131, 135, 143, 145, 151, 158, 161, 162},
	UNSUBACK:   {0, 17, 128, 131, 135, 143, 145},
	DISCONNECT: {0, 4, 128, 129, 130, 131, 135, 137, 139, 141, 142, 143, 144, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162},
	AUTH:       {0, 24, 25},
}

// CheckReason reports whether code is a valid reason code for every packet
// type in types. An empty types list is refused: a reason rewrite must say
// which packets it is for.
func CheckReason(types []byte, code int) error {
	if len(types) == 0 {
		return fmt.Errorf("a reason code rewrite needs match.packet (one of CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH)")
	}
	for _, t := range types {
		if _, ok := validReasons[t]; !ok {
			return fmt.Errorf("%s has no reason code", PacketNames[t])
		}
	}
	if err := checkCode(types, code); err != nil {
		return fmt.Errorf("reason %w", err)
	}
	return nil
}

// checkCode is CheckReason for a field that is itself the code: its
// errors read "code 5 is not valid for DISCONNECT (valid: ...)".
func checkCode(types []byte, code int) error {
	if code < 0 || code > 255 {
		return fmt.Errorf("code %d is outside 0..255", code)
	}
	for _, t := range types {
		valid, ok := validReasons[t]
		if !ok {
			return fmt.Errorf("%s has no reason code", PacketNames[t])
		}
		if !slices.Contains(valid, byte(code)) {
			return fmt.Errorf("code %d is not valid for %s (valid: %v)", code, PacketNames[t], valid)
		}
	}
	return nil
}
