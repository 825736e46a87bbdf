// Package testcerts makes a throw-away certificate authority with a broker
// certificate for 127.0.0.1 and localhost and a client certificate, for
// tests and local runs of TLS. Nothing it makes is fit for a real bench.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Set is a CA, a broker certificate and a client certificate, as PEM files
// in one folder, and the broker's TLS configuration.
type Set struct {
	CAFile, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCAFile is a second, unrelated CA: a client that trusts it
	// must refuse the broker.
	OtherCAFile string
	// Server presents the broker certificate; requireClientCert makes it
	// refuse clients without a certificate from the CA.
	Server func(requireClientCert bool) *tls.Config
	// WrongName presents a certificate from the same CA for another host
	// name: only a client that skips the name check accepts it.
	WrongName *tls.Config
}

// Write makes a fresh set in dir.
func Write(dir string) (*Set, error) {
	ca, caKey, caPEM, err := authority("mqtthil test CA")
	if err != nil {
		return nil, err
	}
	_, _, otherPEM, err := authority("some other CA")
	if err != nil {
		return nil, err
	}
	serverPEM, serverKeyPEM, err := leaf(ca, caKey, "broker", true)
	if err != nil {
		return nil, err
	}
	wrongPEM, wrongKeyPEM, err := leaf(ca, caKey, "elsewhere.invalid", true)
	if err != nil {
		return nil, err
	}
	clientPEM, clientKeyPEM, err := leaf(ca, caKey, "controller", false)
	if err != nil {
		return nil, err
	}
	s := &Set{
		CAFile: filepath.Join(dir, "ca.pem"), OtherCAFile: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "broker.pem"), ServerKey: filepath.Join(dir, "broker-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	for path, data := range map[string][]byte{s.CAFile: caPEM, s.OtherCAFile: otherPEM, s.ServerCert: serverPEM,
		s.ServerKey: serverKeyPEM, s.ClientCert: clientPEM, s.ClientKey: clientKeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	pair, err := tls.X509KeyPair(serverPEM, serverKeyPEM)
	if err != nil {
		return nil, err
	}
	wrong, err := tls.X509KeyPair(wrongPEM, wrongKeyPEM)
	if err != nil {
		return nil, err
	}
	s.WrongName = &tls.Config{Certificates: []tls.Certificate{wrong}, MinVersion: tls.VersionTLS12}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	s.Server = func(require bool) *tls.Config {
		cfg := &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, MinVersion: tls.VersionTLS12,
			ClientAuth: tls.VerifyClientCertIfGiven}
		if require {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return cfg
	}
	return s, nil
}

func authority(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	switch {
	case server && name == "broker":
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
	case server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{name}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("testcerts: no randomness: %v", err))
	}
	return n
}
