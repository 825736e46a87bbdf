package steps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
)

// Driver actions: Publish in every shape, bursts, Subscribe, Unsubscribe.
// The steps only make the call; what it returned is checked by the
// "the call returns" steps, what follows by the callback and wire steps.
func init() {
	def("publish", "client {name} publishes {text} to {text} with QoS {int}",
		"Publish a text payload; QoS is passed on as written, even out of range.",
		`client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1`, "", (*World).clientPublishesQoS)
	def("publish", "client {name} publishes {text} to {text} with QoS {int}, retained",
		"Publish with the retain flag set.",
		`client "sensor" publishes "on" to "home/kitchen/light" with QoS 0, retained`, "", (*World).clientPublishesQoSRetained)
	def("publish", "client {name} publishes to {text} with QoS {int}:",
		"Publish the doc string below the step as the payload.",
		`client "sensor" publishes to "home/kitchen/state" with QoS 1:`, "doc string", (*World).clientPublishesDocString)
	def("publish", "client {name} publishes the file {name} to {text} with QoS {int}",
		"Publish the contents of a file from the fixtures folder.",
		`client "sensor" publishes the file "payloads/reading.json" to "home/kitchen/state" with QoS 1`, "", (*World).clientPublishesFileQoS)
	def("publish", "client {name} publishes {count} bytes to {text} with QoS {int}",
		"Publish a payload of that many bytes.",
		`client "sensor" publishes 1000 bytes to "home/kitchen/blob" with QoS 1`, "", (*World).clientPublishesBytesQoS)
	def("publish", "client {name} publishes an empty message to {text} with QoS {int}",
		"Publish with an empty payload.",
		`client "sensor" publishes an empty message to "home/kitchen/ping" with QoS 0`, "", (*World).clientPublishesEmptyMessageQoS)
	def("publish", "client {name} publishes {text} to {text} with QoS {int} and the properties:",
		"Publish with MQTT 5 properties: a table of name (or identifier) and value, USER_PROPERTY values written key=value. A property named twice (or a user property key twice) makes the driver's table a sequence of {property, value} pairs in the order written, so the repeat reaches the client.",
		`client "sensor" publishes "21.5" to "home/kitchen/temp" with QoS 1 and the properties:`, "table", (*World).clientPublishesQoSProperties)
	def("publish", "client {name} publishes {text} to a topic of {count} characters with QoS {int}",
		"Publish to a topic made of that many letters.",
		`client "sensor" publishes "x" to a topic of 65536 characters with QoS 0`, "", (*World).clientPublishesTopicCharactersQoS)
	def("publish", "client {name} publishes {text} to a topic containing {name} with QoS {int}",
		"Publish to a topic that is not proper UTF-8 text; the flaw is named in words: "+badTextNames()+".",
		`client "sensor" publishes "x" to a topic containing "a control character" with QoS 0`, "", (*World).clientPublishesTopicContainingQoS)
	def("publish", "client {name} publishes {count} messages to {text} with QoS {int}",
		`A burst: that many publishes, one right after the other, with payloads "message 1", "message 2", …`,
		`client "sensor" publishes 6 messages to "home/kitchen/temp" with QoS 1`, "", (*World).clientPublishesMessagesQoS)
	def("publish", "client {name} makes {count} QoS 0 publishes before connecting",
		"Uses up message ids: each publish while not connected returns 4 and takes an id, and nothing is sent.",
		`client "sensor" makes 65533 QoS 0 publishes before connecting`, "", (*World).clientMakesQoS0PublishesBeforeConnecting)
	def("publish", "client {name} subscribes to {text} with QoS {int}",
		"Subscribe; onSubscribe follows. The message id comes from the same counter as Publish.",
		`client "sensor" subscribes to "home/+/temp" with QoS 1`, "", (*World).clientSubscribesQoS)
	def("publish", "client {name} unsubscribes from {text}",
		"Unsubscribe; onUnsubscribe follows.",
		`client "sensor" unsubscribes from "home/+/temp"`, "", (*World).clientUnsubscribesFrom)
	def("publish", "an observer subscribed to {text}",
		"A harness-side client on the broker's control listener (no faults, not journaled) that subscribes with QoS 2 and records what it receives.",
		`an observer subscribed to "home/#"`, "", (*World).observerSubscribed)
}

func (w *World) clientPublishesQoS(name, payload, topic string, qos int) error {
	return w.publish(name, topic, []byte(payload), qos, false, nil)
}

func (w *World) clientPublishesQoSRetained(name, payload, topic string, qos int) error {
	return w.publish(name, topic, []byte(payload), qos, true, nil)
}

func (w *World) clientPublishesDocString(name, topic string, qos int, doc string) error {
	return w.publish(name, topic, []byte(doc), qos, false, nil)
}

func (w *World) clientPublishesFileQoS(name, file, topic string, qos int) error {
	data, err := os.ReadFile(w.fixture(file))
	if err != nil {
		return fmt.Errorf("%w: the payload file: %w", ErrHarness, err)
	}
	return w.publish(name, topic, data, qos, false, nil)
}

func (w *World) clientPublishesBytesQoS(name string, n int, topic string, qos int) error {
	return w.publish(name, topic, w.zeroPayload(n), qos, false, nil)
}

func (w *World) clientPublishesEmptyMessageQoS(name, topic string, qos int) error {
	return w.publish(name, topic, nil, qos, false, nil)
}

func (w *World) clientPublishesQoSProperties(name, payload, topic string, qos int, t *godog.Table) error {
	props, err := propsFromTable(t)
	if err != nil {
		return err
	}
	return w.publish(name, topic, []byte(payload), qos, false, props)
}

func (w *World) clientPublishesTopicCharactersQoS(name, payload string, n int, qos int) error {
	return w.publish(name, strings.Repeat("a", n), []byte(payload), qos, false, nil)
}

func (w *World) clientPublishesTopicContainingQoS(name, payload, flaw string, qos int) error {
	bad, ok := badText[flaw]
	if !ok {
		return fmt.Errorf("%q is not a flaw the step knows: expected one of %s", flaw, badTextNames())
	}
	return w.publish(name, "home/"+bad+"/x", []byte(payload), qos, false, nil)
}

func (w *World) clientPublishesMessagesQoS(name string, n int, topic string, qos int) error {
	var burst []*message
	for i := 1; i <= n; i++ {
		if err := w.publish(name, topic, []byte("message "+strconv.Itoa(i)), qos, false, nil); err != nil {
			return err
		}
		burst = append(burst, w.msgs[len(w.msgs)-1])
	}
	w.burst = burst
	return nil
}

func (w *World) clientMakesQoS0PublishesBeforeConnecting(name string, n int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if r := cl.c.Publish("burn", nil, 0, false, nil); r.Code != controller.ErrNoConn {
			return fmt.Errorf("publish %d of %d returned %d (%s), expected 4: is the client connected?", i+1, n, r.Code, r.Err)
		}
	}
	w.note(cl, "Publish", fmt.Sprintf("%d times while not connected", n), controller.Ret{Code: controller.ErrNoConn, Err: controller.ErrorString(controller.ErrNoConn)})
	return nil
}

func (w *World) clientSubscribesQoS(name, topic string, qos int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	r := cl.c.Subscribe(topic, qos, nil)
	w.note(cl, "Subscribe", topic, r)
	w.subs = append(w.subs, &subscription{cl: cl, topic: topic, ret: r})
	return nil
}

func (w *World) clientUnsubscribesFrom(name, topic string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	r := cl.c.Unsubscribe(topic, nil)
	w.note(cl, "Unsubscribe", topic, r)
	w.subs = append(w.subs, &subscription{cl: cl, topic: topic, ret: r, unsub: true})
	return nil
}

func (w *World) observerSubscribed(topic string) error {
	return w.observe(topic)
}

// badText names the flaws a topic can have, in words.
var badText = map[string]string{
	"an invalid byte":        "a\xffb",
	"a control character":    "a\x01b",
	"a NUL character":        "a\x00b",
	"a C1 control character": "a\u0085b",
	"a non-character":        "a\ufffeb",
	"a surrogate":            "a\xed\xa0\x80b",
	"an overlong encoding":   "a\xc0\xafb",
	"a plus sign":            "a+b",
	"a hash sign":            "a#b",
}

func badTextNames() string {
	names := []string{}
	for _, k := range []string{"an invalid byte", "a control character", "a NUL character", "a C1 control character", "a non-character", "a surrogate", "an overlong encoding", "a plus sign", "a hash sign"} {
		names = append(names, strconv.Quote(k))
	}
	return strings.Join(names, ", ")
}

func (w *World) publish(name, topic string, payload []byte, qos int, retain bool, props controller.Props) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	// The message's time is taken before the call: a client may deliver
	// the onPublish right after the call returns, before this goroutine
	// reads the clock again (libmosquitto's QoS 0 onPublish does).
	at := time.Now()
	r := cl.c.Publish(topic, payload, qos, retain, props)
	m := &message{n: len(w.msgs) + 1, cl: cl, topic: topic, payload: payload, qos: qos, retain: retain, props: props, ret: r, at: at, size: len(payload)}
	if len(payload) > 1<<20 {
		m.payload = nil // neither kept nor hashed: only its size matters
	} else {
		m.hash = payloadHash(payload)
	}
	w.msgs = append(w.msgs, m)
	w.burst = []*message{m}
	show := topic
	if len(show) > 40 {
		show = fmt.Sprintf("%.20s… (%d bytes)", show, len(topic))
	}
	w.note(cl, "Publish", fmt.Sprintf("%q QoS %d", show, qos), r)
	return nil
}

// stringProps are the properties whose values stay text even when they look
// like numbers.
var stringProps = map[string]bool{
	"CONTENT_TYPE": true, "RESPONSE_TOPIC": true, "CORRELATION_DATA": true,
	"REASON_STRING": true, "SERVER_REFERENCE": true, "AUTHENTICATION_METHOD": true,
	"AUTHENTICATION_DATA": true, "ASSIGNED_CLIENT_IDENTIFIER": true, "RESPONSE_INFORMATION": true,
}

// propRow is one row of a property table, its value read.
type propRow struct {
	name  string // as written, upper case
	value any    // int, string, or for USER_PROPERTY a [2]string
}

// propRowsFromTable reads MQTT 5 properties: one row per property, name
// (or identifier) then value, with an optional header row
// "property | value". USER_PROPERTY values are written key=value.
func propRowsFromTable(t *godog.Table) ([]propRow, error) {
	if t == nil || len(t.Rows) == 0 {
		return nil, errNoTable
	}
	var rows []propRow
	for i, row := range t.Rows {
		if len(row.Cells) != 2 {
			return nil, fmt.Errorf("row %d of the properties has %d cells: expected a name and a value", i+1, len(row.Cells))
		}
		name, value := strings.TrimSpace(row.Cells[0].Value), row.Cells[1].Value
		if i == 0 && strings.EqualFold(name, "property") {
			continue
		}
		key := strings.ToUpper(name)
		def, _ := controller.LookupProp(key)
		switch {
		case def.Kind == controller.KindPair:
			k, v, ok := strings.Cut(value, "=")
			if !ok {
				return nil, fmt.Errorf("row %d: a user property is written key=value, not %q", i+1, value)
			}
			rows = append(rows, propRow{key, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)}})
		case stringProps[def.Name]:
			rows = append(rows, propRow{key, value})
		default:
			if n, err := strconv.Atoi(value); err == nil {
				rows = append(rows, propRow{key, n})
			} else {
				rows = append(rows, propRow{key, value})
			}
		}
	}
	return rows, nil
}

// propsFromTable builds the property table a driver would pass. Without
// repeats it is a table of named keys (user properties in one key=value
// table), as drivers usually write it. When a property repeats (the same
// property by name or identifier, or a user property key twice) every row
// becomes one {property, value} pair of the table's sequence, in the
// order written: the only way a Lua table can hold a property twice.
func propsFromTable(t *godog.Table) (controller.Props, error) {
	rows, err := propRowsFromTable(t)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	repeats := false
	for _, r := range rows {
		id := r.name
		if def, ok := controller.LookupProp(r.name); ok {
			id = def.Name
		}
		if kv, ok := r.value.([2]string); ok {
			id += "\x00" + kv[0]
		}
		repeats = repeats || seen[id]
		seen[id] = true
	}
	if repeats {
		entries := make([]controller.PropEntry, len(rows))
		for i, r := range rows {
			v := r.value
			if kv, ok := v.([2]string); ok {
				v = [][2]string{kv}
			}
			entries[i] = controller.PropEntry{Property: r.name, Value: v}
		}
		return controller.PropSeq(entries...), nil
	}
	props := controller.Props{}
	for _, r := range rows {
		if kv, ok := r.value.([2]string); ok {
			up, _ := props[r.name].(map[string]string)
			if up == nil {
				up = map[string]string{}
				props[r.name] = up
			}
			up[kv[0]] = kv[1]
			continue
		}
		props[r.name] = r.value
	}
	return props, nil
}

// observe subscribes the scenario's observer to a topic filter on the
// control listener.
func (w *World) observe(topic string) error {
	b, err := w.broker()
	if err != nil {
		return err
	}
	if w.observer == nil {
		ctl, err := w.opts.ObserverController()
		if err != nil {
			return fmt.Errorf("starting the observer: %w", err)
		}
		w.obsCtl = ctl
		c, err := ctl.NewClient("observer", true)
		if err != nil {
			return fmt.Errorf("starting the observer: %w", err)
		}
		obs := &client{name: "observer", id: "observer", c: c, rec: controller.NewRecorder(c), clean: true}
		w.observer = obs
		host, port, err := splitHostPort(b.ControlAddr)
		if err != nil {
			return fmt.Errorf("%w: the control listener's address %q: %v", ErrHarness, b.ControlAddr, err)
		}
		if r := c.Connect(host, port, 60, nil); r.Code != 0 {
			return fmt.Errorf("observer: Connect returned %d (%s)", r.Code, r.Err)
		}
		if err := w.awaitConnected(obs); err != nil {
			return fmt.Errorf("observer: %w", err)
		}
	}
	r := w.observer.c.Subscribe(topic, 2, nil)
	if r.Code != 0 {
		return fmt.Errorf("observer: Subscribe(%q) returned %d (%s)", topic, r.Code, r.Err)
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	if _, err := w.observer.rec.WaitFor(ctx, controller.Is(controller.OnSubscribe, r.MsgID)); err != nil {
		return fmt.Errorf("observer: no onSubscribe for %q: %v", topic, err)
	}
	return nil
}
