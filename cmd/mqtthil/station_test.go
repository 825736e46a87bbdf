// The example station file is what a new user starts from: it must parse,
// and a run from it against `mqtthil station --virtual` must pass.
package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mqtthil/mqtthil/controller/remote"
)

const exampleStation = "../../fixtures/stations/example.yaml"

func TestExampleStationFile(t *testing.T) {
	t.Parallel()
	st, err := remote.LoadStation(exampleStation)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "example-bench" || st.StationID != "virtual" || st.Control.Listen != "127.0.0.1:1884" || st.Expect.ProbeVersion != "1" {
		t.Fatalf("station %+v", st)
	}
	// The file's control port may be taken on a test machine: the same
	// file on a free port.
	data, err := os.ReadFile(exampleStation)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	station := writeStation(t, strings.Replace(string(data), "listen: 127.0.0.1:1884", "listen: "+addr, 1))

	ctx, cancel := context.WithCancel(t.Context())
	var stationOut, stationErr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- runStationWith(ctx, []string{"--virtual", "--control", addr}, &stationOut, &stationErr, 0.05)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("station exit %d: %s", code, stationErr.String())
		}
	}()
	// Three scenarios of the feature: the file is what is tested here.
	// TestVirtualBenchStation holds scenarios run on such a station to
	// sim's outcomes; TestRemoteControllerMatchesSim the whole feature on
	// the remote controller.
	code, stdout, stderr := runCmd(t, "run", "--controller", "remote", "--station", station, "--concurrency", "1",
		"--time-scale", "0.05", "--out", t.TempDir(),
		"../../features/onpublish_outcomes.feature:49", "../../features/onpublish_outcomes.feature:57", "../../features/onpublish_outcomes.feature:65")
	if code != exitPassed || !strings.Contains(stdout, "3 scenario(s) against remote") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nstation:\n%s", code, stdout, stderr, stationErr.String())
	}
}
