package smtpserver

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// allowedBeforeTLS are the commands Options.RequireTLS lets through before
// TLS (RFC 3207 section 4): introductions, STARTTLS itself and the
// harmless ones.
var allowedBeforeTLS = map[string]bool{
	"EHLO": true, "HELO": true, "LHLO": true,
	"NOOP": true, "RSET": true, "QUIT": true, "STARTTLS": true,
}

// tlsConfigured reports whether the server has TLS at all.
func (c *conn) tlsConfigured() bool { return c.opts.TLSConfig != nil }

// starttlsAdvertised reports whether the EHLO reply lists STARTTLS: TLS is
// configured and not active yet (RFC 3207 section 4.2: not after TLS).
func (c *conn) starttlsAdvertised() bool { return c.tlsConfigured() && c.info.TLS == nil }

// tlsUsable reports whether TLSConfig can ever complete a handshake: a
// server needs a certificate, or a way to find one.
func tlsUsable(cfg *tls.Config) bool {
	return len(cfg.Certificates) > 0 || cfg.GetCertificate != nil || cfg.GetConfigForClient != nil
}

// cmdStarttls starts TLS on the connection (RFC 3207).
//
//	C: STARTTLS
//	S: 220 2.0.0 Ready to start TLS
//	(TLS handshake; then, encrypted)
//	C: EHLO client.example.test
//
// Everything learnt before is forgotten (RFC 3207 section 4.2): the EHLO
// name, the authentication, the transaction. The client must say EHLO
// again; the new EHLO reply lists AUTH (when offered) and no STARTTLS.
//
// Bytes the client sent behind the STARTTLS line, before the handshake,
// are discarded unread (the plaintext command injection of CVE-2011-0411):
// they crossed in clear, where anyone on the path could have put them,
// and must not run as if they had come under TLS.
func (c *conn) cmdStarttls(arg string) error {
	if arg != "" {
		// RFC 3207 section 4: 501 for STARTTLS with parameters.
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "STARTTLS takes no parameters")
	}
	if c.info.TLS != nil {
		// RFC 3207 section 4.2: a client must not start TLS twice.
		return smtp.Errorf(smtp.C503BadSequence, "5.5.1", "TLS is already active")
	}
	if !tlsUsable(c.opts.TLSConfig) {
		// RFC 3207 section 4: 454 when TLS is not available for now.
		c.opts.Logger.Error("smtpserver: STARTTLS refused: TLSConfig has no certificate", "remote", c.info.RemoteAddr)
		return smtp.Errorf(smtp.C454TemporaryFailure, "4.7.0", "TLS not available due to temporary reason")
	}
	c.reply(smtp.C220Ready, "2.0.0", "Ready to start TLS")
	if err := c.bw.Flush(); err != nil {
		return errHangUp
	}
	// RFC 3207 section 4: STARTTLS ends a pipelined group. Whatever came
	// after it, in clear, is dropped: CVE-2011-0411 (Postfix, 2011, and
	// others) was servers that kept it and ran it as if it had come
	// under TLS.
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
		c.tr.Note(fmt.Sprintf("%d bytes sent after STARTTLS were discarded: commands pipelined behind STARTTLS are not executed (CVE-2011-0411)", n))
	}
	if c.startTLS() != nil {
		return errHangUp // no reply: the connection is no longer plain text
	}
	// RFC 3207 section 4.2: the server must discard any knowledge
	// obtained from the client before TLS: the EHLO name, the
	// authentication and the transaction.
	c.resetTransaction()
	c.info.Helo, c.info.ESMTP, c.info.User = "", false, ""
	c.setState(smtp.StateConnected)
	return nil
}

// startTLS runs the server side of a TLS handshake, bounded by
// TLSHandshakeTimeout, and on success moves the session onto it: a new
// reader (nothing read before the handshake is kept), ConnInfo.TLS set, the
// transcript told (wire.AfterTLS). A failure is logged and reported to the
// transcript (wire.TLSFailed); the caller then closes the connection
// without another word.
func (c *conn) startTLS() error {
	c.handshaking = true
	c.handshakeDeadline = time.Now().Add(c.opts.TLSHandshakeTimeout)
	tc := tls.Server(tlsTransport{Conn: c.nc, c: c}, c.opts.TLSConfig)
	err := tc.Handshake()
	c.handshaking = false
	if err != nil {
		c.opts.Logger.Warn("smtpserver: TLS handshake failed", "remote", c.info.RemoteAddr, "err", err)
		wire.TLSFailed(c.nc, err)
		return err
	}
	st := tc.ConnectionState()
	c.tc = tc
	// A server verified the client only if it asked for a certificate
	// and checked one (tls.Config.ClientAuth).
	c.sec = wire.AfterTLS(c.nc, tc, len(st.VerifiedChains) > 0)
	c.br = bufio.NewReader(netReader{c})
	c.info.TLS = &st
	return nil
}

// tlsTransport is the raw connection as the TLS layer sees it: its reads
// and writes (the TLS records) go through the Server's netconn.Conn with
// the deadline that applies at the moment, so Shutdown wakes a session
// idle under TLS as it wakes one in clear.
type tlsTransport struct {
	net.Conn // the accepted connection: addresses, deadlines, Close
	c        *conn
}

func (t tlsTransport) Read(p []byte) (int, error)  { return t.c.readRaw(p) }
func (t tlsTransport) Write(p []byte) (int, error) { return t.c.writeRaw(p) }

// untilDeadline is the time left until d, at least a nanosecond (a
// deadline now or in the past fails the next read or write at once).
func untilDeadline(d time.Time) time.Duration { return max(time.Until(d), time.Nanosecond) }
