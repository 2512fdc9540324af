package pop3client_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3client"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"github.com/maillab/maillab/protocols/wire"
)

// serveTLS starts a pop3server with TLS (STLS, or POP3S when implicit) on
// loopback until the test ends; bob's password is "secret".
func serveTLS(t *testing.T, p *tlstest.CA, implicit bool) string {
	t.Helper()
	b := &pop3server.MemoryBackend{}
	b.AddUser("bob", "secret")
	b.AddUser(strings.Repeat("b", 100), strings.Repeat("s", 100))
	b.Deliver("bob", []byte("Subject: one\r\n\r\nfirst\r\n"))
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3server.New(pop3server.Options{AuthFailDelay: -1, TLSConfig: p.ServerConfig(), ImplicitTLS: implicit}, b)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

func TestStartTLSThenAuthPlain(t *testing.T) {
	p := tlstest.New(t)
	c := dial(t, serveTLS(t, p, false))
	if _, ok := c.TLS(); ok {
		t.Error("TLS() is true before StartTLS")
	}
	if err := c.StartTLS(p.ClientConfig("")); err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLS(); !ok || !st.HandshakeComplete {
		t.Errorf("TLS() = %v, %v after StartTLS", st.HandshakeComplete, ok)
	}
	caps, err := c.Capa()
	if err != nil || !slices.Contains(caps, "SASL PLAIN") || slices.Contains(caps, "STLS") {
		t.Errorf("Capa inside TLS = %q, %v; want SASL PLAIN and no STLS", caps, err)
	}
	if err := c.AuthPlain("bob", "secret"); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(); n != 1 || err != nil {
		t.Errorf("Stat = %d, %v", n, err)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func TestAuthPlainTooLongForOneLineUsesContinuation(t *testing.T) {
	// RFC 5034 section 4: an initial response that would make the line
	// longer than 255 octets is sent after "+ " instead.
	p := tlstest.New(t)
	c := dial(t, serveTLS(t, p, false))
	if err := c.StartTLS(p.ClientConfig("")); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthPlain(strings.Repeat("b", 100), strings.Repeat("s", 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthPlain("bob", "wrong"); err == nil {
		t.Error("a second AUTH after login succeeded")
	}
}

func TestPasswordInClearRefusedBeforeStartTLS(t *testing.T) {
	p := tlstest.New(t)
	c := dial(t, serveTLS(t, p, false))
	err := c.Login("bob", "secret")
	if !errors.Is(err, pop3.ErrAuth) || !strings.Contains(err.Error(), "TLS required") {
		t.Errorf("Login before STLS: %v, want [AUTH] TLS required", err)
	}
	if err := c.AuthPlain("bob", "secret"); err == nil {
		t.Error("AuthPlain before STLS succeeded")
	}
	// The session is still in step: STLS, then the login works.
	if err := c.StartTLS(p.ClientConfig("")); err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(p.ClientConfig("")); err == nil {
		t.Error("a second StartTLS succeeded")
	}
}

func TestDialTLS(t *testing.T) {
	p := tlstest.New(t)
	addr := serveTLS(t, p, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pop3client.DialTLS(ctx, nil, addr, p.ClientConfig(""), pop3client.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.Greeting(), "maillab POP3 server ready") {
		t.Errorf("greeting %q", c.Greeting())
	}
	if err := c.Login("bob", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func TestUntrustedCertificateFails(t *testing.T) {
	p := tlstest.New(t)
	other := tlstest.New(t) // a CA that did not sign the server's certificate
	t.Run("StartTLS", func(t *testing.T) {
		c := dial(t, serveTLS(t, p, false))
		err := c.StartTLS(other.ClientConfig(""))
		if err == nil || !strings.Contains(err.Error(), "pop3client: STLS: TLS handshake: ") {
			t.Fatalf("StartTLS = %v, want a handshake error", err)
		}
		if err := c.Noop(); err == nil {
			t.Error("the Client is still usable after a failed handshake")
		}
	})
	t.Run("DialTLS", func(t *testing.T) {
		addr := serveTLS(t, p, true)
		_, err := pop3client.DialTLS(context.Background(), nil, addr, other.ClientConfig(""), pop3client.Options{})
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
	// in clear to the server's "+OK"; they must not be read as answers to
	// the commands sent inside TLS.
	p := tlstest.New(t)
	cliEnd, srvEnd := net.Pipe()
	t.Cleanup(func() { cliEnd.Close(); srvEnd.Close() })
	go func() {
		br := bufio.NewReader(srvEnd)
		srvEnd.Write([]byte("+OK ready\r\n"))
		br.ReadString('\n') // STLS
		srvEnd.Write([]byte("+OK Begin TLS negotiation\r\n+OK injected\r\n"))
		tc := tls.Server(srvEnd, p.ServerConfig())
		if tc.Handshake() != nil {
			return
		}
		line, _ := bufio.NewReader(tc).ReadString('\n')
		tc.Write([]byte("+OK inside TLS, answering " + line))
	}()
	nc := &noteConn{Conn: cliEnd}
	c, err := pop3client.NewClient(nc, pop3client.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ClientConfig("")
	cfg.ServerName = "localhost"
	if err := c.StartTLS(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := c.Cmd("NOOP", false)
	if err != nil || r.Text != "inside TLS, answering NOOP" {
		t.Errorf("NOOP after STLS = %+v, %v; want the answer from inside TLS", r, err)
	}
	want := "14 octets the server sent after +OK to STLS, before the TLS handshake, discarded (response injection)"
	if !slices.Contains(nc.notes, want) {
		t.Errorf("notes %q, want %q", nc.notes, want)
	}
}
