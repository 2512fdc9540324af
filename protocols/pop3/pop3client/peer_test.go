package pop3client

import (
	"bufio"
	"fmt"
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
//	C: line   the server reads one line from the client
//	...       the server reads until the client closes
//
// After the last step the server closes its end. What the client wrote is
// kept and compared with the script's C: lines by check.
type peer struct {
	t      *testing.T
	script string
	done   chan struct{}
	mu     sync.Mutex
	got    []string
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

func (p *peer) run(conn net.Conn) {
	defer close(p.done)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, step := range strings.Split(strings.TrimSpace(p.script), "\n") {
		step = strings.TrimLeft(step, "\t")
		switch {
		case strings.HasPrefix(step, "S: "), step == "S:":
			if _, err := conn.Write([]byte(strings.TrimPrefix(strings.TrimPrefix(step, "S:"), " ") + "\r\n")); err != nil {
				return
			}
		case strings.HasPrefix(step, "C: "), step == "C:":
			line, err := wire.ReadLine(br, 0)
			if err != nil {
				return
			}
			p.add(string(line))
		case step == "...":
			for {
				line, err := wire.ReadLine(br, 0)
				if err != nil {
					return
				}
				p.add(string(line))
			}
		default:
			panic(fmt.Sprintf("bad script step %q", step))
		}
	}
}

func (p *peer) add(line string) {
	p.mu.Lock()
	p.got = append(p.got, line)
	p.mu.Unlock()
}

// check closes the client connection, waits for the peer and compares what
// the client wrote with the script's C: lines.
func (p *peer) check(conn net.Conn) {
	p.t.Helper()
	conn.Close()
	<-p.done
	var want []string
	for _, step := range strings.Split(strings.TrimSpace(p.script), "\n") {
		step = strings.TrimLeft(step, "\t")
		if strings.HasPrefix(step, "C:") {
			want = append(want, strings.TrimPrefix(strings.TrimPrefix(step, "C:"), " "))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if diff := cmp.Diff(strings.Join(want, "\n"), strings.Join(p.got, "\n")); diff != "" {
		p.t.Errorf("client wrote (-want +got):\n%s", diff)
	}
}

// testOptions bound every wait so a broken client fails instead of hanging.
func testOptions() Options { return Options{Timeout: 10 * time.Second} }

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
