package imapserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// safety bounds a test that would otherwise hang; no assertion depends on it.
const safety = time.Minute

// testMessage is a small message with the headers ENVELOPE looks at.
const testMessage = "From: Alice <alice@example.test>\r\n" +
	"To: bob@example.test\r\n" +
	"Subject: Lunch\r\n" +
	"Date: Tue, 1 Feb 1994 10:00:00 +0000\r\n" +
	"Message-ID: <1@example.test>\r\n" +
	"\r\n" +
	"Shall we have lunch?\r\n"

// newBackend returns a MemoryBackend with bob/secret and his INBOX holding
// n copies of testMessage.
func newBackend(t testing.TB, n int) *MemoryBackend {
	t.Helper()
	b := NewMemoryBackend()
	b.AddUser("bob", "secret")
	for range n {
		if _, err := b.Deliver("bob", "INBOX", []byte(testMessage)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// startServer serves b on a loopback listener until the test ends.
func startServer(t testing.TB, opts Options, b Backend) (*Server, string) {
	t.Helper()
	l, addr := listen(t)
	return serve(t, opts, b, l), addr
}

// listen opens a loopback listener.
func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	return l, l.Addr().String()
}

// serve serves b on l until the test ends.
func serve(t testing.TB, opts Options, b Backend, l net.Listener) *Server {
	t.Helper()
	if opts.AuthFailDelay == 0 {
		opts.AuthFailDelay = -1 // no waiting after failed logins in tests
	}
	srv := New(opts, b)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after Shutdown, want nil", err)
		}
	})
	return srv
}

// testClient speaks raw lines to a server.
type testClient struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *testClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(safety))
	t.Cleanup(func() { c.Close() })
	return &testClient{t: t, c: c, r: bufio.NewReader(c)}
}

// greeted connects and reads the greeting.
func greeted(t testing.TB, addr string) *testClient {
	t.Helper()
	tc := dial(t, addr)
	tc.expect("* OK [CAPABILITY IMAP4rev1 ")
	return tc
}

// loggedIn connects and logs in as bob.
func loggedIn(t testing.TB, addr string) *testClient {
	t.Helper()
	tc := greeted(t, addr)
	tc.send("l1 LOGIN bob secret")
	tc.expect("l1 OK [CAPABILITY ")
	return tc
}

// selectedInbox connects, logs in and selects INBOX.
func selectedInbox(t testing.TB, addr string) *testClient {
	t.Helper()
	tc := loggedIn(t, addr)
	tc.send("s1 SELECT INBOX")
	tc.until("s1 OK [READ-WRITE]")
	return tc
}

// send writes lines, each ended with CRLF, in one write.
func (tc *testClient) send(lines ...string) {
	tc.t.Helper()
	tc.sendRaw(strings.Join(lines, "\r\n") + "\r\n")
}

func (tc *testClient) sendRaw(s string) {
	tc.t.Helper()
	if _, err := io.WriteString(tc.c, s); err != nil {
		tc.t.Fatalf("send %q: %v", s, err)
	}
}

func (tc *testClient) line() (string, error) {
	line, err := tc.r.ReadString('\n')
	return strings.TrimSuffix(line, "\r\n"), err
}

// expect reads one line and checks that it starts with prefix.
func (tc *testClient) expect(prefix string) string {
	tc.t.Helper()
	line, err := tc.line()
	if err != nil {
		tc.t.Fatalf("reading a line starting %q: %v (got %q)", prefix, err, line)
	}
	if !strings.HasPrefix(line, prefix) {
		tc.t.Fatalf("got %q, want a line starting %q", line, prefix)
	}
	return line
}

// expectLines reads len(want) lines and compares them exactly.
func (tc *testClient) expectLines(want ...string) {
	tc.t.Helper()
	for _, w := range want {
		line, err := tc.line()
		if err != nil {
			tc.t.Fatalf("reading %q: %v", w, err)
		}
		if line != w {
			tc.t.Fatalf("got %q, want %q", line, w)
		}
	}
}

// until reads lines up to one starting with prefix and returns them all.
func (tc *testClient) until(prefix string) []string {
	tc.t.Helper()
	var lines []string
	for {
		line, err := tc.line()
		if err != nil {
			tc.t.Fatalf("reading until %q: %v (after %q)", prefix, err, lines)
		}
		lines = append(lines, line)
		if strings.HasPrefix(line, prefix) {
			return lines
		}
		if tag, _, _ := strings.Cut(prefix, " "); strings.HasPrefix(line, tag+" ") {
			tc.t.Fatalf("got %q, want %q (after %q)", line, prefix, lines)
		}
	}
}

// readN reads exactly n octets (a literal's data).
func (tc *testClient) readN(n int) string {
	tc.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(tc.r, b); err != nil {
		tc.t.Fatalf("reading %d octets: %v", n, err)
	}
	return string(b)
}

// expectClosed checks that the server closed the connection.
func (tc *testClient) expectClosed() {
	tc.t.Helper()
	line, err := tc.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		tc.t.Fatalf("got %q, %v; want the connection closed", line, err)
	}
	tc.c.Close()
}

func literal(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
