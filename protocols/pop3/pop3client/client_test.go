package pop3client

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/pop3"
)

func TestLoginSendsUserAndPass(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: USER bob
		S: +OK send PASS
		C: PASS correct horse
		S: +OK bob's maildrop has 2 messages (320 octets)
		...`, testOptions())
	if err := c.Login("bob", "correct horse"); err != nil {
		t.Fatal(err)
	}
	p.Check(conn)
}

func TestLoginWrongPasswordIsAuthError(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: USER bob
		S: +OK
		C: PASS hunter2
		S: -ERR [AUTH] invalid user name or password
		...`, testOptions())
	err := c.Login("bob", "hunter2")
	if !errors.Is(err, pop3.ErrAuth) {
		t.Fatalf("Login: %v, want an error matching pop3.ErrAuth", err)
	}
	if want := "pop3client: PASS: [AUTH] invalid user name or password"; err.Error() != want {
		t.Errorf("error %q, want %q (and never the password)", err, want)
	}
	p.Check(conn)
}

func TestLoginInUse(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: USER bob
		S: +OK
		C: PASS secret
		S: -ERR [IN-USE] maildrop already locked
		...`, testOptions())
	err := c.Login("bob", "secret")
	var e *pop3.Error
	if !errors.As(err, &e) || e.Code != "IN-USE" || !e.Temporary() {
		t.Fatalf("Login: %v, want a temporary *pop3.Error with code IN-USE", err)
	}
	p.Check(conn)
}

func TestAPOPUsesTheGreetingTimestamp(t *testing.T) {
	// RFC 1939 section 7.
	c, conn, p := dialPeer(t, `
		S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
		C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
		S: +OK maildrop has 1 message (369 octets)
		...`, testOptions())
	if err := c.APOP("mrose", "tanstaaf"); err != nil {
		t.Fatal(err)
	}
	p.Check(conn)
}

func TestAPOPWithoutTimestampSendsNothing(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK POP3 server ready
		...`, testOptions())
	if err := c.APOP("mrose", "tanstaaf"); err == nil || !strings.Contains(err.Error(), "no timestamp") {
		t.Errorf("APOP: %v, want a no-timestamp error", err)
	}
	p.Check(conn)
}

func TestStatListUIDL(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: STAT
		S: +OK 2 320
		C: LIST
		S: +OK 2 messages (320 octets)
		S: 1 120
		S: 2 200
		S: .
		C: UIDL
		S: +OK
		S: 1 whqtswO00WBw418f9t5JxYwZ
		S: 2 QhdPYR:00WBw1Ph7x7
		S: .
		...`, testOptions())
	n, size, err := c.Stat()
	if err != nil || n != 2 || size != 320 {
		t.Errorf("Stat = %d, %d, %v; want 2, 320", n, size, err)
	}
	list, err := c.List()
	if diff := cmp.Diff([]Listing{{1, 120}, {2, 200}}, list); err != nil || diff != "" {
		t.Errorf("List: %v (-want +got):\n%s", err, diff)
	}
	uids, err := c.UIDL()
	if diff := cmp.Diff([]UIDListing{{1, "whqtswO00WBw418f9t5JxYwZ"}, {2, "QhdPYR:00WBw1Ph7x7"}}, uids); err != nil || diff != "" {
		t.Errorf("UIDL: %v (-want +got):\n%s", err, diff)
	}
	p.Check(conn)
}

func TestMalformedListingIsAnError(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: LIST
		S: +OK
		S: one hundred
		S: .
		C: STAT
		S: +OK lots
		...`, testOptions())
	if _, err := c.List(); !errors.Is(err, pop3.ErrSyntax) {
		t.Errorf("List: %v, want a syntax error", err)
	}
	if _, _, err := c.Stat(); !errors.Is(err, pop3.ErrSyntax) {
		t.Errorf("Stat: %v, want a syntax error", err)
	}
	p.Check(conn)
}

func TestRetrRemovesDotStuffing(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: RETR 1
		S: +OK 48 octets
		S: Subject: dots
		S:
		S: ..leading dot
		S: ...
		S: .
		C: RETR 9
		S: -ERR no such message
		...`, testOptions())
	got, err := c.Retr(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: dots\r\n\r\n.leading dot\r\n..\r\n"; string(got) != want {
		t.Errorf("Retr = %q, want %q", got, want)
	}
	_, err = c.Retr(9)
	var e *pop3.Error
	if !errors.As(err, &e) || e.Text != "no such message" || err.Error() != "pop3client: RETR 9: no such message" {
		t.Errorf("Retr(9): %v, want \"pop3client: RETR 9: no such message\"", err)
	}
	p.Check(conn)
}

func TestRetrOverTheLimitStaysInStep(t *testing.T) {
	opts := testOptions()
	opts.MaxResponseBytes = 20
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: RETR 1
		S: +OK
		S: this line is long enough
		S: and another
		S: .
		C: NOOP
		S: +OK
		...`, opts)
	if _, err := c.Retr(1); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("Retr: %v, want ErrResponseTooLarge", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop after a too-large response: %v", err)
	}
	p.Check(conn)
}

func TestTopDeleRsetNoopQuit(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: TOP 1 0
		S: +OK
		S: Subject: hi
		S:
		S: .
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 1
		S: -ERR message 1 already deleted
		C: RSET
		S: +OK
		C: NOOP
		S: +OK
		C: QUIT
		S: +OK bye
		...`, testOptions())
	got, err := c.Top(1, 0)
	if err != nil || string(got) != "Subject: hi\r\n\r\n" {
		t.Errorf("Top = %q, %v", got, err)
	}
	if err := c.Dele(1); err != nil {
		t.Error(err)
	}
	if err := c.Dele(1); err == nil || err.Error() != "pop3client: DELE 1: message 1 already deleted" {
		t.Errorf("second Dele: %v", err)
	}
	if err := c.Rset(); err != nil {
		t.Error(err)
	}
	if err := c.Noop(); err != nil {
		t.Error(err)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
	if err := c.Noop(); err == nil {
		t.Error("Noop after Quit succeeded")
	}
	p.Check(conn)
}

func TestCapa(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: SASL PLAIN
		S: IMPLEMENTATION maillab
		S: .
		...`, testOptions())
	caps, err := c.Capa()
	if diff := cmp.Diff([]string{"TOP", "SASL PLAIN", "IMPLEMENTATION maillab"}, caps); err != nil || diff != "" {
		t.Errorf("Capa: %v (-want +got):\n%s", err, diff)
	}
	p.Check(conn)
}

func TestCmdReturnsRefusalsAndMultiLine(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: RETR 1
		S: -ERR RETR is not allowed before login
		C: AUTH PLAIN
		S: +
		C: CAPA
		S: +OK
		S: USER
		S: .
		...`, testOptions())
	r, err := c.Cmd("RETR 1", true)
	if err != nil || r.OK || r.Text != "RETR is not allowed before login" {
		t.Errorf("Cmd(RETR 1) = %+v, %v", r, err)
	}
	r, err = c.Cmd("AUTH PLAIN", false)
	if err != nil || !r.Continue || r.Text != "" {
		t.Errorf("Cmd(AUTH PLAIN) = %+v, %v; want a continuation", r, err)
	}
	r, err = c.Cmd("CAPA", true)
	if err != nil || !r.OK || len(r.Lines) != 1 || r.Lines[0] != "USER" {
		t.Errorf("Cmd(CAPA) = %+v, %v", r, err)
	}
	if _, err := c.Cmd("NOOP\r\nQUIT", false); err == nil {
		t.Error("Cmd accepted a line with CRLF")
	}
	p.Check(conn)
}

func TestBeforeCommandAbortsBeforeSending(t *testing.T) {
	var seen []string
	stop := errors.New("stopped by the teacher")
	opts := testOptions()
	opts.BeforeCommand = func(line string) error {
		seen = append(seen, line)
		if line == "STAT" {
			return stop
		}
		return nil
	}
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: NOOP
		S: +OK
		...`, opts)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Stat(); !errors.Is(err, stop) {
		t.Errorf("Stat: %v, want the BeforeCommand error", err)
	}
	if diff := cmp.Diff([]string{"NOOP", "STAT"}, seen); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}
	p.Check(conn)
}

func TestGreetingErrors(t *testing.T) {
	for _, tt := range []struct {
		greeting string
		want     string
	}{
		{"-ERR [SYS/TEMP] too many connections, try later", "pop3client: greeting: [SYS/TEMP] too many connections, try later"},
		{"220 mx.example.test ESMTP", "pop3client: greeting: pop3: syntax error: response \"220 mx.example.test ...\" starts with neither +OK nor -ERR"},
	} {
		conn, p := startPeer(t, "S: "+tt.greeting)
		_, err := NewClient(conn, testOptions())
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewClient after %q: %v, want %q", tt.greeting, err, tt.want)
		}
		p.Check(conn)
	}
}

func TestConnectionLostIsSticky(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: +OK ready
		C: NOOP`, testOptions())
	err1 := c.Noop()
	err2 := c.Noop()
	if err1 == nil || err2 == nil {
		t.Fatalf("Noop on a closed connection: %v, %v", err1, err2)
	}
	p.Check(conn)
}

func TestPassIsMarkedSecret(t *testing.T) {
	conn, p := startPeer(t, `
		S: +OK ready
		C: USER bob
		S: +OK
		C: PASS secret
		S: +OK
		...`)
	tap := &tapConn{Conn: conn}
	c, err := NewClient(tap, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob", "secret"); err != nil {
		t.Fatal(err)
	}
	want := []string{"write USER bob\r\n", "mark C 2", "write PASS secret\r\n", "mark C 0"}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("writes and marks (-want +got):\n%s", diff)
	}
	p.Check(conn)
}

var _ net.Conn = (*tapConn)(nil)
