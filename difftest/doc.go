// Package difftest is the differential check of the simulated controller
// against the libmosquitto reference: every scenario of features/ runs on
// controller/sim and on controller/mosq through the steps package, and the
// two records, normalised, must be the same. Kept divergences are listed,
// each with its reason, in divergences.yaml beside this file.
//
// It runs only with the build tag libmosquitto:
//
//	go test -tags libmosquitto ./difftest/
package difftest
