package pop3server

import (
	"fmt"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/wire"
)

// handshakeTimeout bounds a TLS handshake, after STLS or on the POP3S
// port.
const handshakeTimeout = time.Minute

// handshake runs the server side of a TLS handshake on the connection and
// switches the session to it. On failure the transcript is told
// (wire.TLSFailed) and the session must end: nothing more can be said in
// clear or in TLS.
func (c *conn) handshake() error {
	secure, tc, err := netconn.ServerHandshake(c.lc, c.nc, c.opts.TLSConfig, c.opts.IdleTimeout, c.opts.WriteTimeout, handshakeTimeout)
	if err != nil {
		c.opts.Logger.Info("pop3server: TLS handshake failed", "remote", c.nc.RemoteAddr(), "err", err)
		return err
	}
	c.tlsc = tc
	c.secure = secure
	if tr := wire.TracerOf(c.secure); tr != wire.TracerOf(nil) {
		c.tr = tr
	}
	// A fresh reader: nothing read before the handshake survives it.
	c.br.Reset(netReader{c})
	return nil
}

// cmdStls starts TLS (RFC 2595 section 4), in the AUTHORIZATION state
// only (the command table says so).
//
//	C: STLS
//	S: +OK Begin TLS negotiation
//	<TLS handshake; then CAPA again, USER/PASS or AUTH PLAIN>
func (c *conn) cmdStls(cmd pop3.Command) error {
	if c.opts.TLSConfig == nil {
		// Without TLS the server answers as it did before STLS existed.
		return syntaxErr("unknown command STLS")
	}
	if err := noArg(cmd); err != nil {
		return err
	}
	switch {
	case c.secure != nil:
		// RFC 2595 section 4: STLS is not allowed once TLS is active.
		return syntaxErr("TLS is already active")
	}
	c.ok("Begin TLS negotiation")
	if err := c.bw.Flush(); err != nil {
		return errHangUp
	}
	// Plaintext command injection (CVE-2011-0411 and its kin): whatever
	// the client sent after STLS in the same packet was written before
	// the handshake, so a man in the middle may have put it there; it
	// must never run as if it had come over TLS. RFC 2595 section 4 lets
	// the client send nothing until the handshake. Dropped here, unread.
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
		c.tr.Note(fmt.Sprintf("%d octets sent after STLS before the TLS handshake discarded, never executed (plaintext command injection, CVE-2011-0411)", n))
	}
	if err := c.handshake(); err != nil {
		return errHangUp
	}
	return nil
}

// authRefused reports whether credentials in clear must be refused now:
// TLS is offered, not yet active, and AllowInsecureAuth is not set.
func (c *conn) authRefused() bool {
	return c.opts.TLSConfig != nil && c.secure == nil && !c.opts.AllowInsecureAuth
}

// errTLSRequired answers USER, PASS and AUTH PLAIN before STLS on a
// server that requires TLS for them. The code is [AUTH]: RFC 3206
// section 5 names "an attempt to authenticate in violation of policy" as
// one of its cases, and a client told [AUTH] knows that logging in this
// way failed, while [SYS/PERM] would claim a broken maildrop, and no code
// at all would not let a client tell a refusal from a mistake.
// (Dovecot answers the same, "-ERR [AUTH] Plaintext authentication
// disallowed on non-secure (SSL/TLS) connections".)
var errTLSRequired = &pop3.Error{Code: pop3.CodeAuth, Text: "TLS required: send STLS first (no passwords in clear here; APOP works)"}

// refuseInClear answers a login in clear before TLS, counting it as a
// mistake so a client cannot loop on it for ever.
func (c *conn) refuseInClear(verb string) error {
	c.tr.Note(verb + " refused: credentials are accepted only over TLS (STLS first)")
	c.errors++
	if c.errors > c.opts.MaxErrors {
		c.closeWith("-ERR too many errors, closing connection")
		return nil
	}
	return errTLSRequired
}
