package steps_test

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestMain lets more of this package's parallel tests run at once than
// go test's default, one per CPU, unless -test.parallel is given. Most of
// them wait on the real clock (Lua drivers on real sockets, "within" waits
// for what does not come, the fingerprint's quiet second), and the rest
// run scenarios in bubbles, which wait for nothing: one per CPU leaves the
// CPUs idle while the waiting tests hold every slot.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0))); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
