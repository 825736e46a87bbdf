package steps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/record"
)

// Faults: every misbehaviour of the broker emulator, aimed at packets in
// plain words ("the next PUBACK to "sensor"", "every 3rd PUBLISH from the
// client on "home/temp"").
func init() {
	def("faults", "the broker drops {packets}",
		"The packets are lost: the other side never sees them.",
		`the broker drops the next PUBACK to "sensor"`, "", (*World).brokerDrops)
	def("faults", "the broker delays {packets} by {duration}",
		"The packets arrive late; packets behind them in the same direction wait too (TCP order is kept).",
		`the broker delays every PUBACK to the client by 200 milliseconds`, "", (*World).brokerDelays)
	def("faults", "the broker duplicates {packets}",
		"Each packet is sent twice, one right after the other.",
		`the broker duplicates the next PUBLISH from "sensor"`, "", (*World).brokerDuplicates)
	def("faults", "the broker sends {packets} {count} extra times",
		"Each packet is followed by that many copies.",
		`the broker sends the next PUBACK to the client 2 extra times`, "", (*World).brokerSendsExtraTimes)
	def("faults", "the broker answers {packets} with reason {int}",
		"Rewrites the reason code of acks, CONNACK, SUBACK, UNSUBACK or DISCONNECT (MQTT 5 reason codes; MQTT 3.1.1 CONNACK return codes).",
		`the broker answers the next PUBACK to "sensor" with reason 16`, "", (*World).brokerAnswersReason)
	def("faults", "the broker changes the message id of {packets} to {int}",
		"Rewrites the packet identifier: an ack for the wrong message, or a PUBLISH under an unexpected id.",
		`the broker changes the message id of the next PUBACK to "sensor" to 7`, "", (*World).brokerChangesMessageID)
	def("faults", "the broker closes the connection instead of sending {packets}",
		"The connection ends (FIN) where the packet would go; the packet is lost.",
		`the broker closes the connection instead of sending the next PUBACK to "sensor"`, "", (*World).brokerClosesConnectionInsteadSending)
	def("faults", "the broker closes the connection after {packets}",
		"The packet goes through, then the connection ends (FIN).",
		`the broker closes the connection after the next PUBREL from "sensor"`, "", (*World).brokerClosesConnectionAfter)
	def("faults", "the broker resets the connection instead of sending {packets}",
		"The connection is reset (RST) where the packet would go; the packet is lost.",
		`the broker resets the connection instead of sending the next PUBCOMP to "sensor"`, "", (*World).brokerResetsConnectionInsteadSending)
	def("faults", "the broker disconnects with reason {int} at {packets}",
		"An MQTT 5 DISCONNECT with this reason code replaces the packet, then the connection ends.",
		`the broker disconnects with reason 137 at the next PUBLISH from "sensor"`, "", (*World).brokerDisconnectsReason)
	def("faults", "the broker stalls the connection at {packets} for {duration}",
		"Half-open: nothing is read or written for that long, but the socket stays up, so only keep-alive can notice.",
		`the broker stalls the connection at the next PINGREQ from "sensor" for 15 seconds`, "", (*World).brokerStallsConnection)
	def("faults", "the broker refuses {packets} with code {int}",
		"Answers CONNECT with a CONNACK carrying this code and closes the connection (MQTT 3.1.1 codes 1 to 5 or MQTT 5 reason codes).",
		`the broker refuses the next CONNECT from "sensor" with code 5`, "", (*World).brokerRefusesCode)
	def("faults", "the broker restarts at {packets} and stays down for {duration}",
		"The broker restarts when the packet passes (the packet is lost); sessions are kept; new connections wait until it is back.",
		`the broker restarts at the next PUBREL from "sensor" and stays down for 500 milliseconds`, "", (*World).brokerRestartsAt)
	def("faults", "every armed fault fired",
		"Checks now that every fault rule armed so far (by a step, \"if it comes\" or not, or by a plan) has fired at least once.",
		"every armed fault fired", "", (*World).everyArmedFaultFired)
}

func (w *World) everyArmedFaultFired() error {
	w.countFired()
	var idle []string
	for _, r := range w.armed {
		if r.Fired == 0 {
			idle = append(idle, fmt.Sprintf("%s (armed at %s)", r.Match, r.From))
		}
	}
	if len(w.armed) == 0 {
		return errors.New("no fault has been armed in this scenario")
	}
	if len(idle) > 0 {
		return fmt.Errorf("%d of %d armed faults never fired: %s", len(idle), len(w.armed), strings.Join(idle, "; "))
	}
	return nil
}

func (w *World) brokerDrops(t target) error {
	return w.arm(t, faults.Drop{})
}

func (w *World) brokerDelays(t target, d time.Duration) error {
	return w.arm(t, faults.Delay{Duration: w.scaled(d)})
}

func (w *World) brokerDuplicates(t target) error {
	return w.arm(t, faults.Duplicate{Count: 1})
}

func (w *World) brokerSendsExtraTimes(t target, n int) error {
	if n < 1 || n > faults.MaxCopies {
		return fmt.Errorf("%d extra copies is out of range: expected 1 to %d", n, faults.MaxCopies)
	}
	return w.arm(t, faults.Duplicate{Count: n})
}

func (w *World) brokerAnswersReason(t target, code int) error {
	return w.arm(t, faults.Reason{Code: code})
}

func (w *World) brokerChangesMessageID(t target, id int) error {
	return w.arm(t, faults.PacketID{ID: id})
}

func (w *World) brokerClosesConnectionInsteadSending(t target) error {
	return w.arm(t, faults.Disconnect{Mode: "close", When: "before"})
}

func (w *World) brokerClosesConnectionAfter(t target) error {
	return w.arm(t, faults.Disconnect{Mode: "close", When: "after"})
}

func (w *World) brokerResetsConnectionInsteadSending(t target) error {
	return w.arm(t, faults.Disconnect{Mode: "reset", When: "before"})
}

func (w *World) brokerDisconnectsReason(code int, t target) error {
	return w.arm(t, faults.Disconnect{Mode: "mqtt", Reason: code, When: "before"})
}

func (w *World) brokerStallsConnection(t target, d time.Duration) error {
	return w.arm(t, faults.Stall{Duration: w.scaled(d)})
}

func (w *World) brokerRefusesCode(t target, code int) error {
	return w.arm(t, faults.Refuse{Code: code})
}

func (w *World) brokerRestartsAt(t target, d time.Duration) error {
	return w.arm(t, faults.Restart{DownFor: w.scaled(d)})
}

// arm adds a fault rule for the target.
func (w *World) arm(t target, a faults.Action) error {
	b, err := w.broker()
	if err != nil {
		return err
	}
	w.rules++
	m := t.match
	if t.client != "" {
		m.Client = w.clientID(t.client)
	}
	r := faults.Rule{Name: fmt.Sprintf("step-%d-%s", w.rules, a.Kind()), Match: m, Action: a}
	if err := b.Faults.Add(r); err != nil {
		return fmt.Errorf("the broker cannot do that to %s: %v", t, err)
	}
	w.armed = append(w.armed, &armedRule{FaultRule: record.FaultRule{
		Name: r.Name, Match: t.String(), From: w.stepAt(), Optional: t.optional,
	}, client: t.client})
	return nil
}

// armedRule is a fault rule the scenario armed, kept to tell at its end
// whether the rule ever fired.
type armedRule struct {
	record.FaultRule
	client string // the client name the step aimed at, if any
}

// countFired copies the broker's fire counts into the scenario's armed
// rules; it runs before the rules are disarmed and when the scenario ends.
func (w *World) countFired() {
	if w.b == nil {
		return
	}
	fired := map[string]int{}
	for _, st := range w.b.Faults.List() {
		fired[st.Rule.Name] = st.Fired
	}
	for _, r := range w.armed {
		if n, ok := fired[r.Name]; ok {
			r.Fired = n
		}
	}
}

// unfired names the rules a step armed that never fired: a fault that was
// meant to happen and did not leaves the scenario proving nothing.
func (w *World) unfired() error {
	var errs []error
	for _, r := range w.armed {
		if r.Fired > 0 || r.Optional {
			continue
		}
		msg := fmt.Sprintf("the fault armed at %s never fired: no packet matched %s", r.From, r.Match)
		if r.client != "" {
			if _, ok := w.clients[r.client]; !ok {
				msg += fmt.Sprintf(" (no client of this scenario is called %q)", r.client)
			}
		}
		errs = append(errs, fmt.Errorf("%w: %s; if it may not happen, end the step with \"if it comes\"", ErrHarness, msg))
	}
	return errors.Join(errs...)
}
