package imapclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/wire"
)

// peer plays the server side of a script over net.Pipe:
//
//	S: line   the server writes line + CRLF
//	C: line   the server reads one line (up to LF) from the client
//	...       the server reads until the client closes
//
// After the last step the server closes its end. What the client wrote is
// kept, byte for byte, and compared with the script's C: lines (each ending
// in CRLF) by check.
type peer struct {
	t      *testing.T
	script string
	done   chan struct{}
	mu     sync.Mutex
	got    []byte
}

// startPeer runs script against the returned client end of a pipe.
func startPeer(t *testing.T, script string) (net.Conn, *peer) {
	t.Helper()
	cliConn, srvConn := net.Pipe()
	p := &peer{t: t, script: script, done: make(chan struct{})}
	go p.run(srvConn)
	t.Cleanup(func() {
		cliConn.Close()
		<-p.done
	})
	return cliConn, p
}

func scriptSteps(script string) []string {
	var out []string
	for _, step := range strings.Split(strings.TrimSpace(script), "\n") {
		out = append(out, strings.TrimLeft(step, "\t"))
	}
	return out
}

func (p *peer) run(conn net.Conn) {
	defer close(p.done)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, step := range scriptSteps(p.script) {
		switch {
		case strings.HasPrefix(step, "S:"):
			if _, err := conn.Write([]byte(strings.TrimPrefix(strings.TrimPrefix(step, "S:"), " ") + "\r\n")); err != nil {
				return
			}
		case strings.HasPrefix(step, "C:"):
			line, err := br.ReadBytes('\n')
			p.add(line)
			if err != nil {
				return
			}
		case step == "...":
			b, _ := io.ReadAll(br)
			p.add(b)
			return
		default:
			panic(fmt.Sprintf("bad script step %q", step))
		}
	}
}

func (p *peer) add(b []byte) {
	p.mu.Lock()
	p.got = append(p.got, b...)
	p.mu.Unlock()
}

// check closes the client connection, waits for the peer and compares what
// the client wrote with the script's C: lines.
func (p *peer) check(conn net.Conn) {
	p.t.Helper()
	conn.Close()
	<-p.done
	var want strings.Builder
	for _, step := range scriptSteps(p.script) {
		if strings.HasPrefix(step, "C:") {
			want.WriteString(strings.TrimPrefix(strings.TrimPrefix(step, "C:"), " ") + "\r\n")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if diff := cmp.Diff(want.String(), string(p.got)); diff != "" {
		p.t.Errorf("client wrote (-want +got):\n%s", diff)
	}
}

// testOptions bound every wait so a broken client fails instead of hanging.
func testOptions() Options {
	return Options{Timeout: 10 * time.Second}
}

// dialPeer starts script and a Client on it.
func dialPeer(t *testing.T, script string, opts Options) (*Client, net.Conn, *peer) {
	t.Helper()
	conn, p := startPeer(t, script)
	c, err := NewClient(conn, opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, conn, p
}

// tapConn records the client's writes and tracer marks in one log, as the
// transcript tap would see them.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	log []string
}

func (c *tapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.log = append(c.log, "write "+string(b))
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *tapConn) State(from, to string) {}
func (c *tapConn) Note(text string)      {}
func (c *tapConn) QueueID(id string)     {}
func (c *tapConn) Mark(d wire.Direction, m wire.Mark) {
	c.mu.Lock()
	c.log = append(c.log, fmt.Sprintf("mark %v %d", d, m))
	c.mu.Unlock()
}

func (c *tapConn) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// wantIMAPError checks that err wraps an *Error with status and code and
// reads as msg.
func wantIMAPError(t *testing.T, err error, status, code, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Status != status || e.Code != code {
		t.Errorf("Error = %+v, want status %s code %q", e, status, code)
	}
	if err.Error() != msg {
		t.Errorf("err = %q\nwant  %q", err.Error(), msg)
	}
}
