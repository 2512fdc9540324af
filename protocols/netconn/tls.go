package netconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// tlsTransport is the accepted connection as crypto/tls sees it on the
// server side: its records are read and written through the session's
// Conn with the session's timeouts, so Shutdown wakes a session idle under
// TLS as it wakes one in clear, and the transcript tap (the accepted
// connection) sees the records.
type tlsTransport struct {
	net.Conn // the accepted connection: addresses, deadlines, Close
	c        *Conn
	read     time.Duration
	write    time.Duration
}

func (t tlsTransport) Read(p []byte) (int, error)  { return t.c.Read(p, t.read, true) }
func (t tlsTransport) Write(p []byte) (int, error) { return t.c.Write(p, t.write) }

// ServerHandshake runs the server side of a TLS handshake on the session
// c (accepted as nc) within timeout, after STARTTLS/STLS or at once on an
// implicit-TLS port (RFC 8314). It returns the connection to use from then
// on (wire.AfterTLS: the transcript keeps recording the decrypted lines)
// and the TLS layer. On failure the transcript is told (wire.TLSFailed)
// and the session must end: nothing more can be said in clear or in TLS.
// readTimeout and writeTimeout bound each read and write of records.
func ServerHandshake(c *Conn, nc net.Conn, cfg *tls.Config, readTimeout, writeTimeout, timeout time.Duration) (net.Conn, *tls.Conn, error) {
	tc := tls.Server(tlsTransport{Conn: nc, c: c, read: readTimeout, write: writeTimeout}, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		wire.TLSFailed(nc, err)
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	// A server that asked for no client certificate checked none.
	verified := len(tc.ConnectionState().VerifiedChains) > 0
	return wire.AfterTLS(nc, tc, verified), tc, nil
}

// ClientHandshake runs the client side of a TLS handshake over raw within
// timeout and returns the connection to use from then on (wire.AfterTLS)
// and the TLS layer. host names the server when cfg does not, so that the
// certificate is checked against it (unless cfg.InsecureSkipVerify).
func ClientHandshake(raw net.Conn, cfg *tls.Config, host string, timeout time.Duration) (net.Conn, *tls.Conn, error) {
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	raw.SetDeadline(time.Now().Add(timeout))
	err := tc.Handshake()
	raw.SetDeadline(time.Time{})
	if err != nil {
		wire.TLSFailed(raw, err)
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	// Verified: the certificate was checked against cfg's roots.
	return wire.AfterTLS(raw, tc, !cfg.InsecureSkipVerify), tc, nil
}
