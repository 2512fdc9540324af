package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/netconn/netconntest"
	"github.com/maillab/maillab/protocols/smtp"
)

// tlsOptions offer STARTTLS with the test CA's certificate, and AUTH for
// alice@a.test (password "secret") under TLS only.
func tlsOptions(t testing.TB) Options {
	return Options{
		TLSConfig:     tlstest.Shared(t).ServerConfig(),
		Authenticator: Passwords{"alice@a.test": "secret"},
	}
}

// clientTLS trusts the test CA.
func clientTLS(t testing.TB) *tls.Config { return tlstest.Shared(t).ClientConfig("localhost") }

// startTLS sends STARTTLS, expects the 220 and runs the client side of the
// handshake; from then on tc speaks through TLS.
func (tc *testClient) startTLS(cfg *tls.Config) error {
	tc.t.Helper()
	tc.send("STARTTLS")
	tc.expect("220 2.0.0 Ready to start TLS")
	return tc.handshake(cfg)
}

func (tc *testClient) handshake(cfg *tls.Config) error {
	sec := tls.Client(tc.c, cfg)
	if err := sec.Handshake(); err != nil {
		return err
	}
	tc.c, tc.r = sec, bufio.NewReader(sec)
	return nil
}

// ehloKeywords sends EHLO and returns the keywords of the reply, without
// the first line.
func (tc *testClient) ehloKeywords() []string {
	tc.t.Helper()
	tc.send("EHLO client.example.test")
	var kw []string
	for _, l := range tc.expectReply("250")[1:] {
		kw = append(kw, l[4:])
	}
	return kw
}

// tlsBackend reports what each MAIL saw: the user and the TLS state.
type tlsBackend struct {
	MemoryBackend
	mails chan ConnInfo
}

func newTLSBackend() *tlsBackend { return &tlsBackend{mails: make(chan ConnInfo, 10)} }

func (b *tlsBackend) NewSession(c *ConnInfo) (Session, error) {
	s, _ := b.MemoryBackend.NewSession(c)
	return &tlsSession{memorySession: s.(*memorySession), b: b}, nil
}

type tlsSession struct {
	*memorySession
	b *tlsBackend
}

func (s *tlsSession) Mail(from mail.Path, p smtp.MailParams) error {
	s.b.mails <- *s.info
	return s.memorySession.Mail(from, p)
}

// The submission path a class watches: EHLO lists STARTTLS and no AUTH;
// after TLS, EHLO again lists AUTH and no STARTTLS; AUTH, then a message.
func TestStartTLSThenAuthThenMessage(t *testing.T) {
	opts := tlsOptions(t)
	opts.RequireAuth = true
	b := newTLSBackend()
	_, addr := startServer(t, opts, b)
	tc := dial(t, addr)
	tc.expect("220 ")
	before := tc.ehloKeywords()
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("530 5.7.0 Authentication required (STARTTLS, EHLO, then AUTH)")
	if err := tc.startTLS(clientTLS(t)); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	after := tc.ehloKeywords()
	wantBefore := []string{"PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS", "HELP"}
	wantAfter := []string{"PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN", "HELP"}
	if diff := cmp.Diff(wantBefore, before); diff != "" {
		t.Errorf("EHLO before TLS (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAfter, after); diff != "" {
		t.Errorf("EHLO after TLS (-want +got):\n%s", diff)
	}
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("530 5.7.0 Authentication required (AUTH first)")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 2.7.0 ")
	tc.send("MAIL FROM:<alice@a.test>", "RCPT TO:<bob@b.test>", "DATA")
	tc.expect("250 2.1.0 ")
	tc.expect("250 2.1.5 ")
	tc.expect("354 ")
	tc.send("Subject: over TLS", "", "hi", ".")
	tc.expect("250 2.0.0 ")
	tc.send("QUIT")
	tc.expect("221 ")
	tc.expectClosed()

	info := <-b.mails
	if info.User != "alice@a.test" || info.TLS == nil || info.Helo != "client.example.test" {
		t.Fatalf("ConnInfo at MAIL: User %q, TLS %v, Helo %q", info.User, info.TLS, info.Helo)
	}
	if info.TLS.Version < tls.VersionTLS12 || info.TLS.ServerName != "localhost" || !info.TLS.HandshakeComplete {
		t.Errorf("ConnInfo.TLS = %+v", info.TLS)
	}
	if msgs := b.Messages(); len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("Subject: over TLS")) {
		t.Errorf("messages = %+v", msgs)
	}
}

// RFC 4954 section 6 and RFC 8314: without AllowInsecureAuth the password
// waits for TLS: AUTH is not listed and gets 538 5.7.11.
func TestAuthRefusedBeforeTLS(t *testing.T) {
	_, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	if kw := tc.ehloKeywords(); slices.ContainsFunc(kw, func(k string) bool { return strings.HasPrefix(k, "AUTH") }) {
		t.Errorf("EHLO lists AUTH before TLS: %q", kw)
	}
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("538 5.7.11 Encryption required for requested authentication mechanism: this server takes passwords only over TLS (STARTTLS first)")
	tc.send("AUTH LOGIN")
	tc.expect("538 5.7.11 ")
}

// RFC 3207 section 4.2: everything learnt before TLS is forgotten: the
// EHLO name, the authentication, the transaction.
func TestStartTLSForgetsTheSession(t *testing.T) {
	opts := tlsOptions(t)
	opts.AllowInsecureAuth = true
	b := newTLSBackend()
	_, addr := startServer(t, opts, b)
	tc := ehlo(t, addr)
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 ")
	if err := tc.startTLS(clientTLS(t)); err != nil {
		t.Fatal(err)
	}
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("503 5.5.1 Send EHLO or HELO first")
	tc.ehloKeywords()
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("250 ")
	if info := <-b.mails; info.User != "" || info.TLS == nil {
		t.Errorf("after STARTTLS: User %q (want none), TLS %v", info.User, info.TLS)
	}
	// The user may log in again, under TLS this time.
	tc.send("RSET", "AUTH PLAIN "+plain("", "alice@a.test", "secret"))
	tc.expect("250 ")
	tc.expect("235 ")
}

func TestStartTLSErrors(t *testing.T) {
	t.Run("not configured", func(t *testing.T) {
		_, addr := startServer(t, Options{}, &MemoryBackend{})
		tc := ehlo(t, addr)
		tc.send("STARTTLS")
		tc.expect("502 5.5.1 STARTTLS not available on this server")
	})
	t.Run("parameters", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
		tc := ehlo(t, addr)
		tc.send("STARTTLS now")
		tc.expect("501 5.5.4 STARTTLS takes no parameters")
		// The session goes on in clear.
		tc.send("NOOP")
		tc.expect("250 ")
	})
	t.Run("in a transaction", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
		tc := ehlo(t, addr)
		tc.send("MAIL FROM:<a@a.test>", "STARTTLS")
		tc.expect("250 ")
		tc.expect("503 5.5.1 STARTTLS is not allowed during a mail transaction")
	})
	t.Run("already active", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
		tc := ehlo(t, addr)
		if err := tc.startTLS(clientTLS(t)); err != nil {
			t.Fatal(err)
		}
		tc.send("STARTTLS")
		tc.expect("503 5.5.1 TLS is already active")
		tc.ehloKeywords()
		tc.send("STARTTLS")
		tc.expect("503 5.5.1 TLS is already active")
	})
	t.Run("no certificate", func(t *testing.T) {
		opts := Options{TLSConfig: &tls.Config{}}
		_, addr := startServer(t, opts, &MemoryBackend{})
		tc := ehlo(t, addr)
		tc.send("STARTTLS")
		tc.expect("454 4.7.0 TLS not available due to temporary reason")
		tc.send("NOOP")
		tc.expect("250 ")
	})
	t.Run("before EHLO", func(t *testing.T) {
		// RFC 3207 does not ask for EHLO first; the client must send it
		// after TLS anyway.
		_, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
		tc := dial(t, addr)
		tc.expect("220 ")
		if err := tc.startTLS(clientTLS(t)); err != nil {
			t.Fatal(err)
		}
		tc.ehloKeywords()
	})
}

// RFC 3207 section 4: with RequireTLS only EHLO, HELO, NOOP, RSET, QUIT
// and STARTTLS work in clear.
func TestRequireTLS(t *testing.T) {
	opts := tlsOptions(t)
	opts.RequireTLS = true
	_, addr := startServer(t, opts, &MemoryBackend{})
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("530 5.7.0 Must issue a STARTTLS command first")
	tc.ehloKeywords()
	for _, cmd := range []string{"MAIL FROM:<a@a.test>", "RCPT TO:<b@b.test>", "DATA", "VRFY bob", "HELP", "AUTH PLAIN " + plain("", "alice@a.test", "secret")} {
		tc.send(cmd)
		tc.expect("530 5.7.0 Must issue a STARTTLS command first")
	}
	tc.send("NOOP", "RSET")
	tc.expect("250 ")
	tc.expect("250 ")
	tc.send("FOO")
	tc.expect("500 5.5.2 ") // unknown stays unknown
	if err := tc.startTLS(clientTLS(t)); err != nil {
		t.Fatal(err)
	}
	tc.ehloKeywords()
	tc.send("MAIL FROM:<a@a.test>")
	tc.expect("250 ")
}

func TestOptionsContradictionsFailServe(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{ImplicitTLS: true}, "smtpserver: ImplicitTLS needs a TLSConfig"},
		{Options{RequireTLS: true}, "smtpserver: RequireTLS needs a TLSConfig"},
		{Options{RequireAuth: true}, "smtpserver: RequireAuth needs an Authenticator"},
		{Options{RequireAuth: true, LMTP: true, Authenticator: Passwords{}}, "smtpserver: RequireAuth needs an Authenticator"},
	} {
		l := netconntest.NewPipeListener()
		err := New(tt.opts, &MemoryBackend{}).Serve(l)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Serve with %+v = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// recordingConn plays the transcript tap's part in the TLS contract
// (wire.TLSRecorder): it notes the handshake or its failure, and the
// connection it returns records the decrypted lines.
type recordingConn struct{ *tracingConn }

func newRecordingConn(c net.Conn) *recordingConn {
	return &recordingConn{&tracingConn{Conn: c}}
}

func (c *recordingConn) StartedTLS(tc *tls.Conn, verified bool) net.Conn {
	c.record(fmt.Sprintf("tls started %s (verified %v)", tls.VersionName(tc.ConnectionState().Version), verified))
	return &decryptedConn{Conn: tc, rec: c}
}

func (c *recordingConn) TLSFailed(err error) { c.record("tls failed: " + err.Error()) }

type decryptedConn struct {
	net.Conn
	rec *recordingConn
}

func (d *decryptedConn) Read(p []byte) (int, error) {
	n, err := d.Conn.Read(p)
	if n > 0 {
		d.rec.record("decrypted C: " + string(p[:n]))
	}
	return n, err
}

// CVE-2011-0411: a MAIL pipelined behind STARTTLS crossed in clear and is
// discarded, not run after the handshake as if it had come under TLS.
func TestStartTLSPipelinedCommandIsDiscarded(t *testing.T) {
	l := netconntest.NewPipeListener()
	b := newTLSBackend()
	serveOn(t, tlsOptions(t), b, l)
	var server *recordingConn
	tc := newTestClient(t, l.Dial(func(c net.Conn) net.Conn { server = newRecordingConn(c); return server }))
	tc.expect("220 ")
	tc.ehloKeywords()
	injected := "MAIL FROM:<evil@x>\r\n"
	tc.sendRaw("STARTTLS\r\n" + injected)
	tc.expect("220 2.0.0 Ready to start TLS")
	if err := tc.handshake(clientTLS(t)); err != nil {
		t.Fatal(err)
	}
	// After TLS the server waits for EHLO: the MAIL was never run.
	tc.send("RCPT TO:<bob@b.test>")
	tc.expect("503 5.5.1 Send EHLO or HELO first")
	tc.ehloKeywords()
	tc.send("RCPT TO:<bob@b.test>")
	tc.expect("503 5.5.1 Need MAIL before RCPT")
	tc.send("QUIT")
	tc.expect("221 ")
	tc.expectClosed()
	if len(b.mails) != 0 {
		t.Errorf("the backend saw a MAIL: %+v", <-b.mails)
	}
	_, events := server.snapshot()
	var notes []string
	for _, e := range events {
		if strings.HasPrefix(e, "note ") || strings.HasPrefix(e, "tls ") || strings.HasPrefix(e, "state ") {
			notes = append(notes, e)
		}
	}
	want := []string{
		"state Connected -> Ready",
		fmt.Sprintf("note %d bytes sent after STARTTLS were discarded: commands pipelined behind STARTTLS are not executed (CVE-2011-0411)", len(injected)),
		"tls started TLS 1.3 (verified false)",
		"state Ready -> Connected",
		"state Connected -> Ready",
		"state Ready -> Closed",
	}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("tracer events (-want +got):\n%s", diff)
	}
	// The recorder's connection carried the session after TLS.
	if !slices.Contains(events, "decrypted C: EHLO client.example.test\r\n") {
		t.Errorf("the decrypted EHLO did not go through the recorder's connection: %q", events)
	}
}

// RFC 8314 section 3.3: on a submissions port (465) TLS comes first, then
// the greeting; STARTTLS is neither listed nor accepted.
func TestImplicitTLS(t *testing.T) {
	opts := tlsOptions(t)
	opts.ImplicitTLS = true
	opts.RequireAuth = true
	b := newTLSBackend()
	_, addr := startServer(t, opts, b)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestClient(t, raw)
	if err := tc.handshake(clientTLS(t)); err != nil {
		t.Fatal(err)
	}
	tc.expect("220 localhost ESMTP")
	kw := tc.ehloKeywords()
	if slices.Contains(kw, "STARTTLS") || !slices.Contains(kw, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO under implicit TLS = %q, want AUTH and no STARTTLS", kw)
	}
	tc.send("STARTTLS")
	tc.expect("503 5.5.1 TLS is already active")
	tc.send("AUTH PLAIN " + plain("", "alice@a.test", "secret"))
	tc.expect("235 ")
	tc.send("MAIL FROM:<alice@a.test>")
	tc.expect("250 ")
	if info := <-b.mails; info.TLS == nil || info.User != "alice@a.test" {
		t.Errorf("ConnInfo at MAIL: TLS %v, User %q", info.TLS, info.User)
	}
}

// syncBuffer is a log destination safe for the session's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A client that does not trust the certificate (an empty root pool) fails
// the handshake; the server logs it, tells the transcript and closes
// without another word in clear.
func TestStartTLSHandshakeFailureOnBothSides(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			var logs syncBuffer
			opts := tlsOptions(t)
			opts.ImplicitTLS = implicit
			opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			// Over TCP: on net.Pipe the client's alert and the rest of
			// the server's flight would wait for each other.
			inner, err := nettest.NewLocalListener("tcp")
			if err != nil {
				t.Fatal(err)
			}
			accepted := make(chan *recordingConn, 1)
			srv := serveOn(t, opts, &MemoryBackend{}, &wrapListener{inner, func(c net.Conn) net.Conn {
				rc := newRecordingConn(c)
				accepted <- rc
				return rc
			}})
			tc := dial(t, inner.Addr().String())
			cfg := clientTLS(t)
			cfg.RootCAs = x509.NewCertPool()
			if implicit {
				err = tc.handshake(cfg)
			} else {
				tc.expect("220 ")
				tc.ehloKeywords()
				err = tc.startTLS(cfg)
			}
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
				t.Fatalf("client handshake = %v, want x509.UnknownAuthorityError", err)
			}
			// The server closes the connection.
			if _, err := io.Copy(io.Discard, tc.c); netconn.IsTimeout(err) {
				t.Errorf("the server kept the connection open after the failed handshake")
			}
			tc.c.Close()
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			// It said nothing in clear after the handshake began: every
			// write was TLS records.
			writes, events := (<-accepted).snapshot()
			if !implicit {
				i := slices.Index(writes, "220 2.0.0 Ready to start TLS\r\n")
				if i < 0 {
					t.Fatalf("no 220 to STARTTLS among the writes %q", writes)
				}
				writes = writes[i+1:]
			}
			for _, w := range writes {
				if !tlsRecords([]byte(w)) {
					t.Errorf("after STARTTLS the server wrote %q, want TLS records only", w)
				}
			}
			if !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "tls failed: ") && strings.Contains(e, "certificate") }) {
				t.Errorf("the recorder was not told of the failure: %q", events)
			}
			if got := logs.String(); !strings.Contains(got, "TLS handshake failed") || !strings.Contains(got, "certificate") {
				t.Errorf("log = %q, want the failed handshake", got)
			}
		})
	}
}

// tlsRecords reports whether b is a sequence of whole TLS records
// (RFC 8446 section 5.1: type, legacy version 3.x, length, fragment).
func tlsRecords(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 || b[0] < 20 || b[0] > 23 || b[1] != 3 {
			return false
		}
		n := 5 + int(b[3])<<8 + int(b[4])
		if len(b) < n {
			return false
		}
		b = b[n:]
	}
	return true
}

// wrapListener wraps each accepted connection.
type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// A client that says STARTTLS and then nothing is disconnected after
// TLSHandshakeTimeout.
func TestStartTLSHandshakeTimeout(t *testing.T) {
	opts := tlsOptions(t)
	opts.TLSHandshakeTimeout = 50e6 // 50 ms
	_, addr := startServer(t, opts, &MemoryBackend{})
	tc := ehlo(t, addr)
	tc.send("STARTTLS")
	tc.expect("220 2.0.0 ")
	tc.expectClosed()
}

// Shutdown wakes a session idle under TLS and says 421 there.
func TestShutdownTellsTLSClient421(t *testing.T) {
	srv, addr := startServer(t, tlsOptions(t), &MemoryBackend{})
	tc := ehlo(t, addr)
	if err := tc.startTLS(clientTLS(t)); err != nil {
		t.Fatal(err)
	}
	tc.ehloKeywords()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	tc.expect("421 4.3.2 Service shutting down")
	tc.expectClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// interopServer serves a submission server for the interop clients:
// TLS, AUTH for alice@a.example ("secret") under TLS only, MAIL only after
// AUTH.
func interopServer(t *testing.T, implicit bool) (*tlsBackend, string, string) {
	t.Helper()
	opts := tlsOptions(t)
	opts.Authenticator = Passwords{"alice@a.example": "secret"}
	opts.RequireAuth = true
	opts.ImplicitTLS = implicit
	b := newTLSBackend()
	_, addr := startServer(t, opts, b)
	return b, addr, tlstest.Shared(t).WritePEM(t)
}

// checkDelivered checks that one message from alice reached bob, sent
// under TLS by the authenticated alice.
func checkDelivered(t *testing.T, b *tlsBackend, out []byte) {
	t.Helper()
	select {
	case info := <-b.mails:
		if info.User != "alice@a.example" || info.TLS == nil {
			t.Errorf("ConnInfo at MAIL: User %q, TLS %v; want alice@a.example under TLS", info.User, info.TLS)
		}
	default:
		t.Fatalf("the server saw no MAIL; client output:\n%s", out)
	}
	if msgs := b.Messages(); len(msgs) != 1 || msgs[0].To[0].String() != "bob@b.example" {
		t.Errorf("messages = %+v, want one to bob@b.example; client output:\n%s", msgs, out)
	}
}

func TestInteropSwaksTLS(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	// swaks speaks TLS only with Perl's Net::SSLeay (Debian:
	// libnet-ssleay-perl); "swaks --support" says whether it can.
	if out, _ := exec.Command(swaks, "--support").CombinedOutput(); !bytes.Contains(out, []byte("=== TLS supported")) {
		testtool.Unavailable(t, "swaks cannot speak TLS here (it needs Perl's Net::SSLeay: apt-get install libnet-ssleay-perl)")
	}
	for _, tt := range []struct{ name, flag string }{{"STARTTLS", "--tls"}, {"implicit", "--tlsc"}} {
		t.Run(tt.name, func(t *testing.T) {
			b, addr, ca := interopServer(t, tt.flag == "--tlsc")
			out, err := exec.Command(swaks, "--server", addr, "--helo", "swaks.example.test", tt.flag,
				"--tls-verify", "--tls-ca-path", ca,
				"--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", "secret",
				"--from", "alice@a.example", "--to", "bob@b.example", "--timeout", "30").CombinedOutput()
			if err != nil {
				t.Fatalf("swaks: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("235 2.7.0")) {
				t.Errorf("swaks output lacks the 235 2.7.0:\n%s", out)
			}
			checkDelivered(t, b, out)
		})
	}
}

func TestInteropOpenSSLStartTLS(t *testing.T) {
	openssl := testtool.RequireTool(t, "openssl")
	_, addr, ca := interopServer(t, false)
	host, _, _ := net.SplitHostPort(addr)
	cmd := exec.Command(openssl, "s_client", "-starttls", "smtp", "-connect", addr,
		"-CAfile", ca, "-verify_return_error", "-verify_ip", host, "-crlf", "-ign_eof")
	cmd.Stdin = strings.NewReader("EHLO openssl.example.test\nQUIT\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	for _, want := range []string{"Verify return code: 0 (ok)", "250-AUTH PLAIN LOGIN", "221 2.0.0 "} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("openssl s_client output lacks %q:\n%s", want, out)
		}
	}
}

func TestInteropCurlTLS(t *testing.T) {
	curl := testtool.RequireTool(t, "curl")
	for _, scheme := range []string{"smtp", "smtps"} {
		t.Run(scheme, func(t *testing.T) {
			b, addr, ca := interopServer(t, scheme == "smtps")
			cmd := exec.Command(curl, "-sS", "--max-time", "30", "--ssl-reqd", "--cacert", ca,
				scheme+"://"+addr, "--mail-from", "alice@a.example", "--mail-rcpt", "bob@b.example",
				"--upload-file", "-", "--user", "alice@a.example:secret")
			cmd.Stdin = strings.NewReader("Subject: from curl\r\n\r\nhello\r\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			checkDelivered(t, b, out)
		})
	}
}

const pythonSMTP = `
import smtplib, ssl, sys
host, port, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if mode == "starttls":
    s = smtplib.SMTP(host, port, local_hostname="python.example.test", timeout=30)
    s.starttls(context=ctx)
else:
    s = smtplib.SMTP_SSL(host, port, local_hostname="python.example.test", context=ctx, timeout=30)
s.login("alice@a.example", "secret")
s.sendmail("alice@a.example", ["bob@b.example"], "Subject: from Python\r\n\r\nhello\r\n")
s.quit()
print("sent", s.sock is None)
`

func TestInteropPythonSMTPLib(t *testing.T) {
	python := testtool.RequireTool(t, "python3")
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			b, addr, ca := interopServer(t, mode == "implicit")
			host, port, _ := net.SplitHostPort(addr)
			out, err := exec.Command(python, "-c", pythonSMTP, host, port, ca, mode).CombinedOutput()
			if err != nil {
				t.Fatalf("python3 smtplib: %v\n%s", err, out)
			}
			checkDelivered(t, b, out)
		})
	}
}
