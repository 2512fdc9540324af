package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maillab/maillab/internal/testtool"
)

// The TLS interop tests run real clients against "maillab up tls-and-auth",
// every one verifying the servers' certificates against the lab CA that
// "maillab ca export" writes.

// tlsLab starts the lab and exports its CA with maillab ca export.
func tlsLab(t *testing.T) (*lab, string) {
	t.Helper()
	l := startLab(t, "tls-and-auth")
	if l.info.CA == "" {
		t.Fatalf("maillab up --json names no CA: %+v", l.info)
	}
	out := filepath.Join(t.TempDir(), "lab-ca.pem")
	cmd := exec.Command(maillabBinary(t), "ca", "export", "--dir", l.info.Dir, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("maillab ca export: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(l.info.CA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || !bytes.Contains(got, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("maillab ca export wrote something else than the lab's CA:\n%s", got)
	}
	return l, out
}

func TestInteropSwaksSubmissionTLS(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	l, ca := tlsLab(t)
	host, port := splitHostPort(l.agentAddr(t, "mx.a.example", "submission"))
	_, sport := splitHostPort(l.agentAddr(t, "mx.a.example", "submissions"))
	base := []string{"--server", host, "--tls-verify", "--tls-ca-path", ca, "--to", "bob@a.example", "--timeout", "30"}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(swaks, append(append([]string{}, base...), args...)...).CombinedOutput()
		return string(out), err
	}
	// STARTTLS on 587 with AUTH: delivered.
	if out, err := run("--port", port, "--tls", "--from", "alice@a.example", "--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", "alice-secret", "--header", "Subject: swaks 587"); err != nil || !strings.Contains(out, "235 2.7.0") {
		t.Fatalf("swaks --tls with AUTH on 587: %v\n%s", err, out)
	}
	// TLS from the first byte on 465.
	if out, err := run("--port", sport, "--tlsc", "--from", "alice@a.example", "--auth", "LOGIN", "--auth-user", "alice@a.example", "--auth-password", "alice-secret", "--header", "Subject: swaks 465"); err != nil {
		t.Fatalf("swaks --tlsc on 465: %v\n%s", err, out)
	}
	// No AUTH on 587: refused at MAIL.
	if out, err := run("--port", port, "--tls", "--from", "alice@a.example"); err == nil || !strings.Contains(out, "530 5.7.0") {
		t.Fatalf("swaks without AUTH on 587: err %v, want 530 5.7.0:\n%s", err, out)
	}
	// AUTH in clear on 587 is not offered: swaks gives up before sending it.
	if out, err := run("--port", port, "--from", "alice@a.example", "--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", "alice-secret"); err == nil {
		t.Fatalf("swaks AUTH without TLS on 587 succeeded:\n%s", out)
	}
	// Alice may not send as Bob.
	if out, err := run("--port", port, "--tls", "--from", "bob@a.example", "--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", "alice-secret"); err == nil || !strings.Contains(out, "553 5.7.1") {
		t.Fatalf("swaks sending as another user: err %v, want 553 5.7.1:\n%s", err, out)
	}
	// A wrong password never shows in the transcript, in clear or in base64.
	wrong := "Wr0ng-Pa55word"
	_, _ = run("--port", port, "--tls", "--from", "alice@a.example", "--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", wrong)
	waitMessages(t, l.info.Maildir, "bob@a.example", 2, l.stderr.String)
	tr := l.stderr.String()
	b64 := base64.StdEncoding.EncodeToString([]byte("\x00alice@a.example\x00" + wrong))
	if strings.Contains(tr, wrong) || strings.Contains(tr, b64) || strings.Contains(tr, "alice-secret") {
		t.Errorf("a password appears in the transcript")
	}
	// swaks is outside the lab: the server side records its handshakes.
	if !strings.Contains(tr, "handshake done") {
		t.Errorf("no TLS handshake in the transcript:\n%s", tr)
	}
}

func TestInteropCurlAndOpenSSLWithTheLabCA(t *testing.T) {
	curl := testtool.RequireTool(t, "curl")
	openssl := testtool.RequireTool(t, "openssl")
	l, ca := tlsLab(t)
	sub := l.agentAddr(t, "mx.a.example", "submission")
	host, port := splitHostPort(sub)
	msg := "From: alice@a.example\r\nTo: bob@a.example\r\nSubject: curl over STARTTLS\r\n\r\nhello\r\n"
	cmd := exec.Command(curl, "-sS", "--ssl-reqd", "--cacert", ca, "smtp://"+host+":"+port, "--mail-from", "alice@a.example",
		"--mail-rcpt", "bob@a.example", "--user", "alice@a.example:alice-secret", "--upload-file", "-")
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl smtp --ssl-reqd: %v\n%s", err, out)
	}
	waitMessages(t, l.info.Maildir, "bob@a.example", 1, l.stderr.String)
	ihost, iport := splitHostPort(l.agentAddr(t, "mda.a.example", "imaps"))
	out, err := exec.Command(curl, "-sS", "--cacert", ca, "imaps://"+ihost+":"+iport+"/INBOX", "--user", "bob@a.example:bob-secret", "-X", "EXAMINE INBOX").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "EXISTS") {
		t.Fatalf("curl imaps: %v\n%s", err, out)
	}
	phost, pport := splitHostPort(l.agentAddr(t, "mda.a.example", "pop3"))
	out, err = exec.Command(curl, "-sS", "--ssl-reqd", "--cacert", ca, "pop3://"+phost+":"+pport+"/", "--user", "bob@a.example:bob-secret").CombinedOutput()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), "1 ") {
		t.Fatalf("curl pop3 --ssl-reqd (STLS): %v\n%s", err, out)
	}
	// Without the CA, curl refuses the certificate (exit 60).
	c := exec.Command(curl, "-sS", "imaps://"+ihost+":"+iport+"/INBOX", "--user", "bob@a.example:bob-secret")
	if _ = c.Run(); c.ProcessState.ExitCode() != 60 {
		t.Errorf("curl without the lab CA exited %d, want 60 (certificate problem)", c.ProcessState.ExitCode())
	}
	for _, tc := range []struct{ proto, addr string }{
		{"smtp", sub},
		{"imap", l.agentAddr(t, "mda.a.example", "imap")},
		{"pop3", l.agentAddr(t, "mda.a.example", "pop3")},
	} {
		c := exec.Command(openssl, "s_client", "-connect", tc.addr, "-starttls", tc.proto, "-CAfile", ca, "-verify_return_error", "-verify_ip", "127.0.0.1", "-brief")
		c.Stdin = strings.NewReader("")
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Errorf("openssl s_client -starttls %s: %v\n%s", tc.proto, err, out)
		}
	}
}

func TestInteropPythonTLSClients(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l, ca := tlsLab(t)
	shost, sport := splitHostPort(l.agentAddr(t, "mx.a.example", "submissions"))
	_, subport := splitHostPort(l.agentAddr(t, "mx.a.example", "submission"))
	_, imapsPort := splitHostPort(l.agentAddr(t, "mda.a.example", "imaps"))
	_, imapPort := splitHostPort(l.agentAddr(t, "mda.a.example", "imap"))
	_, pop3sPort := splitHostPort(l.agentAddr(t, "mda.a.example", "pop3s"))
	_, pop3Port := splitHostPort(l.agentAddr(t, "mda.a.example", "pop3"))
	script := `
import imaplib, poplib, smtplib, ssl, sys
host, ca = sys.argv[1], sys.argv[2]
sport, subport, imaps, imap, pop3s, pop3 = map(int, sys.argv[3:9])
ctx = ssl.create_default_context(cafile=ca)
msg = "From: alice@a.example\r\nTo: bob@a.example\r\nSubject: from python\r\n\r\nhi\r\n"
with smtplib.SMTP_SSL(host, sport, context=ctx, timeout=30) as s:
    s.login("alice@a.example", "alice-secret")
    s.sendmail("alice@a.example", ["bob@a.example"], msg)
with smtplib.SMTP(host, subport, timeout=30) as s:
    s.ehlo()
    assert not s.has_extn("auth"), "AUTH offered before TLS on 587"
    s.starttls(context=ctx)
    s.ehlo()
    assert s.has_extn("auth"), "AUTH not offered after STARTTLS"
    s.login("alice@a.example", "alice-secret")
    s.sendmail("alice@a.example", ["bob@a.example"], msg)
m = imaplib.IMAP4(host, imap)
assert b"LOGINDISABLED" in m.capabilities or "LOGINDISABLED" in m.capabilities, m.capabilities
m.starttls(ssl_context=ctx)
m.login("bob@a.example", "bob-secret")
typ, data = m.select("INBOX")
assert typ == "OK", (typ, data)
m.logout()
m = imaplib.IMAP4_SSL(host, imaps, ssl_context=ctx)
m.login("bob@a.example", "bob-secret")
m.logout()
p = poplib.POP3(host, pop3, timeout=30)
p.stls(context=ctx)
p.user("bob@a.example"); p.pass_("bob-secret")
p.quit()
p = poplib.POP3_SSL(host, pop3s, context=ctx, timeout=30)
p.user("bob@a.example"); p.pass_("bob-secret")
print("count", p.stat()[0])
p.quit()
`
	out, err := exec.Command(py, "-c", script, shost, ca, sport, subport, imapsPort, imapPort, pop3sPort, pop3Port).CombinedOutput()
	if err != nil {
		t.Fatalf("python TLS clients: %v\n%s\ntranscript:\n%s", err, out, l.stderr)
	}
	// The script's message has no Date or Message-ID: the submission
	// server added both (RFC 6409 section 8).
	for _, f := range waitMessages(t, l.info.Maildir, "bob@a.example", 2, l.stderr.String) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\r\nDate: ") || !strings.Contains(string(b), "\r\nMessage-ID: <") {
			t.Errorf("a submitted message lacks the Date or Message-ID the MSA adds:\n%s", b)
		}
	}
}

// maillab fetch and send speak TLS too.
func TestFetchAndSendOverTLS(t *testing.T) {
	bin := maillabBinary(t)
	l, ca := tlsLab(t)
	out, err := exec.Command(bin, "send", "--no-color", "--server", l.agentAddr(t, "mx.a.example", "submissions"), "--tls", "implicit", "--cacert", ca,
		"--auth-user", "alice@a.example", "--auth-password", "alice-secret", "--from", "alice@a.example", "--to", "bob@a.example", "--subject", "via maillab send").CombinedOutput()
	if err != nil {
		t.Fatalf("maillab send --tls implicit: %v\n%s", err, out)
	}
	waitMessages(t, l.info.Maildir, "bob@a.example", 1, l.stderr.String)
	out, err = exec.Command(bin, "fetch", "--no-color", "--imap", l.agentAddr(t, "mda.a.example", "imap"), "--tls", "starttls", "--cacert", ca,
		"--user", "bob@a.example", "--password", "bob-secret").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "via maillab send") || !strings.Contains(string(out), "handshake done") {
		t.Fatalf("maillab fetch --tls starttls: %v\n%s", err, out)
	}
	// In clear, this MDA refuses the password: exit code 1.
	c := exec.Command(bin, "fetch", "--no-color", "--pop3", l.agentAddr(t, "mda.a.example", "pop3"), "--user", "bob@a.example", "--password", "bob-secret")
	out, _ = c.CombinedOutput()
	if c.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "TLS required") {
		t.Errorf("maillab fetch --pop3 in clear: exit %d, want 1 and a TLS refusal:\n%s", c.ProcessState.ExitCode(), out)
	}
}
