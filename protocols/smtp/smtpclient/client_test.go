package smtpclient

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

var (
	alice = mail.Path{Local: "alice", Domain: "a.test"}
	bob   = mail.Path{Local: "bob", Domain: "b.test"}
	carol = mail.Path{Local: "carol", Domain: "b.test"}
	dave  = mail.Path{Local: "dave", Domain: "b.test"}
)

// smtpCode returns the code of the *smtp.Error err wraps, or 0.
func smtpCode(err error) smtp.Code {
	var se *smtp.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestHelloParsesExtensions(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP maillab
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250-PIPELINING
S: 250-size 10240000
S: 250-8BITMIME
S: 250-AUTH PLAIN LOGIN
S: 250-AUTH=LOGIN PLAIN
S: 250-(not a keyword)
S: 250 ENHANCEDSTATUSCODES
`, testOptions())
	if got := c.Greeting().Text(); got != "mx.b.test ESMTP maillab" {
		t.Errorf("Greeting().Text() = %q", got)
	}
	if err := c.Hello(""); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	want := map[string]string{"PIPELINING": "", "SIZE": "10240000", "8BITMIME": "", "AUTH": "PLAIN LOGIN", "ENHANCEDSTATUSCODES": ""}
	if diff := cmp.Diff(want, c.Extensions()); diff != "" {
		t.Errorf("Extensions() (-want +got):\n%s", diff)
	}
	if !c.HasExtension("pipelining") || c.HasExtension("STARTTLS") {
		t.Errorf("HasExtension: pipelining %v, STARTTLS %v", c.HasExtension("pipelining"), c.HasExtension("STARTTLS"))
	}
	if got := c.MaxSize(); got != 10240000 {
		t.Errorf("MaxSize() = %d, want 10240000", got)
	}
	p.Check(conn)
}

func TestHelloFallsBackToHELO(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 old.b.test SMTP
C: EHLO client.a.test
S: 502 5.5.1 Command not implemented
C: HELO client.a.test
S: 250 old.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
`, testOptions())
	if err := c.Hello(""); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	if len(c.Extensions()) != 0 || c.MaxSize() != 0 {
		t.Errorf("after HELO: Extensions() = %v, MaxSize() = %d; want none", c.Extensions(), c.MaxSize())
	}
	// No extensions: SIZE= and BODY= are left out.
	if err := c.Mail(alice, smtp.MailParams{Size: 1200, Body: "8BITMIME"}); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	p.Check(conn)
}

func TestHelloRefused(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 550 5.7.1 Go away
`, testOptions())
	err := c.Hello("")
	if smtpCode(err) != 550 || err.Error() != "smtpclient: EHLO client.a.test: 550 5.7.1 Go away" {
		t.Errorf("Hello = %v; want the 550 as *smtp.Error", err)
	}
	p.Check(conn)
}

func TestLHLONoFallback(t *testing.T) {
	opts := testOptions()
	opts.LMTP = true
	c, conn, p := dialPeer(t, `
S: 220 mda.b.test LMTP
C: LHLO mx.b.test
S: 500 5.5.1 Unknown command
`, opts)
	if err := c.Hello("mx.b.test"); smtpCode(err) != 500 {
		t.Errorf("Hello = %v; want the 500 as *smtp.Error, no HELO", err)
	}
	p.Check(conn)
}

func TestGreeting554(t *testing.T) {
	conn, p := startPeer(t, `
S: 554 5.3.2 No SMTP service here
C: QUIT
S: 221 2.0.0 Bye
`)
	c, err := NewClient(conn, testOptions())
	if c != nil || smtpCode(err) != 554 {
		t.Fatalf("NewClient = %v, %v; want the 554 as *smtp.Error", c, err)
	}
	if want := "smtpclient: greeting: 554 5.3.2 No SMTP service here"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	p.Check(conn)
}

func TestGreetingMalformed(t *testing.T) {
	conn, _ := startPeer(t, `
S: SSH-2.0-OpenSSH_9.6
`)
	if _, err := NewClient(conn, testOptions()); !errors.Is(err, ErrMalformedReply) {
		t.Fatalf("NewClient = %v; want ErrMalformedReply", err)
	}
}

func TestMailParamsOnlyWhenAdvertised(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250-SIZE 1000
S: 250 8BITMIME
C: MAIL FROM:<> SIZE=999999999 BODY=8BITMIME
S: 552 5.3.4 Message too big for system
`, testOptions())
	err := c.Mail(mail.Path{}, smtp.MailParams{Size: 999999999, Body: "8bitmime"})
	if want := "smtpclient: MAIL FROM:<> SIZE=999999999 BODY=8BITMIME: 552 5.3.4 Message too big for system"; err == nil || err.Error() != want {
		t.Errorf("Mail = %v, want %q", err, want)
	}
	p.Check(conn)
}

func TestRcptRefusedError(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 2.1.0 OK
C: RCPT TO:<bob@b.test>
S: 550 5.1.1 No such user
C: RSET
S: 250 2.0.0 OK
C: NOOP
S: 250 2.0.0 OK
C: VRFY bob
S: 252 2.5.2 Cannot VRFY user, but will accept message
C: QUIT
S: 221 2.0.0 Bye
`, testOptions())
	if err := c.Mail(alice, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt(bob)
	if want := "smtpclient: RCPT TO:<bob@b.test>: 550 5.1.1 No such user"; err == nil || err.Error() != want {
		t.Errorf("Rcpt = %v, want %q", err, want)
	}
	var se *smtp.Error
	if !errors.As(err, &se) || se.Enhanced != "5.1.1" || se.Temporary() {
		t.Errorf("Rcpt error %#v: want a permanent *smtp.Error 5.1.1", se)
	}
	if err := c.Reset(); err != nil {
		t.Error(err)
	}
	if err := c.Noop(); err != nil {
		t.Error(err)
	}
	if r, err := c.Verify("bob"); err != nil || r.Code != 252 {
		t.Errorf("Verify = %v, %v; want 252", r, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	p.Check(conn)
	if err := c.Noop(); err == nil {
		t.Error("Noop after Quit succeeded")
	}
}

func TestSendMailPipelined(t *testing.T) {
	conn, p := startPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250-PIPELINING
S: 250 SIZE
C: MAIL FROM:<alice@a.test> SIZE=27
C: RCPT TO:<bob@b.test>
C: RCPT TO:<carol@b.test>
C: RCPT TO:<dave@b.test>
C: DATA
S: 250 2.1.0 Sender OK
S: 250 2.1.5 Recipient OK
S: 550 5.1.1 No such user
S: 451 4.7.1 Greylisted, try later
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: hi
C:
C: Hello Bob.
C: .
S: 250 2.0.0 Ok: queued as 1A2B
`)
	tap := &tapConn{Conn: conn}
	c, err := NewClient(tap, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	msg := "Subject: hi\r\n\r\nHello Bob.\r\n"
	res, err := c.SendMail(alice, []mail.Path{bob, carol, dave}, strings.NewReader(msg), smtp.MailParams{Size: int64(len(msg))})
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if diff := cmp.Diff([]mail.Path{bob}, res.Accepted); diff != "" {
		t.Errorf("Accepted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]mail.Path{bob}, res.Delivered); diff != "" {
		t.Errorf("Delivered (-want +got):\n%s", diff)
	}
	wantRefused := map[string]*smtp.Error{
		"carol@b.test": {Code: 550, Enhanced: "5.1.1", Message: "No such user"},
		"dave@b.test":  {Code: 451, Enhanced: "4.7.1", Message: "Greylisted, try later"},
	}
	if diff := cmp.Diff(wantRefused, res.Refused); diff != "" {
		t.Errorf("Refused (-want +got):\n%s", diff)
	}
	if res.Final == nil || res.Final.String() != "250 2.0.0 Ok: queued as 1A2B" {
		t.Errorf("Final = %v", res.Final)
	}
	p.Check(conn)
	// The whole group left in one write, before any reply was read, and the
	// body was marked bulk between the 354 and the final dot.
	want := []string{
		"write EHLO client.a.test\r\n",
		"write MAIL FROM:<alice@a.test> SIZE=27\r\nRCPT TO:<bob@b.test>\r\nRCPT TO:<carol@b.test>\r\nRCPT TO:<dave@b.test>\r\nDATA\r\n",
		"mark C 1",
		"write Subject: hi\r\n\r\nHello Bob.\r\n.\r\n",
		"mark C 0",
	}
	if diff := cmp.Diff(want, tap.Events()); diff != "" {
		t.Errorf("writes and marks (-want +got):\n%s", diff)
	}
}

func TestSendMailOneByOne(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 8BITMIME
C: MAIL FROM:<alice@a.test> BODY=8BITMIME
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 550 No such user
C: RCPT TO:<carol@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: ¡Hola!
C: .
S: 250 Queued
`, testOptions())
	res, err := c.SendMail(alice, []mail.Path{bob, carol}, strings.NewReader("¡Hola!\n"), smtp.MailParams{Body: "8BITMIME"})
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if len(res.Delivered) != 1 || res.Delivered[0] != carol || res.Refused["bob@b.test"].Code != 550 {
		t.Errorf("result %+v", res)
	}
	p.Check(conn)
}

func TestSendMailNoRecipientAccepted(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 550 5.7.1 Relaying denied
C: RCPT TO:<carol@b.test>
S: 450 4.2.0 Mailbox busy
C: RSET
S: 250 OK
`, testOptions())
	res, err := c.SendMail(alice, []mail.Path{bob, carol}, strings.NewReader("never sent\r\n"), smtp.MailParams{})
	if !errors.Is(err, ErrNoRecipients) || smtpCode(err) != 550 {
		t.Fatalf("SendMail = %v; want ErrNoRecipients and the first 550", err)
	}
	if want := "smtpclient: no recipient accepted; RCPT TO:<bob@b.test>: 550 5.7.1 Relaying denied"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(res.Accepted) != 0 || len(res.Refused) != 2 || res.Final != nil {
		t.Errorf("result %+v", res)
	}
	p.Check(conn)
}

func TestSendMailPipelinedNoRecipientDataRefused(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 PIPELINING
C: MAIL FROM:<alice@a.test>
C: RCPT TO:<bob@b.test>
C: DATA
S: 250 OK
S: 550 5.1.1 No such user
S: 554 5.5.1 No valid recipients
C: RSET
S: 250 OK
`, testOptions())
	_, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("never sent\r\n"), smtp.MailParams{})
	if !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("SendMail = %v; want ErrNoRecipients", err)
	}
	p.Check(conn)
}

// RFC 2920 section 3.1: a server may accept a pipelined DATA even though no
// recipient was accepted; the client then sends a lone dot.
func TestSendMailPipelinedNoRecipientDataAccepted(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 PIPELINING
C: MAIL FROM:<alice@a.test>
C: RCPT TO:<bob@b.test>
C: DATA
S: 250 OK
S: 550 5.1.1 No such user
S: 354 Go ahead
C: .
S: 554 5.5.1 No valid recipients
C: RSET
S: 250 OK
C: NOOP
S: 250 OK
`, testOptions())
	_, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("never sent\r\n"), smtp.MailParams{})
	if !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("SendMail = %v; want ErrNoRecipients", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop after the aborted transaction: %v (client out of step)", err)
	}
	p.Check(conn)
}

func TestSendMailPipelinedMailRefused(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 PIPELINING
C: MAIL FROM:<spam@bad.test>
C: RCPT TO:<bob@b.test>
C: DATA
S: 550 5.7.1 Sender rejected
S: 503 5.5.1 MAIL first
S: 503 5.5.1 MAIL first
C: NOOP
S: 250 OK
`, testOptions())
	res, err := c.SendMail(mail.Path{Local: "spam", Domain: "bad.test"}, []mail.Path{bob}, strings.NewReader("x"), smtp.MailParams{})
	if smtpCode(err) != 550 || !strings.HasPrefix(err.Error(), "smtpclient: MAIL FROM:<spam@bad.test>: 550") {
		t.Fatalf("SendMail = %v; want the MAIL 550", err)
	}
	if len(res.Refused) != 0 {
		t.Errorf("Refused = %v; the 503s are not per-recipient refusals", res.Refused)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop: %v (client out of step)", err)
	}
	p.Check(conn)
}

func TestSendMailPipelined421(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 PIPELINING
C: MAIL FROM:<alice@a.test>
C: RCPT TO:<bob@b.test>
C: DATA
S: 421 4.3.2 Shutting down
`, testOptions())
	_, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("x"), smtp.MailParams{})
	if want := "smtpclient: MAIL FROM:<alice@a.test>: 421 4.3.2 Shutting down"; err == nil || err.Error() != want {
		t.Fatalf("SendMail = %v, want %q", err, want)
	}
	if err := c.Noop(); smtpCode(err) != 421 {
		t.Errorf("Noop after 421 = %v; want the 421 again", err)
	}
	p.Check(conn)
}

func TestSendMailFinalRefused(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: Subject: buy now
C: .
S: 554 5.7.1 Message rejected as spam
`, testOptions())
	res, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("Subject: buy now"), smtp.MailParams{})
	if want := "smtpclient: end of data: 554 5.7.1 Message rejected as spam"; err == nil || err.Error() != want || smtpCode(err) != 554 {
		t.Fatalf("SendMail = %v, want %q", err, want)
	}
	if res.Final == nil || res.Final.Code != 554 || len(res.Delivered) != 0 {
		t.Errorf("result %+v", res)
	}
	p.Check(conn)
}

func TestDataDotStuffing(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: Subject: dots
C:
C: ..
C: ..hidden
C: a . in the middle
C: ....
C: no newline at the end
C: .
S: 250 Queued
`, testOptions())
	if err := c.Mail(alice, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(bob); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	// Bare LF and CRLF endings, split writes, no final newline.
	for _, s := range []string{"Subject: dots\n\r\n", ".", "\n.hidden\r\na . in the middle\n.", "..\nno newline", " at the end"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Error("Write after Close succeeded")
	}
	p.Check(conn)
}

func TestLMTPSendMailPerRecipient(t *testing.T) {
	opts := testOptions()
	opts.LMTP = true
	c, conn, p := dialPeer(t, `
S: 220 mda.b.test LMTP
C: LHLO client.a.test
S: 250-mda.b.test
S: 250-PIPELINING
S: 250 ENHANCEDSTATUSCODES
C: MAIL FROM:<alice@a.test>
C: RCPT TO:<bob@b.test>
C: RCPT TO:<carol@b.test>
C: RCPT TO:<dave@b.test>
C: DATA
S: 250 2.1.0 OK
S: 250 2.1.5 OK
S: 550 5.1.1 No such user
S: 250 2.1.5 OK
S: 354 Go ahead
C: Hi
C: .
S: 250 2.0.0 <bob@b.test> Saved
S: 452 4.2.2 <dave@b.test> Mailbox full
`, opts)
	res, err := c.SendMail(alice, []mail.Path{bob, carol, dave}, strings.NewReader("Hi\r\n"), smtp.MailParams{})
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if diff := cmp.Diff([]mail.Path{bob}, res.Delivered); diff != "" {
		t.Errorf("Delivered (-want +got):\n%s", diff)
	}
	if got := len(res.LMTP); got != 2 || res.LMTP[0].Code != 250 || res.LMTP[1].Code != 452 {
		t.Errorf("LMTP replies = %v", res.LMTP)
	}
	if res.Refused["carol@b.test"].Code != 550 || res.Refused["dave@b.test"].Code != 452 || !res.Refused["dave@b.test"].Temporary() {
		t.Errorf("Refused = %v", res.Refused)
	}
	p.Check(conn)
}

func TestDataLMTPResults(t *testing.T) {
	opts := testOptions()
	opts.LMTP = true
	c, conn, p := dialPeer(t, `
S: 220 mda.b.test LMTP
C: LHLO client.a.test
S: 250 mda.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: RCPT TO:<carol@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: Hi
C: .
S: 452 4.2.2 Mailbox full
S: 250 2.0.0 Saved
`, opts)
	if _, err := c.Data(); err == nil {
		t.Error("Data in LMTP mode succeeded; want a pointer to DataLMTP")
	}
	if err := c.Mail(alice, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []mail.Path{bob, carol} {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.DataLMTP()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Hi")); err != nil {
		t.Fatal(err)
	}
	results, err := w.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(results) != 2 || results[1] != nil || smtpCode(results[0]) != 452 {
		t.Fatalf("results = %v; want [452, nil]", results)
	}
	if want := "smtpclient: DATA for <bob@b.test>: 452 4.2.2 Mailbox full"; results[0].Error() != want {
		t.Errorf("results[0] = %q, want %q", results[0], want)
	}
	p.Check(conn)
}

func TestBeforeCommandAbort(t *testing.T) {
	errPaused := errors.New("class stopped the exercise")
	var seen []string
	opts := testOptions()
	opts.BeforeCommand = func(line string) error {
		seen = append(seen, line)
		if strings.HasPrefix(line, "RCPT") {
			return errPaused
		}
		return nil
	}
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
`, opts)
	_, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("x"), smtp.MailParams{})
	if !errors.Is(err, errPaused) {
		t.Fatalf("SendMail = %v; want it to wrap the BeforeCommand error", err)
	}
	if diff := cmp.Diff([]string{"EHLO client.a.test", "MAIL FROM:<alice@a.test>", "RCPT TO:<bob@b.test>"}, seen); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}
	p.Check(conn) // the RCPT line was never written
}

func TestBeforeCommandAbortPipelinedGroup(t *testing.T) {
	errPaused := errors.New("paused")
	opts := testOptions()
	opts.BeforeCommand = func(line string) error {
		if line == "DATA" {
			return errPaused
		}
		return nil
	}
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
S: 250 PIPELINING
`, opts)
	if _, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("x"), smtp.MailParams{}); !errors.Is(err, errPaused) {
		t.Fatalf("SendMail = %v; want the BeforeCommand error", err)
	}
	p.Check(conn) // no line of the group was written
}

func TestCommandTimeout(t *testing.T) {
	opts := testOptions()
	opts.CommandTimeout = 50 * time.Millisecond
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: NOOP
...
`, opts)
	err := c.Noop()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Noop = %v; want a deadline error", err)
	}
	// The reply may still come: the client must not be reused.
	if err2 := c.Noop(); !errors.Is(err2, os.ErrDeadlineExceeded) {
		t.Errorf("second Noop = %v; want the first error again", err2)
	}
	p.Check(conn)
}

func TestFinalTimeout(t *testing.T) {
	opts := testOptions()
	opts.FinalTimeout = 50 * time.Millisecond
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: x
C: .
...
`, opts)
	if _, err := c.SendMail(alice, []mail.Path{bob}, strings.NewReader("x"), smtp.MailParams{}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("SendMail = %v; want a deadline error", err)
	}
	p.Check(conn)
}

func TestMalformedReplyBreaksClient(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: NOOP
S: 250-first
S: 251 second
`, testOptions())
	err := c.Noop()
	if !errors.Is(err, ErrMalformedReply) || !strings.HasPrefix(err.Error(), "smtpclient: NOOP: malformed reply") {
		t.Fatalf("Noop = %v; want ErrMalformedReply", err)
	}
	if _, err := c.Cmd("NOOP"); !errors.Is(err, ErrMalformedReply) {
		t.Errorf("Cmd after a malformed reply = %v; want the same error", err)
	}
	p.Check(conn)
}

func TestConnectionClosedMidReply(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test
`, testOptions())
	if err := c.Hello(""); err == nil {
		t.Fatal("Hello succeeded on a cut reply")
	}
	p.Check(conn)
}

func TestCmdShowsMistakes(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: RCPT TO:<bob@b.test>
S: 503 5.5.1 Error: need MAIL command
C: HELO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: ..leading dot
C: .
S: 250 Queued
`, testOptions())
	r, err := c.Cmd("RCPT TO:<bob@b.test>")
	if err != nil || r.String() != "503 5.5.1 Error: need MAIL command" {
		t.Fatalf("Cmd = %v, %v; want the 503 reply and no error", r, err)
	}
	if _, err := c.Cmd("NOOP\r\nQUIT"); err == nil {
		t.Error("Cmd accepted a line holding CRLF")
	}
	for _, l := range []string{"HELO client.a.test", "MAIL FROM:<alice@a.test>", "RCPT TO:<bob@b.test>", "DATA"} {
		if _, err := c.Cmd(l); err != nil {
			t.Fatalf("Cmd(%q): %v", l, err)
		}
	}
	r, err = c.SendData(strings.NewReader(".leading dot\n"))
	if err != nil || r.Code != 250 {
		t.Fatalf("SendData = %v, %v", r, err)
	}
	p.Check(conn)
}

func TestSendDataLMTPAfterRawCommands(t *testing.T) {
	opts := testOptions()
	opts.LMTP = true
	c, conn, p := dialPeer(t, `
S: 220 mda.b.test LMTP
C: LHLO x
S: 250 mda.b.test
C: MAIL FROM:<>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: RCPT TO:<nobody@b.test>
S: 550 No such user
C: RCPT TO:<carol@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
C: x
C: .
S: 250 Saved for bob
S: 250 Saved for carol
`, opts)
	for _, l := range []string{"LHLO x", "MAIL FROM:<>", "RCPT TO:<bob@b.test>", "RCPT TO:<nobody@b.test>", "RCPT TO:<carol@b.test>", "DATA"} {
		if _, err := c.Cmd(l); err != nil {
			t.Fatalf("Cmd(%q): %v", l, err)
		}
	}
	replies, err := c.SendDataLMTP(strings.NewReader("x"))
	if err != nil || len(replies) != 2 || replies[1].Text() != "Saved for carol" {
		t.Fatalf("SendDataLMTP = %v, %v; want two replies", replies, err)
	}
	p.Check(conn)
}

// failingReader gives some bytes, then fails.
type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, "partial line\r\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestSendMailReaderFailureDropsConnection(t *testing.T) {
	c, conn, p := dialPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250 mx.b.test
C: MAIL FROM:<alice@a.test>
S: 250 OK
C: RCPT TO:<bob@b.test>
S: 250 OK
C: DATA
S: 354 Go ahead
...
`, testOptions())
	_, err := c.SendMail(alice, []mail.Path{bob}, &failingReader{}, smtp.MailParams{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("SendMail = %v; want the reader's error", err)
	}
	// The buffered part never left and no final dot reached the server:
	// p.check would show the lines.
	p.Check(conn)
}

func TestDialLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err.Error()
			return
		}
		defer conn.Close()
		conn.Write([]byte("220 mx.b.test ESMTP\r\n"))
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		conn.Write([]byte("221 2.0.0 Bye\r\n"))
		served <- string(buf[:n])
	}()
	c, err := Dial(context.Background(), nil, ln.Addr().String(), testOptions())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	if got := <-served; got != "QUIT\r\n" {
		t.Errorf("server read %q, want QUIT", got)
	}
}

func TestDialCanceled(t *testing.T) {
	conn, _ := startPeer(t, `
...
`)
	ctx, cancel := context.WithCancelCause(context.Background())
	errGone := errors.New("class over")
	dial := func(context.Context, string, string) (net.Conn, error) {
		cancel(errGone) // the greeting never comes; the context ends
		return conn, nil
	}
	if _, err := Dial(ctx, dial, "mx.b.test:25", testOptions()); !errors.Is(err, errGone) {
		t.Fatalf("Dial = %v; want the context's cause", err)
	}
}

// Tracer marks reach the tap even when the client's conn wraps it.
func TestTracerFoundThroughUnwrap(t *testing.T) {
	conn, _ := startPeer(t, `
S: 220 x
`)
	tap := &tapConn{Conn: conn}
	if _, ok := wire.TracerOf(tap).(*tapConn); !ok {
		t.Fatal("tapConn is not a Tracer")
	}
}

func BenchmarkReadReply(b *testing.B) {
	in := "250-mx.b.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
	for b.Loop() {
		if _, err := readReply(bufioReader(in), 0); err != nil {
			b.Fatal(err)
		}
	}
}
