package smtpserver

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

// expect reads one reply line and checks that it starts with prefix.
func (tc *testClient) expect(prefix string) string {
	tc.t.Helper()
	line, err := tc.r.ReadString('\n')
	if err != nil {
		tc.t.Fatalf("reading a line starting %q: %v (got %q)", prefix, err, line)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasPrefix(line, prefix) {
		tc.t.Fatalf("got %q, want a line starting %q", line, prefix)
	}
	return line
}

// expectReply reads a whole (multi-line) reply and returns its lines.
func (tc *testClient) expectReply(code string) []string {
	tc.t.Helper()
	var lines []string
	for {
		line := tc.expect(code)
		lines = append(lines, line)
		if strings.HasPrefix(line, code+" ") {
			return lines
		}
		if !strings.HasPrefix(line, code+"-") {
			tc.t.Fatalf("got %q in a %s reply", line, code)
		}
	}
}

// expectClosed checks that the server closed the connection.
func (tc *testClient) expectClosed() {
	tc.t.Helper()
	line, err := tc.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		tc.t.Fatalf("got %q, %v; want the connection closed", line, err)
	}
	tc.c.Close() // as a client does when the server has closed
}

// ehlo connects and introduces itself.
func ehlo(t testing.TB, addr string) *testClient {
	t.Helper()
	tc := dial(t, addr)
	tc.expect("220 ")
	tc.send("EHLO client.example.test")
	tc.expectReply("250")
	return tc
}

// tracingConn records what the server writes and what it tells its Tracer.
type tracingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
	events []string
}

func (c *tracingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
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

func (c *tracingConn) snapshot() (writes, events []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...), append([]string(nil), c.events...)
}
