package smtpserver

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/netconn/netconntest"
	"github.com/maillab/maillab/protocols/smtp"
)

// hookBackend is a MemoryBackend whose sessions can be made to misbehave.
type hookBackend struct {
	MemoryBackend
	refuse error                 // returned by NewSession
	mail   func(mail.Path) error // replaces Mail
	data   func(io.Reader) error // replaces Data
}

func (b *hookBackend) NewSession(c *ConnInfo) (Session, error) {
	if b.refuse != nil {
		return nil, b.refuse
	}
	s, _ := b.MemoryBackend.NewSession(c)
	return &hookSession{memorySession: s.(*memorySession), b: b}, nil
}

type hookSession struct {
	*memorySession
	b *hookBackend
}

func (s *hookSession) Mail(from mail.Path, p smtp.MailParams) error {
	if s.b.mail != nil {
		return s.b.mail(from)
	}
	return s.memorySession.Mail(from, p)
}

func (s *hookSession) Data(r io.Reader) error {
	if s.b.data != nil {
		return s.b.data(r)
	}
	return s.memorySession.Data(r)
}

func TestGreeting(t *testing.T) {
	_, addr := startServer(t, Options{Hostname: "mx.example.test"}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 mx.example.test ESMTP maillab ready")
}

func TestEhloAdvertisesExtensions(t *testing.T) {
	_, addr := startServer(t, Options{Hostname: "mx.example.test", MaxMessageBytes: 1000}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	got := tc.expectReply("250")
	want := []string{
		"250-mx.example.test greets client.example.test",
		"250-PIPELINING",
		"250-SIZE 1000",
		"250-8BITMIME",
		"250-ENHANCEDSTATUSCODES",
		"250 HELP",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EHLO reply (-want +got):\n%s", diff)
	}
}

func TestEhloWithoutNameIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO")
	tc.expect("501 5.5.4 EHLO needs your host name")
}

func TestHelo(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{Hostname: "mx.example.test"}, b)
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("HELO old.example.test")
	tc.expect("250 mx.example.test greets old.example.test")
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("354 ")
	tc.send("hi", ".")
	tc.expect("250 2.0.0 ")
	if got := b.Messages(); len(got) != 1 || got[0].Helo != "old.example.test" {
		t.Errorf("messages = %+v, want one from HELO old.example.test", got)
	}
}

func TestHeloWithoutNameIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("HELO")
	tc.expect("501 5.5.4 HELO needs your host name")
}

func TestMailAccepted(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test> SIZE=100 BODY=8BITMIME")
	tc.expect("250 2.1.0 Sender <alice@example.test> OK")
}

func TestMailNullSenderAccepted(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<>")
	tc.expect("250 2.1.0 Sender <> OK")
}

func TestMailBeforeEhloIs503(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("MAIL FROM:<alice@example.test>")
	tc.expect("503 5.5.1 Send EHLO or HELO first")
}

func TestNestedMailIs503(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>")
	tc.expect("250 ")
	tc.send("MAIL FROM:<alice@example.test>")
	tc.expect("503 5.5.1 Nested MAIL command")
}

func TestMailBadAddressIs553(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test")
	tc.expect("553 5.1.7 Bad sender address syntax: missing '>'")
	tc.send("MAIL FROM:<" + strings.Repeat("a", 65) + "@example.test>")
	tc.expect("553 5.1.7 Bad sender address syntax: local part longer than 64 octets")
}

func TestMailUnknownParamIs555(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test> SMTPUTF8")
	tc.expect("555 5.5.4 MAIL parameter SMTPUTF8 not recognized")
}

func TestMailBadSizeIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test> SIZE=big")
	tc.expect("501 5.5.4 SIZE=big is not a number of octets")
}

func TestMailSizeOverLimitIs552(t *testing.T) {
	_, addr := startServer(t, Options{MaxMessageBytes: 1000}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test> SIZE=1001")
	tc.expect("552 5.3.4 Message size 1001 exceeds the limit of 1000 octets")
	tc.send("MAIL FROM:<alice@example.test> SIZE=1000")
	tc.expect("250 2.1.0 ")
}

func TestMailRefusedByBackend(t *testing.T) {
	b := &hookBackend{mail: func(from mail.Path) error {
		return smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "Sender %s refused by policy", from.Bracketed())
	}}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<spam@bad.test>")
	tc.expect("550 5.7.1 Sender <spam@bad.test> refused by policy")
	tc.send("RCPT TO:<bob@example.test>")
	tc.expect("503 5.5.1 Need MAIL before RCPT")
}

func TestBackendPlainErrorIs451(t *testing.T) {
	b := &hookBackend{mail: func(mail.Path) error { return errors.New("disk on fire") }}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>")
	tc.expect("451 4.3.0 Local error in processing")
}

func TestRcptAccepted(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 Recipient <bob@example.test> OK")
}

func TestRcptBarePostmasterAccepted(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{Mailboxes: []string{"bob@example.test"}})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<Postmaster>")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 Recipient <Postmaster> OK")
}

func TestRcptBeforeMailIs503(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("RCPT TO:<bob@example.test>")
	tc.expect("503 5.5.1 Need MAIL before RCPT")
}

func TestRcptUnknownMailboxIs550(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{Mailboxes: []string{"bob@example.test"}})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<carol@example.test>", "RCPT TO:<BOB@example.test>")
	tc.expect("250 ")
	tc.expect("550 5.1.1 No mailbox <carol@example.test> here")
	tc.expect("250 2.1.5 ")
}

func TestRcptBadAddressIs553(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<bob@exa_mple.test>")
	tc.expect("250 ")
	tc.expect("553 5.1.3 Bad recipient address syntax: character '_' not allowed in a domain")
}

func TestTooManyRecipientsIs452(t *testing.T) {
	_, addr := startServer(t, Options{MaxRecipients: 2}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b1@b.test>", "RCPT TO:<b2@b.test>", "RCPT TO:<b3@b.test>")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("250 2.1.5 ")
	tc.expect("452 4.5.3 Too many recipients (the limit is 2)")
	// The transaction goes on with the accepted two.
	tc.send("DATA")
	tc.expect("354 ")
}

func TestDataDelivers(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "RCPT TO:<carol@example.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 Start mail input; end with <CRLF>.<CRLF>")
	tc.send("Subject: hello", "", "Hi Bob.", ".")
	tc.expect("250 2.0.0 Message accepted for delivery")
	want := []MemoryMessage{{
		Helo: "client.example.test",
		From: mail.Path{Local: "alice", Domain: "example.test"},
		To:   []mail.Path{{Local: "bob", Domain: "example.test"}, {Local: "carol", Domain: "example.test"}},
		Data: []byte("Subject: hello\r\n\r\nHi Bob.\r\n"),
	}}
	if diff := cmp.Diff(want, b.Messages()); diff != "" {
		t.Errorf("stored messages (-want +got):\n%s", diff)
	}
	// The transaction is over: a new one needs MAIL.
	tc.send("RCPT TO:<bob@example.test>")
	tc.expect("503 5.5.1 ")
}

func TestDataBeforeRcptIs503(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("DATA")
	tc.expect("503 5.5.1 Need MAIL and RCPT before DATA")
	tc.send("MAIL FROM:<a@a.test>", "DATA")
	tc.expect("250 ")
	tc.expect("503 5.5.1 Need RCPT before DATA")
}

func TestDataWithArgumentIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA now")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("501 5.5.4 DATA takes no argument")
}

// sendMessage runs one transaction and returns the reply to the final ".".
func sendMessage(tc *testClient, text string) string {
	tc.t.Helper()
	tc.send("MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.sendRaw(text)
	line, err := tc.r.ReadString('\n')
	if err != nil {
		tc.t.Fatalf("reading the reply to the final \".\": %v", err)
	}
	return strings.TrimSuffix(line, "\r\n")
}

func TestDataDotStuffedLines(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	got := sendMessage(tc, "..leading dot\r\n...\r\n.. \r\n.\r\n")
	if !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply = %q", got)
	}
	if got, want := string(b.Messages()[0].Data), ".leading dot\r\n..\r\n. \r\n"; got != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestData8BitBody(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<alice@example.test> BODY=8BITMIME", "RCPT TO:<bob@example.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	body := "Subject: =?UTF-8?Q?Ma=C3=B1ana?=\r\n\r\nHasta mañana, ñandú. ¿Qué tal? \xff\r\n"
	tc.sendRaw(body + ".\r\n")
	tc.expect("250 2.0.0 ")
	if got := string(b.Messages()[0].Data); got != body {
		t.Errorf("stored %q, want %q", got, body)
	}
}

func TestDataOverSizeIs552(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{MaxMessageBytes: 100}, b)
	tc := ehlo(t, addr)
	big := strings.Repeat("0123456789012345678\r\n", 10) // 210 octets
	if got := sendMessage(tc, big+".\r\n"); got != "552 5.3.4 Message too big: the limit is 100 octets" {
		t.Errorf("reply = %q", got)
	}
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
	// The session is still in step: the text was read to its end.
	tc.send("NOOP")
	tc.expect("250 2.0.0 OK")
	if got := sendMessage(tc, strings.Repeat("x", 98)+"\r\n.\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Errorf("a message of exactly the limit got %q", got)
	}
}

func TestDataLineTooLongIs500(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	long := strings.Repeat("x", 999) + "\r\n" // 1001 octets with CRLF
	if got := sendMessage(tc, "Subject: x\r\n\r\n"+long+".\r\n"); !strings.HasPrefix(got, "500 5.5.6 Line too long in message text") {
		t.Errorf("reply = %q", got)
	}
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
	tc.send("NOOP")
	tc.expect("250 ")
}

func TestDataLineOfExactly1000OctetsIsAccepted(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	// 998 + CRLF = 1000; the transparency dot of the second does not count.
	text := strings.Repeat("x", 998) + "\r\n." + strings.Repeat("y", 997) + "\r\n.\r\n"
	if got := sendMessage(tc, text); !strings.HasPrefix(got, "250 ") {
		t.Errorf("reply = %q", got)
	}
}

func TestDataHugeLineWithoutNewlineIsRefused(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	text := strings.Repeat("z", 100000) + "\r\n.\r\n"
	if got := sendMessage(tc, text); !strings.HasPrefix(got, "500 5.5.6 ") {
		t.Errorf("reply = %q", got)
	}
}

func TestDataNULIs554(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	if got := sendMessage(tc, "Subject: x\r\n\r\nnul\x00here\r\n.\r\n"); got != "554 5.6.0 NUL octets are not allowed in message text" {
		t.Errorf("reply = %q", got)
	}
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

// Regression for SMTP smuggling: LF "." LF must not end the text, or a
// second message hidden after it would be read as commands.
func TestDataBareLFDotIsNotEndOfData(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	text := "Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@bad.test>\r\n.\r\n"
	if got := sendMessage(tc, text); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply = %q", got)
	}
	msgs := b.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	if got, want := string(msgs[0].Data), "Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<evil@bad.test>\r\n"; got != want {
		t.Errorf("stored %q, want %q", got, want)
	}
	tc.send("NOOP")
	tc.expect("250 2.0.0 OK")
}

func TestDataDotCRLFAfterBareLFIsNotEndOfData(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	if got := sendMessage(tc, "a\n.\r\nb\r\n.\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("reply = %q", got)
	}
	if got, want := string(b.Messages()[0].Data), "a\r\n.\r\nb\r\n"; got != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestDataRefusedByBackend(t *testing.T) {
	b := &hookBackend{data: func(r io.Reader) error {
		io.Copy(io.Discard, r)
		return smtp.Errorf(smtp.C554Failed, "5.7.1", "Message content rejected")
	}}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	if got := sendMessage(tc, "spam\r\n.\r\n"); got != "554 5.7.1 Message content rejected" {
		t.Errorf("reply = %q", got)
	}
}

func TestDataBackendReturningEarlyIsDrained(t *testing.T) {
	b := &hookBackend{data: func(r io.Reader) error {
		return smtp.Errorf(smtp.C451LocalError, "4.3.0", "Queue full")
	}}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	if got := sendMessage(tc, "line 1\r\nline 2\r\nQUIT\r\n.\r\n"); got != "451 4.3.0 Queue full" {
		t.Errorf("reply = %q", got)
	}
	tc.send("NOOP")
	tc.expect("250 2.0.0 OK")
}

func TestDisconnectMidDataStoresNothing(t *testing.T) {
	dataErr := make(chan error, 1)
	b := &hookBackend{}
	b.data = func(r io.Reader) error {
		_, err := io.ReadAll(r)
		dataErr <- err
		return err
	}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.sendRaw("Subject: cut\r\n\r\nhalf a mess")
	tc.c.Close()
	if err := <-dataErr; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Data read error = %v, want io.ErrUnexpectedEOF", err)
	}
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

func TestMemoryBackendStoresNothingOnDisconnect(t *testing.T) {
	b := &MemoryBackend{}
	srv, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.sendRaw("Subject: cut\r\n")
	tc.c.Close()
	// Shutdown returns once every session has ended.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, aborted := len(b.Messages()), b.Aborted(); n != 0 || aborted != 1 {
		t.Errorf("stored %d, aborted %d; want 0 and 1", n, aborted)
	}
}

func TestRset(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "RSET", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("250 2.0.0 Reset OK")
	tc.expect("503 5.5.1 ")
}

func TestRsetWithArgumentIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("RSET all")
	tc.expect("501 5.5.4 RSET takes no argument")
}

func TestSecondEhloResetsTransaction(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("250 ")
	tc.send("EHLO again.example.test")
	tc.expectReply("250")
	tc.send("RCPT TO:<b@b.test>")
	tc.expect("503 5.5.1 Need MAIL before RCPT")
}

func TestNoop(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("NOOP", "noop anything")
	tc.expect("250 2.0.0 OK")
	tc.expect("250 2.0.0 OK")
}

func TestQuit(t *testing.T) {
	_, addr := startServer(t, Options{Hostname: "mx.example.test"}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("QUIT")
	tc.expect("221 2.0.0 mx.example.test closing connection, bye")
	tc.expectClosed()
}

func TestQuitWithArgumentIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("QUIT now")
	tc.expect("501 5.5.4 QUIT takes no argument")
}

func TestVrfyIs252(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("VRFY bob")
	tc.expect("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery")
}

func TestVrfyWithoutArgumentIs501(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("VRFY")
	tc.expect("501 5.5.4 ")
}

func TestExpnIs502(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EXPN staff")
	tc.expect("502 5.5.1 EXPN not implemented")
}

func TestHelp(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("HELP")
	got := tc.expectReply("214")
	if want := "214-2.0.0 Commands: DATA EHLO EXPN HELO HELP MAIL NOOP QUIT RCPT RSET VRFY"; got[0] != want {
		t.Errorf("HELP first line = %q, want %q", got[0], want)
	}
	tc.send("help mail")
	tc.expect("214 2.0.0 MAIL FROM:<address> [SIZE=octets] [BODY=7BIT|8BITMIME]")
}

func TestHelpUnknownTopicIs504(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("HELP LHLO")
	tc.expect(`504 5.5.4 No help for "LHLO"`)
}

func TestUnknownCommandIs500(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("TURN", "LHLO x", "MA\x00IL")
	tc.expect("500 5.5.2 Command TURN not recognized")
	tc.expect("500 5.5.2 Command LHLO not recognized")
	tc.expect("500 5.5.2 NUL octet in command line")
}

func TestPipelinedRepliesInOneWrite(t *testing.T) {
	l := netconntest.NewPipeListener()
	serveOn(t, Options{}, &MemoryBackend{}, l)
	var server *tracingConn
	tc := newTestClient(t, l.Dial(func(c net.Conn) net.Conn { server = &tracingConn{Conn: c}; return server }))
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@c.test>", "DATA")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("250 2.1.5 ")
	tc.expect("354 ")
	writes, _ := server.snapshot()
	want := "250 2.1.0 Sender <a@a.test> OK\r\n250 2.1.5 Recipient <b@b.test> OK\r\n250 2.1.5 Recipient <c@c.test> OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
	if !slices.Contains(writes, want) {
		t.Errorf("the four replies did not leave in one write; writes:\n%q", writes)
	}
}

func TestTracerSeesStatesAndBulkMark(t *testing.T) {
	l := netconntest.NewPipeListener()
	infos := make(chan *ConnInfo, 1)
	b := &infoBackend{infos: infos}
	serveOn(t, Options{}, b, l)
	var server *tracingConn
	tc := newTestClient(t, l.Dial(func(c net.Conn) net.Conn { server = &tracingConn{Conn: c}; return server }))
	tc.expect("220 ")
	if info := <-infos; info.Tracer != server {
		t.Errorf("ConnInfo.Tracer = %v, want the connection's tracer", info.Tracer)
	}
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.send("bare LF next", "x\ny", ".")
	tc.expect("250 ")
	tc.send("QUIT")
	tc.expect("221 ")
	tc.expectClosed()
	_, events := server.snapshot()
	want := []string{
		"state Connected -> Ready",
		"state Ready -> Mail",
		"state Mail -> Rcpt",
		"state Rcpt -> Data",
		"mark C bulk",
		"mark C none",
		"note bare LF line endings in the message were turned into CRLF (RFC 5322 section 2.3)",
		"state Data -> Ready",
		"state Ready -> Closed",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("tracer events (-want +got):\n%s", diff)
	}
}

type infoBackend struct {
	MemoryBackend
	infos chan *ConnInfo
}

func (b *infoBackend) NewSession(c *ConnInfo) (Session, error) {
	b.infos <- c
	return b.MemoryBackend.NewSession(c)
}

func TestOverlongCommandLineThenSessionGoesOn(t *testing.T) {
	_, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<" + strings.Repeat("a", 600) + "@a.test>")
	tc.expect("500 5.5.2 Line too long (the limit is 512 octets)")
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("250 2.1.0 ")
}

func TestMaxErrors(t *testing.T) {
	_, addr := startServer(t, Options{MaxErrors: 3}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("BAD1", "NOOP", "BAD2", "BAD3", "BAD4", "NOOP")
	tc.expect("500 5.5.2 Command BAD1")
	tc.expect("250 ")
	tc.expect("500 5.5.2 Command BAD2")
	tc.expect("500 5.5.2 Command BAD3")
	tc.expect("421 4.7.0 Too many errors, closing connection")
	tc.expectClosed()
}

func TestMaxConns(t *testing.T) {
	_, addr := startServer(t, Options{MaxConns: 1}, &MemoryBackend{})
	first := dial(t, addr)
	first.expect("220 ")
	second := dial(t, addr)
	second.expect("421 4.7.0 Too many connections, try later")
	second.expectClosed()
	// The first session is unaffected, and its place frees up after QUIT.
	first.send("QUIT")
	first.expect("221 ")
	first.expectClosed()
}

func TestMaxConnsFreesPlaces(t *testing.T) {
	_, addr := startServer(t, Options{MaxConns: 1}, &MemoryBackend{})
	first := dial(t, addr)
	first.expect("220 ")
	first.send("QUIT")
	first.expect("221 ")
	first.expectClosed()
	// The session was forgotten before its connection closed, so its
	// place is free now.
	third := dial(t, addr)
	third.expect("220 ")
}

func TestShutdownTellsIdleClient421(t *testing.T) {
	srv, addr := startServer(t, Options{}, &MemoryBackend{})
	tc := ehlo(t, addr)
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	tc.expect("421 4.3.2 Service shutting down")
	tc.expectClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestShutdownLetsDataFinish(t *testing.T) {
	b := &MemoryBackend{}
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{}, b)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	tc := ehlo(t, l.Addr().String())
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	if err := <-served; err != nil { // Shutdown has begun
		t.Errorf("Serve = %v", err)
	}
	tc.send("Subject: last one", ".")
	tc.expect("250 2.0.0 ")
	tc.send("NOOP")
	tc.expect("421 4.3.2 Service shutting down")
	tc.expectClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if n := len(b.Messages()); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
}

func TestShutdownClosesSessionsWhenContextEnds(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	b := &hookBackend{mail: func(mail.Path) error {
		close(entered)
		<-release
		return nil
	}}
	srv, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>")
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	tc.expectClosed()
	close(release)
}

func TestServeAfterShutdownReturnsNil(t *testing.T) {
	srv := New(Options{}, &MemoryBackend{})
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	_, addr := startServer(t, Options{ReadTimeout: 20 * time.Millisecond}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.expect("421 4.4.2 Idle timeout, closing connection")
	tc.expectClosed()
}

func TestDataTimeout(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{DataTimeout: 20 * time.Millisecond}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.send("Subject: slow")
	tc.expect("421 4.4.2 Timeout waiting for message data")
	tc.expectClosed()
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

func TestPanicInBackendIs421(t *testing.T) {
	b := &hookBackend{mail: func(mail.Path) error { panic("backend bug") }}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("421 4.3.0 Internal error, closing connection")
	tc.expectClosed()
	// The server still serves others.
	other := dial(t, addr)
	other.expect("220 ")
}

func TestNewSessionRefusalReplacesGreeting(t *testing.T) {
	b := &hookBackend{refuse: smtp.Errorf(smtp.C554Failed, "5.7.1", "No SMTP service here")}
	_, addr := startServer(t, Options{}, b)
	tc := dial(t, addr)
	tc.expect("554 5.7.1 No SMTP service here")
	tc.expectClosed()
}

func TestLMTPRepliesPerRecipient(t *testing.T) {
	b := &MemoryBackend{
		Mailboxes: []string{"bob@b.test", "full@b.test"},
		Deliver: func(to mail.Path) error {
			if to.Local == "full" {
				return smtp.Errorf(smtp.C452TooManyRecipients, "4.2.2", "Mailbox %s is full", to.Bracketed())
			}
			return nil
		},
	}
	_, addr := startServer(t, Options{LMTP: true, Hostname: "mda.b.test"}, b)
	tc := dial(t, addr)
	tc.expect("220 mda.b.test LMTP maillab ready")
	tc.send("LHLO mx.b.test")
	if got := tc.expectReply("250"); got[0] != "250-mda.b.test greets mx.b.test" {
		t.Errorf("LHLO reply starts %q", got[0])
	}
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<bob@b.test>", "RCPT TO:<nobody@b.test>", "RCPT TO:<full@b.test>", "DATA")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("550 5.1.1 ")
	tc.expect("250 2.1.5 ")
	tc.expect("354 ")
	tc.send("Subject: hi", "", "text", ".")
	tc.expect("250 2.1.5 <bob@b.test> Message delivered")
	tc.expect("452 4.2.2 Mailbox <full@b.test> is full")
	tc.send("NOOP")
	tc.expect("250 2.0.0 OK")
	msgs := b.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0].Local != "bob" {
		t.Errorf("messages = %+v, want one for bob only", msgs)
	}
}

func TestLMTPRefusesHeloAndEhlo(t *testing.T) {
	_, addr := startServer(t, Options{LMTP: true}, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO mx.b.test", "HELO mx.b.test", "MAIL FROM:<a@a.test>")
	tc.expect("500 5.5.1 This is an LMTP server: use LHLO (RFC 2033)")
	tc.expect("500 5.5.1 This is an LMTP server: use LHLO (RFC 2033)")
	tc.expect("503 5.5.1 Send LHLO first")
}

func TestLMTPOverSizeIs552ForEachRecipient(t *testing.T) {
	b := &MemoryBackend{}
	_, addr := startServer(t, Options{LMTP: true, MaxMessageBytes: 10}, b)
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("LHLO mx.b.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.send("this line is longer than ten octets", ".")
	tc.expect("552 5.3.4 ")
	tc.expect("552 5.3.4 ")
	if n := len(b.Messages()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
}

// plainSession implements Session but not LMTPSession.
type plainBackend struct{}

func (b *plainBackend) NewSession(*ConnInfo) (Session, error) { return plainSession{}, nil }

type plainSession struct{}

func (plainSession) Mail(mail.Path, smtp.MailParams) error { return nil }
func (plainSession) Rcpt(mail.Path) error                  { return nil }
func (plainSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	return smtp.Errorf(smtp.C554Failed, "5.6.0", "Refused")
}
func (plainSession) Reset()       {}
func (plainSession) Close() error { return nil }

func TestLMTPWithPlainSessionRepeatsTheResult(t *testing.T) {
	_, addr := startServer(t, Options{LMTP: true}, &plainBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("LHLO mx.b.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@b.test>", "DATA")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("354 ")
	tc.send("x", ".")
	tc.expect("554 5.6.0 Refused")
	tc.expect("554 5.6.0 Refused")
}

// Regression: a backend's own 250 reply ("queued as ...") was counted as an
// error, so the (MaxErrors+1)th message of a session got 421.
func TestData2yzFromBackendIsSentAndNotCounted(t *testing.T) {
	b := &hookBackend{data: func(r io.Reader) error {
		io.Copy(io.Discard, r)
		return smtp.Errorf(smtp.C250OK, "2.0.0", "Ok: queued as 4F2A")
	}}
	_, addr := startServer(t, Options{MaxErrors: 1}, b)
	tc := ehlo(t, addr)
	for range 3 {
		if got := sendMessage(tc, "hi\r\n.\r\n"); got != "250 2.0.0 Ok: queued as 4F2A" {
			t.Fatalf("reply = %q", got)
		}
	}
}

func TestMail2yzFromBackendOpensTransaction(t *testing.T) {
	b := &hookBackend{mail: func(from mail.Path) error {
		return smtp.Errorf(smtp.C250OK, "2.1.0", "Originator %s ok", from.Bracketed())
	}}
	_, addr := startServer(t, Options{}, b)
	tc := ehlo(t, addr)
	tc.send("MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>")
	tc.expect("250 2.1.0 Originator <a@a.test> ok")
	tc.expect("250 2.1.5 ")
}
