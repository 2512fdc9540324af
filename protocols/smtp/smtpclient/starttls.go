package smtpclient

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// StartTLS upgrades the session to TLS with STARTTLS (RFC 3207), sending
// EHLO first if Hello was not called. cfg nil means Options.TLSConfig; an
// empty cfg.ServerName is filled in as for ImplicitTLS.
//
//	C: STARTTLS
//	S: 220 2.0.0 Ready to start TLS
//	(TLS handshake; then, encrypted)
//	C: EHLO client.a.test
//
// The server must have listed STARTTLS: a client that wants TLS does not
// go on in clear because a STARTTLS keyword is missing, which is what a
// man in the middle stripping it hopes for. A refusal (454 4.7.0 TLS not
// available, 501, 503) is returned as an error wrapping *smtp.Error, and
// the session goes on in clear; a failed handshake (a certificate that
// does not verify) ends the session: the Client is unusable and the
// connection closed.
//
// After the handshake both sides forget what they learnt (RFC 3207
// section 4.2): Extensions is empty and the server expects EHLO again.
// StartTLS does not send it: Hello does, or Auth, Mail and SendMail do by
// themselves, with the name the last Hello used; the EHLO reply under
// TLS is the one to trust (and typically the first to list AUTH).
//
// Bytes the server sent behind its 220, before the handshake, are
// discarded unread ("response injection", the client side of
// CVE-2011-0411): they came in clear and must not be taken for replies
// that came under TLS. The transcript gets a note when that happens.
func (c *Client) StartTLS(cfg *tls.Config) error {
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	if cfg == nil {
		return errors.New("smtpclient: STARTTLS: no TLS configuration (give one, or set Options.TLSConfig)")
	}
	if c.tlsState != nil {
		return errors.New("smtpclient: STARTTLS: TLS is already active")
	}
	if err := c.ensureHello(); err != nil {
		return err
	}
	if !c.HasExtension("STARTTLS") {
		return errors.New("smtpclient: STARTTLS: the server does not offer STARTTLS (its EHLO reply does not list it)")
	}
	r, err := c.roundTrip("STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return replyError("STARTTLS", r)
	}
	// The client side of CVE-2011-0411: what the server sent behind its
	// 220 came in clear, where anyone on the path could have put it, and
	// is dropped.
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
		c.tr.Note(fmt.Sprintf("%d bytes the server sent after its 220 to STARTTLS were discarded: replies sent before the TLS handshake are not believed (response injection, the client side of CVE-2011-0411)", n))
	}
	if err := c.handshake(cfg); err != nil {
		return fmt.Errorf("smtpclient: STARTTLS: %w", unwrapPrefix(err))
	}
	// RFC 3207 section 4.2: the client must discard any knowledge
	// obtained from the server, such as the list of extensions.
	c.hello = false
	c.ext = map[string]string{}
	c.rcpts = nil
	return nil
}

// TLSConnectionState returns the state of the TLS layer and true once a
// handshake has completed (StartTLS or Options.ImplicitTLS).
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// handshake runs the client side of a TLS handshake on the raw connection,
// bounded by CommandTimeout, and moves the session onto it: the transcript
// is told (wire.AfterTLS, verified when the server's certificate was
// checked) and a new reader reads under TLS. A failure is reported to the
// transcript (wire.TLSFailed), closes the connection and makes the Client
// unusable.
func (c *Client) handshake(cfg *tls.Config) error {
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		// crypto/tls needs the name the certificate must carry.
		cfg = cfg.Clone()
		cfg.ServerName = c.opts.host
		if cfg.ServerName == "" {
			if a, ok := c.raw.RemoteAddr().(*net.TCPAddr); ok {
				cfg.ServerName = a.IP.String()
			}
		}
	}
	tc := tls.Client(c.raw, cfg)
	c.raw.SetDeadline(time.Now().Add(c.opts.CommandTimeout))
	err := tc.Handshake()
	c.raw.SetDeadline(time.Time{})
	if err != nil {
		wire.TLSFailed(c.raw, err)
		c.raw.Close()
		return c.fail(fmt.Errorf("smtpclient: TLS handshake: %w", err))
	}
	st := tc.ConnectionState()
	c.tlsState = &st
	c.conn = wire.AfterTLS(c.raw, tc, !cfg.InsecureSkipVerify)
	c.br = bufio.NewReader(c.conn)
	return nil
}
