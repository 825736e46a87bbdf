package steps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cucumber/godog"

	"github.com/mqtthil/mqtthil/controller"
)

// Controller clients by name: creating them, their settings, connecting,
// disconnecting and reconnecting.
func init() {
	def("clients", "a client {name}",
		"Creates a client object whose client id is its name, with a clean session.",
		`a client "sensor"`, "", (*World).aClient)
	def("clients", "a client {name} with client id {name}",
		"Creates a client object with the given client id.",
		`a client "sensor" with client id "kitchen-sensor-1"`, "", (*World).aClientWithClientID)
	def("clients", "a client {name} without a client id",
		"Creates a client object without a client id (the broker or library picks one).",
		`a client "anonymous" without a client id`, "", (*World).aClientWithoutClientID)
	def("clients", "a client {name} with an empty client id",
		"Creates a client object the way C4:MQTT(\"\", true) does: an empty string for the client id, where \"without a client id\" passes none (nil).",
		`a client "blank" with an empty client id`, "", (*World).aClientWithEmptyClientID)
	def("clients", "a client without a client id that keeps its session cannot be created",
		"C4:MQTT(nil, false) returns no object: a session cannot be kept without an id.",
		"a client without a client id that keeps its session cannot be created", "", (*World).noIDKeptSessionRefused)
	def("clients", "a client with an empty client id that keeps its session cannot be created",
		"C4:MQTT(\"\", false) returns no object, as with no id at all.",
		"a client with an empty client id that keeps its session cannot be created", "", (*World).emptyIDKeptSessionRefused)
	def("clients", "a client {name} that keeps its session",
		"Creates a client object with cleanSession false: the broker keeps its session across connections.",
		`a client "sensor" that keeps its session`, "", (*World).aClientThatKeepsSession)
	def("clients", "client {name} speaks MQTT {version}",
		"ForceMqttVersion: 3.1, 3.1.1 (the default) or 5.",
		`client "sensor" speaks MQTT 5`, "", (*World).clientSpeaksMQTT)
	def("clients", "client {name} logs in as {name} with password {text}",
		"SetUsernameAndPassword for the next connect.",
		`client "sensor" logs in as "driver" with password "secret"`, "", (*World).clientLogsAsPassword)
	def("clients", "client {name} logs in as {name} without a password",
		"SetUsernameAndPassword with no password.",
		`client "sensor" logs in as "driver" without a password`, "", (*World).clientLogsAsWithoutPassword)
	def("clients", "client {name} leaves the will {text} on {text} with QoS {int}",
		"SetWill: the broker publishes this message if the client vanishes without disconnecting.",
		`client "sensor" leaves the will "offline" on "sensors/kitchen/status" with QoS 1`, "", (*World).clientLeavesWillQoS)
	def("clients", "client {name} forgets its will",
		"ClearWill.",
		`client "sensor" forgets its will`, "", (*World).clientForgetsWill)
	def("clients", "client {name} allows {int} messages in flight",
		"SetMaxInflightMessages: how many QoS 1 and 2 messages may await their ack at once (0 means 65535).",
		`client "sensor" allows 1 messages in flight`, "", (*World).clientAllowsMessagesFlight)
	def("clients", "client {name} retries messages {int} times",
		"SetMessageRetries.",
		`client "sensor" retries messages 3 times`, "", (*World).clientRetriesMessagesTimes)
	def("clients", "client {name} uses the TLS pre-shared key {text} with identity {text}",
		"SetTlsPsk; the key is written as the driver writes it, hexadecimal digits in quotes.",
		`client "sensor" uses the TLS pre-shared key "0102ABCD0405" with identity "sensor"`, "", (*World).clientUsesTLSPreSharedKeyIdentity)
	def("clients", "client {name} trusts the certificate authority in {name}",
		"SetTlsCertificates with a CA file only (an encrypted connection, no client certificate).",
		`client "sensor" trusts the certificate authority in "certs/ca.pem"`, "", (*World).clientTrustsCertificateAuthority)
	def("clients", "client {name} presents the certificate {name} with the key {name}, trusting {name}",
		"SetTlsCertificates with a client certificate and key (mutual authentication).",
		`client "sensor" presents the certificate "certs/client.pem" with the key "certs/client.key", trusting "certs/ca.pem"`, "", (*World).clientPresentsCertificateKeyTrusting)
	def("clients", "client {name} skips the TLS host name check",
		"SetTlsInsecure(true).",
		`client "sensor" skips the TLS host name check`, "", (*World).clientSkipsTLSHostNameCheck)
	def("clients", "client {name} is connected",
		"Connects to the broker (keep-alive 60 seconds) and waits for onConnect with success.",
		`client "sensor" is connected`, "", (*World).clientIsConnected)
	def("clients", "client {name} connects",
		"Connect, then wait for onConnect with success.",
		`client "sensor" connects`, "", (*World).clientConnects)
	def("clients", "client {name} connects with a keep-alive of {count} seconds",
		"Connect with that keep-alive, then wait for onConnect with success.",
		`client "sensor" connects with a keep-alive of 5 seconds`, "", (*World).clientConnectsKeepAliveSeconds)
	def("clients", "client {name} connects with the properties:",
		"Connect with MQTT 5 properties (a table of name and value), then wait for onConnect with success.",
		`client "sensor" connects with the properties:`, "table", (*World).clientConnectsProperties)
	def("clients", "client {name} starts connecting",
		"Connect, without waiting for onConnect: what happens next is up to later steps.",
		`client "sensor" starts connecting`, "", (*World).clientStartsConnecting)
	def("clients", "client {name} starts connecting with a keep-alive of {int} seconds",
		"Connect with that keep-alive (passed on as it is), without waiting for onConnect.",
		`client "sensor" starts connecting with a keep-alive of 3 seconds`, "", (*World).clientStartsConnectingKeepAliveSeconds)
	def("clients", "client {name} disconnects",
		"Disconnect; onDisconnect follows.",
		`client "sensor" disconnects`, "", (*World).clientDisconnects)
	def("clients", "client {name} reconnects",
		"Reconnect with the settings of the last connect, then wait for onConnect with success.",
		`client "sensor" reconnects`, "", (*World).clientReconnects)
	def("clients", "client {name} starts reconnecting",
		"Reconnect, without waiting for onConnect.",
		`client "sensor" starts reconnecting`, "", (*World).clientStartsReconnecting)
	def("clients", "client {name} reconnects once the broker is back",
		"Waits for the broker to accept connections again, then Reconnect and wait for onConnect with success.",
		`client "sensor" reconnects once the broker is back`, "", (*World).clientReconnectsOnceBrokerBack)
	def("clients", "client {name} is destroyed",
		"The driver drops the client object: messages still queued are dropped without callbacks.",
		`client "sensor" is destroyed`, "", (*World).clientIsDestroyed)
}

func (w *World) aClient(name string) error {
	return w.newClient(name, name, true)
}

func (w *World) aClientWithClientID(name, id string) error {
	return w.newClient(name, id, true)
}

func (w *World) aClientWithoutClientID(name string) error {
	return w.newClient(name, "", true)
}

func (w *World) aClientWithEmptyClientID(name string) error {
	if _, ok := w.clients[name]; ok {
		return fmt.Errorf("there is already a client %q in this scenario", name)
	}
	c, err := w.newEmptyIDClient(true)
	if err != nil {
		return fmt.Errorf("creating client %q with an empty client id: %w", name, err)
	}
	cl := &client{name: name, c: c, rec: controller.NewRecorder(c), clean: true}
	w.clients[name] = cl
	w.order = append(w.order, cl)
	return nil
}

func (w *World) newEmptyIDClient(clean bool) (controller.Client, error) {
	e, ok := w.ctl.(controller.EmptyIDCreator)
	if !ok {
		return nil, fmt.Errorf("%w: the %s controller cannot create an object with an empty client id", ErrHarness, w.identity.Kind)
	}
	return e.NewClientEmptyID(clean)
}

func (w *World) noIDKeptSessionRefused() error {
	c, err := w.ctl.NewClient("", false)
	return w.expectNoObject(c, err, "C4:MQTT(nil, false)")
}

func (w *World) emptyIDKeptSessionRefused() error {
	c, err := w.newEmptyIDClient(false)
	if errors.Is(err, ErrHarness) {
		return err
	}
	return w.expectNoObject(c, err, `C4:MQTT("", false)`)
}

func (w *World) expectNoObject(c controller.Client, err error, call string) error {
	if err != nil {
		return nil
	}
	c.Destroy()
	return fmt.Errorf("%s returned an object; expected none (a session cannot be kept without a client id)", call)
}

func (w *World) aClientThatKeepsSession(name string) error {
	return w.newClient(name, name, false)
}

func (w *World) clientSpeaksMQTT(name string, v int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	r := cl.c.ForceMqttVersion(v)
	w.note(cl, "ForceMqttVersion", fmt.Sprint(v), r)
	if r.Code == 0 {
		cl.version = v
	}
	return nil
}

func (w *World) clientLogsAsPassword(name, user, pass string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetUsernameAndPassword", user, cl.c.SetUsernameAndPassword(user, &pass))
	return nil
}

func (w *World) clientLogsAsWithoutPassword(name, user string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetUsernameAndPassword", user, cl.c.SetUsernameAndPassword(user, nil))
	return nil
}

func (w *World) clientLeavesWillQoS(name, payload, topic string, qos int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetWill", topic, cl.c.SetWill(topic, []byte(payload), qos, false, nil))
	return nil
}

func (w *World) clientForgetsWill(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "ClearWill", "", cl.c.ClearWill())
	return nil
}

func (w *World) clientAllowsMessagesFlight(name string, n int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetMaxInflightMessages", fmt.Sprint(n), cl.c.SetMaxInflightMessages(n))
	return nil
}

func (w *World) clientRetriesMessagesTimes(name string, n int) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetMessageRetries", fmt.Sprint(n), cl.c.SetMessageRetries(n))
	return nil
}

func (w *World) clientUsesTLSPreSharedKeyIdentity(name, psk, identity string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetTlsPsk", identity, cl.c.SetTlsPsk(psk, identity, ""))
	return nil
}

func (w *World) clientTrustsCertificateAuthority(name, ca string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetTlsCertificates", ca, cl.c.SetTlsCertificates(w.fixture(ca), "", "", ""))
	return nil
}

func (w *World) clientPresentsCertificateKeyTrusting(name, cert, key, ca string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetTlsCertificates", ca+" "+cert, cl.c.SetTlsCertificates(w.fixture(ca), w.fixture(cert), w.fixture(key), ""))
	return nil
}

func (w *World) clientSkipsTLSHostNameCheck(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "SetTlsInsecure", "true", cl.c.SetTlsInsecure(true))
	return nil
}

func (w *World) clientIsConnected(name string) error {
	return w.connect(name, 60, nil, true)
}

func (w *World) clientConnects(name string) error {
	return w.connect(name, 60, nil, true)
}

func (w *World) clientConnectsKeepAliveSeconds(name string, ka int) error {
	return w.connect(name, ka, nil, true)
}

func (w *World) clientConnectsProperties(name string, t *godog.Table) error {
	props, err := propsFromTable(t)
	if err != nil {
		return err
	}
	return w.connect(name, 60, props, true)
}

func (w *World) clientStartsConnecting(name string) error {
	return w.connect(name, 60, nil, false)
}

func (w *World) clientStartsConnectingKeepAliveSeconds(name string, ka int) error {
	return w.connect(name, ka, nil, false)
}

func (w *World) clientDisconnects(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	w.note(cl, "Disconnect", "", cl.c.Disconnect(nil))
	return nil
}

func (w *World) clientReconnects(name string) error {
	return w.reconnect(name, true)
}

func (w *World) clientStartsReconnecting(name string) error {
	return w.reconnect(name, false)
}

func (w *World) clientReconnectsOnceBrokerBack(name string) error {
	if err := w.brokerBack(); err != nil {
		return err
	}
	return w.reconnect(name, true)
}

func (w *World) clientIsDestroyed(name string) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	cl.c.Destroy()
	cl.destroyed = true
	for _, m := range w.msgs {
		if m.cl == cl && m.lost == "" {
			m.lost = "the client was destroyed"
		}
	}
	return nil
}

func (w *World) newClient(name, id string, clean bool) error {
	if _, ok := w.clients[name]; ok {
		return fmt.Errorf("there is already a client %q in this scenario", name)
	}
	c, err := w.ctl.NewClient(id, clean)
	if err != nil {
		return fmt.Errorf("creating client %q: %w", name, err)
	}
	cl := &client{name: name, id: id, c: c, rec: controller.NewRecorder(c), clean: clean}
	w.clients[name] = cl
	w.order = append(w.order, cl)
	return nil
}

func (w *World) reconnect(name string, wait bool) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	r := cl.c.Reconnect()
	w.note(cl, "Reconnect", "", r)
	if !wait {
		return nil
	}
	if r.Code != 0 {
		return fmt.Errorf("Reconnect returned %d (%s)", r.Code, r.Err)
	}
	return w.awaitConnected(cl)
}

// awaitConnected waits for the client's next onConnect and requires success.
func (w *World) awaitConnected(cl *client) error {
	ev, err := w.nextEvent(cl, controller.OnConnect, 0)
	if err != nil {
		return err
	}
	if ev.Reason != 0 {
		return fmt.Errorf("client %q: onConnect reported %d (%s), not success", cl.name, ev.Reason, ev.Message)
	}
	return nil
}

// nextEvent waits for the client's next onConnect or onDisconnect that no
// earlier step has claimed.
func (w *World) nextEvent(cl *client, kind controller.EventKind, within time.Duration) (controller.Event, error) {
	seen := &cl.connSeen
	if kind == controller.OnDisconnect {
		seen = &cl.discSeen
	}
	ctx, cancel := w.waitCtx(within)
	defer cancel()
	evs, err := cl.rec.WaitN(ctx, controller.Is(kind, 0), *seen+1)
	if err != nil {
		return controller.Event{}, fmt.Errorf("client %q: no %s came: %v\n%s", cl.name, kind, err, w.eventLog(cl))
	}
	*seen++
	return evs[*seen-1], nil
}

// eventLog describes a client's callbacks so far, for failure messages.
func (w *World) eventLog(cl *client) string {
	evs := cl.rec.Events()
	if len(evs) == 0 {
		return fmt.Sprintf("client %q has had no callbacks", cl.name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "callbacks of client %q so far:", cl.name)
	for _, ev := range evs {
		b.WriteString("\n  ")
		b.WriteString(describeEvent(ev, w.started))
	}
	return b.String()
}

func describeEvent(ev controller.Event, t0 time.Time) string {
	at := ev.At.Sub(t0).Round(time.Millisecond)
	switch ev.Kind {
	case controller.OnPublish:
		return fmt.Sprintf("%6v onPublish id %d reason %d (%s)", at, ev.MsgID, ev.Reason, ev.Message)
	case controller.OnConnect, controller.OnDisconnect:
		return fmt.Sprintf("%6v %s reason %d (%s)", at, ev.Kind, ev.Reason, ev.Message)
	case controller.OnSubscribe:
		return fmt.Sprintf("%6v onSubscribe id %d granted %v", at, ev.MsgID, ev.Granted)
	case controller.OnUnsubscribe:
		return fmt.Sprintf("%6v onUnsubscribe id %d", at, ev.MsgID)
	case controller.OnMessage:
		return fmt.Sprintf("%6v onMessage %q on %q QoS %d", at, abbreviate(ev.Payload), ev.Topic, ev.QoS)
	case controller.OnLog:
		return fmt.Sprintf("%6v onLog %d %s", at, ev.Level, ev.Line)
	}
	return fmt.Sprintf("%6v %s", at, ev.Kind)
}

var errNoTable = errors.New("the step needs a table of property names and values below it")

// connect calls Connect on a client, and waits for its onConnect when
// wait says so.
func (w *World) connect(name string, keepalive int, props controller.Props, wait bool) error {
	cl, err := w.client(name)
	if err != nil {
		return err
	}
	host, port, err := w.dutHostPort()
	if err != nil {
		return err
	}
	cl.keepalive = keepalive
	r := cl.c.Connect(host, port, keepalive, props)
	w.note(cl, "Connect", fmt.Sprintf("keep-alive %d", keepalive), r)
	if !wait {
		return nil
	}
	if r.Code != 0 {
		return fmt.Errorf("Connect returned %d (%s)", r.Code, r.Err)
	}
	return w.awaitConnected(cl)
}
