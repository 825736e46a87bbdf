package steps

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/faults"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
	"github.com/mqtthil/mqtthil/record"
)

// Broker setup: what the broker advertises and whom it lets in. These steps
// come before the first client connects.
func init() {
	def("broker", "a broker",
		"Starts the scenario's broker now (it also starts by itself when first needed).",
		"a broker", "", (*World).aBroker)
	def("broker", "the broker allows at most QoS {qos}",
		"The broker's Maximum QoS, told to MQTT 5 clients in CONNACK.",
		"the broker allows at most QoS 1", "", (*World).brokerAllowsMostQoS)
	def("broker", "the broker accepts at most {count} messages in flight per client",
		"The broker's Receive Maximum, told to MQTT 5 clients in CONNACK.",
		"the broker accepts at most 3 messages in flight per client", "", (*World).brokerAcceptsMostMessagesFlightPerClient)
	def("broker", "the broker does not keep retained messages",
		"The broker says Retain Available = 0 in CONNACK.",
		"the broker does not keep retained messages", "", (*World).brokerDoesNotKeepRetainedMessages)
	def("broker", "the broker accepts packets of at most {count} bytes",
		"The broker's Maximum Packet Size, told to MQTT 5 clients in CONNACK.",
		"the broker accepts packets of at most 30 bytes", "", (*World).brokerAcceptsPacketsMostBytes)
	def("broker", "the broker lets in only user {name} with password {text}",
		"Credentials on the device-under-test listener; other clients are refused.",
		`the broker lets in only user "driver" with password "secret"`, "", (*World).brokerLetsOnlyUserPassword)
	def("broker", "the broker speaks TLS",
		"The device-under-test listener speaks TLS with a certificate for 127.0.0.1 from a throw-away CA; clients find the CA as \"broker-tls/ca.pem\" (a stranger's CA as \"broker-tls/other-ca.pem\").",
		"the broker speaks TLS", "", (*World).brokerSpeaksTLS)
	def("broker", "the broker speaks TLS and requires a client certificate",
		"As above, and clients must present a certificate from the same CA: \"broker-tls/client.pem\" with the key \"broker-tls/client-key.pem\".",
		"the broker speaks TLS and requires a client certificate", "", (*World).brokerSpeaksTLSRequiresClientCertificate)
	def("broker", "the broker speaks TLS with a certificate for another host name",
		"TLS with a certificate from the same CA but for another host: only a client that skips the host name check connects.",
		"the broker speaks TLS with a certificate for another host name", "", (*World).brokerSpeaksTLSCertificateAnotherHostName)
	def("broker", "the broker restarts and stays down for {duration}",
		"Restarts the broker now: every connection closes, sessions are kept, new connections wait until it is back.",
		"the broker restarts and stays down for 500 milliseconds", "", (*World).brokerRestartsNow)
	def("broker", "the broker closes the connection to client {name} now",
		"Closes the client's connection at once, without a DISCONNECT: the client sees the connection lost.",
		`the broker closes the connection to client "sensor" now`, "", (*World).brokerClosesConnectionToNow)
	def("broker", "the broker disconnects client {name} now with reason {int}",
		"Sends an MQTT 5 client a DISCONNECT with this reason code (hex allowed), then closes the connection.",
		`the broker disconnects client "sensor" now with reason 0x98`, "", (*World).brokerDisconnectsClientNow)
	def("broker", "the broker is back",
		"Waits until the broker accepts connections again after a restart.",
		"the broker is back", "", (*World).brokerIsBack)
	def("broker", "the broker behaves again",
		"Disarms every fault rule.",
		"the broker behaves again", "", (*World).brokerBehavesAgain)
	def("broker", "the broker follows the fault plan {name}",
		"Arms the rules of a fault plan file (YAML) from the fixtures folder.",
		`the broker follows the fault plan "plans/slow-acks.yaml"`, "", (*World).brokerFollowsFaultPlan)
}

func (w *World) aBroker() error {
	_, err := w.broker()
	return err
}

func (w *World) brokerAllowsMostQoS(qos int) error {
	if err := w.brokerNotStarted("the broker's maximum QoS"); err != nil {
		return err
	}
	w.bopts.Profile.MaximumQoS = &qos
	return nil
}

func (w *World) brokerAcceptsMostMessagesFlightPerClient(n int) error {
	if err := w.brokerNotStarted("the broker's receive maximum"); err != nil {
		return err
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("a receive maximum of %d is out of range: expected 1 to 65535", n)
	}
	w.bopts.Profile.ReceiveMaximum = n
	return nil
}

func (w *World) brokerDoesNotKeepRetainedMessages() error {
	if err := w.brokerNotStarted("retain available"); err != nil {
		return err
	}
	f := false
	w.bopts.Profile.RetainAvailable = &f
	return nil
}

func (w *World) brokerAcceptsPacketsMostBytes(n int) error {
	if err := w.brokerNotStarted("the broker's maximum packet size"); err != nil {
		return err
	}
	if n < 1 {
		return errors.New("a maximum packet size must be 1 byte or more")
	}
	w.bopts.Profile.MaximumPacketSize = n
	return nil
}

func (w *World) brokerLetsOnlyUserPassword(user, pass string) error {
	if err := w.brokerNotStarted("the broker's credentials"); err != nil {
		return err
	}
	if w.bopts.DUTAuth == nil {
		w.bopts.DUTAuth = map[string]string{}
	}
	w.bopts.DUTAuth[user] = pass
	return nil
}

func (w *World) brokerSpeaksTLS() error {
	return w.brokerTLS(func(s *testcerts.Set) *tls.Config { return s.Server(false) })
}

func (w *World) brokerSpeaksTLSRequiresClientCertificate() error {
	return w.brokerTLS(func(s *testcerts.Set) *tls.Config { return s.Server(true) })
}

func (w *World) brokerSpeaksTLSCertificateAnotherHostName() error {
	return w.brokerTLS(func(s *testcerts.Set) *tls.Config { return s.WrongName })
}

func (w *World) brokerRestartsNow(d time.Duration) error {
	b, err := w.broker()
	if err != nil {
		return err
	}
	return b.Restart(w.scaled(d))
}

func (w *World) brokerClosesConnectionToNow(name string) error {
	mc, err := w.connectedOnBroker(name)
	if err != nil {
		return err
	}
	mc.Stop(fmt.Errorf("the scenario closed client %q's connection", name))
	return nil
}

func (w *World) brokerDisconnectsClientNow(name string, reason int) error {
	if reason < 0 || reason > 255 {
		return fmt.Errorf("reason %d is out of range: expected 0 to 255 (0x00 to 0xFF)", reason)
	}
	mc, err := w.connectedOnBroker(name)
	if err != nil {
		return err
	}
	if mc.Properties.ProtocolVersion != 5 {
		return fmt.Errorf("client %q speaks MQTT %d, which has no DISCONNECT from the broker: use \"the broker closes the connection to client %q now\"", name, mc.Properties.ProtocolVersion, name)
	}
	err = w.b.Server().DisconnectClient(mc, packets.Code{Code: byte(reason), Reason: controller.ReasonString(reason)})
	// mochi returns the reason it sent as the error of the connection it
	// ended.
	if c := (packets.Code{}); err != nil && !errors.As(err, &c) {
		return fmt.Errorf("disconnecting client %q: %w", name, err)
	}
	return nil
}

// connectedOnBroker is the broker's side of a connected client.
func (w *World) connectedOnBroker(name string) (*mqtt.Client, error) {
	id, b, err := w.clientOnBroker(name)
	if err != nil {
		return nil, err
	}
	mc, ok := b.Server().Clients.Get(id)
	if !ok || mc.Closed() {
		return nil, fmt.Errorf("client %q is not connected to the broker", name)
	}
	return mc, nil
}

func (w *World) brokerIsBack() error {
	return w.brokerBack()
}

func (w *World) brokerBehavesAgain() error {
	b, err := w.broker()
	if err != nil {
		return err
	}
	w.countFired()
	b.Faults.Reset()
	return nil
}

func (w *World) brokerFollowsFaultPlan(file string) error {
	plan, err := faults.LoadPlan(w.fixture(file))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHarness, err)
	}
	b, err := w.broker()
	if err != nil {
		return err
	}
	names, err := plan.Arm(b.Faults)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrHarness, file, err)
	}
	// A plan describes a link's weather (probabilities, windows), not one
	// event: its rules may end a scenario without firing.
	for _, n := range names {
		w.armed = append(w.armed, &armedRule{FaultRule: record.FaultRule{Name: n, Match: "rule " + n + " of " + file, From: file, Optional: true}})
	}
	return nil
}

func (w *World) brokerBack() error {
	b, err := w.broker()
	if err != nil {
		return err
	}
	ctx, cancel := w.waitCtx(0)
	defer cancel()
	select {
	case <-b.Listener().Up():
		return nil
	case <-ctx.Done():
		return errors.New("the broker did not come back within the deadline")
	}
}

// brokerTLS makes a throw-away CA for the scenario and has the broker speak
// TLS with the configuration pick chooses.
func (w *World) brokerTLS(pick func(*testcerts.Set) *tls.Config) error {
	if err := w.brokerNotStarted("TLS"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mqtthil-tls-")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHarness, err)
	}
	w.cleanup = append(w.cleanup, func() {
		// A throw-away folder left in the temporary directory harms
		// nothing; the scenario has ended.
		_ = os.RemoveAll(dir)
	})
	certs, err := testcerts.Write(dir)
	if err != nil {
		return fmt.Errorf("%w: making certificates: %v", ErrHarness, err)
	}
	w.tlsDir = dir
	w.bopts.DUTTLS = pick(certs)
	return nil
}
