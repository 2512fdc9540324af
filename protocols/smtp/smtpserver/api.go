package smtpserver

import (
	"crypto/tls"
	"io"
	"net"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// ConnInfo describes the client of a session to the backend.
type ConnInfo struct {
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	Helo       string      // the name given in HELO/EHLO/LHLO; "" before it
	ESMTP      bool        // EHLO (or LHLO) rather than HELO
	Tracer     wire.Tracer // for notes and the queue id; never nil

	// User is the identity the client authenticated as with AUTH (RFC
	// 4954), as the Authenticator accepted it; "" until then. It stays for
	// the rest of the session (RSET and EHLO keep it; STARTTLS does not,
	// RFC 3207 section 4.2), so a Session can read it at MAIL or RCPT time
	// to decide, e.g., whether to relay.
	User string

	// TLS is the state of the connection's TLS layer once a handshake
	// has completed (after STARTTLS, or from the start with
	// Options.ImplicitTLS): version, cipher suite, the name the client
	// asked for (ServerName), its certificates if it sent any. nil while
	// the connection is in clear. A Session may read it to decide, e.g.,
	// to accept mail for relay only over TLS.
	TLS *tls.ConnectionState
}

// Backend makes one Session per connection.
type Backend interface {
	NewSession(c *ConnInfo) (Session, error)
}

// Session receives one connection's mail transactions. A returned *smtp.Error
// goes to the client as is; any other error is answered with 451 4.3.0.
//
// A 2yz *smtp.Error from Mail, Rcpt, Data or an LMTPData result is a
// success in the backend's own words, e.g. "250 2.0.0 Ok: queued as 4F2A":
// the transaction goes on and it does not count towards Options.MaxErrors.
type Session interface {
	// Mail starts a transaction (RFC 5321 section 3.3).
	Mail(from mail.Path, p smtp.MailParams) error
	// Rcpt adds a recipient.
	Rcpt(to mail.Path) error
	// Data receives the message text (dot-stuffing already removed, lines
	// ending in CRLF). It must drain r before returning.
	//
	// Only io.EOF from r means the text is complete. Any other error means
	// the message will not be accepted and Data must store nothing: r fails
	// with io.ErrUnexpectedEOF (or a network error) when the client
	// disconnects before the final ".", and with an *smtp.Error (552 5.3.4
	// too big, 500 5.5.6 line too long, 554 5.6.0 NUL) when the server
	// refuses the text; the server then sends that reply whatever Data
	// returns. If Data returns before r ends, the server reads the rest.
	Data(r io.Reader) error
	// Reset aborts the transaction (RSET, a new EHLO, or after DATA).
	Reset()
	// Close ends the session when the connection ends.
	Close() error
}

// LMTPSession is what an LMTP server's sessions implement (RFC 2033 section
// 4.2): after the final ".", one reply per accepted recipient, in RCPT order.
type LMTPSession interface {
	Session
	// LMTPData receives the message once and returns one result per
	// accepted recipient, nil meaning success.
	//
	// r behaves as in Session.Data: when it fails with anything but io.EOF,
	// nothing may be stored for any recipient.
	LMTPData(r io.Reader) []error
}
