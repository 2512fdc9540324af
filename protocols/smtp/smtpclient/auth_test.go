package smtpclient

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/smtp"
)

const ehloWithAuth = `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250-PIPELINING
S: 250-AUTH PLAIN LOGIN
S: 250 ENHANCEDSTATUSCODES`

func TestAuthPlain(t *testing.T) {
	conn, p := startPeer(t, ehloWithAuth+`
C: AUTH PLAIN AGFsaWNlQGEudGVzdABzZWNyZXQ=
S: 235 2.7.0 Authentication successful
`)
	tap := &tapConn{Conn: conn}
	c, err := NewClient(tap, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("plain", "alice@a.test", "secret"); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	want := []string{
		"write EHLO client.a.test\r\n",
		"mark C 2", "write AUTH PLAIN AGFsaWNlQGEudGVzdABzZWNyZXQ=\r\n", "mark C 0",
	}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("writes and marks (-want +got):\n%s", diff)
	}
	p.Check(conn)
}

func TestAuthLogin(t *testing.T) {
	conn, p := startPeer(t, ehloWithAuth+`
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: YWxpY2VAYS50ZXN0
S: 334 UGFzc3dvcmQ6
C: c2VjcmV0
S: 235 2.7.0 Authentication successful
`)
	tap := &tapConn{Conn: conn}
	opts := testOptions()
	var seen []string
	opts.BeforeCommand = func(line string) error { seen = append(seen, line); return nil }
	c, err := NewClient(tap, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("LOGIN", "alice@a.test", "secret"); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	want := []string{
		"write EHLO client.a.test\r\n",
		"write AUTH LOGIN\r\n",
		"mark C 2", "write YWxpY2VAYS50ZXN0\r\n", "mark C 0",
		"mark C 2", "write c2VjcmV0\r\n", "mark C 0",
	}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("writes and marks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"EHLO client.a.test", "AUTH LOGIN", "***", "***"}, seen); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}
	p.Check(conn)
}

// RFC 4954 section 4: an initial response that would make the command line
// longer than 512 octets is sent after the empty challenge instead.
func TestAuthPlainLongCredentialsWaitForChallenge(t *testing.T) {
	pass := strings.Repeat("p", 400)
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice@a.test\x00" + pass))
	conn, p := startPeer(t, ehloWithAuth+`
C: AUTH PLAIN
S: 334 
C: `+ir+`
S: 235 2.7.0 OK
`)
	tap := &tapConn{Conn: conn}
	c, err := NewClient(tap, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("PLAIN", "alice@a.test", pass); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	want := []string{"write EHLO client.a.test\r\n", "write AUTH PLAIN\r\n", "mark C 2", "write " + ir + "\r\n", "mark C 0"}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("writes and marks (-want +got):\n%s", diff)
	}
	p.Check(conn)
}

func TestAuthRefused(t *testing.T) {
	c, conn, p := dialPeer(t, ehloWithAuth+`
C: AUTH PLAIN AGFsaWNlQGEudGVzdABndWVzcw==
S: 535 5.7.8 Authentication credentials invalid
C: MAIL FROM:<alice@a.test>
S: 250 2.1.0 OK
`, testOptions())
	err := c.Auth("PLAIN", "alice@a.test", "guess")
	if smtpCode(err) != 535 || err.Error() != "smtpclient: AUTH PLAIN: 535 5.7.8 Authentication credentials invalid" {
		t.Errorf("Auth = %v; want the 535 as *smtp.Error", err)
	}
	// The session goes on.
	if err := c.Mail(alice, smtp.MailParams{}); err != nil {
		t.Errorf("Mail after a refused AUTH: %v", err)
	}
	p.Check(conn)
}

func TestAuthLoginRefusedAtUserName(t *testing.T) {
	c, conn, p := dialPeer(t, ehloWithAuth+`
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: Ym9i
S: 454 4.7.0 Temporary authentication failure
`, testOptions())
	err := c.Auth("LOGIN", "bob", "secret")
	if smtpCode(err) != 454 || strings.Contains(err.Error(), "Ym9i") {
		t.Errorf("Auth = %v; want the 454 and no credentials", err)
	}
	p.Check(conn)
}

func TestAuthNotOffered(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 AUTH=PLAIN
`, testOptions())
	if err := c.Hello(""); err != nil {
		t.Fatal(err)
	}
	if got := c.AuthMechanisms(); !cmp.Equal(got, []string{"PLAIN"}) {
		t.Errorf("AuthMechanisms() = %q, want [PLAIN] from the old AUTH= form", got)
	}
	err := c.Auth("LOGIN", "alice", "secret")
	if err == nil || err.Error() != "smtpclient: AUTH LOGIN: the server offers only AUTH PLAIN" {
		t.Errorf("Auth LOGIN = %v", err)
	}
	p.Check(conn) // nothing sent
}

func TestAuthNoAuthExtension(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
`, testOptions())
	err := c.Auth("PLAIN", "alice", "secret")
	if err == nil || !strings.Contains(err.Error(), "does not offer AUTH") || c.AuthMechanisms() != nil {
		t.Errorf("Auth = %v, AuthMechanisms() = %q", err, c.AuthMechanisms())
	}
	p.Check(conn)
}

func TestAuthUnsupportedMechanism(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 AUTH CRAM-MD5 PLAIN
`, testOptions())
	err := c.Auth("cram-md5", "alice", "secret")
	if err == nil || !strings.Contains(err.Error(), "not supported by this client") {
		t.Errorf("Auth CRAM-MD5 = %v", err)
	}
	if err := c.Auth("PLAIN", "alice", "se\x00cret"); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("Auth with a NUL = %v", err)
	}
	p.Check(conn)
}

// A server asking for more than the mechanism has to say gets "*" (RFC 4954
// section 4) and the exchange ends.
func TestAuthUnexpectedChallengeIsCancelled(t *testing.T) {
	c, conn, p := dialPeer(t, ehloWithAuth+`
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: 334 bW9yZT8=
C: *
S: 501 5.7.0 Authentication cancelled
`, testOptions())
	err := c.Auth("PLAIN", "alice", "secret")
	if err == nil || !strings.Contains(err.Error(), "cancelled") || smtpCode(err) != 0 {
		t.Errorf("Auth = %v", err)
	}
	p.Check(conn)
}

func TestAuthBeforeCommandAbortMidExchange(t *testing.T) {
	errStop := errors.New("step mode: stopped")
	opts := testOptions()
	opts.BeforeCommand = func(line string) error {
		if line == "***" {
			return errStop
		}
		return nil
	}
	c, conn, p := dialPeer(t, ehloWithAuth+`
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
`, opts)
	if err := c.Auth("LOGIN", "alice", "secret"); !errors.Is(err, errStop) || err.Error() != "smtpclient: before ***: step mode: stopped" {
		t.Errorf("Auth = %v, want the step-mode error", err)
	}
	// The server waits for an answer: the client is out of step.
	if err := c.Noop(); !errors.Is(err, errStop) {
		t.Errorf("Noop after an abort mid-AUTH = %v, want the sticky error", err)
	}
	p.Check(conn)
}
