package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// tlsPeer plays a server script over loopback TCP, like netconntest.Peer,
// with one more step:
//
//	TLS       the server runs its side of a TLS handshake; later steps go
//	          through TLS (a failed handshake ends the script)
//
// A literal \r\n inside an S: line is sent as CRLF, so one write can carry
// two lines.
type tlsPeer struct {
	t      *testing.T
	script string
	done   chan struct{}
	mu     sync.Mutex
	got    strings.Builder // what the client wrote, decrypted
	tlsErr error
}

func startTLSPeer(t *testing.T, script string) (addr string, p *tlsPeer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p = &tlsPeer{t: t, script: script, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer l.Close()
		conn, err := l.Accept()
		if err != nil {
			return
		}
		p.run(conn)
	}()
	t.Cleanup(func() { l.Close(); <-p.done })
	return l.Addr().String(), p
}

func (p *tlsPeer) run(conn net.Conn) {
	defer func() { conn.Close() }()
	br := bufio.NewReader(conn)
	for _, step := range strings.Split(strings.TrimSpace(p.script), "\n") {
		step = strings.TrimLeft(step, "\t")
		switch {
		case strings.HasPrefix(step, "S: "):
			line := strings.ReplaceAll(strings.TrimPrefix(step, "S: "), `\r\n`, "\r\n")
			if _, err := io.WriteString(conn, line+"\r\n"); err != nil {
				return
			}
		case strings.HasPrefix(step, "C: "):
			line, err := br.ReadString('\n')
			p.mu.Lock()
			p.got.WriteString(line)
			p.mu.Unlock()
			if err != nil {
				return
			}
		case step == "TLS":
			tc := tls.Server(conn, tlstest.Shared(p.t).ServerConfig())
			if err := tc.Handshake(); err != nil {
				p.mu.Lock()
				p.tlsErr = err
				p.mu.Unlock()
				return
			}
			conn, br = tc, bufio.NewReader(tc)
		default:
			panic(fmt.Sprintf("bad script step %q", step))
		}
	}
}

// check waits for the script to end and compares what the client wrote
// with its C: lines.
func (p *tlsPeer) check() {
	p.t.Helper()
	<-p.done
	var want strings.Builder
	for _, step := range strings.Split(strings.TrimSpace(p.script), "\n") {
		if step = strings.TrimLeft(step, "\t"); strings.HasPrefix(step, "C: ") {
			want.WriteString(strings.TrimPrefix(step, "C: ") + "\r\n")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if diff := cmp.Diff(want.String(), p.got.String()); diff != "" {
		p.t.Errorf("client wrote (-want +got):\n%s", diff)
	}
}

// recordingConn plays the transcript tap's part (wire.TLSRecorder and
// wire.Tracer): it logs the handshake, its failure and the notes.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	log []string
}

func (c *recordingConn) add(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func (c *recordingConn) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func (c *recordingConn) StartedTLS(tc *tls.Conn, verified bool) net.Conn {
	c.add(fmt.Sprintf("tls started (verified %v)", verified))
	return tc
}
func (c *recordingConn) TLSFailed(err error)                { c.add("tls failed: " + err.Error()) }
func (c *recordingConn) State(from, to string)              {}
func (c *recordingConn) Mark(d wire.Direction, m wire.Mark) {}
func (c *recordingConn) Note(text string)                   { c.add("note " + text) }
func (c *recordingConn) QueueID(id string)                  {}

// dialRecorded connects to addr behind a recordingConn and starts a
// Client.
func dialRecorded(t *testing.T, addr string, opts Options) (*Client, *recordingConn, error) {
	t.Helper()
	var rec *recordingConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &recordingConn{Conn: c}
		return rec, nil
	}
	c, err := Dial(t.Context(), dial, addr, opts)
	return c, rec, err
}

func clientTLS(t *testing.T) *tls.Config {
	cfg := tlstest.Shared(t).ClientConfig("")
	return cfg // ServerName is filled in from the address Dial was given
}

const ehloStartTLS = `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250-PIPELINING
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
TLS`

func TestStartTLSThenAuth(t *testing.T) {
	addr, p := startTLSPeer(t, ehloStartTLS+`
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 AUTH PLAIN LOGIN
C: AUTH PLAIN AGFsaWNlQGEudGVzdABzZWNyZXQ=
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<alice@a.test>
S: 250 2.1.0 OK
C: QUIT
S: 221 2.0.0 Bye
`)
	c, rec, err := dialRecorded(t, addr, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); ok {
		t.Error("TLSConnectionState reports TLS before StartTLS")
	}
	if err := c.StartTLS(clientTLS(t)); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	// RFC 3207 section 4.2: the extensions learnt in clear are forgotten.
	if ext := c.Extensions(); len(ext) != 0 {
		t.Errorf("Extensions after StartTLS = %v, want none until EHLO", ext)
	}
	// The certificate was checked against 127.0.0.1, the host Dial was
	// given (an IP address is not sent as SNI, so st.ServerName is "").
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
		t.Errorf("TLSConnectionState = %+v, %v", st, ok)
	}
	if err := c.Auth("PLAIN", "alice@a.test", "secret"); err != nil {
		t.Fatalf("Auth after StartTLS: %v", err)
	}
	if err := c.Mail(mail.Path{Local: "alice", Domain: "a.test"}, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(clientTLS(t)); err == nil || !strings.Contains(err.Error(), "already active") {
		t.Errorf("second StartTLS = %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	p.check()
	if diff := cmp.Diff([]string{"tls started (verified true)"}, rec.events()); diff != "" {
		t.Errorf("recorder (-want +got):\n%s", diff)
	}
}

// The mirror of CVE-2011-0411: a line the server (or a man in the middle)
// sends behind the 220, in clear, is not taken for the reply to the EHLO
// sent under TLS.
func TestStartTLSDiscardsResponseInjection(t *testing.T) {
	injected := "250-mx.evil.test\r\n250 AUTH PLAIN"
	addr, p := startTLSPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS\r\n`+strings.ReplaceAll(injected, "\r\n", `\r\n`)+`
TLS
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 SIZE 1000
`)
	c, rec, err := dialRecorded(t, addr, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(clientTLS(t)); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Hello(""); err != nil {
		t.Fatal(err)
	}
	if c.HasExtension("AUTH") || c.MaxSize() != 1000 {
		t.Errorf("Extensions = %v, want the reply that came under TLS", c.Extensions())
	}
	c.Close()
	p.check()
	want := []string{
		fmt.Sprintf("note %d bytes the server sent after its 220 to STARTTLS were discarded: replies sent before the TLS handshake are not believed (response injection, the client side of CVE-2011-0411)", len(injected)+2),
		"tls started (verified true)",
	}
	if diff := cmp.Diff(want, rec.events()); diff != "" {
		t.Errorf("recorder (-want +got):\n%s", diff)
	}
}

func TestStartTLSNotOffered(t *testing.T) {
	conn, p := startPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 PIPELINING
C: NOOP
S: 250 2.0.0 OK
`)
	c, err := NewClient(conn, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(clientTLS(t)); err == nil || err.Error() != "smtpclient: STARTTLS: the server does not offer STARTTLS (its EHLO reply does not list it)" {
		t.Errorf("StartTLS = %v", err)
	}
	if err := c.Noop(); err != nil { // nothing was sent; the session goes on
		t.Fatal(err)
	}
	p.Check(conn)
}

func TestStartTLSRefused(t *testing.T) {
	conn, p := startPeer(t, `
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 STARTTLS
C: STARTTLS
S: 454 4.7.0 TLS not available due to temporary reason
C: NOOP
S: 250 2.0.0 OK
`)
	c, err := NewClient(conn, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = c.StartTLS(clientTLS(t))
	if smtpCode(err) != 454 || err.Error() != "smtpclient: STARTTLS: 454 4.7.0 TLS not available due to temporary reason" {
		t.Errorf("StartTLS = %v, want the 454", err)
	}
	if err := c.Noop(); err != nil { // still in clear, still usable
		t.Fatal(err)
	}
	p.Check(conn)
}

// A certificate the client cannot verify (an empty root pool) fails the
// handshake: the error says why, the transcript is told, the Client is
// done.
func TestStartTLSHandshakeFailure(t *testing.T) {
	addr, p := startTLSPeer(t, ehloStartTLS)
	c, rec, err := dialRecorded(t, addr, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientTLS(t)
	cfg.RootCAs = x509.NewCertPool()
	err = c.StartTLS(cfg)
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok || !strings.HasPrefix(err.Error(), "smtpclient: STARTTLS: TLS handshake: ") {
		t.Fatalf("StartTLS = %v, want an UnknownAuthorityError", err)
	}
	if err := c.Noop(); err == nil {
		t.Error("the Client still works after a failed handshake")
	}
	p.check()
	if p.tlsErr == nil {
		t.Error("the server side of the handshake did not fail")
	}
	if ev := rec.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "tls failed: ") {
		t.Errorf("recorder = %q, want the failure", ev)
	}
}

// RFC 8314 section 3.3: with ImplicitTLS the handshake comes before the
// greeting. InsecureSkipVerify is reported as not verified.
func TestImplicitTLS(t *testing.T) {
	addr, p := startTLSPeer(t, `
TLS
S: 220 mx.b.test ESMTP
C: EHLO client.a.test
S: 250-mx.b.test greets client.a.test
S: 250 AUTH PLAIN
C: QUIT
S: 221 2.0.0 Bye
`)
	opts := testOptions()
	opts.ImplicitTLS = true
	opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	c, rec, err := dialRecorded(t, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Greeting().Code != 220 {
		t.Errorf("greeting = %v", c.Greeting())
	}
	if err := c.Hello(""); err != nil || !c.HasExtension("AUTH") {
		t.Fatalf("Hello = %v, extensions %v", err, c.Extensions())
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	p.check()
	if diff := cmp.Diff([]string{"tls started (verified false)"}, rec.events()); diff != "" {
		t.Errorf("recorder (-want +got):\n%s", diff)
	}
}

func TestImplicitTLSNeedsConfig(t *testing.T) {
	conn, _ := net.Pipe()
	if _, err := NewClient(conn, Options{ImplicitTLS: true}); err == nil || err.Error() != "smtpclient: ImplicitTLS needs Options.TLSConfig" {
		t.Errorf("NewClient = %v", err)
	}
}
