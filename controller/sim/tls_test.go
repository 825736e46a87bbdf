package sim_test

import (
	"crypto/tls"
	"testing"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/controller/sim"
	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/journal"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

// TLS against the emulator's TLS listener, on a real socket: CA only,
// client certificate and key, the host name check and SetTlsInsecure.
func TestTLS(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		server   *tls.Config
		ca       string
		cert     bool
		insecure bool
		connects bool
		code     int // onDisconnect reason when it does not connect
	}{
		{"CA only", certs.Server(false), certs.CAFile, false, false, true, 0},
		{"unknown CA", certs.Server(false), certs.OtherCAFile, false, false, false, controller.ErrTLS},
		// Under TLS 1.3 the client finishes its handshake before the broker
		// checks the client certificate; the refusal comes as an alert on
		// the first read, which libmosquitto reports as an errno error.
		{"client certificate required, none given", certs.Server(true), certs.CAFile, false, false, false, controller.ErrErrno},
		{"client certificate and key", certs.Server(true), certs.CAFile, true, false, true, 0},
		{"wrong host name", certs.WrongName, certs.CAFile, false, false, false, controller.ErrTLS},
		{"wrong host name, insecure", certs.WrongName, certs.CAFile, false, true, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The 2.0.20 model reports a failed handshake; 2.0.11 does not
			// (TestTLSFailureByModel).
			x := start(t, setup{opts: emulator.Options{DUTTLS: tc.server}, noConn: true, sim: sim.Options{Model: controller.MustModel(controller.LatestModel)}})
			certFile, keyFile := "", ""
			if tc.cert {
				certFile, keyFile = certs.ClientCert, certs.ClientKey
			}
			x.ok(x.c.SetTlsCertificates(tc.ca, certFile, keyFile, ""), "SetTlsCertificates")
			x.ok(x.c.SetTlsInsecure(tc.insecure), "SetTlsInsecure")
			host, port := x.hostPort()
			x.ok(x.c.Connect(host, port, 60, nil), "Connect")
			ev, err := x.r.WaitFor(x.ctx, func(e controller.Event) bool {
				return e.Kind == controller.OnConnect || e.Kind == controller.OnDisconnect
			})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.connects {
				if ev.Kind != controller.OnDisconnect || ev.Reason != tc.code {
					t.Fatalf("got %s reason %d, want onDisconnect %d", ev.Kind, ev.Reason, tc.code)
				}
				return
			}
			if ev.Kind != controller.OnConnect || ev.Reason != 0 {
				t.Fatalf("got %s reason %d, want onConnect 0", ev.Kind, ev.Reason)
			}
			mid := x.pub("tls/t", "inside", 1, false, nil)
			x.onPublish(mid)
			// The fault layer sees the MQTT inside the TLS stream.
			if recs := x.wire(journal.Filter{Type: "PUBLISH", Dir: "to_broker"}, 1); recs[0].PacketID != mid || recs[0].Topic != "tls/t" {
				t.Fatalf("journal: %v", recs)
			}
		})
	}
}
