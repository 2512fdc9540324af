package pop3client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/wire"
)

// StartTLS sends STLS (RFC 2595 section 4) and, after the server's "+OK",
// runs the TLS handshake with cfg; the session goes on inside TLS. When
// cfg.ServerName is empty the server's address (its IP) is checked
// against the certificate, unless cfg.InsecureSkipVerify.
//
// Response injection (the mirror of CVE-2011-0411): anything the server
// sent after "+OK" before the handshake came in clear and is discarded,
// never read as a response; the transcript gets a note.
//
// RFC 2595 section 4: the client must forget what CAPA said before; ask
// again. A failed handshake leaves the Client unusable: the connection is
// closed.
//
//	C: STLS
//	S: +OK Begin TLS negotiation
//	<TLS handshake>
func (c *Client) StartTLS(cfg *tls.Config) error {
	if c.tlsc != nil {
		return errors.New("pop3client: STLS: TLS is already active")
	}
	if cfg == nil {
		return errors.New("pop3client: STLS: no TLS config")
	}
	if _, err := c.command("STLS", "STLS", false); err != nil {
		return err
	}
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n)
		c.tr.Note(fmt.Sprintf("%d octets the server sent after +OK to STLS, before the TLS handshake, discarded (response injection)", n))
	}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	secure, tc, err := netconn.ClientHandshake(c.conn, cfg, host, c.opts.Timeout)
	if err != nil {
		c.conn.Close()
		return c.fail(fmt.Errorf("pop3client: STLS: %w", err))
	}
	c.conn, c.tlsc = secure, tc
	if tr := wire.TracerOf(secure); tr != wire.TracerOf(nil) {
		c.tr = tr
	}
	c.br.Reset(deadlineReader{c})
	c.bw.Reset(deadlineWriter{c})
	return nil
}

// DialTLS connects to addr with dial (nil means a net.Dialer), runs the TLS
// handshake at once and starts a session with NewClient inside TLS: POP3S,
// port 995 (RFC 8314 section 3.1). When cfg.ServerName is empty the host
// of addr is checked against the certificate, unless
// cfg.InsecureSkipVerify. ctx bounds the connection, the handshake and
// the greeting.
func DialTLS(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, cfg *tls.Config, opts Options) (*Client, error) {
	if cfg == nil {
		return nil, fmt.Errorf("pop3client: dial %s: no TLS config", addr)
	}
	host, _, _ := net.SplitHostPort(addr)
	timeout := opts.withDefaults().Timeout
	return netconn.Dial(ctx, dial, addr, "pop3client", func(conn net.Conn) (*Client, error) {
		secure, tc, err := netconn.ClientHandshake(conn, cfg, host, timeout)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("pop3client: dial %s: %w", addr, err)
		}
		return newClient(secure, tc, opts)
	})
}

// TLS returns the state of the TLS connection, and false before TLS.
func (c *Client) TLS() (tls.ConnectionState, bool) {
	if c.tlsc == nil {
		return tls.ConnectionState{}, false
	}
	return c.tlsc.ConnectionState(), true
}
