package pop3server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
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

	// TLSConfig, when set, offers TLS: STLS (RFC 2595 section 4) on a
	// plain port, or TLS from the first byte with ImplicitTLS. It needs a
	// certificate (Certificates or GetCertificate). nil: no TLS, and the
	// server behaves exactly as it did before TLS existed (USER, PASS and
	// AUTH PLAIN in clear; existing labs keep working).
	TLSConfig *tls.Config
	// ImplicitTLS runs the TLS handshake as soon as a client connects,
	// before the greeting: POP3S, port 995 (RFC 8314 section 3.1). STLS is
	// then neither offered nor accepted. It needs TLSConfig.
	ImplicitTLS bool
	// AllowInsecureAuth lets USER/PASS and AUTH PLAIN through before TLS
	// when TLSConfig is set. By default (false) a server with a TLSConfig
	// refuses them until STLS has succeeded and does not list USER or
	// SASL PLAIN in CAPA before it (RFC 2595 section 2.2: clients must
	// not send passwords in clear; RFC 8314 section 5.4 asks servers to
	// enforce it). APOP is always allowed: it never sends the password.
	// Without a TLSConfig this field changes nothing.
	AllowInsecureAuth bool

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
	netconn.SetDefault(&o.MaxLineBytes, pop3.MaxCommandBytes)
	netconn.SetDefault(&o.MaxErrors, 10)
	netconn.SetDefault(&o.MaxAuthFailures, 3)
	if o.AuthFailDelay == 0 {
		o.AuthFailDelay = time.Second
	}
	netconn.SetDefault(&o.MaxConns, 100)
	netconn.SetDefault(&o.IdleTimeout, 10*time.Minute)
	netconn.SetDefault(&o.WriteTimeout, time.Minute)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// errImplicitTLS is returned by Serve when ImplicitTLS has no TLSConfig.
var errImplicitTLS = errors.New("pop3server: Options.ImplicitTLS needs a TLSConfig")

func (o *Options) checkTLS() error {
	if o.ImplicitTLS && o.TLSConfig == nil {
		return errImplicitTLS
	}
	return nil
}

// Server accepts POP3 connections and runs one session for each. Many
// servers may share a process; a Server holds no global state.
type Server struct {
	opts    Options
	backend Backend
	loop    *netconn.Loop // listeners, sessions, MaxConns and Shutdown
	counter atomic.Uint64 // for the default APOP timestamps
}

// New returns a Server that opens maildrops through b.
func New(opts Options, b Backend) *Server {
	opts = opts.withDefaults()
	return &Server{
		opts:    opts,
		backend: b,
		// RFC 3206 section 4: SYS/TEMP is a problem likely to go away.
		loop: netconn.NewLoop(netconn.Config{
			Name:         "pop3server",
			MaxConns:     opts.MaxConns,
			Refusal:      "-ERR [SYS/TEMP] too many connections, try later\r\n",
			WriteTimeout: opts.WriteTimeout,
			Logger:       opts.Logger,
		}),
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
	if err := s.opts.checkTLS(); err != nil {
		l.Close()
		return err
	}
	return s.loop.Serve(l, func(lc *netconn.Conn) netconn.Session { return newConn(s, lc) })
}

// Shutdown stops accepting connections and ends every session: an idle one
// at once, a busy one when its current command is answered (a RETR being
// sent is finished; a QUIT's UPDATE completes), each with
// "-ERR [SYS/TEMP] server shutting down". A session ended this way deletes
// nothing: only QUIT enters the UPDATE state (RFC 1939 section 6), and the
// maildrop lock is released. Shutdown waits for the sessions to end until
// ctx is done; then it closes their connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.loop.Shutdown(ctx)
}
