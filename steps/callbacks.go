package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqtthil/mqtthil/controller"
)

// Assertions on callbacks: onPublish for a message, its reason code, how
// often and in which order; onConnect and onDisconnect; onSubscribe.
// Every wait is bounded; "no ... within" waits the time it names.
func init() {
	def("callbacks", "onPublish reports that message with reason {int}",
		"Waits (up to the default deadline) for the onPublish of the last message published, and checks its reason code.",
		"onPublish reports that message with reason 0", "", (*World).onPublishReportsThatMessageReason)
	def("callbacks", "onPublish reports that message with reason {int} within {duration}",
		"As above, with a deadline of its own.",
		"onPublish reports that message with reason 0 within 2 seconds", "", (*World).onPublishReportsThatMessageReasonWithin)
	def("callbacks", "onPublish reports message {count} with reason {int}",
		"The onPublish of the nth message published in the scenario (counting from 1).",
		"onPublish reports message 2 with reason 0", "", (*World).onPublishReportsMessageReason)
	def("callbacks", "onPublish reports every message with reason {int}",
		"Every message of the last publish step (or burst) gets its onPublish with this reason.",
		"onPublish reports every message with reason 0", "", (*World).onPublishReportsEveryMessageReason)
	def("callbacks", "client {name} gets onPublish for message id {int} with reason {int}",
		"Waits for an onPublish with this message id, whether or not a call returned it (a message queued while not connected).",
		`client "sensor" gets onPublish for message id 1 with reason 0`, "", (*World).clientGetsOnPublishForIDWithReason)
	def("callbacks", "onPublish for that message comes no sooner than {duration} after the publish",
		"Waits for the onPublish of the last message and checks it came at least that long after the Publish call returned (an ack the broker delayed must not be reported early).",
		"onPublish for that message comes no sooner than 200 milliseconds after the publish", "", (*World).onPublishNoSoonerThan)
	def("callbacks", "onPublish reports that message exactly once",
		"Waits for the onPublish of the last message and checks there is only one so far (the end-of-scenario check catches any later one).",
		"onPublish reports that message exactly once", "", (*World).onPublishReportsThatMessageExactlyOnce)
	def("callbacks", "onPublish does not report that message within {duration}",
		"Waits the whole time and fails if an onPublish for the last message comes.",
		"onPublish does not report that message within 300 milliseconds", "", (*World).onPublishDoesNotReportThatMessageWithin)
	def("callbacks", "client {name} gets no onPublish within {duration}",
		"Waits the whole time and fails if the client gets any onPublish.",
		`client "sensor" gets no onPublish within 300 milliseconds`, "", (*World).clientGetsNoOnPublishWithin)
	def("callbacks", "client {name} has had no onPublish",
		"Checks, without waiting, that the client has had no onPublish so far.",
		`client "sensor" has had no onPublish`, "", (*World).clientHasHadNoOnPublish)
	def("callbacks", "onPublish reports the messages in the order they were published",
		"Waits for the onPublish of every message of the last publish step (or burst) and checks they came in publish order.",
		"onPublish reports the messages in the order they were published", "", (*World).onPublishReportsMessagesOrderTheyWerePublished)
	def("callbacks", "onPublish reports message {count} before message {count}",
		"Waits for both onPublish callbacks and checks their order.",
		"onPublish reports message 2 before message 1", "", (*World).onPublishReportsMessageBeforeMessage)
	def("callbacks", "client {name} gets onConnect with reason {int}",
		"Waits for the client's next onConnect and checks its reason code (0 is success; MQTT 3.1.1 refusals are 1 to 5).",
		`client "sensor" gets onConnect with reason 5`, "", (*World).clientGetsOnConnectReason)
	def("callbacks", "client {name} gets onDisconnect with code {int}",
		"Waits for the client's next onDisconnect and checks its code (0 asked for, 7 connection lost, 19 keep-alive, or the broker's MQTT 5 reason).",
		`client "sensor" gets onDisconnect with code 7`, "", (*World).clientGetsOnDisconnectCode)
	def("callbacks", "client {name} gets onDisconnect with code {int} within {duration}",
		"As above, with a deadline of its own.",
		`client "sensor" gets onDisconnect with code 19 within 3 seconds`, "", (*World).clientGetsOnDisconnectCodeWithin)
	def("callbacks", "client {name} gets no onDisconnect within {duration}",
		"Waits the whole time and fails if the client's connection ends.",
		`client "sensor" gets no onDisconnect within 500 milliseconds`, "", (*World).clientGetsNoOnDisconnectWithin)
	def("callbacks", "onSubscribe reports that subscription granting QoS {int}",
		"Waits for the onSubscribe of the last Subscribe and checks the granted QoS (128 is a refusal).",
		"onSubscribe reports that subscription granting QoS 1", "", (*World).onSubscribeReportsThatSubscriptionGrantingQoS)
	def("callbacks", "onUnsubscribe reports that unsubscription",
		"Waits for the onUnsubscribe of the last Unsubscribe.",
		"onUnsubscribe reports that unsubscription", "", (*World).onUnsubscribeReportsThatUnsubscription)
	def("callbacks", "client {name} receives {text} on {text}",
		"Waits for onMessage with this payload on this topic.",
		`client "sensor" receives "on" on "home/kitchen/light"`, "", (*World).clientReceives)
}

func (w *World) onPublishReportsThatMessageReason(reason int) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	return w.expectOnPublish(m, reason, 0)
}

func (w *World) onPublishReportsThatMessageReasonWithin(reason int, d time.Duration) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	return w.expectOnPublish(m, reason, w.within(d))
}

func (w *World) onPublishNoSoonerThan(d time.Duration) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	least := w.scaled(d)
	ev, err := w.awaitOnPublish(m, least+w.within(0))
	if err != nil {
		return err
	}
	// Times are from the publish: what the step is about.
	if after := ev.At.Sub(m.at); after < least {
		return fmt.Errorf("onPublish for %s came %s after the publish, sooner than %s", m, after.Round(time.Millisecond), least)
	}
	return nil
}

func (w *World) onPublishReportsMessageReason(n, reason int) error {
	m, err := w.messageN(n)
	if err != nil {
		return err
	}
	return w.expectOnPublish(m, reason, 0)
}

func (w *World) onPublishReportsEveryMessageReason(reason int) error {
	if len(w.burst) == 0 {
		return errors.New("no message has been published yet in this scenario")
	}
	for _, m := range w.burst {
		if err := w.expectOnPublish(m, reason, 0); err != nil {
			return err
		}
	}
	return nil
}

func (w *World) clientGetsOnPublishForIDWithReason(name string, id, reason int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	ev, err := cl.rec.WaitFor(ctx, controller.Is(controller.OnPublish, id))
	if err != nil {
		return fmt.Errorf("no onPublish for message id %d: %v\n%s", id, err, w.eventLog(cl))
	}
	if ev.Reason != reason {
		return fmt.Errorf("onPublish for message id %d reported reason %d (%s), expected %d (%s)", id, ev.Reason, ev.Message, reason, controller.ReasonString(reason))
	}
	return nil
}

func (w *World) onPublishReportsThatMessageExactlyOnce() error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	if _, err := w.awaitOnPublish(m, 0); err != nil {
		return err
	}
	if n := len(w.onPublishes(m)); n != 1 {
		return fmt.Errorf("%s: %d onPublish callbacks, expected exactly one\n%s", m, n, w.eventLog(m.cl))
	}
	return nil
}

func (w *World) onPublishDoesNotReportThatMessageWithin(d time.Duration) error {
	m, err := w.thatMessage()
	if err != nil {
		return err
	}
	if m.ret.MsgID == 0 {
		return fmt.Errorf("%s got no message id, so no onPublish could name it", m)
	}
	return w.expectNone(m.cl, func(ev controller.Event) bool { return w.isOnPublishOf(m, ev) }, d, fmt.Sprintf("onPublish for %s", m))
}

func (w *World) clientGetsNoOnPublishWithin(name string, d time.Duration) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	from := cl.rec.Len()
	return w.expectNoneFrom(cl, from, controller.Is(controller.OnPublish, 0), d, "onPublish")
}

func (w *World) clientHasHadNoOnPublish(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	if evs := cl.rec.Filter(controller.Is(controller.OnPublish, 0)); len(evs) > 0 {
		return fmt.Errorf("client %q has had %d onPublish callbacks\n%s", name, len(evs), w.eventLog(cl))
	}
	return nil
}

func (w *World) onPublishReportsMessagesOrderTheyWerePublished() error {
	return w.expectOrder(w.burst)
}

func (w *World) onPublishReportsMessageBeforeMessage(a, b int) error {
	ma, err := w.messageN(a)
	if err != nil {
		return err
	}
	mb, err := w.messageN(b)
	if err != nil {
		return err
	}
	return w.expectOrder([]*message{ma, mb})
}

func (w *World) clientGetsOnConnectReason(name string, reason int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	ev, err := w.nextEvent(cl, controller.OnConnect, 0)
	if err != nil {
		return err
	}
	if ev.Reason != reason {
		return fmt.Errorf("client %q: onConnect reported %d (%s), expected %d", name, ev.Reason, ev.Message, reason)
	}
	return nil
}

func (w *World) clientGetsOnDisconnectCode(name string, code int) error {
	return w.expectDisconnect(name, code, 0)
}

func (w *World) clientGetsOnDisconnectCodeWithin(name string, code int, d time.Duration) error {
	return w.expectDisconnect(name, code, w.within(d))
}

func (w *World) clientGetsNoOnDisconnectWithin(name string, d time.Duration) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	return w.expectNoneFrom(cl, cl.rec.Len(), controller.Is(controller.OnDisconnect, 0), d, "onDisconnect")
}

func (w *World) onSubscribeReportsThatSubscriptionGrantingQoS(qos int) error {
	s, err := w.lastSub(false)
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	ev, err := s.cl.rec.WaitFor(ctx, controller.Is(controller.OnSubscribe, s.ret.MsgID))
	if err != nil {
		return fmt.Errorf("no onSubscribe for id %d: %v\n%s", s.ret.MsgID, err, w.eventLog(s.cl))
	}
	if len(ev.Granted) != 1 || ev.Granted[0] != qos {
		return fmt.Errorf("onSubscribe for %q granted %v, expected [%d]", s.topic, ev.Granted, qos)
	}
	return nil
}

func (w *World) onUnsubscribeReportsThatUnsubscription() error {
	s, err := w.lastSub(true)
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	if _, err := s.cl.rec.WaitFor(ctx, controller.Is(controller.OnUnsubscribe, s.ret.MsgID)); err != nil {
		return fmt.Errorf("no onUnsubscribe for id %d: %v\n%s", s.ret.MsgID, err, w.eventLog(s.cl))
	}
	return nil
}

func (w *World) clientReceives(name, payload, topic string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	if _, err := cl.rec.WaitFor(ctx, func(ev controller.Event) bool {
		return ev.Kind == controller.OnMessage && ev.Topic == topic && string(ev.Payload) == payload
	}); err != nil {
		return fmt.Errorf("client %q did not receive %q on %q: %v\n%s", name, payload, topic, err, w.eventLog(cl))
	}
	return nil
}

func (w *World) lastSub(unsub bool) (*subscription, error) {
	for i := len(w.subs) - 1; i >= 0; i-- {
		if w.subs[i].unsub == unsub {
			s := w.subs[i]
			if s.ret.MsgID == 0 {
				return nil, fmt.Errorf("the call on %q returned %d (%s) and no message id", s.topic, s.ret.Code, s.ret.Err)
			}
			return s, nil
		}
	}
	if unsub {
		return nil, errors.New("no client has unsubscribed yet in this scenario")
	}
	return nil, errors.New("no client has subscribed yet in this scenario")
}

// isOnPublishOf tells whether ev is an onPublish for m: same client, same
// id, after the call.
func (w *World) isOnPublishOf(m *message, ev controller.Event) bool {
	return ev.Kind == controller.OnPublish && ev.MsgID == m.ret.MsgID && !ev.At.Before(m.at)
}

func (w *World) onPublishes(m *message) []controller.Event {
	return m.cl.rec.Filter(func(ev controller.Event) bool { return w.isOnPublishOf(m, ev) })
}

func (w *World) awaitOnPublish(m *message, within time.Duration) (controller.Event, error) {
	if m.ret.MsgID == 0 {
		return controller.Event{}, fmt.Errorf("%s: Publish returned %d (%s) and no message id, so no onPublish can be matched to it", m, m.ret.Code, m.ret.Err)
	}
	ctx, cancel := w.waitCtx(within)
	defer cancel()
	ev, err := m.cl.rec.WaitFor(ctx, func(ev controller.Event) bool { return w.isOnPublishOf(m, ev) })
	if err != nil {
		return ev, fmt.Errorf("no onPublish for %s: %v\n%s", m, err, w.eventLog(m.cl))
	}
	return ev, nil
}

func (w *World) expectOnPublish(m *message, reason int, within time.Duration) error {
	ev, err := w.awaitOnPublish(m, within)
	if err != nil {
		return err
	}
	if ev.Reason != reason {
		return fmt.Errorf("onPublish for %s reported reason %d (%s), expected %d (%s)", m, ev.Reason, ev.Message, reason, controller.ReasonString(reason))
	}
	return nil
}

func (w *World) expectOrder(msgs []*message) error {
	if len(msgs) == 0 {
		return errors.New("no message has been published yet in this scenario")
	}
	var prev time.Time
	var prevM *message
	for _, m := range msgs {
		ev, err := w.awaitOnPublish(m, 0)
		if err != nil {
			return err
		}
		if prevM != nil && ev.At.Before(prev) {
			return fmt.Errorf("onPublish for %s came before the one for %s\n%s", m, prevM, w.eventLog(m.cl))
		}
		prev, prevM = ev.At, m
	}
	return nil
}

func (w *World) expectDisconnect(name string, code int, within time.Duration) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	ev, err := w.nextEvent(cl, controller.OnDisconnect, within)
	if err != nil {
		return err
	}
	if ev.Reason != code {
		return fmt.Errorf("client %q: onDisconnect reported %d (%s), expected %d\n%s", name, ev.Reason, ev.Message, code, w.eventLog(cl))
	}
	return nil
}

func (w *World) expectNone(cl *client, pred func(controller.Event) bool, d time.Duration, what string) error {
	return w.expectNoneFrom(cl, 0, pred, d, what)
}

// expectNoneFrom waits d (scaled) and fails as soon as an event matching
// pred is recorded at index from or later.
func (w *World) expectNoneFrom(cl *client, from int, pred func(controller.Event) bool, d time.Duration, what string) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.scaled(d))
	defer cancel()
	evs, err := cl.rec.WaitFrom(ctx, from, pred, 1)
	if err == nil && len(evs) > 0 {
		return fmt.Errorf("client %q got %s, expected none within %v\n%s", cl.name, what, d, w.eventLog(cl))
	}
	return nil
}
