package tlstest

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func verify(t *testing.T, ca *CA, pool *x509.CertPool, name string) error {
	t.Helper()
	leaf, err := x509.ParseCertificate(ca.Server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestNewVerifiesForTheLoopbackNames(t *testing.T) {
	ca := New(t)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(t, ca, ca.Pool, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := verify(t, ca, ca.Pool, "mx.a.test"); err == nil {
		t.Error("the certificate verifies for mx.a.test")
	}
	if err := verify(t, ca, New(t).Pool, "localhost"); err == nil {
		t.Error("another CA trusts the certificate")
	}
	if b, _ := pem.Decode(ca.PEM); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("PEM %q", ca.PEM)
	}
}

func TestNewForNamesTheCAAndTheServer(t *testing.T) {
	ca := NewFor(t, "test lab CA", "mx.a.test")
	leaf, err := x509.ParseCertificate(ca.Server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "mx.a.test" || leaf.Issuer.CommonName != "test lab CA" {
		t.Errorf("subject %q issuer %q", leaf.Subject, leaf.Issuer)
	}
	if err := verify(t, ca, ca.Pool, "mx.a.test"); err != nil {
		t.Error(err)
	}
	if _, err := Make("x"); err == nil {
		t.Error("Make without hosts succeeded")
	}
}

func TestSharedIsOneCA(t *testing.T) {
	if Shared(t) != Shared(t) {
		t.Error("Shared made two CAs")
	}
}
