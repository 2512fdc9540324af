package pop3server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/netconn/netconntest"
	"github.com/maillab/maillab/protocols/pop3"
)

// The transcript side of TLS, as the tap implements it (wire.TLSRecorder).
func (c *tracingConn) StartedTLS(tc *tls.Conn, verified bool) net.Conn {
	c.record(fmt.Sprintf("tls started verified=%v", verified))
	return tc
}

func (c *tracingConn) TLSFailed(err error) { c.record("tls failed") }

// tlsOptions: testOptions with TLS offered (STLS) and required for
// passwords in clear.
func tlsOptions(p *tlstest.CA) Options {
	opts := testOptions()
	opts.TLSConfig = p.ServerConfig()
	return opts
}

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

func TestCapaBeforeAndAfterSTLS(t *testing.T) {
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("CAPA")
	// RFC 2595 section 4: STLS offered; no USER nor SASL PLAIN, which
	// would send a password in clear.
	before := []string{"TOP", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "STLS", "IMPLEMENTATION maillab"}
	if diff := cmp.Diff(before, tc.expectMulti("+OK Capability list follows")); diff != "" {
		t.Errorf("CAPA before STLS (-want +got):\n%s", diff)
	}
	tc.send("STLS")
	tc.expect("+OK Begin TLS negotiation")
	tc.startTLS(p.ClientConfig(""))
	tc.send("CAPA")
	after := []string{"TOP", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "IMPLEMENTATION maillab"}
	if diff := cmp.Diff(after, tc.expectMulti("+OK Capability list follows")); diff != "" {
		t.Errorf("CAPA after STLS (-want +got):\n%s", diff)
	}
}

func TestSTLSThenLoginAndCommands(t *testing.T) {
	p := tlstest.New(t)
	b := bobBackend()
	_, addr := startServer(t, tlsOptions(p), b)
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("STLS")
	tc.expect("+OK Begin TLS negotiation")
	tc.startTLS(p.ClientConfig(""))
	tc.send("USER bob", "PASS secret", "STAT", "RETR 1", "DELE 1")
	tc.expect("+OK send PASS")
	tc.expect("+OK bob's maildrop has 2 messages")
	tc.expect("+OK 2 ")
	if diff := cmp.Diff(strings.Split(strings.TrimSuffix(msg1, "\r\n"), "\r\n"), tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("RETR 1 inside TLS (-want +got):\n%s", diff)
	}
	tc.expect("+OK message 1 deleted")
	tc.quit()
	if m := b.Messages("bob"); len(m) != 1 {
		t.Errorf("after QUIT %d messages, want 1", len(m))
	}
}

func TestAuthPlainAfterSTLS(t *testing.T) {
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("STLS")
	tc.expect("+OK ")
	tc.startTLS(p.ClientConfig(""))
	tc.send("AUTH PLAIN")
	tc.expect("+ ")
	tc.send(plain("", "bob", "secret"))
	tc.expect("+OK bob's maildrop has 2 messages")
}

func TestPasswordsInClearRefusedBeforeSTLS(t *testing.T) {
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	const refused = "-ERR [AUTH] TLS required: send STLS first"
	tc.send("USER bob")
	tc.expect(refused)
	tc.send("PASS secret")
	tc.expect(refused)
	// Refused before "+ ": the client sends no credentials.
	tc.send("AUTH PLAIN")
	tc.expect(refused)
	// An initial response already crossed; it is not even looked at.
	tc.send("AUTH PLAIN " + plain("", "bob", "secret"))
	tc.expect(refused)
	tc.send("AUTH")
	if got := tc.expectMulti("+OK SASL mechanisms follow"); len(got) != 0 {
		t.Errorf("AUTH before STLS lists %q, want no mechanism", got)
	}
	tc.send("STAT")
	tc.expect("-ERR STAT is not allowed before login")
}

func TestAPOPAllowedBeforeSTLS(t *testing.T) {
	// APOP sends a digest, never the password.
	p := tlstest.New(t)
	_, addr := startServer(t, tlsOptions(p), bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("APOP bob " + pop3.APOPDigest(rfcTimestamp, "secret"))
	tc.expect("+OK bob's maildrop has 2 messages")
}

func TestAllowInsecureAuthKeepsLoginInClear(t *testing.T) {
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.AllowInsecureAuth = true
	_, addr := startServer(t, opts, bobBackend())
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("CAPA")
	want := []string{"TOP", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "STLS", "IMPLEMENTATION maillab"}
	if diff := cmp.Diff(want, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("CAPA (-want +got):\n%s", diff)
	}
	tc.send("USER bob", "PASS secret", "CAPA")
	tc.expect("+OK ")
	tc.expect("+OK bob's maildrop")
	// RFC 2595 section 4: STLS only in the AUTHORIZATION state, so it is
	// no longer offered either.
	if caps := tc.expectMulti("+OK "); strings.Contains(strings.Join(caps, " "), "STLS") {
		t.Errorf("CAPA after login = %q, want no STLS", caps)
	}
	tc.send("STLS")
	tc.expect("-ERR STLS is only allowed before login")
}

func TestSTLSRefusals(t *testing.T) {
	p := tlstest.New(t)
	t.Run("without TLSConfig", func(t *testing.T) {
		_, addr := startServer(t, testOptions(), bobBackend())
		tc := dial(t, addr)
		tc.expect("+OK ")
		tc.send("STLS")
		tc.expect("-ERR unknown command STLS")
		// Everything else as before TLS existed.
		tc.send("USER bob", "PASS secret")
		tc.expect("+OK ")
		tc.expect("+OK bob's maildrop")
	})
	t.Run("twice", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), bobBackend())
		tc := dial(t, addr)
		tc.expect("+OK ")
		tc.send("STLS")
		tc.expect("+OK ")
		tc.startTLS(p.ClientConfig(""))
		tc.send("STLS")
		tc.expect("-ERR TLS is already active")
		tc.send("STLS now")
		tc.expect("-ERR STLS takes no argument")
	})
	t.Run("in TRANSACTION", func(t *testing.T) {
		_, addr := startServer(t, tlsOptions(p), bobBackend())
		tc := dial(t, addr)
		tc.expect("+OK ")
		tc.send("APOP bob " + pop3.APOPDigest(rfcTimestamp, "secret"))
		tc.expect("+OK ")
		tc.send("STLS")
		tc.expect("-ERR STLS is only allowed before login")
	})
}

func TestSTLSDiscardsPipelinedCommands(t *testing.T) {
	// Plaintext command injection (CVE-2011-0411): commands sent in clear
	// with STLS must not run inside TLS.
	p := tlstest.New(t)
	l := netconntest.NewPipeListener()
	serveOn(t, tlsOptions(p), bobBackend(), l)
	var tr *tracingConn
	nc := l.Dial(func(c net.Conn) net.Conn { tr = &tracingConn{Conn: c}; return tr })
	tc := newTestClient(t, nc)
	tc.expect("+OK ")
	injected := "STLS\r\nAPOP bob " + pop3.APOPDigest(rfcTimestamp, "secret") + "\r\nDELE 1\r\n"
	go io.WriteString(nc, injected) // net.Pipe: the write completes as the server reads
	tc.expect("+OK Begin TLS negotiation")
	tc.startTLS(p.ClientConfig(""))
	tc.send("STAT")
	tc.expect("-ERR STAT is not allowed before login") // the APOP never ran
	tc.send("QUIT")
	tc.expect("+OK ")
	want := fmt.Sprintf("note %d octets sent after STLS before the TLS handshake discarded, never executed (plaintext command injection, CVE-2011-0411)", len(injected)-len("STLS\r\n"))
	events := tr.snapshot()
	if !contains(events, want) || !contains(events, "tls started verified=false") {
		t.Errorf("transcript events %q, want %q and the handshake", events, want)
	}
}

// tracingListener wraps each connection it accepts in a tracingConn,
// sent on conns.
type tracingListener struct {
	net.Listener
	conns chan *tracingConn
}

func (l *tracingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tr := &tracingConn{Conn: c}
	l.conns <- tr
	return tr, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestImplicitTLS(t *testing.T) {
	p := tlstest.New(t)
	opts := tlsOptions(p)
	opts.ImplicitTLS = true
	_, addr := startServer(t, opts, bobBackend())
	cfg := p.ClientConfig("")
	cfg.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestClient(t, c)
	// RFC 8314 section 3.1: the greeting comes inside TLS.
	tc.expect("+OK maillab POP3 server ready " + rfcTimestamp)
	tc.send("CAPA")
	want := []string{"TOP", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "IMPLEMENTATION maillab"}
	if diff := cmp.Diff(want, tc.expectMulti("+OK ")); diff != "" {
		t.Errorf("CAPA on POP3S (-want +got):\n%s", diff)
	}
	tc.send("STLS")
	tc.expect("-ERR TLS is already active")
	tc.send("USER bob", "PASS secret")
	tc.expect("+OK ")
	tc.expect("+OK bob's maildrop has 2 messages")
	tc.quit()
}

func TestImplicitTLSNeedsConfig(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = New(Options{ImplicitTLS: true}, bobBackend()).Serve(l)
	if err == nil || !strings.Contains(err.Error(), "needs a TLSConfig") {
		t.Errorf("Serve = %v, want an error about TLSConfig", err)
	}
}

func TestHandshakeFailureIsReported(t *testing.T) {
	p := tlstest.New(t)
	for _, tt := range []struct {
		name  string
		hello func(tc *testClient) // what the client does after "+OK"
	}{
		{"not TLS", func(tc *testClient) { tc.send("USER bob") }},
		{"untrusted certificate", func(tc *testClient) {
			// The client does not trust the server's CA and aborts.
			c := tls.Client(tc.c, &tls.Config{ServerName: "localhost"})
			if err := c.Handshake(); err == nil {
				tc.t.Error("handshake with an unknown CA succeeded")
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// TCP, not net.Pipe: an aborted handshake needs buffering
			// (each side writes its flight before reading the other's).
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tl := &tracingListener{Listener: l, conns: make(chan *tracingConn, 1)}
			serveOn(t, tlsOptions(p), bobBackend(), tl)
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			tr := <-tl.conns
			tc := newTestClient(t, nc)
			tc.expect("+OK ")
			tc.send("STLS")
			tc.expect("+OK Begin TLS negotiation")
			tt.hello(tc)
			// The server hangs up: nothing more can be said.
			io.Copy(io.Discard, nc)
			if events := tr.snapshot(); !contains(events, "tls failed") {
				t.Errorf("transcript events %q, want the failed handshake", events)
			}
		})
	}
}

func TestFailedLoginsAreNotedAndSlowed(t *testing.T) {
	l := netconntest.NewPipeListener()
	opts := testOptions()
	opts.AuthFailDelay = 20 * time.Millisecond
	serveOn(t, opts, bobBackend(), l)
	var tr *tracingConn
	nc := l.Dial(func(c net.Conn) net.Conn { tr = &tracingConn{Conn: c}; return tr })
	tc := newTestClient(t, nc)
	tc.expect("+OK ")
	start := time.Now()
	tc.send("AUTH PLAIN " + plain("", "bob", "wrong"))
	tc.expect("-ERR [AUTH] invalid user name or password")
	if d := time.Since(start); d < opts.AuthFailDelay {
		t.Errorf("failed login answered after %v, want at least %v", d, opts.AuthFailDelay)
	}
	if events := tr.snapshot(); !contains(events, "note login failed (1 of 3 allowed), answered after 20ms") {
		t.Errorf("transcript events %q, want a note of the failure", events)
	}
}
