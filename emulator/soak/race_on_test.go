//go:build race

package soak_test

// raceEnabled says whether the race detector is on.
const raceEnabled = true
