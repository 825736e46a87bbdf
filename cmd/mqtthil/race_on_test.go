//go:build race

package main

// raceDetector tells tests that the race detector slows everything down.
const raceDetector = true
