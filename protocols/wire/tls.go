package wire

import (
	"crypto/tls"
	"net"
)

// TLSRecorder is implemented by connections that record a transcript (the
// lab's socket tap). Once a TLS handshake has completed on such a
// connection — after STARTTLS (RFC 3207), STLS or IMAP STARTTLS (RFC 2595),
// or at once on an implicit-TLS port (RFC 8314) — protocol code hands it
// the TLS connection; the recorder notes the handshake (version, cipher
// suite, certificate subject, whether the peer verified it), goes on
// recording the raw bytes as opaque TLS records (what a sniffer sees), and
// returns the connection to use from then on, which records the decrypted
// lines as before.
//
// A handshake that fails is reported with TLSFailed.
type TLSRecorder interface {
	StartedTLS(tc *tls.Conn, verified bool) net.Conn
	TLSFailed(err error)
}

// AfterTLS returns the connection protocol code uses after a completed
// handshake of tc over raw: the recorder's wrapper when raw records a
// transcript, else tc itself. verified says whether this side checked the
// peer's certificate (a client against its roots; a server that asked for
// none passes false).
func AfterTLS(raw net.Conn, tc *tls.Conn, verified bool) net.Conn {
	if r, ok := raw.(TLSRecorder); ok {
		return r.StartedTLS(tc, verified)
	}
	return tc
}

// TLSFailed tells raw's recorder, if any, that a handshake failed, and
// why.
func TLSFailed(raw net.Conn, err error) {
	if r, ok := raw.(TLSRecorder); ok {
		r.TLSFailed(err)
	}
}
