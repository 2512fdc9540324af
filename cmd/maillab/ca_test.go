package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCAHelp(t *testing.T) {
	for _, args := range [][]string{{"ca", "--help"}, {"ca", "export", "--help"}, {"help", "ca", "export"}} {
		var c cli
		if code := c.run(t, args...); code != exitOK {
			t.Errorf("maillab %s: exit %d", strings.Join(args, " "), code)
		}
		if !strings.Contains(c.stdout.String(), "Usage:") {
			t.Errorf("maillab %s printed no usage:\n%s", strings.Join(args, " "), c.stdout.String())
		}
	}
}

// caFromPEM parses the certificate in b.
func caFromPEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM in %q", b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCAExportToAFileKeepsTheLabsCA(t *testing.T) {
	lab := t.TempDir()
	file := filepath.Join(t.TempDir(), "lab-ca.pem")
	var c cli
	if code := c.run(t, "ca", "export", "--dir", lab, "-o", file); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, c.stderr.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cert := caFromPEM(t, b)
	if !cert.IsCA || !strings.HasPrefix(cert.Subject.CommonName, "maillab lab CA ") {
		t.Errorf("exported %v, IsCA %v", cert.Subject, cert.IsCA)
	}
	for _, want := range []string{"curl --cacert " + file, "openssl s_client -CAfile " + file, "swaks --tls --tls-ca-path " + file,
		"ssl.create_default_context(cafile=", "Thunderbird", "Manage Certificates"} {
		if !strings.Contains(c.stdout.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, c.stdout.String())
		}
	}
	if _, err := os.Stat(filepath.Join(lab, "ca", "ca-key.pem")); err != nil {
		t.Errorf("the CA's key is not in DIR/ca: %v", err)
	}
	// Again, to stdout: the same CA, and only the PEM on stdout.
	var again cli
	if code := again.run(t, "ca", "export", "--dir", lab); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, again.stderr.String())
	}
	if got := again.stdout.String(); got != string(b) {
		t.Errorf("second export differs or carries more than the PEM:\n%s", got)
	}
	if !strings.Contains(again.stderr.String(), filepath.Join(lab, "ca", "ca.pem")) {
		t.Errorf("stderr does not name the CA file:\n%s", again.stderr.String())
	}
}

func TestCAExportErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"ca", "export"}, exitUsage},
		{[]string{"ca"}, exitUsage},
		{[]string{"ca", "export", "--dir", t.TempDir(), "extra"}, exitUsage},
		{[]string{"ca", "export", "--dir", t.TempDir(), "-o", filepath.Join(t.TempDir(), "no", "such", "dir", "ca.pem")}, exitRuntime},
	} {
		var c cli
		if code := c.run(t, tc.args...); code != tc.code {
			t.Errorf("maillab %s: exit %d, want %d; stderr: %s", strings.Join(tc.args, " "), code, tc.code, c.stderr.String())
		}
	}
	lab := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lab, "ca"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A key readable by others is refused.
	var c cli
	if code := c.run(t, "ca", "export", "--dir", lab); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if err := os.Chmod(filepath.Join(lab, "ca", "ca-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	var bad cli
	if code := bad.run(t, "ca", "export", "--dir", lab); code != exitRuntime || !strings.Contains(bad.stderr.String(), "readable by others") {
		t.Errorf("exit %d, stderr %q", code, bad.stderr.String())
	}
}

func TestWireAndShowSecretsFlags(t *testing.T) {
	// up registers its transcript flags itself: it gets them with
	// addViewFlags.
	for _, cmd := range []string{"run", "send", "fetch"} {
		var c cli
		if code := c.run(t, cmd, "--help"); code != exitOK {
			t.Fatalf("exit %d", code)
		}
		for _, flag := range []string{"--wire", "--show-secrets"} {
			if !strings.Contains(c.stdout.String(), flag) {
				t.Errorf("maillab %s has no %s", cmd, flag)
			}
		}
	}
	var c cli
	if code := c.run(t, "run", "--wire"); code != exitOK {
		t.Fatalf("maillab run --wire: exit %d\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "alice-laptop     C: EHLO alice-laptop.example.test") {
		t.Errorf("the wire view of a plaintext session lacks its lines:\n%s", c.stdout.String())
	}
}
