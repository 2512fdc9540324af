// Package netconntest holds test helpers for the maillab clients: a Peer
// that plays the server side of a script over net.Pipe and records what
// the client wrote, and a TapConn that logs a client's writes and tracer
// marks as the transcript tap would see them.
//
// # Limits
//
// For tests only: a Peer reads lines of any length, and a bad script step
// panics.
package netconntest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/wire"
)

// Peer plays the server side of a script over net.Pipe, one step a line
// (leading tabs ignored):
//
//	S: line   the server writes line + CRLF
//	C: line   the server reads one line (up to LF) from the client
//	...       the server reads until the client closes
//
// After the last step the server closes its end. What the client wrote is
// kept, byte for byte, and compared with the script's C: lines (each ending
// in CRLF) by Check.
type Peer struct {
	t      testing.TB
	script string
	done   chan struct{}
	mu     sync.Mutex
	got    []byte
}

// StartPeer runs script against the returned client end of a pipe. The
// test's cleanup closes that end and waits for the peer.
func StartPeer(t testing.TB, script string) (net.Conn, *Peer) {
	t.Helper()
	cliConn, srvConn := net.Pipe()
	p := &Peer{t: t, script: script, done: make(chan struct{})}
	go p.run(srvConn)
	t.Cleanup(func() {
		cliConn.Close()
		<-p.done
	})
	return cliConn, p
}

func steps(script string) []string {
	var out []string
	for _, step := range strings.Split(strings.TrimSpace(script), "\n") {
		out = append(out, strings.TrimLeft(step, "\t"))
	}
	return out
}

func (p *Peer) run(conn net.Conn) {
	defer close(p.done)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, step := range steps(p.script) {
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

func (p *Peer) add(b []byte) {
	p.mu.Lock()
	p.got = append(p.got, b...)
	p.mu.Unlock()
}

// Wait waits until the peer has played its script and closed its end.
func (p *Peer) Wait() { <-p.done }

// Check closes the client connection, waits for the peer and compares what
// the client wrote with the script's C: lines.
func (p *Peer) Check(conn net.Conn) {
	p.t.Helper()
	conn.Close()
	<-p.done
	var want strings.Builder
	for _, step := range steps(p.script) {
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

// TapConn records the client's writes and tracer marks in one log, as the
// transcript tap would see them. It is a wire.Tracer.
type TapConn struct {
	net.Conn
	mu  sync.Mutex
	log []string
}

func (c *TapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.log = append(c.log, "write "+string(b))
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *TapConn) State(from, to string) {}
func (c *TapConn) Note(text string)      {}
func (c *TapConn) QueueID(id string)     {}

// Mark logs "mark <direction> <mark>", e.g. "mark C 2".
func (c *TapConn) Mark(d wire.Direction, m wire.Mark) {
	c.mu.Lock()
	c.log = append(c.log, fmt.Sprintf("mark %v %d", d, m))
	c.mu.Unlock()
}

// Events returns the log so far: "write <bytes>" and "mark ..." entries.
func (c *TapConn) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}
