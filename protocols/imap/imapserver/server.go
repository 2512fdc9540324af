package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
)

// Options configure a Server. A zero field means its default.
type Options struct {
	// Greeting is the text of the "* OK" greeting. Default
	// "maillab IMAP4rev1 ready".
	Greeting string

	// MaxLineBytes bounds one line of a command, CRLF included, literal
	// data not counted. Default 64 KiB. A longer line gets BAD.
	MaxLineBytes int
	// MaxLiteralBytes bounds one literal, and so an APPENDed message.
	// Default 25 MiB. A synchronizing literal over it gets "NO [TOOBIG]"
	// before the client sends it; a non-synchronizing one (LITERAL+) gets
	// "* BYE [TOOBIG]" and the connection is closed (RFC 7888 section 4).
	MaxLiteralBytes int64
	// MaxDepth bounds the nesting of parenthesised lists. Default 32.
	MaxDepth int
	// MaxErrors is how many BAD responses and failed logins a session may
	// get; the next one is followed by "* BYE Too many errors" and the
	// connection is closed. Default 10.
	MaxErrors int
	// MaxConns bounds the open sessions. Default 100. A client over it gets
	// "* BYE Too many connections" and is disconnected.
	MaxConns int

	// IdleTimeout bounds the wait for each read, IDLE included. Default 30
	// minutes, the least RFC 3501 section 5.4 allows for autologout; then
	// "* BYE Autologout".
	IdleTimeout time.Duration
	// WriteTimeout bounds each write. Default 1 minute.
	WriteTimeout time.Duration

	// TLSConfig, when set, offers TLS: STARTTLS (RFC 3501 section 6.2.1,
	// RFC 2595 section 3) on a plain port, or TLS from the first byte
	// with ImplicitTLS. It needs a certificate (Certificates or
	// GetCertificate). nil: no TLS, and the server behaves exactly as it
	// did before TLS existed (LOGIN and AUTHENTICATE PLAIN in clear;
	// existing labs keep working).
	TLSConfig *tls.Config
	// ImplicitTLS runs the TLS handshake as soon as a client connects,
	// before the greeting: IMAPS, port 993 (RFC 8314 section 3.2). STARTTLS
	// is then neither offered nor accepted. It needs TLSConfig.
	ImplicitTLS bool
	// AllowInsecureAuth lets LOGIN and AUTHENTICATE PLAIN through before
	// TLS when TLSConfig is set. By default (false) a server with a
	// TLSConfig announces LOGINDISABLED and no AUTH=PLAIN until STARTTLS
	// has succeeded, and answers LOGIN and AUTHENTICATE
	// "NO [PRIVACYREQUIRED]" (RFC 3501 section 6.2.3, RFC 2595 section
	// 3.2, RFC 5530). Without a TLSConfig this field changes nothing.
	AllowInsecureAuth bool
	// AuthFailDelay is waited before answering a failed login, to slow
	// down password guessing (each failure also counts towards
	// MaxErrors). Default 1 second; a negative value means no delay
	// (tests). Shutdown cuts the wait short.
	AuthFailDelay time.Duration

	// Logger receives internal errors (a backend's non-IMAP errors,
	// recovered panics). nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Greeting == "" {
		o.Greeting = "maillab IMAP4rev1 ready"
	}
	netconn.SetDefault(&o.MaxLineBytes, 64<<10)
	netconn.SetDefault(&o.MaxLiteralBytes, 25<<20)
	netconn.SetDefault(&o.MaxDepth, 32)
	netconn.SetDefault(&o.MaxErrors, 10)
	netconn.SetDefault(&o.MaxConns, 100)
	netconn.SetDefault(&o.IdleTimeout, 30*time.Minute)
	netconn.SetDefault(&o.WriteTimeout, time.Minute)
	if o.AuthFailDelay == 0 {
		o.AuthFailDelay = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server accepts IMAP connections and runs one session for each. Many
// servers may share a process; a Server holds no global state.
type Server struct {
	opts    Options
	backend Backend
	loop    *netconn.Loop // listeners, sessions, MaxConns and Shutdown
}

// New returns a Server whose users log in to b.
func New(opts Options, b Backend) *Server {
	opts = opts.withDefaults()
	return &Server{
		opts:    opts,
		backend: b,
		// RFC 3501 section 7.1.5: BYE may be the greeting, and greets a
		// client over MaxConns.
		loop: netconn.NewLoop(netconn.Config{
			Name:         "imapserver",
			MaxConns:     opts.MaxConns,
			Refusal:      "* BYE Too many connections, try later\r\n",
			WriteTimeout: opts.WriteTimeout,
			Logger:       opts.Logger,
		}),
	}
}

// Serve accepts connections on l until Shutdown, which makes it return nil;
// any other accept failure is returned. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	if s.opts.ImplicitTLS && s.opts.TLSConfig == nil {
		l.Close()
		return errImplicitTLS
	}
	return s.loop.Serve(l, s.start)
}

// errImplicitTLS is returned by Serve when ImplicitTLS has no TLSConfig.
var errImplicitTLS = errors.New("imapserver: Options.ImplicitTLS needs a TLSConfig")

// ServeConn runs a session on nc in a new goroutine (or refuses it when
// the server is full or shutting down). The Server owns nc from then on.
func (s *Server) ServeConn(nc net.Conn) {
	s.loop.ServeConn(nc, s.start)
}

func (s *Server) start(lc *netconn.Conn) netconn.Session { return newConn(s, lc) }

// Shutdown stops accepting connections and ends every session with
// "* BYE Server shutting down": one waiting for a command (or in IDLE) at
// once, a busy one when its command is done. Shutdown waits for the
// sessions to end until ctx is done; then it closes their connections and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.loop.Shutdown(ctx)
	if err != nil {
		s.loop.Wait() // closing the connections ends their goroutines
	}
	return err
}
