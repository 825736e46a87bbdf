package main

import (
	"fmt"
	"strings"
	"testing"
)

// The bench's rounds go through every order of the brokers: n! distinct
// orders, each broker as often in each place.
func TestPermutations(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		ps := permutations(n)
		want := 1
		for k := 2; k <= n; k++ {
			want *= k
		}
		if len(ps) != want {
			t.Fatalf("n=%d: %d orders, want %d", n, len(ps), want)
		}
		seen := map[string]bool{}
		places := make([][]int, n) // places[broker][place]
		for i := range places {
			places[i] = make([]int, n)
		}
		for _, p := range ps {
			seen[fmt.Sprint(p)] = true
			for place, b := range p {
				places[b][place]++
			}
		}
		if len(seen) != want {
			t.Fatalf("n=%d: %d distinct orders, want %d", n, len(seen), want)
		}
		for b := range places {
			for place, c := range places[b] {
				if c != want/n {
					t.Fatalf("n=%d: broker %d in place %d %d times, want %d", n, b, place, c, want/n)
				}
			}
		}
	}
}

// bench --check fails on a missed target; without --check it only reports.
func TestBenchExit(t *testing.T) {
	missed := []benchTargetResult{{Target: "a", Met: true}, {Target: "rate at least x", Value: "y", Met: false}}
	met := missed[:1]
	for _, tc := range []struct {
		targets []benchTargetResult
		check   bool
		want    int
	}{
		{missed, true, exitFailed},
		{missed, false, exitPassed},
		{met, true, exitPassed},
	} {
		var stderr strings.Builder
		if got := benchExit(tc.targets, tc.check, &stderr); got != tc.want {
			t.Errorf("%+v check=%v: exit %d, want %d", tc.targets, tc.check, got, tc.want)
		}
	}
}

// Every subcommand that gives a verdict documents the exit codes.
func TestHelpShowsExitCodes(t *testing.T) {
	for _, cmd := range []string{"run", "merge", "lua", "bench", "verify"} {
		code, stdout, stderr := runCmd(t, "help", cmd)
		if code != 0 || !strings.Contains(stdout+stderr, exitCodesHelp) {
			t.Errorf("help %s: exit %d, no exit code table:\n%s%s", cmd, code, stdout, stderr)
		}
	}
}
