package netconn

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Conn is a connection a Loop serves, as its session sees it. Only the
// session's goroutine reads and writes through it; Shutdown may wake it
// from another.
type Conn struct {
	nc   net.Conn
	loop *Loop

	mu      sync.Mutex
	waiting bool // blocked in an idle Read
}

// NetConn returns the connection the Loop accepted.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Read reads from the connection with a read deadline timeout from now.
// An idle read is one Shutdown may interrupt, typically the wait for the
// next command: it fails with ErrShuttingDown once Shutdown has begun, and
// one already blocked when Shutdown begins is woken with a timeout error
// (Loop.Interrupted tells both apart from a real timeout). A read that is
// not idle (message text in the middle of a transaction) runs to its
// deadline.
func (c *Conn) Read(p []byte, timeout time.Duration, idle bool) (int, error) {
	if !idle {
		c.nc.SetReadDeadline(time.Now().Add(timeout))
		return c.nc.Read(p)
	}
	c.mu.Lock()
	if c.loop.shutting.Load() {
		c.mu.Unlock()
		return 0, ErrShuttingDown
	}
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	c.waiting = true
	c.mu.Unlock()
	n, err := c.nc.Read(p)
	c.mu.Lock()
	c.waiting = false
	c.mu.Unlock()
	return n, err
}

// wakeIfIdle makes a session blocked in an idle Read notice Shutdown now.
// A busy session notices it before its next idle Read.
func (c *Conn) wakeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// Write writes p with a write deadline timeout from now.
func (c *Conn) Write(p []byte, timeout time.Duration) (int, error) {
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	return c.nc.Write(p)
}

// LingerClose closes a connection the server chose to end, after its last
// reply. What the client sent meanwhile is read and dropped for a moment
// first: closing a socket with unread input makes TCP send a reset, which
// can destroy the last reply before the client reads it. A connection that
// cannot half-close (no CloseWrite method, as net.Pipe) is closed at once.
func LingerClose(nc net.Conn) {
	defer nc.Close()
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, nc, lingerBytes)
}

const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 10
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// Dial connects to addr over TCP with dial (nil means a net.Dialer) and
// starts a client session on the connection with start; ctx bounds both.
// When ctx ends during start, the connection is closed (which is what
// unblocks a pending read) and ctx's cause is returned. Failures to
// connect and ctx's end read "<name>: dial <addr>: ..."; start's own error
// is returned as it is, and start must close the connection when it fails.
func Dial[C any](ctx context.Context, dial DialFunc, addr, name string, start func(net.Conn) (C, error)) (C, error) {
	var zero C
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return zero, fmt.Errorf("%s: dial %s: %w", name, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, err := start(conn)
	if !stop() {
		if err == nil {
			conn.Close()
		}
		return zero, fmt.Errorf("%s: dial %s: %w", name, addr, context.Cause(ctx))
	}
	if err != nil {
		return zero, err
	}
	return c, nil
}
