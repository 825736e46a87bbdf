package emulator_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqtthil/mqtthil/emulator"
	"github.com/mqtthil/mqtthil/emulator/memnet"
	"github.com/mqtthil/mqtthil/emulator/testcerts"
)

// On an in-memory network, in a bubble: a TLS broker restarted for 30
// seconds is back after exactly 30 seconds of the bubble's clock, still
// speaking TLS, and Close ends every goroutine it started (synctest.Test
// fails otherwise).
func TestInMemoryBrokerRestartsWithTLS(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	// The certificates are valid around now on the real clock; a bubble's
	// clock starts in 2000, so both ends check them at the real time.
	made := time.Now()
	certTime := func() time.Time { return made }
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New()
		srvTLS := certs.Server(false)
		srvTLS.Time = certTime
		b, err := emulator.Start(context.Background(), emulator.Options{Listen: n.Listen, DUTTLS: srvTLS})
		if err != nil {
			t.Fatal(err)
		}
		handshake := func() error {
			c, err := n.DialContext(context.Background(), "tcp", b.DUTAddr)
			if err != nil {
				return err
			}
			defer c.Close()
			tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Time: certTime})
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			return tc.HandshakeContext(context.Background())
		}
		if err := handshake(); err != nil {
			t.Fatalf("TLS before the restart: %v", err)
		}
		start := time.Now()
		if err := b.Restart(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		<-b.Listener().Up()
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("the listener was back after %s of the bubble's clock, want 30s", took)
		}
		if err := handshake(); err != nil {
			t.Errorf("TLS after the restart: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
