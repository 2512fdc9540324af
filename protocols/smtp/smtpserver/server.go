package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
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

	// Authenticator, when set, makes the server offer SMTP AUTH (RFC 4954)
	// with the PLAIN (RFC 4616) and LOGIN mechanisms and checks the user
	// names and passwords clients give; nil, the default, offers no AUTH.
	// An LMTP server never offers AUTH. After a successful AUTH,
	// ConnInfo.User names the user.
	Authenticator Authenticator
	// AllowInsecureAuth lets AUTH run on a connection that is not
	// encrypted, where the password crosses the network in clear: base64
	// is an encoding, not a cipher. false, the default, offers AUTH only
	// under TLS (RFC 8314 wants submission encrypted): before STARTTLS
	// the EHLO reply does not list AUTH and AUTH gets 538 5.7.11 (RFC
	// 4954 section 6); after it, or on an ImplicitTLS server, AUTH is
	// listed and runs. Without TLSConfig, false means AUTH never runs.
	AllowInsecureAuth bool
	// RequireAuth makes the server a submission server (RFC 6409 section
	// 4.3): MAIL from a client that has not authenticated gets 530 5.7.0
	// Authentication required (RFC 4954 section 6). It needs an
	// Authenticator, and SMTP: Serve refuses to start otherwise.
	RequireAuth bool
	// MaxAuthLineBytes bounds a line answering a 334 challenge, CRLF
	// included. Default 12288, the length RFC 4954 section 4 calls
	// sufficient for deployed mechanisms; longer lines get 500 5.5.6. The
	// AUTH command line itself, with its initial response, is bounded by
	// MaxCommandBytes (section 4: a client whose initial response would
	// not fit sends it after the 334 instead).
	MaxAuthLineBytes int
	// AuthFailDelay is how long a failed AUTH waits before its 535, to
	// slow down password guessing (each failure also counts toward
	// MaxErrors and is noted in the transcript). Default 1s; negative
	// means no delay.
	AuthFailDelay time.Duration

	// TLSConfig, when set, makes the server offer STARTTLS (RFC 3207) or,
	// with ImplicitTLS, TLS from the first byte. It needs a certificate
	// (Certificates, GetCertificate or GetConfigForClient); without one
	// STARTTLS gets 454 4.7.0. It must not be changed once the Server
	// runs. nil, the default, offers no TLS.
	TLSConfig *tls.Config
	// ImplicitTLS makes every connection start with the TLS handshake,
	// then the greeting, as on port 465 ("submissions", RFC 8314 section
	// 3.3). STARTTLS is then not offered. It needs TLSConfig: Serve
	// refuses to start without it.
	ImplicitTLS bool
	// RequireTLS refuses every command but EHLO, HELO, LHLO, NOOP, RSET,
	// QUIT and STARTTLS with 530 5.7.0 "Must issue a STARTTLS command
	// first" until TLS is active (RFC 3207 section 4). A public MX must
	// not set it (RFC 3207 section 4: mail between servers would stop);
	// a submission server may. It needs TLSConfig: Serve refuses to start
	// without it.
	RequireTLS bool
	// TLSHandshakeTimeout bounds a whole TLS handshake, after STARTTLS or
	// on connecting with ImplicitTLS. Default 30 seconds; a client that
	// has not finished by then is disconnected.
	TLSHandshakeTimeout time.Duration

	// Logger receives internal errors (a backend's or Authenticator's
	// non-reply errors, recovered panics) and failed TLS handshakes
	// (Warn). nil discards them.
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
	netconn.SetDefault(&o.MaxCommandBytes, 512)
	netconn.SetDefault(&o.MaxTextLineBytes, 1000)
	netconn.SetDefault(&o.MaxMessageBytes, 25<<20)
	netconn.SetDefault(&o.MaxRecipients, 100)
	netconn.SetDefault(&o.MaxErrors, 10)
	netconn.SetDefault(&o.MaxConns, 100)
	netconn.SetDefault(&o.MaxAuthLineBytes, 12288)
	if o.AuthFailDelay == 0 { // negative: no delay
		o.AuthFailDelay = time.Second
	}
	netconn.SetDefault(&o.ReadTimeout, 5*time.Minute)
	netconn.SetDefault(&o.DataTimeout, 5*time.Minute)
	netconn.SetDefault(&o.WriteTimeout, time.Minute)
	netconn.SetDefault(&o.TLSHandshakeTimeout, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// check reports Options that cannot work together.
func (o *Options) check() error {
	switch {
	case o.ImplicitTLS && o.TLSConfig == nil:
		return errors.New("smtpserver: ImplicitTLS needs a TLSConfig")
	case o.RequireTLS && o.TLSConfig == nil:
		return errors.New("smtpserver: RequireTLS needs a TLSConfig (without one no client could ever send)")
	case o.RequireAuth && (o.Authenticator == nil || o.LMTP):
		return errors.New("smtpserver: RequireAuth needs an Authenticator, and SMTP (LMTP never offers AUTH)")
	}
	return nil
}

// Server accepts SMTP or LMTP connections and runs one session for each.
// Many servers may share a process; a Server holds no global state.
type Server struct {
	opts    Options
	backend Backend
	loop    *netconn.Loop // listeners, sessions, MaxConns and Shutdown
}

// New returns a Server that hands mail to b.
func New(opts Options, b Backend) *Server {
	opts = opts.withDefaults()
	return &Server{
		opts:    opts,
		backend: b,
		// RFC 5321 section 3.8 allows 421 at any time: a client over
		// MaxConns is told to come back later.
		loop: netconn.NewLoop(netconn.Config{
			Name:         "smtpserver",
			MaxConns:     opts.MaxConns,
			Refusal:      fmt.Sprintf("%d 4.7.0 Too many connections, try later\r\n", smtp.C421Closing),
			WriteTimeout: opts.WriteTimeout,
			Logger:       opts.Logger,
		}),
	}
}

// Serve accepts connections on l until Shutdown, which makes it return nil;
// any other accept failure is returned, and so is a contradiction in the
// Options (ImplicitTLS or RequireTLS without TLSConfig, RequireAuth
// without AUTH), before anything is accepted. Serve closes l when it
// returns.
func (s *Server) Serve(l net.Listener) error {
	if err := s.opts.check(); err != nil {
		l.Close()
		return err
	}
	return s.loop.Serve(l, func(lc *netconn.Conn) netconn.Session { return newConn(s, lc) })
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
	return s.loop.Shutdown(ctx)
}
