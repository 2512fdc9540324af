package imapserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/wire"
)

// handshakeTimeout bounds a TLS handshake, after STARTTLS or on the IMAPS
// port.
const handshakeTimeout = time.Minute

// Capabilities before TLS on a server with Options.TLSConfig: STARTTLS is
// added, and unless AllowInsecureAuth, LOGINDISABLED replaces AUTH=PLAIN
// (RFC 3501 sections 6.2.1 and 6.2.3, RFC 2595 section 3.2). After TLS,
// and after login, the server announces Capabilities.
const (
	capsStartTLS      = Capabilities + " STARTTLS"
	capsLoginDisabled = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT STARTTLS LOGINDISABLED"
)

// capabilities lists what the session can do now (RFC 3501 section
// 6.1.1): TLS changes it, so the client asks again after STARTTLS.
func (c *conn) capabilities() string {
	switch {
	case c.opts.TLSConfig == nil || c.secure != nil || c.state != imap.StateNotAuthenticated:
		return Capabilities
	case c.opts.AllowInsecureAuth:
		return capsStartTLS
	}
	return capsLoginDisabled
}

// loginDisabled reports whether LOGIN and AUTHENTICATE must be refused
// now: TLS is offered, not yet active, and AllowInsecureAuth is not set.
func (c *conn) loginDisabled() bool {
	return c.opts.TLSConfig != nil && c.secure == nil && !c.opts.AllowInsecureAuth
}

// refuseInClear answers LOGIN or AUTHENTICATE while LOGINDISABLED is
// announced: RFC 3501 section 6.2.3 asks for a tagged NO, and RFC 5530
// section 3 has the code for it, PRIVACYREQUIRED. The credentials are not
// looked at.
func (c *conn) refuseInClear(name string) error {
	c.tr.Note(name + " refused: LOGINDISABLED until TLS is active (STARTTLS first)")
	return imap.Errorf(imap.NO, imap.CodePrivacyRequired, "%s is disabled until TLS is active: use STARTTLS first", name)
}

// errAnswered tells execute that the command sent its own tagged
// response.
var errAnswered = errors.New("imapserver: answered")

// handshake runs the server side of a TLS handshake on the connection and
// switches the session to it. On failure the transcript is told
// (wire.TLSFailed) and the session must end: nothing more can be said in
// clear or in TLS.
func (c *conn) handshake() error {
	secure, tc, err := netconn.ServerHandshake(c.lc, c.nc, c.opts.TLSConfig, c.opts.IdleTimeout, c.opts.WriteTimeout, handshakeTimeout)
	if err != nil {
		c.opts.Logger.Info("imapserver: TLS handshake failed", "remote", c.nc.RemoteAddr(), "err", err)
		return err
	}
	c.tlsc = tc
	c.secure = secure
	if tr := wire.TracerOf(c.secure); tr != wire.TracerOf(nil) {
		c.tr, c.traced = tr, true
		c.ahead, _ = tr.(aheadMarker)
	}
	return nil
}

// cmdStarttls starts TLS (RFC 3501 section 6.2.1, RFC 2595 section 3), in
// the not authenticated state only (the command table says so). The
// server says nothing more until the client speaks inside TLS: it asks
// for CAPABILITY again, as it must forget what it was told before.
//
//	C: a1 STARTTLS
//	S: a1 OK Begin TLS negotiation now
//	<TLS handshake>
//	C: a2 CAPABILITY
//	S: * CAPABILITY IMAP4rev1 ... AUTH=PLAIN
//	S: a2 OK CAPABILITY completed
func (c *conn) cmdStarttls(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	switch {
	case c.opts.TLSConfig == nil:
		return imap.Bad("STARTTLS is not offered: this server has no TLS certificate")
	case c.secure != nil:
		return imap.Bad("TLS is already active")
	}
	c.respond(cmd.Tag, &imap.Error{Status: imap.OK, Text: "Begin TLS negotiation now"})
	if err := c.bw.Flush(); err != nil {
		c.quit = true
		return errAnswered
	}
	// Plaintext command injection (CVE-2011-0411 and its kin): whatever
	// the client sent after STARTTLS in the same packet was written
	// before the handshake, so a man in the middle may have put it there;
	// it must never run as if it had come over TLS. Dropped here, unread:
	// what waitClient read ahead (pending) and what br holds.
	if n := c.br.Buffered() + len(c.pending); n > 0 {
		c.br.Discard(c.br.Buffered())
		c.pending = nil
		c.tr.Note(fmt.Sprintf("%d octets sent after STARTTLS before the TLS handshake discarded, never executed (plaintext command injection, CVE-2011-0411)", n))
	}
	if err := c.handshake(); err != nil {
		c.quit = true
	}
	return errAnswered
}
