package pop3server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maillab/maillab/protocols/pop3"
)

// Options configure a Server. A zero field means its default.
type Options struct {
	// Hostname names the server in the APOP timestamp. Default "localhost".
	Hostname string
	// Banner is the greeting text before the timestamp:
	// "+OK <Banner> <timestamp>". Default "maillab POP3 server ready".
	Banner string
	// Timestamp makes the APOP timestamp of each greeting, angle brackets
	// included (RFC 1939 section 7: it must be different every time).
	// Default: "<pid.counter.unixnano@Hostname>". Scenarios inject one so a
	// transcript renders the same bytes twice.
	Timestamp func() string
	// Expire, when not "", is advertised in CAPA as "EXPIRE <Expire>"
	// (RFC 2449 section 6.7): "NEVER", "0" or a number of days. Set it only
	// when the Backend keeps that promise; the default advertises nothing.
	Expire string

	// MaxLineBytes bounds a command line, CRLF included. Default 255
	// (RFC 2449 section 4). Longer lines get "-ERR line too long".
	MaxLineBytes int
	// MaxErrors is how many "-ERR" answers to mistakes (unknown commands,
	// bad arguments, wrong state) a session gets; the next one closes the
	// connection. Default 10.
	MaxErrors int
	// MaxAuthFailures is how many failed logins a session gets; the
	// connection closes after the last. Default 3.
	MaxAuthFailures int
	// AuthFailDelay is waited before answering a failed login, to slow
	// down password guessing. Default 1 second; a negative value means no
	// delay (tests).
	AuthFailDelay time.Duration
	// MaxConns bounds the open sessions. Default 100. A client over it
	// gets "-ERR [SYS/TEMP] too many connections, try later".
	MaxConns int

	// IdleTimeout bounds the wait for each command; then the session ends
	// with "-ERR autologout" and nothing is deleted. Default 10 minutes,
	// the minimum RFC 1939 section 3 allows for an autologout timer.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of responses. Default 1 minute.
	WriteTimeout time.Duration

	// Logger receives internal errors (a backend's non-*pop3.Error errors,
	// recovered panics). nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Banner == "" {
		o.Banner = "maillab POP3 server ready"
	}
	setDefault(&o.MaxLineBytes, pop3.MaxCommandBytes)
	setDefault(&o.MaxErrors, 10)
	setDefault(&o.MaxAuthFailures, 3)
	if o.AuthFailDelay == 0 {
		o.AuthFailDelay = time.Second
	}
	setDefault(&o.MaxConns, 100)
	setDefault(&o.IdleTimeout, 10*time.Minute)
	setDefault(&o.WriteTimeout, time.Minute)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server accepts POP3 connections and runs one session for each. Many
// servers may share a process; a Server holds no global state.
type Server struct {
	opts    Options
	backend Backend

	shutting atomic.Bool   // set once by Shutdown
	stop     chan struct{} // closed by Shutdown: cuts AuthFailDelay short
	counter  atomic.Uint64 // for the default APOP timestamps

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine
}

// New returns a Server that opens maildrops through b.
func New(opts Options, b Backend) *Server {
	return &Server{
		opts:      opts.withDefaults(),
		backend:   b,
		stop:      make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
}

// timestamp returns a fresh APOP timestamp (RFC 1939 section 7: the syntax
// of a msg-id, "<process-ID.clock@hostname>", unique per greeting).
func (s *Server) timestamp() string {
	if s.opts.Timestamp != nil {
		return s.opts.Timestamp()
	}
	return fmt.Sprintf("<%d.%d.%d@%s>", os.Getpid(), s.counter.Add(1), time.Now().UnixNano(), s.opts.Hostname)
}

// Serve accepts connections on l until Shutdown, which makes it return nil;
// any other accept failure is returned. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shutting.Load() {
				return nil
			}
			// A temporary failure (out of file descriptors) is waited out,
			// as net/http does.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn("pop3server: accept", "err", err, "retry_in", delay)
				select {
				case <-time.After(delay):
				case <-s.stop:
				}
				continue
			}
			return fmt.Errorf("pop3server: accept: %w", err)
		}
		delay = 0
		s.start(nc)
	}
}

// start runs a session for nc, or refuses it when the server is full.
func (s *Server) start(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		nc.Close()
		return
	}
	s.wg.Add(1)
	if len(s.conns) >= s.opts.MaxConns {
		go s.refuse(nc)
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	go c.serve()
}

// refuse tells a client over MaxConns to come back later. RFC 3206 section
// 4: SYS/TEMP is a problem likely to go away.
func (s *Server) refuse(nc net.Conn) {
	defer s.wg.Done()
	defer lingerClose(nc)
	nc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if _, err := nc.Write([]byte("-ERR [SYS/TEMP] too many connections, try later\r\n")); err != nil {
		s.opts.Logger.Debug("pop3server: refusing a connection", "remote", nc.RemoteAddr(), "err", err)
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections and ends every session: an idle one
// at once, a busy one when its current command is answered (a RETR being
// sent is finished; a QUIT's UPDATE completes), each with
// "-ERR [SYS/TEMP] server shutting down". A session ended this way deletes
// nothing: only QUIT enters the UPDATE state (RFC 1939 section 6), and the
// maildrop lock is released. Shutdown waits for the sessions to end until
// ctx is done; then it closes their connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutting.Swap(true) {
		close(s.stop)
	}
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.wakeIfIdle()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("pop3server: shutdown: %w", ctx.Err())
	}
}

// errShuttingDown stops a session's read when Shutdown has begun.
var errShuttingDown = errors.New("pop3server: shutting down")
