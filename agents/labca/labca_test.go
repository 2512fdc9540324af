package labca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func openCA(t *testing.T, dir string) *CA {
	t.Helper()
	ca, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCAIssueAndVerifyHostAndIP(t *testing.T) {
	ca := openCA(t, t.TempDir())
	if cn := ca.Certificate().Subject.CommonName; !strings.HasPrefix(cn, "maillab lab CA ") {
		t.Errorf("CA subject %q", cn)
	}
	if c := ca.Certificate(); !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("CA constraints: IsCA %v MaxPathLen %d zero %v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if d := ca.Certificate().NotAfter.Sub(ca.Certificate().NotBefore); d < 9*365*24*time.Hour {
		t.Errorf("CA validity %v", d)
	}
	cert, err := ca.Issue("mx.a.example", loopback)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 398*24*time.Hour {
		t.Errorf("leaf validity %v, over 398 days", d)
	}
	if leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v looks small", leaf.SerialNumber)
	}
	for _, name := range []string{"mx.a.example", "127.0.0.1"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("verify %s usage %v: %v", name, usage, err)
			}
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mx.b.example", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verified for another host")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mx.a.example", Roots: x509.NewCertPool()}); err == nil {
		t.Error("leaf verified without the lab CA")
	}
	again, err := ca.Issue("MX.A.example.", loopback)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Error("second Issue made a new certificate, want the cached one")
	}
	if _, err := ca.Issue("../etc/passwd"); err == nil {
		t.Error("Issue accepted a path as a host name")
	}
}

func TestCAReloadKeepsTheSameCAAndLeaves(t *testing.T) {
	dir := t.TempDir()
	ca := openCA(t, dir)
	cert, err := ca.Issue("imap.b.example")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	again := openCA(t, dir)
	if !bytes.Equal(again.CertPEM(), ca.CertPEM()) {
		t.Error("reopened CA differs")
	}
	cert2, err := again.Issue("imap.b.example")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cert.Certificate[0], cert2.Certificate[0]) {
		t.Error("the leaf kept on disk was not reused")
	}
	if !again.Pool().Equal(ca.Pool()) {
		t.Error("pools differ")
	}
}

func TestCARefusesKeyReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	openCA(t, dir)
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("Open with a 0644 key: %v", err)
	}
}

func TestCARefusesKeyWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	openCA(t, dir)
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Error("Open replaced a CA whose certificate was missing")
	}
}

// handshake runs a TLS handshake over loopback between srv and cli and
// returns the client's error.
func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = io.WriteString(tc, "220 ok\r\n")
		done <- err
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, cli)
	cerr := tc.Handshake()
	if cerr == nil {
		buf := make([]byte, 8)
		_, cerr = io.ReadFull(tc, buf)
	} else {
		c.Close()
	}
	<-done
	return cerr
}

func TestCATLSHandshakeOnLoopback(t *testing.T) {
	ca := openCA(t, t.TempDir())
	srv, err := ca.ServerConfig("mx.a.example", loopback)
	if err != nil {
		t.Fatal(err)
	}
	if srv.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", srv.MinVersion)
	}
	if err := handshake(t, srv, ca.ClientConfig("mx.a.example")); err != nil {
		t.Errorf("client trusting the lab CA: %v", err)
	}
	if err := handshake(t, srv, ca.ClientConfig("127.0.0.1")); err != nil {
		t.Errorf("client naming the IP: %v", err)
	}
	empty := ca.ClientConfig("mx.a.example")
	empty.RootCAs = x509.NewCertPool()
	err = handshake(t, srv, empty)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client with an empty pool: %v, want an unknown-authority error", err)
	}
}
