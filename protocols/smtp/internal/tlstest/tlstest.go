// Package tlstest makes a throwaway certificate authority for the SMTP
// server and client tests: one CA, one server certificate for "localhost"
// and 127.0.0.1 signed by it, and the tls.Configs both sides need.
//
// It imports nothing of maillab's (protocols never import agents, so the
// lab's own CA, agents/labca, is out of reach here).
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
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority and the server certificate it signed.
type CA struct {
	// PEM is the CA certificate, PEM-encoded, as CAfile options of
	// openssl, curl, swaks and Python's ssl module take it.
	PEM []byte
	// Pool holds the CA certificate: a client's RootCAs.
	Pool *x509.CertPool
	// Server is the certificate for "localhost" and 127.0.0.1, its chain
	// and key.
	Server tls.Certificate
}

var (
	once   sync.Once
	shared *CA
	err    error
)

// Shared returns one CA for the whole test binary, made on first use.
func Shared(t testing.TB) *CA {
	t.Helper()
	once.Do(func() { shared, err = New() })
	if err != nil {
		t.Fatalf("tlstest: %v", err)
	}
	return shared
}

// New makes a CA and a server certificate valid for "localhost" and
// 127.0.0.1 (and ::1), ECDSA P-256, valid from an hour ago for a day.
func New() (*CA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "maillab test CA"},
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
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
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
// 1.2 at least (RFC 8997).
func (ca *CA) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a client's TLS configuration that trusts the CA and
// expects the name serverName ("localhost" or "127.0.0.1").
func (ca *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// WritePEM writes the CA certificate to ca.pem in a temporary directory of
// t and returns its path.
func (ca *CA) WritePEM(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
