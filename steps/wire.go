package steps

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// Assertions on the wire journal: what crossed the broker's
// device-under-test listener, in which direction, how often, with which
// flags; and on what subscribers received.
func init() {
	def("wire", "the broker receives that message {count} time(s)",
		"Waits until the broker has received the PUBLISH of the last message that many times, and checks it is not more.",
		"the broker receives that message 2 times", "", (*World).brokerReceivesThatMessageTimes)
	def("wire", "the broker receives that message {count} time(s), the last with the DUP flag",
		"As above, and the last copy is marked as a resend (DUP) under the same message id.",
		"the broker receives that message 2 times, the last with the DUP flag", "", (*World).brokerReceivesThatMessageTimesLastDUPFlag)
	def("wire", "the broker receives that message with the retain flag",
		"The PUBLISH of the last message reached the broker with the retain flag set.",
		"the broker receives that message with the retain flag", "", (*World).brokerReceivesThatMessageRetainFlag)
	def("wire", "the broker receives that message without the retain flag",
		"The PUBLISH of the last message reached the broker with the retain flag clear.",
		"the broker receives that message without the retain flag", "", (*World).brokerReceivesThatMessageWithoutRetainFlag)
	def("wire", "the broker receives that message in a packet of {count} bytes",
		"The whole PUBLISH packet of the last message, fixed header included, has this size.",
		"the broker receives that message in a packet of 31 bytes", "", (*World).brokerReceivesThatMessagePacketBytes)
	def("wire", "the broker receives that message with the properties:",
		"The MQTT 5 properties of the last message's PUBLISH, as a table of name and value, are on the wire exactly (correlation data written as text); USER_PROPERTY rows (key=value) must be all the packet's user properties, in the order written.",
		"the broker receives that message with the properties:", "table", (*World).brokerReceivesThatMessageProperties)
	def("wire", "that message does not reach the broker within {duration}",
		"Waits the whole time and fails if the broker receives the last message.",
		"that message does not reach the broker within 300 milliseconds", "", (*World).thatMessageDoesNotReachBrokerWithin)
	def("wire", "the broker receives that message before it sends CONNACK",
		"The PUBLISH of the last message was on the wire before the broker's CONNACK (it was written as soon as TCP was up).",
		"the broker receives that message before it sends CONNACK", "", (*World).brokerReceivesThatMessageBeforeSendsCONNACK)
	def("wire", "the broker receives {packet} for that message {count} time(s)",
		"Waits until that many packets of the type with the last message's id have reached the broker (PUBREL, PUBLISH…), and checks it is not more.",
		"the broker receives PUBREL for that message 2 times", "", (*World).brokerReceivesPacketForThatMessage)
	def("wire", "the broker sends {packet} for that message {count} time(s)",
		"Waits until the broker has sent that many packets of the type with the last message's id (PUBACK, PUBREC, PUBCOMP), and checks it is not more.",
		"the broker sends PUBREC for that message 1 time", "", (*World).brokerSendsPacketForThatMessage)
	def("wire", "the broker drops {packet} for that message {count} time(s)",
		"Waits until a fault has kept that many packets of the type with the last message's id from their receiver, either way (a PUBREC lost on its way to the client, a PUBREL on its way to the broker), and checks it is not more. A scenario that goes on after a lost ack waits for it here: the broker may not have sent it yet when the client's packet arrived.",
		"the broker drops PUBREC for that message 1 time", "", (*World).brokerDropsPacketForThatMessage)
	def("wire", "the broker receives {count} {packet} packet(s) from {name}",
		"Waits until the broker has received that many packets of the type from the client, and checks it is not more.",
		`the broker receives 3 PUBLISH packets from "sensor"`, "", (*World).brokerReceivesPacketsFrom)
	def("wire", "the broker receives at least {count} {packet} packet(s) from {name}",
		"Waits until the broker has received that many packets of the type from the client; more are fine.",
		`the broker receives at least 2 PINGREQ packets from "sensor"`, "", (*World).brokerReceivesLeastPacketsFrom)
	def("wire", "the broker receives no {packet} from {name} within {duration}",
		"Waits the whole time and fails if a packet of the type from the client reaches the broker (counting from this step).",
		`the broker receives no PUBLISH from "sensor" within 300 milliseconds`, "", (*World).brokerReceivesNoFromWithin)
	def("wire", "nothing goes from {name} to the broker within {duration}",
		"Waits the whole time and fails if any packet from the client reaches the broker (counting from this step).",
		`nothing goes from "sensor" to the broker within 300 milliseconds`, "", (*World).nothingGoesFromBrokerWithin)
	def("wire", "at most {count} messages of client {name} are in flight at once",
		"Reading the journal in order: the most QoS 1 and 2 PUBLISHes of the client not yet completed by PUBACK, PUBCOMP or a refusing PUBREC.",
		`at most 3 messages of client "sensor" are in flight at once`, "", (*World).atMostInFlight)
	def("wire", "at least {count} messages of client {name} were in flight at once",
		"From the wire journal: at some moment, that many QoS 1 or 2 PUBLISH packets from the client were waiting for their PUBACK or PUBCOMP (a window that was actually used).",
		`at least 3 messages of client "sensor" were in flight at once`, "", (*World).atLeastInFlight)
	def("wire", "the observer receives that message",
		"Waits until the observer (see `an observer subscribed to`) receives the last message's topic and payload.",
		"the observer receives that message", "", (*World).observerReceivesThatMessage)
	def("wire", "the observer receives that message {count} time(s)",
		"Waits for that many deliveries of the last message to the observer, and checks it is not more.",
		"the observer receives that message 1 time", "", (*World).observerReceivesThatMessageTimes)
	def("wire", "the observer does not receive that message within {duration}",
		"Waits the whole time and fails if the observer receives the last message.",
		"the observer does not receive that message within 300 milliseconds", "", (*World).observerDoesNotReceiveThatMessageWithin)
}

func (w *World) brokerReceivesThatMessageTimes(n int) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	_, err = w.expectPublishes(m, n)
	return err
}

func (w *World) brokerReceivesThatMessageTimesLastDUPFlag(n int) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	recs, err := w.expectPublishes(m, n)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s never reached the broker", m)
	}
	last := recs[len(recs)-1]
	if !last.Dup {
		return fmt.Errorf("the last PUBLISH of %s has no DUP flag\n%s", m, describeRecords(recs, w))
	}
	if len(recs) > 1 && recs[0].Dup && m.ret.MsgID != 0 {
		return fmt.Errorf("the first PUBLISH of %s already has the DUP flag\n%s", m, describeRecords(recs, w))
	}
	return nil
}

func (w *World) brokerReceivesThatMessageRetainFlag() error {
	return w.expectRetain(true)
}

func (w *World) brokerReceivesThatMessageWithoutRetainFlag() error {
	return w.expectRetain(false)
}

func (w *World) brokerReceivesThatMessagePacketBytes(size int) error {
	m, pub, err := w.thatMessageReceived()
	if err != nil {
		return err
	}
	if pub.Size != size {
		return fmt.Errorf("the PUBLISH of %s is %d bytes long, expected %d", m, pub.Size, size)
	}
	return nil
}

func (w *World) brokerReceivesThatMessageProperties(t *godog.Table) error {
	return w.expectWireProps(t)
}

func (w *World) thatMessageDoesNotReachBrokerWithin(d time.Duration) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.scaled(d))
	defer cancel()
	// The wait running out is the pass: its error only says that nothing
	// came, which recs says too.
	recs, _ := w.waitWire(ctx, w.publishFilter(m), w.publishPred(m), 1)
	if len(recs) > 0 {
		return fmt.Errorf("%s reached the broker\n%s", m, describeRecords(recs, w))
	}
	return nil
}

func (w *World) brokerReceivesThatMessageBeforeSendsCONNACK() error {
	m, pub, err := w.thatMessageReceived()
	if err != nil {
		return err
	}
	acks, err := w.waitWire(w.ctx, journal.Filter{Kind: journal.KindPacket, Dir: "to_client", Type: "CONNACK", Client: m.cl.id, Conn: pub.Conn}, nil, 1)
	if err != nil {
		return err
	}
	if pub.Seq > acks[0].Seq {
		return fmt.Errorf("the PUBLISH of %s came after CONNACK\n%s", m, describeRecords(append(acks, pub), w))
	}
	return nil
}

func (w *World) brokerReceivesPacketForThatMessage(typ string, n int) error {
	return w.expectPacketsForMessage("to_broker", typ, false, n)
}

func (w *World) brokerSendsPacketForThatMessage(typ string, n int) error {
	return w.expectPacketsForMessage("to_client", typ, false, n)
}

func (w *World) brokerDropsPacketForThatMessage(typ string, n int) error {
	return w.expectPacketsForMessage("", typ, true, n)
}

func (w *World) brokerReceivesPacketsFrom(n int, typ, name string) error {
	id, _, err := w.clientOnBroker(name)
	if err != nil {
		return err
	}
	f := journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: typ, Client: id, Dropped: "no"}
	return w.expectExactly(f, n, fmt.Sprintf("%s from %q", typ, name))
}

func (w *World) brokerReceivesLeastPacketsFrom(n int, typ, name string) error {
	id, _, err := w.clientOnBroker(name)
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	f := journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: typ, Client: id, Dropped: "no"}
	if recs, err := w.waitWire(ctx, f, nil, n); err != nil {
		return fmt.Errorf("%s from %q: %v\n%s", typ, name, err, describeRecords(recs, w))
	}
	return nil
}

func (w *World) brokerReceivesNoFromWithin(typ, name string, d time.Duration) error {
	return w.expectQuiet(name, typ, d)
}

func (w *World) nothingGoesFromBrokerWithin(name string, d time.Duration) error {
	return w.expectQuiet(name, "", d)
}

func (w *World) atMostInFlight(n int, name string) error {
	id, b, err := w.clientOnBroker(name)
	if err != nil {
		return err
	}
	peak := maxInFlight(b.Journal.Records(journal.Filter{Kind: journal.KindPacket, Client: id, Dropped: "no"}))
	if peak > n {
		return fmt.Errorf("client %q had %d messages in flight at once, expected at most %d", name, peak, n)
	}
	return nil
}

func (w *World) atLeastInFlight(n int, name string) error {
	id, b, err := w.clientOnBroker(name)
	if err != nil {
		return err
	}
	peak := maxInFlight(b.Journal.Records(journal.Filter{Kind: journal.KindPacket, Client: id, Dropped: "no"}))
	if peak < n {
		return fmt.Errorf("client %q had at most %d messages in flight at once, expected at least %d", name, peak, n)
	}
	return nil
}

func (w *World) observerReceivesThatMessage() error {
	_, err := w.observed(1, 0)
	return err
}

func (w *World) observerReceivesThatMessageTimes(n int) error {
	evs, err := w.observed(n, 0)
	if err != nil {
		return err
	}
	if len(evs) != n {
		return fmt.Errorf("the observer received that message %d times, expected %d", len(evs), n)
	}
	return nil
}

func (w *World) observerDoesNotReceiveThatMessageWithin(d time.Duration) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	if w.observer == nil {
		return errors.New("there is no observer: add `an observer subscribed to \"...\"` first")
	}
	return w.expectNone(w.observer, observerPred(m), d, "that message")
}

func observerPred(m *message) func(controller.Event) bool {
	return func(ev controller.Event) bool {
		return ev.Kind == controller.OnMessage && ev.Topic == m.topic && len(ev.Payload) == m.size && payloadHash(ev.Payload) == m.hash
	}
}

// observed waits for n deliveries of the last message to the observer and
// returns all of them so far.
func (w *World) observed(n int, within time.Duration) ([]controller.Event, error) {
	m, err := w.thatMessage()
	if err != nil {
		return nil, err
	}
	if w.observer == nil {
		return nil, errors.New("there is no observer: add `an observer subscribed to \"...\"` first")
	}
	ctx, cancel := w.waitCtx(within)
	defer cancel()
	if _, err := w.observer.rec.WaitN(ctx, observerPred(m), n); err != nil {
		return nil, fmt.Errorf("the observer did not receive %s %d times: %v\n%s", m, n, err, w.eventLog(w.observer))
	}
	return w.observer.rec.Filter(observerPred(m)), nil
}

func payloadHash(b []byte) journal.Hash { return journal.HashPayload(b) }

// publishFilter selects the PUBLISH packets that may carry m to the broker.
func (w *World) publishFilter(m *message) journal.Filter {
	f := journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: "PUBLISH", Client: m.cl.id, Topic: m.topic, Dropped: "no"}
	if m.qos > 0 {
		f.PacketID = m.ret.MsgID
	}
	return f
}

// publishPred narrows publishFilter to m's payload and to packets sent
// after the call.
func (w *World) publishPred(m *message) func(journal.Record) bool {
	return func(r journal.Record) bool {
		if m.size == 0 {
			return r.PayloadSize == 0
		}
		if m.payload == nil {
			return r.PayloadSize == m.size // too large to hash
		}
		return r.PayloadSize == m.size && r.PayloadHash == m.hash
	}
}

// waitWire waits until n records match f and pred and returns every one so far.
func (w *World) waitWire(ctx context.Context, f journal.Filter, pred func(journal.Record) bool, n int) ([]journal.Record, error) {
	b, err := w.broker()
	if err != nil {
		return nil, err
	}
	seen := 0
	for {
		all := b.Journal.Records(f)
		var got []journal.Record
		for _, r := range all {
			if pred == nil || pred(r) {
				got = append(got, r)
			}
		}
		if len(got) >= n {
			return got, nil
		}
		seen = len(all)
		if _, err := b.Journal.WaitFor(ctx, f, seen+1); err != nil {
			return got, fmt.Errorf("%d of %d packets (%s): %w", len(got), n, f, ctx.Err())
		}
	}
}

func (w *World) waitPublishes(m *message, n int) ([]journal.Record, error) {
	if m.qos > 0 && m.ret.MsgID == 0 && m.ret.Code != controller.ErrNoConn {
		// Refused before an id was taken: it can never be sent. (A QoS 1
		// or 2 message published while not connected stays queued without
		// the caller seeing its id; it is matched by content.)
		return nil, fmt.Errorf("%s: Publish returned %d (%s) and no message id, so it is never sent", m, m.ret.Code, m.ret.Err)
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	recs, err := w.waitWire(ctx, w.publishFilter(m), w.publishPred(m), n)
	if err != nil {
		return recs, fmt.Errorf("the broker did not receive %s %d times: %v\n%s", m, n, err, w.wireLog(m.cl))
	}
	return recs, nil
}

func (w *World) expectPublishes(m *message, n int) ([]journal.Record, error) {
	if n == 0 {
		recs := w.matching(w.publishFilter(m), w.publishPred(m))
		if len(recs) > 0 {
			return recs, fmt.Errorf("the broker received %s %d times, expected never\n%s", m, len(recs), describeRecords(recs, w))
		}
		return nil, nil
	}
	recs, err := w.waitPublishes(m, n)
	if err != nil {
		return recs, err
	}
	if len(recs) != n {
		return recs, fmt.Errorf("the broker received %s %d times, expected %d\n%s", m, len(recs), n, describeRecords(recs, w))
	}
	return recs, nil
}

func (w *World) matching(f journal.Filter, pred func(journal.Record) bool) []journal.Record {
	b, err := w.broker()
	if err != nil {
		return nil
	}
	var out []journal.Record
	for _, r := range b.Journal.Records(f) {
		if pred == nil || pred(r) {
			out = append(out, r)
		}
	}
	return out
}

// thatMessageReceived is the last message published and the first PUBLISH
// of it the broker received.
func (w *World) thatMessageReceived() (*message, journal.Record, error) {
	m, err := w.thatMessage()
	if err != nil {
		return nil, journal.Record{}, err
	}
	recs, err := w.waitPublishes(m, 1)
	if err != nil {
		return nil, journal.Record{}, err
	}
	return m, recs[0], nil
}

func (w *World) expectRetain(want bool) error {
	m, pub, err := w.thatMessageReceived()
	if err != nil {
		return err
	}
	if pub.Retain != want {
		flag := "without"
		if pub.Retain {
			flag = "with"
		}
		return fmt.Errorf("the broker received %s %s the retain flag\n%s", m, flag, describeRecords([]journal.Record{pub}, w))
	}
	return nil
}

// expectWireProps: every property of the table is on the last message's
// PUBLISH; user properties must be exactly the table's, in its order
// (repeats included), when the table names any.
func (w *World) expectWireProps(t *godog.Table) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	rows, err := propRowsFromTable(t)
	if err != nil {
		return err
	}
	recs, err := w.waitPublishes(m, 1)
	if err != nil {
		return err
	}
	got := map[string][]string{}
	for _, kv := range strings.Fields(recs[0].Props) {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	var missing, wantUser []string
	for _, r := range rows {
		name := r.name
		if def, ok := controller.LookupProp(name); ok {
			name = def.Name
		}
		key := strings.ToLower(name)
		var val string
		switch x := r.value.(type) {
		case [2]string:
			wantUser = append(wantUser, x[0]+":"+x[1])
			continue
		case string:
			if key == "correlation_data" || key == "authentication_data" {
				x = hex.EncodeToString([]byte(x))
			}
			val = x
		default:
			val = fmt.Sprint(x)
		}
		if !slices.Contains(got[key], val) {
			missing = append(missing, fmt.Sprintf("%s = %s", r.name, val))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the PUBLISH of %s lacks %s; on the wire: %s", m, strings.Join(missing, ", "), recs[0].Props)
	}
	if wantUser != nil && !slices.Equal(got["user_property"], wantUser) {
		return fmt.Errorf("the PUBLISH of %s carries the user properties %v, expected %v in this order; on the wire: %s", m, got["user_property"], wantUser, recs[0].Props)
	}
	return nil
}

// expectPacketsForMessage waits for exactly n packets of type typ with the
// last message's id going dir (either way when empty): delivered ones, or
// with dropped, ones a fault kept from their receiver.
func (w *World) expectPacketsForMessage(dir, typ string, dropped bool, n int) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	if m.ret.MsgID == 0 {
		return fmt.Errorf("%s got no message id", m)
	}
	f := journal.Filter{Kind: journal.KindPacket, Dir: dir, Type: typ, Client: m.cl.id, PacketID: m.ret.MsgID, Dropped: "no"}
	what := fmt.Sprintf("%s for %s", typ, m)
	if dropped {
		f.Dropped, what = "yes", "dropped "+what
	}
	return w.expectExactly(f, n, what)
}

func (w *World) expectExactly(f journal.Filter, n int, what string) error {
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	recs, err := w.waitWire(ctx, f, nil, n)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", what, err, describeRecords(recs, w))
	}
	if len(recs) != n {
		return fmt.Errorf("%s: %d packets, expected %d\n%s", what, len(recs), n, describeRecords(recs, w))
	}
	return nil
}

func (w *World) expectQuiet(name, typ string, d time.Duration) error {
	id, b, err := w.clientOnBroker(name)
	if err != nil {
		return err
	}
	f := journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: typ, Client: id, Dropped: "no"}
	before := len(b.Journal.Records(f))
	ctx, cancel := context.WithTimeout(w.ctx, w.scaled(d))
	defer cancel()
	recs, err := b.Journal.WaitFor(ctx, f, before+1)
	if err == nil {
		return fmt.Errorf("client %q sent to the broker within %v:\n%s", name, d, describeRecords(recs[before:], w))
	}
	return nil
}

// maxInFlight walks a client's packets in order and returns the most QoS
// 1 and 2 PUBLISHes awaiting completion at once.
func maxInFlight(recs []journal.Record) int {
	out, peak := map[int]bool{}, 0
	for _, r := range recs {
		switch {
		case r.Dir == "to_broker" && r.Type == "PUBLISH" && r.QoS > 0:
			out[r.PacketID] = true
		case r.Dir == "to_client" && (r.Type == "PUBACK" || r.Type == "PUBCOMP"):
			delete(out, r.PacketID)
		case r.Dir == "to_client" && r.Type == "PUBREC" && r.Reason != nil && *r.Reason >= 128:
			delete(out, r.PacketID)
		}
		peak = max(peak, len(out))
	}
	return peak
}

// wireLog describes what crossed the wire for a client, for failure messages.
func (w *World) wireLog(cl *client) string {
	if w.b == nil {
		return "no broker was started"
	}
	recs := w.b.Journal.Records(journal.Filter{Client: cl.id})
	if len(recs) == 0 {
		return fmt.Sprintf("nothing crossed the wire for client %q", cl.name)
	}
	return fmt.Sprintf("the wire for client %q:\n%s", cl.name, describeRecords(recs, w))
}

// describeRecords lists journal records one a line, most recent 40.
func describeRecords(recs []journal.Record, w *World) string {
	var b strings.Builder
	if len(recs) > 40 {
		fmt.Fprintf(&b, "  … %d earlier records\n", len(recs)-40)
		recs = recs[len(recs)-40:]
	}
	for i, r := range recs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("  ")
		b.WriteString(r.String())
	}
	return b.String()
}
