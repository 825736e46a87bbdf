// Tests that a set destroys what it keeps, and nothing more, at Close.
package clientset

import (
	"errors"
	"testing"
)

type fake struct {
	set       *Set[*fake]
	destroyed int
}

func (f *fake) Destroy() {
	f.destroyed++
	f.set.Forget(f)
}

func TestSet(t *testing.T) {
	var s Set[*fake]
	add := func() (*fake, error) {
		return s.Add(func() (*fake, error) { return &fake{set: &s}, nil })
	}
	a, err := add()
	if err != nil {
		t.Fatal(err)
	}
	b, err := add()
	if err != nil {
		t.Fatal(err)
	}
	gone, err := add()
	if err != nil {
		t.Fatal(err)
	}
	gone.Destroy()
	boom := errors.New("boom")
	if _, err := s.Add(func() (*fake, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed create: got %v, want %v", err, boom)
	}

	s.Close()
	for name, tc := range map[string]struct {
		f    *fake
		want int
	}{"a": {a, 1}, "b": {b, 1}, "destroyed before Close": {gone, 1}} {
		if tc.f.destroyed != tc.want {
			t.Errorf("%s destroyed %d times, want %d", name, tc.f.destroyed, tc.want)
		}
	}
	if _, err := add(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: got %v, want %v", err, ErrClosed)
	}
	if len(s.clients) != 0 {
		t.Fatalf("%d clients kept after Close", len(s.clients))
	}
}
