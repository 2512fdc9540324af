package netconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Loop.
type Config struct {
	// Name prefixes the errors and log messages of the Loop, e.g.
	// "smtpserver".
	Name string
	// MaxConns bounds the open sessions; one more is refused. Values
	// below 1 are taken as 1.
	MaxConns int
	// Refusal is the whole line, CRLF included, written to a client over
	// MaxConns before its connection is closed.
	Refusal string
	// WriteTimeout bounds the write of Refusal.
	WriteTimeout time.Duration
	// Logger receives accept failures (Warn) and failed refusals (Debug).
	// nil discards them.
	Logger *slog.Logger
}

// Session is one connection's protocol session.
type Session interface {
	// Serve runs the session to its end, on a goroutine of its own, and
	// reports whether the server ended it: then the connection is closed
	// with LingerClose, so that the last reply reaches the client;
	// otherwise (the client went away) it is closed at once.
	Serve() (linger bool)
}

// Loop owns listeners and the sessions on the connections they accept.
// Many Loops may share a process; a Loop holds no global state.
type Loop struct {
	cfg Config

	shutting atomic.Bool   // set once by Shutdown
	stop     chan struct{} // closed by Shutdown

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine
}

// NewLoop returns a Loop configured by cfg.
func NewLoop(cfg Config) *Loop {
	cfg.MaxConns = max(cfg.MaxConns, 1)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Loop{
		cfg:       cfg,
		stop:      make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*Conn]struct{}{},
	}
}

// ErrShuttingDown is returned by an idle Conn.Read once Shutdown has begun.
var ErrShuttingDown = errors.New("netconn: shutting down")

// ShuttingDown reports whether Shutdown has begun.
func (l *Loop) ShuttingDown() bool { return l.shutting.Load() }

// Stopping returns a channel closed when Shutdown begins, for a session
// that waits (e.g. before answering a failed login) and should stop
// waiting then.
func (l *Loop) Stopping() <-chan struct{} { return l.stop }

// Interrupted reports whether err, from a Conn.Read, ended the read
// because Shutdown began: ErrShuttingDown, or a timeout after Shutdown
// (how Shutdown wakes a read already blocked).
func (l *Loop) Interrupted(err error) bool {
	return errors.Is(err, ErrShuttingDown) || l.shutting.Load() && IsTimeout(err)
}

// IsTimeout reports whether err is a net.Error that timed out, as a read
// or write past its deadline does.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Serve accepts connections on ln and hands each to ServeConn with start,
// until Shutdown, which makes it return nil; any other accept failure is
// returned. Serve closes ln when it returns.
func (l *Loop) Serve(ln net.Listener, start func(*Conn) Session) error {
	l.mu.Lock()
	if l.shutting.Load() {
		l.mu.Unlock()
		ln.Close()
		return nil
	}
	l.listeners[ln] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.listeners, ln)
		l.mu.Unlock()
		ln.Close()
	}()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if l.shutting.Load() {
				return nil
			}
			// A temporary failure (out of file descriptors) is waited out,
			// as net/http does.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.cfg.Logger.Warn(l.cfg.Name+": accept", "err", err, "retry_in", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-l.stop:
					t.Stop()
				}
				continue
			}
			return fmt.Errorf("%s: accept: %w", l.cfg.Name, err)
		}
		delay = 0
		l.ServeConn(nc, start)
	}
}

// ServeConn runs start(nc)'s session on a new goroutine, or refuses nc when
// MaxConns sessions are open, or closes it when Shutdown has begun. The
// Loop owns nc from then on.
func (l *Loop) ServeConn(nc net.Conn, start func(*Conn) Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shutting.Load() {
		nc.Close()
		return
	}
	l.wg.Add(1)
	if len(l.conns) >= l.cfg.MaxConns {
		go l.refuse(nc)
		return
	}
	c := &Conn{nc: nc, loop: l}
	s := start(c)
	l.conns[c] = struct{}{}
	go l.run(c, s)
}

func (l *Loop) run(c *Conn, s Session) {
	defer l.wg.Done()
	linger := false
	defer func() {
		// Forgotten before closing: a client that sees EOF finds its
		// place free.
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		if linger {
			LingerClose(c.nc)
		} else {
			c.nc.Close()
		}
	}()
	linger = s.Serve()
}

// refuse writes the refusal to a client over MaxConns and closes.
func (l *Loop) refuse(nc net.Conn) {
	defer l.wg.Done()
	defer LingerClose(nc)
	nc.SetWriteDeadline(time.Now().Add(l.cfg.WriteTimeout))
	if _, err := io.WriteString(nc, l.cfg.Refusal); err != nil {
		l.cfg.Logger.Debug(l.cfg.Name+": refusing a connection", "remote", nc.RemoteAddr(), "err", err)
	}
}

// Shutdown stops accepting connections (its listeners are closed, Serve
// returns nil), wakes every session blocked in an idle read (which then
// fails as Interrupted says) and waits for all sessions to end, refused
// connections included, until ctx is done. Then it closes every session's
// connection and returns ctx's error, prefixed with the Loop's name, without
// waiting further (Wait does).
func (l *Loop) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	if !l.shutting.Swap(true) {
		close(l.stop)
	}
	for ln := range l.listeners {
		ln.Close()
	}
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()

	for _, c := range conns {
		c.wakeIfIdle()
	}
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for c := range l.conns {
			c.nc.Close()
		}
		l.mu.Unlock()
		return fmt.Errorf("%s: shutdown: %w", l.cfg.Name, ctx.Err())
	}
}

// Wait waits until every session and refusal the Loop started has ended.
func (l *Loop) Wait() { l.wg.Wait() }
