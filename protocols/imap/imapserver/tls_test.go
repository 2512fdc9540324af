package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/wire"
)

// noteConn is the server's end of a connection as the transcript tap sees
// it, for TLS: the notes, and the handshakes reported (wire.TLSRecorder).
type noteConn struct {
	net.Conn
	mu     sync.Mutex
	events []string
	noted  chan string // each event, as it is recorded, while there is room
}

func (c *noteConn) record(e string) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.noted <- e:
	default:
	}
}

func (c *noteConn) State(from, to string)          {}
func (c *noteConn) Mark(wire.Direction, wire.Mark) {}
func (c *noteConn) Note(text string)               { c.record("note " + text) }
func (c *noteConn) QueueID(id string)              {}

func (c *noteConn) StartedTLS(tc *tls.Conn, verified bool) net.Conn {
	c.record(fmt.Sprintf("tls started verified=%v", verified))
	return tc
}

func (c *noteConn) TLSFailed(err error) { c.record("tls failed") }

func (c *noteConn) has(e string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.events {
		if x == e {
			return true
		}
	}
	return false
}

func (c *noteConn) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// noteListener wraps each connection it accepts in a noteConn, sent on
// conns.
type noteListener struct {
	net.Listener
	conns chan *noteConn
}

func (l *noteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	nc := &noteConn{Conn: c, noted: make(chan string, 100)}
	l.conns <- nc
	return nc, nil
}

// startNoted serves b on loopback, each connection seen as a noteConn.
func startNoted(t *testing.T, opts Options, b Backend) (string, <-chan *noteConn) {
	t.Helper()
	l, addr := listen(t)
	nl := &noteListener{Listener: l, conns: make(chan *noteConn, 10)}
	serve(t, opts, b, nl)
	return addr, nl.conns
}

// tlsOptions offers STARTTLS and requires TLS before LOGIN.
func tlsOptions(p *tlstest.CA) Options { return Options{TLSConfig: p.ServerConfig()} }

// startTLS runs the client side of a handshake on tc's connection; what
// follows is read and written inside TLS.
func (tc *testClient) startTLS(cfg *tls.Config) {
	tc.t.Helper()
	if n := tc.r.Buffered(); n > 0 {
		tc.t.Fatalf("%d octets from the server before the handshake", n)
	}
	cfg = cfg.Clone()
	cfg.ServerName = "localhost"
	c := tls.Client(tc.c, cfg)
	if err := c.Handshake(); err != nil {
		tc.t.Fatalf("TLS handshake: %v", err)
	}
	tc.c = c
	tc.r.Reset(c)
}

const (
	wantCapsBefore = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT STARTTLS LOGINDISABLED"
	wantCapsAfter  = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT AUTH=PLAIN"
)

func TestStartTLSCapabilitiesLoginAndCommands(t *testing.T) {
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), newBackend(t, 2))
	tc := dial(t, addr)
	tc.expectLines("* OK [CAPABILITY " + wantCapsBefore + "] maillab IMAP4rev1 ready")
	tc.send("a CAPABILITY")
	tc.expectLines("* CAPABILITY "+wantCapsBefore, "a OK CAPABILITY completed")
	tc.send("b STARTTLS")
	tc.expectLines("b OK Begin TLS negotiation now")
	tc.startTLS(p.ClientConfig(""))
	// RFC 3501 section 6.2.1: nothing unasked; the client asks again.
	tc.send("c CAPABILITY")
	tc.expectLines("* CAPABILITY "+wantCapsAfter, "c OK CAPABILITY completed")
	tc.send("d LOGIN bob secret")
	tc.expectLines("d OK [CAPABILITY " + wantCapsAfter + "] Logged in")
	tc.send("e SELECT INBOX")
	tc.until("e OK [READ-WRITE]")
	tc.send("f FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	tc.expectLines(`* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}`)
	if got := tc.readN(18); got != "Subject: Lunch\r\n\r\n" {
		t.Errorf("FETCH inside TLS gave %q", got)
	}
	tc.expectLines(")", "f OK FETCH completed")
	tc.send("g STARTTLS")
	tc.expectLines("g BAD STARTTLS is only allowed before logging in")
	tc.send("h LOGOUT")
	tc.expectLines("* BYE Logging out", "h OK LOGOUT completed")
	tc.expectClosed()
}

func TestLoginDisabledBeforeTLS(t *testing.T) {
	p := tlstest.New(t)
	addr, conns := startNoted(t, tlsOptions(p), newBackend(t, 0))
	tc := greeted(t, addr)
	nc := <-conns
	const refusal = " NO [PRIVACYREQUIRED] "
	tc.send("a LOGIN bob secret")
	tc.expectLines("a" + refusal + "LOGIN is disabled until TLS is active: use STARTTLS first")
	// A password in a literal: refused before "+", so it never crosses.
	tc.send("b LOGIN bob {6}")
	tc.expectLines("b" + refusal + "LOGIN is disabled until TLS is active: use STARTTLS first")
	// AUTHENTICATE: refused before "+", and with SASL-IR not looked at.
	tc.send("c AUTHENTICATE PLAIN")
	tc.expectLines("c" + refusal + "AUTHENTICATE is disabled until TLS is active: use STARTTLS first")
	tc.send("d AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=")
	tc.expectLines("d" + refusal + "AUTHENTICATE is disabled until TLS is active: use STARTTLS first")
	tc.send("e SELECT INBOX")
	tc.expectLines("e BAD SELECT needs LOGIN or AUTHENTICATE first")
	if !nc.has("note LOGIN refused: LOGINDISABLED until TLS is active (STARTTLS first)") {
		t.Errorf("transcript events %q, want the refusal noted", nc.snapshot())
	}
}

func TestAuthenticatePlainAfterStartTLS(t *testing.T) {
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send("a STARTTLS")
	tc.expectLines("a OK Begin TLS negotiation now")
	tc.startTLS(p.ClientConfig(""))
	tc.send("b AUTHENTICATE PLAIN")
	tc.expectLines("+ ")
	tc.send("AGJvYgBzZWNyZXQ=")
	tc.expect("b OK [CAPABILITY " + wantCapsAfter + "] Logged in")
}

func TestAllowInsecureAuthKeepsLoginInClear(t *testing.T) {
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.AllowInsecureAuth = true
	_, addr := startServer(t, opts, newBackend(t, 0))
	tc := dial(t, addr)
	tc.expectLines("* OK [CAPABILITY " + wantCapsAfter + " STARTTLS] maillab IMAP4rev1 ready")
	tc.send("a LOGIN bob secret")
	// Logged in: STARTTLS is over (RFC 3501 section 6.2.1).
	tc.expectLines("a OK [CAPABILITY " + wantCapsAfter + "] Logged in")
	tc.send("b STARTTLS")
	tc.expectLines("b BAD STARTTLS is only allowed before logging in")
}

func TestStartTLSRefusals(t *testing.T) {
	p := tlstest.New(t)
	t.Run("without TLSConfig", func(t *testing.T) {
		_, addr := startServer(t, Options{}, newBackend(t, 0))
		tc := greeted(t, addr)
		tc.send("a STARTTLS")
		tc.expectLines("a BAD STARTTLS is not offered: this server has no TLS certificate")
		tc.send("b LOGIN bob secret") // as before TLS existed
		tc.expect("b OK ")
	})
	t.Run("twice", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), newBackend(t, 0))
		tc := greeted(t, addr)
		tc.send("a STARTTLS")
		tc.expectLines("a OK Begin TLS negotiation now")
		tc.startTLS(p.ClientConfig(""))
		tc.send("b STARTTLS")
		tc.expectLines("b BAD TLS is already active")
		tc.send("c STARTTLS now")
		tc.expectLines("c BAD STARTTLS takes no arguments")
	})
}

func TestStartTLSDiscardsPipelinedCommands(t *testing.T) {
	// Plaintext command injection (CVE-2011-0411): commands sent in clear
	// with STARTTLS must not run inside TLS.
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.AllowInsecureAuth = true // so that the injected LOGIN would work
	addr, conns := startNoted(t, opts, newBackend(t, 1))
	tc := greeted(t, addr)
	nc := <-conns
	const injected = "b LOGIN bob secret\r\nc SELECT INBOX\r\n"
	tc.sendRaw("a STARTTLS\r\n" + injected)
	tc.expectLines("a OK Begin TLS negotiation now")
	tc.startTLS(p.ClientConfig(""))
	tc.send("d SELECT INBOX")
	// Neither b nor c ran: the first response inside TLS is d's.
	tc.expectLines("d BAD SELECT needs LOGIN or AUTHENTICATE first")
	want := fmt.Sprintf("note %d octets sent after STARTTLS before the TLS handshake discarded, never executed (plaintext command injection, CVE-2011-0411)", len(injected))
	if !nc.has(want) || !nc.has("tls started verified=false") {
		t.Errorf("transcript events %q, want %q and the handshake", nc.snapshot(), want)
	}
}

func TestImplicitTLS(t *testing.T) {
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.ImplicitTLS = true
	_, addr := startServer(t, opts, newBackend(t, 1))
	cfg := p.ClientConfig("")
	cfg.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClient{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	// RFC 8314 section 3.2: the greeting comes inside TLS.
	tc.expectLines("* OK [CAPABILITY " + wantCapsAfter + "] maillab IMAP4rev1 ready")
	tc.send("a STARTTLS")
	tc.expectLines("a BAD TLS is already active")
	tc.send("b LOGIN bob secret", "c SELECT INBOX")
	tc.expect("b OK ")
	tc.until("c OK [READ-WRITE]")
}

func TestImplicitTLSNeedsConfig(t *testing.T) {
	l, _ := listen(t)
	err := New(Options{ImplicitTLS: true}, NewMemoryBackend()).Serve(l)
	if err == nil || !strings.Contains(err.Error(), "needs a TLSConfig") {
		t.Errorf("Serve = %v, want an error about TLSConfig", err)
	}
}

func TestHandshakeFailureIsReported(t *testing.T) {
	p := tlstest.New(t)
	for _, tt := range []struct {
		name  string
		hello func(tc *testClient)
	}{
		{"not TLS", func(tc *testClient) { tc.send("b LOGIN bob secret") }},
		{"untrusted certificate", func(tc *testClient) {
			c := tls.Client(tc.c, &tls.Config{ServerName: "localhost"})
			if err := c.Handshake(); err == nil {
				tc.t.Error("handshake with an unknown CA succeeded")
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, conns := startNoted(t, tlsOptions(p), newBackend(t, 0))
			tc := greeted(t, addr)
			nc := <-conns
			tc.send("a STARTTLS")
			tc.expectLines("a OK Begin TLS negotiation now")
			tt.hello(tc)
			io.Copy(io.Discard, tc.c) // the server hangs up
			if !nc.has("tls failed") {
				t.Errorf("transcript events %q, want the failed handshake", nc.snapshot())
			}
		})
	}
}

func TestFailedLoginsAreNotedAndSlowed(t *testing.T) {
	addr, conns := startNoted(t, Options{AuthFailDelay: 20 * time.Millisecond}, newBackend(t, 0))
	tc := greeted(t, addr)
	nc := <-conns
	start := time.Now()
	tc.send("a LOGIN bob wrong")
	tc.expectLines("a NO [AUTHENTICATIONFAILED] Invalid user name or password")
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("failed login answered after %v, want at least 20ms", d)
	}
	if want := "note login failed (error 1 of 10 allowed), answered after 20ms"; !nc.has(want) {
		t.Errorf("transcript events %q, want %q", nc.snapshot(), want)
	}
}

func TestAuthFailDelayIsCutShortByShutdown(t *testing.T) {
	l, addr := listen(t)
	nl := &noteListener{Listener: l, conns: make(chan *noteConn, 1)}
	srv := serve(t, Options{AuthFailDelay: time.Hour}, newBackend(t, 0), nl)
	tc := greeted(t, addr)
	nc := <-nl.conns
	tc.send("a LOGIN bob wrong")
	for e := range nc.noted {
		if strings.HasPrefix(e, "note login failed") {
			break // the session now waits out the delay
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	tc.expectLines("a NO [AUTHENTICATIONFAILED] Invalid user name or password", "* BYE Server shutting down")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestIdleInsideTLS(t *testing.T) {
	// While idling, the session reads (DONE) and writes (news) through the
	// TLS connection at once.
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.ImplicitTLS = true
	b := newBackend(t, 1)
	_, addr := startServer(t, opts, b)
	cfg := p.ClientConfig("")
	cfg.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc := &testClient{t: t, c: c, r: bufio.NewReader(c)}
	tc.expect("* OK ")
	tc.send("a LOGIN bob secret", "b SELECT INBOX", "c IDLE")
	tc.expect("a OK ")
	tc.until("b OK ")
	tc.expectLines("+ idling")
	if _, err := b.Deliver("bob", "INBOX", []byte(testMessage)); err != nil {
		t.Fatal(err)
	}
	tc.until("* 2 EXISTS")
	tc.send("DONE")
	tc.until("c OK IDLE completed")
}
