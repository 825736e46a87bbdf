// Tests that the registry hands out what was registered, refuses unknown
// names with the known ones, and refuses a name registered twice.
package controller

import (
	"errors"
	"strings"
	"testing"
)

type fakeController struct{ Controller }

func TestRegistry(t *testing.T) {
	made := errors.New("made")
	Register("test-a", func(o Options) (Controller, error) { return fakeController{}, made })
	RegisterDriver("test-d", func(DriverOptions) (Driver, error) { return nil, made })

	if _, ok := Lookup("test-a"); !ok {
		t.Fatal("Lookup does not find a registered controller")
	}
	if _, err := New("test-a", Options{}); !errors.Is(err, made) {
		t.Fatalf("New did not call the factory: %v", err)
	}
	if _, err := NewDriver("test-d", DriverOptions{}); !errors.Is(err, made) {
		t.Fatalf("NewDriver did not call the factory: %v", err)
	}
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"controller", func() error { _, err := New("nope", Options{}); return err }, "this build has test-a"},
		{"driver", func() error { _, err := NewDriver("nope", DriverOptions{}); return err }, "this build has test-d"},
	} {
		if err := c.err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("unknown %s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
	if got := Names(); !strings.Contains(strings.Join(got, ","), "test-a") {
		t.Errorf("Names = %v, want test-a among them", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register("test-a", nil)
}
