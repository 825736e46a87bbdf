package sim

import "unicode/utf8"

// maxPayload is the largest payload an MQTT packet can carry.
const maxPayload = 268435455

// validUTF8 follows the client library's UTF-8 rules for topics, filters
// and string properties: well formed (no overlong forms, no surrogates,
// nothing above U+10FFFF), and no control characters (U+0000..U+001F,
// U+007F..U+009F) or non-characters.
func validUTF8(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		switch {
		case r <= 0x1F, r >= 0x7F && r <= 0x9F:
			return false
		case r >= 0xFDD0 && r <= 0xFDEF:
			return false
		case r&0xFFFE == 0xFFFE:
			return false
		}
		i += size
	}
	return true
}

// utf8Code is the code for a topic or filter that fails the UTF-8 check:
// 0 when it passes.
func utf8Code(s string) int {
	if len(s) > 65536 || !validUTF8(s) {
		return errMalformedUTF8
	}
	return 0
}

// pubTopicOK: no wildcard anywhere and at most 65,535 bytes.
func pubTopicOK(s string) bool {
	if len(s) > 65535 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '#' {
			return false
		}
	}
	return true
}

// subTopicOK: '+' fills a whole level, '#' fills the last level, at most
// 65,535 bytes.
func subTopicOK(s string) bool {
	if len(s) > 65535 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && s[i-1] != '/') || i+1 != len(s) {
				return false
			}
		}
	}
	return true
}

// isHex reports whether s holds only hexadecimal digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// varintLen is the number of bytes of an MQTT variable byte integer.
func varintLen(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	default:
		return 4
	}
}
