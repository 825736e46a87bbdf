//go:build !race

package emulator_test

// raceEnabled says whether the race detector is on.
const raceEnabled = false
