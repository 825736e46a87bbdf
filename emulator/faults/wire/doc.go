// Package wire puts the fault rules of package faults on the wire. It
// sits between mochi and the device under test's socket: a Listener
// accepts connections, each Conn cuts the byte stream into MQTT packets in
// both directions, routes every packet through the armed rule Set, carries
// out the Outcome (drop, delay, copies, rewritten bytes, cuts, stalls,
// replies, restarts) with per-direction queues that keep TCP order, and
// writes what crossed, and what did not, to the journal.
//
// The dependency runs one way: wire imports faults for the rule language
// and for Packet and its parsing, which actions need too; faults knows
// nothing of sockets. Framing a stream (ReadFrame, Framer) is only the
// wire's business and lives here. So do the corrections of the broker's
// own protocol mistakes (correct.go): they are not faults, and no rule can
// turn them off.
package wire
