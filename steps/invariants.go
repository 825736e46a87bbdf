package steps

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// The promises of the controller's API that hold in every scenario, checked
// after the last step (docs/publish-semantics.md, "The promise the harness checks"):
//
//  1. every Publish that returned 0 gets exactly one onPublish with its
//     msgId, unless the scenario said the message may be lost;
//  2. a message sent again carries DUP and the same id;
//  3. no id is handed out or sent again while a message with it is in flight.
func init() {
	def("invariants", "that message may never be reported, because {words}",
		"Exempts the last message from the end-of-scenario check that it gets exactly one onPublish (a message lost on purpose).",
		`that message may never be reported, because the connection is never restored`, "", (*World).thatMessageMayNeverBeReportedBecause)
	def("invariants", "the messages of client {name} may never be reported, because {words}",
		"Exempts every message of the client published so far from the exactly-one-onPublish check.",
		`the messages of client "sensor" may never be reported, because it stays offline`, "", (*World).messagesClientMayNeverBeReportedBecause)
}

func (w *World) thatMessageMayNeverBeReportedBecause(why string) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	m.lost = why
	return nil
}

func (w *World) messagesClientMayNeverBeReportedBecause(name, why string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	for _, m := range w.msgs {
		if m.cl == cl {
			m.lost = why
		}
	}
	return nil
}

type violation struct {
	rule    string
	details []string
}

func (w *World) checkInvariants() error {
	var vs []violation
	add := func(rule, format string, args ...any) {
		for i := range vs {
			if vs[i].rule == rule {
				vs[i].details = append(vs[i].details, fmt.Sprintf(format, args...))
				return
			}
		}
		vs = append(vs, violation{rule, []string{fmt.Sprintf(format, args...)}})
	}

	// 1. exactly one onPublish per successful Publish.
	const rule1 = "every Publish that returned 0 gets exactly one onPublish with its message id"
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	for _, m := range w.msgs {
		if m.ret.Code != 0 || m.ret.MsgID == 0 || m.lost != "" {
			continue
		}
		if _, err := m.cl.rec.WaitFor(ctx, func(ev controller.Event) bool { return w.isOnPublishOf(m, ev) }); err != nil {
			add(rule1, "%s: no onPublish (waited %v after the last step)", m, w.opts.Deadline)
			continue
		}
	}
	// A callback reported twice may still be on its way: destroy the
	// clients and read their records to the end before counting.
	for _, cl := range w.order {
		if !cl.destroyed {
			cl.c.Destroy()
			cl.destroyed = true
		}
		select {
		case <-cl.rec.Done():
		case <-ctx.Done():
			add(rule1, "client %q: its callbacks did not end within %v of destroying it", cl.name, w.opts.Deadline)
		}
	}
	for _, m := range w.msgs {
		if m.ret.Code != 0 || m.ret.MsgID == 0 {
			continue
		}
		evs := w.onPublishesUntilReuse(m)
		if len(evs) > 1 {
			add(rule1, "%s: %d onPublish callbacks", m, len(evs))
		}
	}

	// 2 and 3 read the wire.
	if w.b != nil {
		for _, cl := range w.order {
			w.checkResends(cl, add)
			w.checkInFlight(cl, add)
		}
	}
	w.checkIDsHandedOut(add)

	if len(vs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("the controller broke a promise of its API:")
	for _, v := range vs {
		fmt.Fprintf(&b, "\n- %s:", v.rule)
		for _, d := range v.details {
			fmt.Fprintf(&b, "\n    %s", d)
		}
	}
	for _, cl := range w.order {
		b.WriteString("\n")
		b.WriteString(w.eventLog(cl))
	}
	return fmt.Errorf("%s", b.String())
}

// onPublishesUntilReuse are m's onPublish callbacks, up to the next call of
// the client that handed out the same id again.
func (w *World) onPublishesUntilReuse(m *message) []controller.Event {
	end := time.Time{}
	for _, o := range w.msgs {
		if o != m && o.cl == m.cl && o.ret.MsgID == m.ret.MsgID && o.at.After(m.at) {
			end = o.at
			break
		}
	}
	return m.cl.rec.Filter(func(ev controller.Event) bool {
		return w.isOnPublishOf(m, ev) && (end.IsZero() || ev.At.Before(end))
	})
}

// clientSent is what the client itself sent: packets the fault layer made
// up or rewrote are left out.
func clientSent(r journal.Record) bool {
	return r.Action != "duplicate" && r.Action != "packet_id"
}

// checkResends: every copy of a message after the first carries DUP, and
// under the message's own id.
func (w *World) checkResends(cl *client, add func(rule, format string, args ...any)) {
	const rule = "a message sent again carries the DUP flag and the same message id"
	pubs := w.b.Journal.Records(journal.Filter{Kind: journal.KindPacket, Dir: "to_broker", Type: "PUBLISH", Client: cl.id})
	for _, m := range w.msgs {
		if m.cl != cl || m.qos == 0 || m.ret.MsgID == 0 {
			continue
		}
		// Copies of m: same topic and payload.
		var same []journal.Record
		for _, r := range pubs {
			if clientSent(r) && r.QoS > 0 && r.Topic == m.topic && r.PayloadSize == m.size && r.PayloadHash == m.hash {
				same = append(same, r)
			}
		}
		// Ids that another message with the same content may use.
		others := map[int]bool{}
		unknown := false
		for _, o := range w.msgs {
			if o != m && o.cl == cl && o.topic == m.topic && o.size == m.size && o.hash == m.hash {
				if o.ret.MsgID != 0 {
					others[o.ret.MsgID] = true
				} else if o.qos > 0 && o.ret.Code == controller.ErrNoConn {
					unknown = true // queued while offline: its id was never returned
				}
			}
		}
		seenFirst := false
		for _, r := range same {
			switch {
			case r.PacketID == m.ret.MsgID:
				if seenFirst && !r.Dup {
					add(rule, "%s was sent again without DUP: %s", m, r)
				}
				seenFirst = true
			case r.Dup && !others[r.PacketID] && !unknown && r.Seq > firstSeq(same, m.ret.MsgID):
				add(rule, "%s was sent again under id %d: %s", m, r.PacketID, r)
			}
		}
	}
}

func firstSeq(recs []journal.Record, id int) uint64 {
	for _, r := range recs {
		if r.PacketID == id {
			return r.Seq
		}
	}
	return ^uint64(0)
}

// checkInFlight: a new PUBLISH (not DUP) never uses an id whose message the
// broker has not yet completed.
func (w *World) checkInFlight(cl *client, add func(rule, format string, args ...any)) {
	const rule = "no message id is reused while a message with it is in flight"
	open := map[int]journal.Record{}
	for _, r := range w.b.Journal.Records(journal.Filter{Kind: journal.KindPacket, Client: cl.id}) {
		switch {
		case r.Dir == "to_broker" && r.Type == "PUBLISH" && r.QoS > 0 && clientSent(r):
			if prev, ok := open[r.PacketID]; ok && !r.Dup {
				add(rule, "client %q sent a new PUBLISH with id %d while the one sent at %s was still in flight:\n      %s\n      %s",
					cl.name, r.PacketID, time.Duration(prev.TNs), prev, r)
			}
			open[r.PacketID] = r
		case r.Dir == "to_client" && !r.Dropped && (r.Type == "PUBACK" || r.Type == "PUBCOMP"):
			delete(open, r.PacketID)
		case r.Dir == "to_client" && !r.Dropped && r.Type == "PUBREC" && r.Reason != nil && *r.Reason >= 128:
			delete(open, r.PacketID)
		}
	}
}

// checkIDsHandedOut: a call never returns an id whose earlier message is
// still waiting for its onPublish.
func (w *World) checkIDsHandedOut(add func(rule, format string, args ...any)) {
	const rule = "no message id is reused while a message with it is in flight"
	for i, m := range w.msgs {
		if m.ret.MsgID == 0 || m.qos == 0 {
			continue
		}
		for _, o := range w.msgs[:i] {
			if o.cl != m.cl || o.ret.MsgID != m.ret.MsgID || o.qos == 0 || o.lost != "" {
				continue
			}
			evs := w.onPublishes(o)
			done := slices.ContainsFunc(evs, func(ev controller.Event) bool { return ev.At.Before(m.at) })
			if !done {
				add(rule, "%s got id %d while %s was still waiting for its onPublish", m, m.ret.MsgID, o)
			}
		}
	}
}
