// Package tlstest makes throwaway certificate authorities for tests: a CA,
// a server certificate it signed (by default for "localhost", 127.0.0.1 and
// ::1), and the tls.Configs both ends of a connection need.
//
// It is test support for every package of the module, from the protocols
// up, so it imports nothing of maillab's (protocols never import agents, so
// the lab's own CA, agents/labca, is out of reach of most tests).
//
// # Security
//
// For tests only: the keys live in memory for the life of the process and
// the certificates are valid for a day.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CAName is the common name of the CA that New and Shared make.
const CAName = "maillab test CA"

// DefaultHosts are the names New and Shared's server certificate is for.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// CA is a certificate authority and the server certificate it signed.
type CA struct {
	// PEM is the CA certificate, PEM-encoded, as CAfile options of
	// openssl, curl, swaks and Python's ssl module take it.
	PEM []byte
	// Pool holds the CA certificate: a client's RootCAs.
	Pool *x509.CertPool
	// Server is the server certificate, its chain and key.
	Server tls.Certificate
}

var (
	once      sync.Once
	shared    *CA
	sharedErr error
)

// Shared returns one CA, made as New makes it, for the whole test binary;
// it is made on first use.
func Shared(t testing.TB) *CA {
	t.Helper()
	once.Do(func() { shared, sharedErr = Make(CAName, DefaultHosts...) })
	if sharedErr != nil {
		t.Fatalf("tlstest: %v", sharedErr)
	}
	return shared
}

// New makes a CA of its own for one test, with a server certificate for
// "localhost", 127.0.0.1 and ::1; it fails t if it cannot.
func New(t testing.TB) *CA {
	t.Helper()
	return NewFor(t, CAName, DefaultHosts...)
}

// NewFor is New with the CA's common name and the server's names chosen:
// each host is a DNS name or an IP address, and the first is the
// certificate's common name.
func NewFor(t testing.TB, caName string, hosts ...string) *CA {
	t.Helper()
	ca, err := Make(caName, hosts...)
	if err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	return ca
}

// Make makes a CA called caName and a server certificate it signed for
// hosts (DNS names or IP addresses, the first the common name); ECDSA
// P-256, valid from an hour ago for a day.
func Make(caName string, hosts ...string) (*CA, error) {
	if len(hosts) == 0 {
		return nil, errors.New("a server certificate needs at least one host")
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &CA{
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Pool:   pool,
		Server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}, nil
}

// ServerConfig returns a server's TLS configuration: the certificate, TLS
// 1.2 at least (RFC 8997). Each call returns a new Config, free to change.
func (ca *CA) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a client's TLS configuration that trusts the CA
// only and expects the name serverName; "" leaves ServerName for the
// client code under test to fill in from the address it dials. Each call
// returns a new Config, free to change.
func (ca *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// WritePEM writes the CA certificate to ca.pem in a temporary directory of
// t and returns its path, for the CAfile options of external clients.
func (ca *CA) WritePEM(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
