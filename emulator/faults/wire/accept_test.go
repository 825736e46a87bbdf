package wire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// failingListener fails every Accept with the errors given, in turn, then
// with the last one for ever.
type failingListener struct {
	net.Listener
	errs []error
}

func (f *failingListener) Accept() (net.Conn, error) {
	err := f.errs[0]
	if len(f.errs) > 1 {
		f.errs = f.errs[1:]
	}
	return nil, err
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)}, true},
		{fmt.Errorf("wrapped: %w", syscall.ENFILE), true},
		{net.ErrClosed, false},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EINVAL)}, false},
		{errors.New("something else"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A listener that fails for good says so: Stopped, Err and the journal.
func TestListenerStopsOnPermanentError(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	emfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	final := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EINVAL)}
	j := journal.New(0)
	l := NewListener(&failingListener{Listener: inner, errs: []error{emfile, emfile, final}}, faults.NewSet(1), j)
	defer l.Close()
	start := time.Now()
	if _, err := l.Accept(); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Accept: %v, want the permanent error", err)
	}
	// Two retries: 5 ms then 10 ms.
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("two temporary errors waited out in %s, want at least 15ms of backoff", d)
	}
	select {
	case <-l.Stopped():
	default:
		t.Fatal("Stopped not closed")
	}
	if l.Err() == nil || l.AcceptRetries() != 2 {
		t.Errorf("Err %v, retries %d; want the error and 2", l.Err(), l.AcceptRetries())
	}
	var causes []string
	for _, r := range j.Records(journal.Filter{Kind: journal.KindFault}) {
		causes = append(causes, r.Cause)
	}
	if s := strings.Join(causes, "|"); !strings.Contains(s, "accepting fails") || !strings.Contains(s, "listener stopped") {
		t.Errorf("journal: %q", s)
	}
}
