package smtpserver

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
)

// discardBackend reads every message and keeps none, so a benchmark
// measures the protocol, not a growing slice.
type discardBackend struct{}

func (discardBackend) NewSession(*ConnInfo) (Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Mail(mail.Path, smtp.MailParams) error { return nil }
func (discardSession) Rcpt(mail.Path) error                  { return nil }
func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset()       {}
func (discardSession) Close() error { return nil }

var benchMessage = "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n" +
	"Subject: benchmark\r\n\r\n" + strings.Repeat("A line of an ordinary message body, about seventy octets long....\r\n", 60) + ".\r\n"

// benchConn opens a session and returns a function sending one pipelined
// message and reading its four replies.
func benchConn(b *testing.B, addr string) (send func(), closeConn func()) {
	return benchConnTLS(b, addr, nil)
}

// benchConnTLS is benchConn over STARTTLS when cfg is not nil.
func benchConnTLS(b *testing.B, addr string, cfg *tls.Config) (send func(), closeConn func()) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(c)
	readReply := func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Error(err)
				return
			}
			if line[0] != '2' && line[0] != '3' {
				b.Errorf("reply %q", line)
			}
			if len(line) > 3 && line[3] == ' ' {
				return
			}
		}
	}
	readReply() // greeting
	io.WriteString(c, "EHLO bench.example.test\r\n")
	readReply()
	if cfg != nil {
		io.WriteString(c, "STARTTLS\r\n")
		readReply()
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		c, r = tc, bufio.NewReader(tc)
		io.WriteString(c, "EHLO bench.example.test\r\n")
		readReply()
	}
	return func() {
		if _, err := io.WriteString(c, benchMessage); err != nil {
			b.Error(err)
			return
		}
		for range 4 { // MAIL, RCPT, 354, final 250
			readReply()
		}
	}, func() { c.Close() }
}

func BenchmarkMessagesOneConnection(b *testing.B) {
	_, addr := startServer(b, Options{}, discardBackend{})
	send, closeConn := benchConn(b, addr)
	defer closeConn()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		send()
	}
}

func BenchmarkMessagesTenConnections(b *testing.B) {
	_, addr := startServer(b, Options{}, discardBackend{})
	const conns = 10
	sends := make([]func(), conns)
	for i := range sends {
		send, closeConn := benchConn(b, addr)
		defer closeConn()
		sends[i] = send
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, send := range sends {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		wg.Go(func() {
			for range n {
				send()
			}
		})
	}
	wg.Wait()
}

// BenchmarkMessagesOneConnectionTLS is BenchmarkMessagesOneConnection
// after STARTTLS: what encryption costs a message.
func BenchmarkMessagesOneConnectionTLS(b *testing.B) {
	_, addr := startServer(b, tlsOptions(b), discardBackend{})
	send, closeConn := benchConnTLS(b, addr, clientTLS(b))
	defer closeConn()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		send()
	}
}

// benchSession opens a session and closes it with QUIT: in clear, after
// STARTTLS, or with implicit TLS. Each TLS session is a full handshake
// (the client keeps no session tickets).
func benchSession(b *testing.B, mode string) {
	opts := tlsOptions(b)
	opts.ImplicitTLS = mode == "implicit"
	_, addr := startServer(b, opts, discardBackend{})
	cfg := clientTLS(b)
	expect := func(r *bufio.Reader, code string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, code) {
				b.Fatalf("got %q, %v; want %s", line, err, code)
			}
			if line[3] == ' ' {
				return
			}
		}
	}
	for b.Loop() {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		var c net.Conn = raw
		if mode == "implicit" {
			tc := tls.Client(raw, cfg)
			if err := tc.Handshake(); err != nil {
				b.Fatal(err)
			}
			c = tc
		}
		r := bufio.NewReader(c)
		expect(r, "220")
		io.WriteString(c, "EHLO bench.example.test\r\n")
		expect(r, "250")
		if mode == "starttls" {
			io.WriteString(c, "STARTTLS\r\n")
			expect(r, "220")
			tc := tls.Client(raw, cfg)
			if err := tc.Handshake(); err != nil {
				b.Fatal(err)
			}
			c, r = tc, bufio.NewReader(tc)
			io.WriteString(c, "EHLO bench.example.test\r\n")
			expect(r, "250")
		}
		io.WriteString(c, "QUIT\r\n")
		expect(r, "221")
		c.Close()
	}
}

func BenchmarkSessionPlain(b *testing.B)       { benchSession(b, "plain") }
func BenchmarkSessionSTARTTLS(b *testing.B)    { benchSession(b, "starttls") }
func BenchmarkSessionImplicitTLS(b *testing.B) { benchSession(b, "implicit") }
