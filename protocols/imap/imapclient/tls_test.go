package imapclient_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/imap/imapserver"
	"github.com/maillab/maillab/protocols/wire"
)

// serveTLS starts an imapserver with TLS (STARTTLS, or IMAPS when
// implicit) on loopback until the test ends; bob's password is "pw" and
// his INBOX holds one message.
func serveTLS(t *testing.T, p *tlstest.CA, implicit bool) string {
	t.Helper()
	be := imapserver.NewMemoryBackend()
	be.AddUser("bob", "pw")
	if _, err := be.Deliver("bob", "INBOX", []byte("Subject: one\r\n\r\nfirst\r\n")); err != nil {
		t.Fatal(err)
	}
	srv := imapserver.New(imapserver.Options{AuthFailDelay: -1, TLSConfig: p.ServerConfig(), ImplicitTLS: implicit}, be)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

func dialTest(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.Dial(context.Background(), nil, addr, imapclient.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartTLSThenLogin(t *testing.T) {
	p := tlstest.New(t)
	c := dialTest(t, serveTLS(t, p, false))
	if caps := c.Caps(); !slices.Contains(caps, "LOGINDISABLED") || !slices.Contains(caps, "STARTTLS") {
		t.Fatalf("greeting capabilities %q, want STARTTLS and LOGINDISABLED", caps)
	}
	// RFC 3501 section 6.2.3: no LOGIN while LOGINDISABLED; nothing sent.
	if err := c.Login("bob", "pw"); err == nil || !strings.Contains(err.Error(), "LOGINDISABLED") {
		t.Errorf("Login before TLS = %v, want a LOGINDISABLED error", err)
	}
	if err := c.StartTLS(p.ClientConfig("")); err != nil {
		t.Fatal(err)
	}
	if c.Caps() != nil {
		t.Errorf("Caps after StartTLS = %q, want nil (RFC 3501 section 6.2.1)", c.Caps())
	}
	if ok, err := c.HasCap("AUTH=PLAIN"); !ok || err != nil {
		t.Errorf("HasCap(AUTH=PLAIN) inside TLS = %v, %v", ok, err)
	}
	if ok, _ := c.HasCap("LOGINDISABLED"); ok {
		t.Error("LOGINDISABLED still announced inside TLS")
	}
	if st, ok := c.TLS(); !ok || !st.HandshakeComplete {
		t.Error("TLS() says no TLS after StartTLS")
	}
	if err := c.Login("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Select("INBOX"); err != nil || m.Exists != 1 {
		t.Fatalf("Select = %+v, %v", m, err)
	}
	if err := c.Logout(); err != nil {
		t.Error(err)
	}
}

func TestAuthenticatePlainAfterStartTLS(t *testing.T) {
	p := tlstest.New(t)
	c := dialTest(t, serveTLS(t, p, false))
	if err := c.AuthenticatePlain("bob", "pw"); err == nil || !strings.Contains(err.Error(), "NO [PRIVACYREQUIRED]") {
		t.Errorf("AuthenticatePlain before TLS = %v, want NO [PRIVACYREQUIRED]", err)
	}
	if err := c.StartTLS(p.ClientConfig("")); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticatePlain("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(p.ClientConfig("")); err == nil {
		t.Error("a second StartTLS succeeded")
	}
}

func TestDialTLS(t *testing.T) {
	p := tlstest.New(t)
	addr := serveTLS(t, p, true)
	c, err := imapclient.DialTLS(context.Background(), nil, addr, p.ClientConfig(""), imapclient.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if slices.Contains(c.Caps(), "STARTTLS") {
		t.Errorf("IMAPS greeting announces STARTTLS: %q", c.Caps())
	}
	if err := c.Login("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(); err != nil {
		t.Error(err)
	}
}

func TestUntrustedCertificateFails(t *testing.T) {
	p := tlstest.New(t)
	other := tlstest.New(t) // a CA that did not sign the server's certificate
	t.Run("StartTLS", func(t *testing.T) {
		c := dialTest(t, serveTLS(t, p, false))
		err := c.StartTLS(other.ClientConfig(""))
		if err == nil || !strings.Contains(err.Error(), "imapclient: STARTTLS: TLS handshake: ") {
			t.Fatalf("StartTLS = %v, want a handshake error", err)
		}
		if err := c.Noop(); err == nil {
			t.Error("the Client is still usable after a failed handshake")
		}
	})
	t.Run("DialTLS", func(t *testing.T) {
		_, err := imapclient.DialTLS(context.Background(), nil, serveTLS(t, p, true), other.ClientConfig(""), imapclient.Options{})
		if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
			t.Fatalf("DialTLS = %v, want a handshake error", err)
		}
	})
}

// noteConn records the notes the client gives the transcript.
type noteConn struct {
	net.Conn
	mu    sync.Mutex
	notes []string
}

func (c *noteConn) State(from, to string)          {}
func (c *noteConn) Mark(wire.Direction, wire.Mark) {}
func (c *noteConn) QueueID(string)                 {}
func (c *noteConn) Note(text string) {
	c.mu.Lock()
	c.notes = append(c.notes, text)
	c.mu.Unlock()
}

func TestStartTLSDiscardsInjectedResponses(t *testing.T) {
	// The mirror of CVE-2011-0411: a man in the middle appends responses
	// in clear to the server's OK; they must not be read inside TLS.
	p := tlstest.New(t)
	cliEnd, srvEnd := net.Pipe()
	t.Cleanup(func() { cliEnd.Close(); srvEnd.Close() })
	const injected = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na002 OK injected\r\n"
	go func() {
		br := bufio.NewReader(srvEnd)
		srvEnd.Write([]byte("* OK ready\r\n"))
		br.ReadString('\n') // a001 STARTTLS
		srvEnd.Write([]byte("a001 OK Begin TLS negotiation now\r\n" + injected))
		tc := tls.Server(srvEnd, p.ServerConfig())
		if tc.Handshake() != nil {
			return
		}
		line, _ := bufio.NewReader(tc).ReadString('\n')
		tag, _, _ := strings.Cut(line, " ")
		tc.Write([]byte(tag + " OK inside TLS\r\n"))
	}()
	nc := &noteConn{Conn: cliEnd}
	c, err := imapclient.NewClient(nc, imapclient.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ClientConfig("")
	cfg.ServerName = "localhost"
	if err := c.StartTLS(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := c.Cmd("NOOP")
	if err != nil || r.Tagged != "a002 OK inside TLS" || len(r.Untagged) != 0 {
		t.Errorf("NOOP after STARTTLS = %+v, %v; want the answer from inside TLS", r, err)
	}
	if c.Caps() != nil {
		t.Errorf("Caps = %q: the injected CAPABILITY was believed", c.Caps())
	}
	want := "53 octets the server sent after OK to STARTTLS, before the TLS handshake, discarded (response injection)"
	if !slices.Contains(nc.notes, want) {
		t.Errorf("notes %q, want %q", nc.notes, want)
	}
}
