package smtpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maillab/maillab/protocols/smtp"
)

// Options configure a Server. A zero field means its default.
type Options struct {
	// Hostname names the server in the greeting and the EHLO reply.
	// Default "localhost".
	Hostname string
	// Greeting is the text after the hostname in the 220 greeting.
	// Default "ESMTP maillab ready" ("LMTP maillab ready" with LMTP).
	Greeting string
	// LMTP makes the server speak LMTP (RFC 2033): LHLO instead of HELO and
	// EHLO, and after the final "." one reply per accepted recipient,
	// produced by LMTPSession.LMTPData when the session implements it.
	LMTP bool

	// MaxCommandBytes bounds a command line, CRLF included. Default 512
	// (RFC 5321 section 4.5.3.1.4). Longer lines get 500 5.5.2.
	MaxCommandBytes int
	// MaxTextLineBytes bounds a line of message text, CRLF included and the
	// transparency dot excluded. Default 1000 (RFC 5321 section
	// 4.5.3.1.6). A message with a longer line is refused with 500 5.5.6.
	MaxTextLineBytes int
	// MaxMessageBytes bounds the message text (after dot-unstuffing, with
	// CRLF line endings), advertised as SIZE in the EHLO reply (RFC 1870).
	// Default 25 MiB. Bigger messages get 552 5.3.4.
	MaxMessageBytes int64
	// MaxRecipients bounds the accepted RCPTs of one transaction. Default
	// 100, the minimum RFC 5321 section 4.5.3.1.8 requires; one more gets
	// 452 4.5.3 (section 4.5.3.1.10).
	MaxRecipients int
	// MaxErrors is how many error replies (4yz, 5yz) a session gets; the
	// next error is answered with 421 4.7.0 and the connection closed.
	// Default 10.
	MaxErrors int
	// MaxConns bounds the open sessions. Default 100. A client over it gets
	// "421 4.7.0 Too many connections, try later" and is disconnected.
	MaxConns int

	// ReadTimeout bounds the wait for each command. Default 5 minutes (RFC
	// 5321 section 4.5.3.2.7); then "421 4.4.2 Idle timeout".
	ReadTimeout time.Duration
	// DataTimeout bounds each read of message text. Default 5 minutes.
	DataTimeout time.Duration
	// WriteTimeout bounds each write of replies. Default 1 minute.
	WriteTimeout time.Duration

	// Logger receives internal errors (a backend's non-reply errors,
	// recovered panics). nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Greeting == "" {
		o.Greeting = "ESMTP maillab ready"
		if o.LMTP {
			o.Greeting = "LMTP maillab ready"
		}
	}
	setDefault(&o.MaxCommandBytes, 512)
	setDefault(&o.MaxTextLineBytes, 1000)
	setDefault(&o.MaxMessageBytes, 25<<20)
	setDefault(&o.MaxRecipients, 100)
	setDefault(&o.MaxErrors, 10)
	setDefault(&o.MaxConns, 100)
	setDefault(&o.ReadTimeout, 5*time.Minute)
	setDefault(&o.DataTimeout, 5*time.Minute)
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

// Server accepts SMTP or LMTP connections and runs one session for each.
// Many servers may share a process; a Server holds no global state.
type Server struct {
	opts    Options
	backend Backend

	shutting atomic.Bool // set once by Shutdown

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine
}

// New returns a Server that hands mail to b.
func New(opts Options, b Backend) *Server {
	return &Server{
		opts:      opts.withDefaults(),
		backend:   b,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
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
				s.opts.Logger.Warn("smtpserver: accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("smtpserver: accept: %w", err)
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

// refuse tells a client over MaxConns to come back later (RFC 5321 section
// 3.8 allows 421 at any time).
func (s *Server) refuse(nc net.Conn) {
	defer s.wg.Done()
	defer lingerClose(nc)
	nc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	line := fmt.Sprintf("%d 4.7.0 Too many connections, try later\r\n", smtp.C421Closing)
	if _, err := nc.Write([]byte(line)); err != nil {
		s.opts.Logger.Debug("smtpserver: refusing a connection", "remote", nc.RemoteAddr(), "err", err)
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections and ends every session: an idle one
// at once, a busy one at its next command, each with "421 4.3.2 Service
// shutting down" (RFC 5321 section 3.8). A transaction in progress (a DATA
// being received or stored) is allowed to finish. Shutdown waits for the
// sessions to end until ctx is done; then it closes their connections and
// returns ctx's error. (A session the server ended still reads and drops
// what its client sends for up to two seconds before it closes, so that its
// last reply is not lost to a TCP reset; Shutdown waits for that too.)
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting.Store(true)
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
		return fmt.Errorf("smtpserver: shutdown: %w", ctx.Err())
	}
}

// errShuttingDown stops a session's read when Shutdown has begun.
var errShuttingDown = errors.New("smtpserver: shutting down")
