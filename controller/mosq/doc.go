// Package mosq is the reference controller: the controller.Client interface
// on libmosquitto 2.0 (Debian's libmosquitto-dev, 2.0.11) through cgo. It is
// what the simulated controller (controller/sim) is checked against.
//
// The package is built only with the build tag libmosquitto:
//
//	go test -tags libmosquitto ./controller/mosq/
//
// Without the tag it holds nothing but this comment, so that builds on
// machines without the library are untouched.
//
// Each client object is one struct mosquitto, told that the application
// uses threads (mosquitto_threaded_set), and one goroutine that runs its
// network loop (mqh_loop: mosquitto_loop_read, _write and _misc driven
// by poll, with a short timeout). libmosquitto's
// callbacks run on that goroutine and only queue an event; a second
// goroutine delivers the queue on Events(), taking the client's call lock
// for each event, so that a call's return is always seen before the
// callbacks it causes. Userdata is a small C struct holding a cgo.Handle.
package mosq
