package main

import (
	"fmt"
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
