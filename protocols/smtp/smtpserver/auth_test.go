package smtpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/netconn/netconntest"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

// b64 is what a client sends for s.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// plain is a PLAIN message (RFC 4616 section 2), base64-encoded.
func plain(authzid, user, pass string) string { return b64(authzid + "\x00" + user + "\x00" + pass) }

// authOptions offer AUTH with one user, alice@a.test, password "secret".
func authOptions() Options {
	// No delay after a failure here: TestAuthFailDelay checks it.
	return Options{Authenticator: Passwords{"alice@a.test": "secret"}, AllowInsecureAuth: true, AuthFailDelay: -1}
}

// authBackend reports what each MAIL saw: the authenticated user and the
// AUTH= parameter.
type authBackend struct {
	MemoryBackend
	mails chan [2]string // {ConnInfo.User, MailParams.Auth}
}

func newAuthBackend() *authBackend { return &authBackend{mails: make(chan [2]string, 10)} }

func (b *authBackend) NewSession(c *ConnInfo) (Session, error) {
	s, _ := b.MemoryBackend.NewSession(c)
	return &authSession{memorySession: s.(*memorySession), b: b}, nil
}

type authSession struct {
	*memorySession
	b *authBackend
}

func (s *authSession) Mail(from mail.Path, p smtp.MailParams) error {
	s.b.mails <- [2]string{s.info.User, p.Auth}
	return s.memorySession.Mail(from, p)
}

// startAuth serves a new authBackend with opts and returns a client after
// EHLO.
func startAuth(t *testing.T, opts Options) (*authBackend, *testClient) {
	t.Helper()
	b := newAuthBackend()
	_, addr := startServer(t, opts, b)
	return b, ehlo(t, addr)
}

func TestEhloListsAuthWhenOffered(t *testing.T) {
	_, addr := startServer(t, authOptions(), &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	got := tc.expectReply("250")
	if want := []string{"250-AUTH PLAIN LOGIN", "250 HELP"}; !cmp.Equal(want, got[len(got)-2:]) {
		t.Errorf("EHLO reply = %q, want it to end with %q", got, want)
	}
	tc.send("HELP")
	if lines := tc.expectReply("214"); !strings.Contains(lines[0], " AUTH ") {
		t.Errorf("HELP = %q, want AUTH listed", lines)
	}
}

func TestAuthNotOfferedWithoutAuthenticator(t *testing.T) {
	b, tc := startAuth(t, Options{})
	tc.send("HELP")
	if lines := tc.expectReply("214"); strings.Contains(lines[0], "AUTH") {
		t.Errorf("HELP = %q, want no AUTH", lines)
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("502 5.5.1 AUTH not available on this server")
	tc.send("HELP AUTH")
	tc.expect("504 5.5.4 ")
	tc.send("MAIL FROM:<a@a.test> AUTH=<>")
	tc.expect("555 5.5.4 MAIL parameter AUTH not recognized")
	if len(b.mails) != 0 {
		t.Error("the session saw a MAIL refused for its AUTH= parameter")
	}
}

// Without AllowInsecureAuth the password may cross only under TLS, and this
// server has none: AUTH is not listed, and using it gets 538 (see
// starttls_test.go for the same after STARTTLS).
func TestAuthNeedsAllowInsecureAuth(t *testing.T) {
	opts := authOptions()
	opts.AllowInsecureAuth = false
	_, addr := startServer(t, opts, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	for _, l := range tc.expectReply("250") {
		if strings.Contains(l, "AUTH") {
			t.Errorf("EHLO lists %q without AllowInsecureAuth", l)
		}
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("538 5.7.11 Encryption required for requested authentication mechanism")
}

func TestLMTPNeverOffersAuth(t *testing.T) {
	opts := authOptions()
	opts.LMTP = true
	_, addr := startServer(t, opts, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("LHLO mx.example.test")
	for _, l := range tc.expectReply("250") {
		if strings.Contains(l, "AUTH") {
			t.Errorf("LHLO lists %q", l)
		}
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("500 5.5.2 Command AUTH not recognized")
}

func TestAuthPlainInitialResponse(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 2.7.0 Authentication successful")
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("250 2.1.0 ")
	if got := <-b.mails; got[0] != "alice@a.test" {
		t.Errorf("ConnInfo.User at MAIL = %q, want alice@a.test", got[0])
	}
}

func TestAuthPlainAfterEmptyChallenge(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("auth plain")
	// RFC 4954 section 4: an empty challenge is "334 " and nothing more.
	if got := tc.expect("334"); got != "334 " {
		t.Errorf("challenge = %q, want %q", got, "334 ")
	}
	tc.send(plain("", "alice@a.test", "secret"))
	tc.expect("235 2.7.0 ")
}

// RFC 4954 section 4: "=" is an empty initial response, not bad base64.
// An empty PLAIN message is no PLAIN message.
func TestAuthPlainEqualsIsEmptyInitialResponse(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN =")
	tc.expect("501 5.5.2 PLAIN expects base64 of: [authorization identity] NUL user NUL password")
}

func TestAuthPlainAuthzid(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	// Acting as someone else is refused, whatever the password.
	tc.send("AUTH PLAIN " + plain("bob@a.test", "alice@a.test", "secret"))
	tc.expect("535 5.7.8 Authentication credentials invalid: no user may act as another here")
	// The authzid may name the user herself.
	tc.send("AUTH PLAIN " + plain("alice@a.test", "alice@a.test", "secret"))
	tc.expect("235 2.7.0 ")
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("250 ")
	if got := <-b.mails; got[0] != "alice@a.test" {
		t.Errorf("ConnInfo.User = %q", got[0])
	}
}

func TestAuthLogin(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH LOGIN")
	tc.expect("334 VXNlcm5hbWU6") // "Username:"
	tc.send(b64("alice@a.test"))
	tc.expect("334 UGFzc3dvcmQ6") // "Password:"
	tc.send(b64("secret"))
	tc.expect("235 2.7.0 Authentication successful")
}

func TestAuthLoginInitialResponse(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH LOGIN " + b64("alice@a.test"))
	tc.expect("334 UGFzc3dvcmQ6")
	tc.send(b64("secret"))
	tc.expect("235 2.7.0 ")
}

func TestAuthWrongPasswordThenRight(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "guess"))
	tc.expect("535 5.7.8 Authentication credentials invalid")
	tc.send("AUTH LOGIN")
	tc.expect("334 ")
	tc.send(b64("mallory@a.test"))
	tc.expect("334 ")
	tc.send(b64("secret"))
	tc.expect("535 5.7.8 Authentication credentials invalid")
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("250 ")
	if got := <-b.mails; got[0] != "" {
		t.Errorf("ConnInfo.User after failures = %q, want none", got[0])
	}
	tc.send("RSET", "AUTH PLAIN "+plain("", "alice@a.test", "secret"))
	tc.expect("250 ")
	tc.expect("235 ")
}

func TestAuthEmptyUserIsInvalid(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH LOGIN =")
	tc.expect("334 UGFzc3dvcmQ6")
	tc.send(b64("secret"))
	tc.expect("535 5.7.8 ")
}

func TestAuthBadBase64(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN not-base64!")
	tc.expect("501 5.5.2 Cannot decode the response: it is not base64")
	tc.send("AUTH LOGIN")
	tc.expect("334 VXNlcm5hbWU6")
	tc.send("YWxpY2U") // padding missing
	tc.expect("501 5.5.2 Cannot decode the response")
	// Not a PLAIN message: two parts only.
	tc.send("AUTH PLAIN " + b64("alice\x00secret"))
	tc.expect("501 5.5.2 PLAIN expects base64 of: ")
	tc.send("AUTH PLAIN " + b64("\x00alice\x00\xff"))
	tc.expect("501 5.5.2 PLAIN identities and password must be UTF-8")
}

func TestAuthCancelled(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN")
	tc.expect("334 ")
	tc.send("*")
	tc.expect("501 5.7.0 Authentication cancelled")
	tc.send("AUTH LOGIN")
	tc.expect("334 VXNlcm5hbWU6")
	tc.send(b64("alice@a.test"))
	tc.expect("334 UGFzc3dvcmQ6")
	tc.send("*")
	tc.expect("501 5.7.0 Authentication cancelled")
	// The session goes on.
	tc.send("NOOP")
	tc.expect("250 ")
}

func TestAuthUnknownMechanism(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH CRAM-MD5")
	tc.expect("504 5.5.4 Unrecognized authentication type CRAM-MD5: this server offers PLAIN LOGIN")
	tc.send("AUTH PL\x01AIN")
	tc.expect("504 5.5.4 Unrecognized authentication type: this server offers PLAIN LOGIN")
}

func TestAuthSyntax(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH")
	tc.expect("501 5.5.4 Syntax: AUTH mechanism [initial-response]")
	tc.send("AUTH PLAIN a b")
	tc.expect("501 5.5.4 Syntax: ")
}

func TestAuthOutOfSequence(t *testing.T) {
	_, addr := startServer(t, authOptions(), &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("503 5.5.1 Send EHLO or HELO first")
	tc.send("HELO client.example.test")
	tc.expect("250 ")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("503 5.5.1 AUTH is an ESMTP extension")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("250 ")
	// RFC 4954 section 4: not during a mail transaction.
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("503 5.5.1 AUTH is not allowed during a mail transaction")
	tc.send("RSET", "AUTH PLAIN "+plain("", "alice@a.test", "secret"))
	tc.expect("250 ")
	tc.expect("235 ")
	// RFC 4954 section 4: one successful AUTH per session.
	tc.send("AUTH LOGIN")
	tc.expect("503 5.5.1 Already authenticated")
}

// RSET and a new EHLO end the transaction, not the authentication.
func TestRsetAndEhloKeepAuth(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 ")
	tc.send("RSET")
	tc.expect("250 ")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("250 ")
	if got := <-b.mails; got[0] != "alice@a.test" {
		t.Errorf("ConnInfo.User after RSET and EHLO = %q", got[0])
	}
}

func TestAuthResponseLineTooLong(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	// Exactly the limit, CRLF included: read, then found not to be base64.
	tc.send("AUTH PLAIN")
	tc.expect("334 ")
	tc.send(strings.Repeat("A", 12288-2))
	tc.expect("501 5.5.2 ")
	// One more octet: 500 5.5.6, and the session goes on.
	tc.send("AUTH PLAIN")
	tc.expect("334 ")
	tc.send(strings.Repeat("A", 12288-1))
	tc.expect("500 5.5.6 Authentication exchange line is too long (the limit is 12288 octets)")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 ")
}

func TestAuthFailuresCountTowardsMaxErrors(t *testing.T) {
	opts := authOptions()
	opts.MaxErrors = 2
	_, tc := startAuth(t, opts)
	for range 2 {
		tc.send("AUTH PLAIN " + plain("", "alice@a.test", "guess"))
		tc.expect("535 5.7.8 ")
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "guess"))
	tc.expect("421 4.7.0 Too many errors")
	tc.expectClosed()
}

func TestAuthenticatorReplies(t *testing.T) {
	errDB := errors.New("user database unreachable")
	opts := authOptions()
	opts.Authenticator = AuthenticatorFunc(func(info *ConnInfo, user, pass string) error {
		if info.Helo != "client.example.test" {
			t.Errorf("Authenticator saw Helo %q", info.Helo)
		}
		switch user {
		case "temp":
			return smtp.Errorf(smtp.C454TemporaryFailure, "4.7.0", "Try again later")
		case "broken":
			return errDB
		case "chatty":
			return smtp.Errorf(smtp.C235AuthSucceeded, "2.7.0", "Welcome back, chatty")
		}
		return ErrAuthInvalid
	})
	_, tc := startAuth(t, opts)
	tc.send("AUTH PLAIN " + plain("", "temp", "x"))
	tc.expect("454 4.7.0 Try again later")
	tc.send("AUTH PLAIN " + plain("", "broken", "x"))
	tc.expect("454 4.7.0 Temporary authentication failure")
	tc.send("AUTH PLAIN " + plain("", "chatty", "x"))
	tc.expect("235 2.7.0 Welcome back, chatty")
}

// RFC 4954 section 4: AUTH PLAIN with its initial response completes in one
// round trip, so it may be followed by more commands in the same group.
func TestAuthPlainPipelinedWithTransaction(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN "+plain("", "alice@a.test", "secret"), "MAIL FROM:<alice@a.test> AUTH=alice@a.test", "RCPT TO:<bob@b.test>", "DATA")
	tc.expect("235 2.7.0 ")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("354 ")
	tc.send("hi", ".")
	tc.expect("250 ")
	if got := <-b.mails; got != [2]string{"alice@a.test", "alice@a.test"} {
		t.Errorf("MAIL saw %q, want the user and her AUTH=", got)
	}
}

// A client that sends its answer with the command, before the 334, is
// wrong (RFC 4954 section 4 allows only PLAIN's initial response), but the
// server reads the answer as the answer all the same.
func TestAuthAnswerSentAhead(t *testing.T) {
	_, tc := startAuth(t, authOptions())
	tc.send("AUTH PLAIN", plain("", "alice@a.test", "secret"), "NOOP")
	tc.expect("334 ")
	tc.expect("235 ")
	tc.expect("250 ")
}

func TestMailAuthParameter(t *testing.T) {
	b, tc := startAuth(t, authOptions())
	// RFC 4954 section 5: before AUTH, AUTH= is taken as AUTH=<>.
	tc.send("MAIL FROM:<a@a.test> AUTH=alice@a.test", "RSET")
	tc.expect("250 ")
	tc.expect("250 ")
	if got := <-b.mails; got != [2]string{"", "<>"} {
		t.Errorf("MAIL before AUTH saw %q", got)
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 ")
	tc.send("MAIL FROM:<a@a.test> AUTH=e+3Dmc2@a.test", "RSET", "MAIL FROM:<a@a.test>")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.expect("250 ")
	if got := <-b.mails; got != [2]string{"alice@a.test", "e=mc2@a.test"} {
		t.Errorf("MAIL after AUTH saw %q", got)
	}
	if got := <-b.mails; got != [2]string{"alice@a.test", ""} {
		t.Errorf("MAIL without AUTH= saw %q", got)
	}
	tc.send("RSET", "MAIL FROM:<a@a.test> AUTH=a+2")
	tc.expect("250 ")
	tc.expect("501 5.5.4 AUTH=a+2: ")
}

func TestAuthIdleTimeout(t *testing.T) {
	opts := authOptions()
	opts.ReadTimeout = 50 * time.Millisecond
	_, tc := startAuth(t, opts)
	tc.send("AUTH LOGIN")
	tc.expect("334 ")
	tc.expect("421 4.4.2 Idle timeout")
	tc.expectClosed()
}

func TestShutdownDuringAuth(t *testing.T) {
	srv, addr := startServer(t, authOptions(), &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("AUTH LOGIN")
	tc.expect("334 ")
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	tc.expect("421 4.3.2 Service shutting down")
	tc.expectClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestAuthTracerMarksAndNotes(t *testing.T) {
	l := netconntest.NewPipeListener()
	serveOn(t, authOptions(), &MemoryBackend{}, l)
	var server *tracingConn
	tc := newTestClient(t, l.Dial(func(c net.Conn) net.Conn { server = &tracingConn{Conn: c}; return server }))
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "guess"))
	tc.expect("535 ")
	tc.send("AUTH LOGIN")
	tc.expect("334 ")
	tc.send(b64("alice@a.test"))
	tc.expect("334 ")
	tc.send(b64("secret"))
	tc.expect("235 ")
	tc.send("QUIT")
	tc.expect("221 ")
	tc.expectClosed()
	_, events := server.snapshot()
	want := []string{
		"state Connected -> Ready",
		// The AUTH PLAIN line was read before anyone could mark it: the
		// transcript tap recognises an initial response by itself.
		"note authentication failed for alice@a.test (AUTH PLAIN)",
		"mark C secret",
		"mark C none",
		"mark C secret",
		"mark C none",
		"note authenticated as alice@a.test (AUTH LOGIN; the password crossed unencrypted: base64 is not encryption)",
		"state Ready -> Closed",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("tracer events (-want +got):\n%s", diff)
	}
}

// The whole path a class sees: the server behind the transcript tap, the
// text renderer masking every line that carries credentials.
func TestAuthTranscriptMasksCredentials(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	inner, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	l := rec.Listen(inner, "mx.a.test", "smtp")
	serveOn(t, authOptions(), &MemoryBackend{}, l)
	conn, err := rec.Dialer("alice", "smtp", nil)(t.Context(), "tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestClient(t, conn)
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	wrongPlain, user, pass := plain("", "alice@a.test", "guess"), b64("alice@a.test"), b64("secret")
	tc.send("AUTH PLAIN " + wrongPlain)
	tc.expect("535 ")
	tc.send("AUTH PLAIN")
	tc.expect("334 ")
	tc.send("*")
	tc.expect("501 ")
	tc.send("AUTH LOGIN")
	tc.expect("334 ")
	tc.send(user)
	tc.expect("334 ")
	tc.send(pass)
	tc.expect("235 ")
	tc.send("NOOP")
	tc.expect("250 ")

	var out bytes.Buffer
	tx := render.NewText(&out, render.Options{Width: -1})
	for _, e := range rec.Events() {
		if err := tx.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Flush(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, secret := range []string{wrongPlain, user, pass, "guess"} {
		if strings.Contains(got, secret) {
			t.Errorf("the transcript shows %q:\n%s", secret, got)
		}
	}
	var clientLines []string
	for _, line := range strings.Split(got, "\n") {
		if _, text, ok := strings.Cut(line, " C: "); ok {
			clientLines = append(clientLines, text)
		}
	}
	wantLines := []string{"EHLO client.example.test", "AUTH PLAIN ***", "AUTH PLAIN", "***", "AUTH LOGIN", "***", "***", "NOOP"}
	if diff := cmp.Diff(wantLines, clientLines); diff != "" {
		t.Errorf("client lines (-want +got):\n%s\ntranscript:\n%s", diff, got)
	}
	for _, note := range []string{"authentication failed for alice@a.test (AUTH PLAIN)", "authenticated as alice@a.test (AUTH LOGIN"} {
		if !strings.Contains(got, note) {
			t.Errorf("the transcript lacks the note %q:\n%s", note, got)
		}
	}
}

func TestInteropSwaksAuth(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	for _, tt := range []struct {
		mech, password string
		ok             bool
	}{
		{"PLAIN", "secret", true},
		{"LOGIN", "secret", true},
		{"PLAIN", "wrong", false},
		{"LOGIN", "wrong", false},
	} {
		t.Run(tt.mech+"/"+tt.password, func(t *testing.T) {
			b := newAuthBackend()
			opts := authOptions()
			opts.Authenticator = Passwords{"alice@a.example": "secret"}
			_, addr := startServer(t, opts, b)
			out, err := exec.Command(swaks, "--server", addr, "--helo", "swaks.example.test",
				"--auth", tt.mech, "--auth-user", "alice@a.example", "--auth-password", tt.password,
				"--from", "alice@a.example", "--to", "bob@b.example", "--timeout", "30").CombinedOutput()
			if !tt.ok {
				if err == nil {
					t.Fatalf("swaks with a wrong password succeeded:\n%s", out)
				}
				if !bytes.Contains(out, []byte("535 5.7.8")) {
					t.Fatalf("swaks output lacks the 535 5.7.8 refusal:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("swaks: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("235 2.7.0")) {
				t.Errorf("swaks output lacks the 235 2.7.0:\n%s", out)
			}
			if got := <-b.mails; got[0] != "alice@a.example" {
				t.Errorf("ConnInfo.User at MAIL = %q", got[0])
			}
			if msgs := b.Messages(); len(msgs) != 1 || msgs[0].To[0].String() != "bob@b.example" {
				t.Errorf("messages = %+v, want one to bob@b.example", msgs)
			}
		})
	}
}

// FuzzAuthPlain feeds AUTH arguments and answers through the decoding the
// server does: every refusal is a one-line 5yz with an enhanced code, and
// what PLAIN accepts re-encodes to the same message.
func FuzzAuthPlain(f *testing.F) {
	for _, s := range []string{
		"PLAIN " + plain("", "alice@a.test", "secret"), "PLAIN " + plain("alice", "alice", "pw"),
		"PLAIN =", "PLAIN", "LOGIN " + b64("alice"), "login", "CRAM-MD5", "PLAIN *", "PLAIN a b",
		"PLAIN " + b64("alice\x00secret"), "PLAIN " + b64("\x00\x00"), "PLAIN AGFsaWNlAHNlY3JldA",
		"PLAIN " + b64("\x00alice\x00\xff"), "", "   ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		check := func(what string, err error) {
			e, ok := errors.AsType[*smtp.Error](err)
			if !ok || e.Code/100 != 5 || e.Enhanced == "" || strings.ContainsAny(e.Message, "\r\n") {
				t.Fatalf("%s(%q): %v is not a one-line 5yz reply", what, arg, err)
			}
		}
		mech, ir, hasIR, err := parseAuthArg(arg)
		if err != nil {
			check("parseAuthArg", err)
			return
		}
		if mech == "" || mech != strings.ToUpper(mech) || hasIR && ir == "" {
			t.Fatalf("parseAuthArg(%q) = %q, %q, %v", arg, mech, ir, hasIR)
		}
		// The same text as an answer to a 334.
		if _, err := decodeResponse(ir); err != nil {
			check("decodeResponse", err)
		}
		msg, err := decodeInitialResponse(ir)
		if err != nil {
			check("decodeInitialResponse", err)
			return
		}
		authzid, user, pass, err := parsePlain(msg)
		if err != nil {
			check("parsePlain", err)
			return
		}
		if user == "" || pass == "" || strings.Contains(authzid+user+pass, "\x00") {
			t.Fatalf("parsePlain(%q) = %q, %q, %q", msg, authzid, user, pass)
		}
		if again := authzid + "\x00" + user + "\x00" + pass; again != string(msg) {
			t.Fatalf("parsePlain(%q) does not re-encode: %q", msg, again)
		}
		if s := shown(user); len(s) > 64+len("...")+3 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }) {
			t.Fatalf("shown(%q) = %q", user, s)
		}
	})
}

// A failed AUTH is answered only after AuthFailDelay, to slow down
// guessing; Shutdown cuts that wait short, and the client still gets its
// 535 before the 421.
func TestAuthFailDelay(t *testing.T) {
	opts := authOptions()
	opts.AuthFailDelay = time.Hour
	srv, addr := startServer(t, opts, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expectReply("220")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "wrong"))
	answered := make(chan []string, 1)
	go func() { answered <- tc.expectReply("535") }()
	select {
	case got := <-answered:
		t.Fatalf("the failure was answered at once, not after the delay: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	go func() { _ = srv.Shutdown(ctx) }()
	if got := <-answered; !strings.Contains(strings.Join(got, "\n"), "5.7.8") {
		t.Errorf("reply after the cut wait: %q", got)
	}
	tc.expectReply("421")
}
