package pop3server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/protocols/wire"
)

// safety bounds a test that would otherwise hang; no assertion depends on it.
const safety = time.Minute

// rfcTimestamp is the greeting timestamp of the APOP example in RFC 1939
// section 7.
const rfcTimestamp = "<1896.697170952@dbc.mtview.ca.us>"

// testOptions: no login delay, a fixed timestamp.
func testOptions() Options {
	return Options{AuthFailDelay: -1, Timestamp: func() string { return rfcTimestamp }}
}

// startServer serves b on a loopback listener until the test ends.
func startServer(t testing.TB, opts Options, b Backend) (*Server, string) {
	t.Helper()
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, opts, b, l), l.Addr().String()
}

func serveOn(t testing.TB, opts Options, b Backend, l net.Listener) *Server {
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

// bobBackend has bob (password "secret") with two messages.
func bobBackend() *MemoryBackend {
	b := &MemoryBackend{}
	b.AddUser("bob", "secret")
	b.Deliver("bob", []byte(msg1))
	b.Deliver("bob", []byte(msg2))
	return b
}

const (
	msg1 = "From: alice@example.test\r\nSubject: one\r\n\r\nHello Bob.\r\n"
	msg2 = "From: carol@example.test\r\nSubject: two\r\n\r\nline 1\r\n.dotted line\r\nline 3\r\n"
)

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
	return newTestClient(t, c)
}

func newTestClient(t testing.TB, c net.Conn) *testClient {
	c.SetDeadline(time.Now().Add(safety))
	t.Cleanup(func() { c.Close() })
	return &testClient{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes lines, each ended with CRLF, in one write (a pipelined group
// when there are several).
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

// line reads one line without its CRLF.
func (tc *testClient) line() string {
	tc.t.Helper()
	line, err := tc.r.ReadString('\n')
	if err != nil {
		tc.t.Fatalf("reading a line: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		tc.t.Fatalf("line %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// expect reads one line and checks that it starts with prefix.
func (tc *testClient) expect(prefix string) string {
	tc.t.Helper()
	line := tc.line()
	if !strings.HasPrefix(line, prefix) {
		tc.t.Fatalf("got %q, want a line starting %q", line, prefix)
	}
	return line
}

// expectMulti reads a "+OK" line starting with prefix and the lines up to
// ".", returned as they are on the wire (still dot-stuffed).
func (tc *testClient) expectMulti(prefix string) []string {
	tc.t.Helper()
	tc.expect(prefix)
	var lines []string
	for {
		l := tc.line()
		if l == "." {
			return lines
		}
		lines = append(lines, l)
	}
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

// login connects as bob and logs in.
func login(t testing.TB, addr string) *testClient {
	t.Helper()
	tc := dial(t, addr)
	tc.expect("+OK ")
	tc.send("USER bob", "PASS secret")
	tc.expect("+OK ")
	tc.expect("+OK bob's maildrop has ")
	return tc
}

// quit sends QUIT, reads +OK and waits for the close.
func (tc *testClient) quit() {
	tc.t.Helper()
	tc.send("QUIT")
	tc.expect("+OK ")
	tc.expectClosed()
}

// tracingConn records, in order, what the server writes and what it tells
// its Tracer.
type tracingConn struct {
	net.Conn
	mu     sync.Mutex
	events []string
}

func (c *tracingConn) Write(p []byte) (int, error) {
	c.record("write " + string(p))
	return c.Conn.Write(p)
}

func (c *tracingConn) record(e string) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *tracingConn) State(from, to string) { c.record("state " + from + " -> " + to) }
func (c *tracingConn) Mark(d wire.Direction, m wire.Mark) {
	c.record("mark " + d.String() + " " + map[wire.Mark]string{wire.MarkNone: "none", wire.MarkBulk: "bulk", wire.MarkSecret: "secret"}[m])
}
func (c *tracingConn) Note(text string)  { c.record("note " + text) }
func (c *tracingConn) QueueID(id string) { c.record("queue " + id) }

func (c *tracingConn) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}
