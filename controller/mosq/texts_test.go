//go:build libmosquitto

package mosq

import (
	"testing"

	"github.com/mqtthil/mqtthil/controller"
)

// The texts the controller package gives for codes are libmosquitto's:
// mosquitto_strerror, mosquitto_reason_string, mosquitto_connack_string.
func TestTextsAreLibmosquittos(t *testing.T) {
	for code := -4; code <= 26; code++ {
		if code == controller.ErrErrno {
			continue // strerror(errno): no fixed text
		}
		if got, want := controller.ErrorString(code), libStrerror(code); got != want {
			t.Errorf("ErrorString(%d) = %q, libmosquitto says %q", code, got, want)
		}
	}
	for code := 0; code <= 255; code++ {
		if got, want := controller.ReasonString(code), libReasonString(code); got != want {
			t.Errorf("ReasonString(%d) = %q, libmosquitto says %q", code, got, want)
		}
	}
	for code := 0; code <= 6; code++ {
		if got, want := controller.ConnackString(code), libConnackString(code); got != want {
			t.Errorf("ConnackString(%d) = %q, libmosquitto says %q", code, got, want)
		}
	}
}
