package transcripts

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// layer says which bytes a Conn taps: the socket's, or the decrypted ones
// inside TLS.
type layer int

const (
	layerRaw layer = iota // the socket
	layerTLS              // inside TLS: StartedTLS's wrapper of the *tls.Conn
)

// StartedTLS implements wire.TLSRecorder. It records the handshake (a
// KindTLS event, once per connection: by the client side when the client is
// a lab agent tapped by the same Recorder, else by the server side) and
// returns a *Conn over tc that records the decrypted lines as the tap
// records plain ones (marks, secret and bulk rules, Tracer), with TLS set.
// The raw bytes go on being recorded as TLS records (KindWire).
func (c *Conn) StartedTLS(tc *tls.Conn, verified bool) net.Conn {
	if cr := c.record(); cr != nil {
		// Also when the STARTTLS answer was not recognised: no more lines
		// from the raw bytes.
		cr.tlsOn.Store(true)
		if c.side == sideClient || !cr.labClient {
			e := c.tracerEvent(KindTLS, escapeLine([]byte(handshakeLine(tc.ConnectionState(), c.side, verified))))
			e.TLS = false
			c.rec.emit(e)
		}
	}
	raw := c
	if c.raw != nil {
		raw = c.raw
	}
	return &Conn{
		Conn: tc, rec: c.rec, side: c.side, recording: c.recording,
		cr: c.cr, reg: c.reg, layer: layerTLS, raw: raw,
		closedSignal: make(chan struct{}),
	}
}

// TLSFailed implements wire.TLSRecorder: a note from this side's agent,
// TLSFailedPrefix and a reason a class can read, then Go's error.
func (c *Conn) TLSFailed(err error) {
	if err == nil {
		return
	}
	c.rec.emit(c.tracerEvent(KindNote, escapeLine([]byte(TLSFailedPrefix+failureReason(err, c.side)))))
}

// closeTLS closes a layerTLS Conn: it records the partial decrypted lines
// left and closes the *tls.Conn (which sends close_notify and closes the
// socket, whose tap records the close).
func (c *Conn) closeTLS() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		if !c.recording {
			c.closeErr = c.Conn.Close()
			close(c.closedSignal)
			return
		}
		// A Read blocked in the TLS layer holds rmu: flush what can be
		// flushed now, the rest once Close has unblocked it.
		flushed := [2]bool{}
		if c.rmu.TryLock() {
			c.flushPartial(c.readDir(), &c.rd)
			c.rmu.Unlock()
			flushed[0] = true
		}
		if c.wmu.TryLock() {
			c.flushPartial(c.writeDir(), &c.wr)
			c.wmu.Unlock()
			flushed[1] = true
		}
		c.closeErr = c.Conn.Close()
		close(c.closedSignal)
		if !flushed[0] {
			c.rmu.Lock()
			c.flushPartial(c.readDir(), &c.rd)
			c.rmu.Unlock()
		}
		if !flushed[1] {
			c.wmu.Lock()
			c.flushPartial(c.writeDir(), &c.wr)
			c.wmu.Unlock()
		}
	})
	if !first {
		return nil
	}
	return c.closeErr
}

// handshakeLine is the Line of a KindTLS event, from side s's view of the
// handshake.
func handshakeLine(cs tls.ConnectionState, s side, verified bool) string {
	var b strings.Builder
	b.WriteString(tls.VersionName(cs.Version))
	b.WriteString(" handshake done: cipher ")
	b.WriteString(tls.CipherSuiteName(cs.CipherSuite))
	if cs.DidResume {
		b.WriteString(", resumed session")
	}
	if s == sideClient {
		if len(cs.PeerCertificates) == 0 {
			b.WriteString(", no server certificate")
		} else {
			b.WriteString(", server certificate " + certName(cs.PeerCertificates[0]))
		}
		if verified {
			b.WriteString(", verified by the client")
		} else {
			b.WriteString(", not verified by the client")
		}
		return b.String()
	}
	if cs.ServerName != "" {
		b.WriteString(", server name " + cs.ServerName + " asked by the client (SNI)")
	} else {
		b.WriteString(", no server name sent by the client (SNI)")
	}
	if len(cs.PeerCertificates) > 0 {
		b.WriteString(", client certificate " + certName(cs.PeerCertificates[0]))
		if verified {
			b.WriteString(" verified by the server")
		} else {
			b.WriteString(" not verified by the server")
		}
	}
	b.WriteString("; whether the client checked the certificate only the client knows")
	return b.String()
}

// certName shows a certificate as "CN=mx.a.example (issued by maillab lab
// CA 5f3a9c)"; a certificate without a common name is named by its first
// DNS name or address.
func certName(c *x509.Certificate) string {
	name := "CN=" + c.Subject.CommonName
	switch {
	case c.Subject.CommonName != "":
	case len(c.DNSNames) > 0:
		name = "DNS:" + c.DNSNames[0]
	case len(c.IPAddresses) > 0:
		name = "IP:" + c.IPAddresses[0].String()
	default:
		name = "without a name"
	}
	issuer := c.Issuer.CommonName
	if issuer == "" {
		issuer = c.Issuer.String()
	}
	if bytes.Equal(c.RawIssuer, c.RawSubject) {
		return name + " (self-signed)"
	}
	return name + " (issued by " + issuer + ")"
}

// failureReason says why a handshake failed, for a class, then Go's error.
func failureReason(err error, s side) string {
	peer, self := "the server", "the client"
	if s == sideServer {
		peer, self = "the client", "the server"
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
	)
	msg := err.Error()
	var why string
	switch {
	case errors.As(err, &unknown):
		why = self + " does not trust the certificate (no trusted authority signed it)"
	case errors.As(err, &hostname):
		why = "the certificate is not for the name " + self + " asked for"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		why = "the certificate has expired or is not valid yet"
	case errors.As(err, &invalid):
		why = self + " does not accept the certificate"
	case errors.As(err, &header):
		why = peer + " did not answer with TLS (a plaintext port?)"
	case strings.Contains(msg, "remote error: tls: bad certificate"),
		strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: certificate"):
		why = peer + " rejected the certificate"
	case strings.Contains(msg, "remote error: tls:"):
		why = peer + " ended the handshake with an alert"
	case strings.Contains(msg, "bad record MAC"):
		// What a server sees when a client gives up on the certificate
		// and closes in the middle of the handshake (curl without the CA).
		why = peer + " broke off the handshake (it may not trust the certificate)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = peer + " closed the connection during the handshake"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		why = "the handshake timed out"
	case strings.Contains(msg, "no supported versions"), strings.Contains(msg, "protocol version not supported"):
		why = "the two sides share no TLS version"
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "handshake failure"):
		why = "the two sides share no cipher suite or key exchange"
	}
	if why == "" {
		return msg
	}
	return why + ": " + msg
}

// TLS record content types (RFC 8446 section 5.1; heartbeat: RFC 6520).
const (
	recordTypeChangeCipherSpec = 20
	recordTypeAlert            = 21
	recordTypeHandshake        = 22
	recordTypeApplicationData  = 23
	recordTypeHeartbeat        = 24
)

// recordHeaderLen is the size of a TLS record header: type, legacy
// version, length (RFC 8446 section 5.1).
const recordHeaderLen = 5

// maxRecordLen is the largest length a record may announce: 2^14 bytes of
// plaintext plus 2048 of expansion (RFC 5246 section 6.2.3; TLS 1.3 allows
// 256, RFC 8446 section 5.2).
const maxRecordLen = 1<<14 + 2048

// recordHeader is a parsed TLS record header.
type recordHeader struct {
	Type    byte
	Version uint16 // legacy_record_version: 0x0301 in a first ClientHello, else 0x0303
	Length  int    // of the fragment after the header
}

// typeName names a record's content type for a class.
func (h recordHeader) typeName() string {
	switch h.Type {
	case recordTypeChangeCipherSpec:
		return "change cipher spec"
	case recordTypeAlert:
		return "alert"
	case recordTypeHandshake:
		return "handshake"
	case recordTypeApplicationData:
		return "application data"
	case recordTypeHeartbeat:
		return "heartbeat"
	}
	return "type " + strconv.Itoa(int(h.Type))
}

// String is the Line of the record's KindWire event.
func (h recordHeader) String() string {
	return "TLS record: " + h.typeName() + ", " + strconv.Itoa(h.Length) + " bytes"
}

// parseRecordHeader reads the first recordHeaderLen bytes of b as a TLS
// record header, and fails for bytes that are not one: an unknown content
// type, a version that is not 3.x, or a length over maxRecordLen.
func parseRecordHeader(b []byte) (recordHeader, error) {
	if len(b) < recordHeaderLen {
		return recordHeader{}, errors.New("short TLS record header")
	}
	h := recordHeader{
		Type:    b[0],
		Version: uint16(b[1])<<8 | uint16(b[2]),
		Length:  int(b[3])<<8 | int(b[4]),
	}
	switch {
	case h.Type < recordTypeChangeCipherSpec || h.Type > recordTypeHeartbeat,
		b[1] != 3 || b[2] > 4,
		h.Length > maxRecordLen:
		return h, fmt.Errorf("not a TLS record (starts % x, %q)", b[:recordHeaderLen], escapeLine(b[:recordHeaderLen]))
	}
	return h, nil
}

// recordParser follows the TLS records of one direction of a socket,
// however the bytes are cut into reads and writes. It keeps 5 bytes.
type recordParser struct {
	hdr  [recordHeaderLen]byte
	have int  // header bytes gathered
	left int  // fragment bytes of the current record still to come
	dead bool // bytes that are not TLS were seen: the rest is not parsed
}

// feed parses p, calling emit for every complete header; a header that is
// not one is passed once with its error, and stops the parsing for good.
func (rp *recordParser) feed(p []byte, emit func(h recordHeader, err error)) {
	for len(p) > 0 && !rp.dead {
		if rp.left > 0 {
			k := min(rp.left, len(p))
			rp.left -= k
			p = p[k:]
			continue
		}
		k := copy(rp.hdr[rp.have:], p)
		rp.have += k
		p = p[k:]
		if rp.have < recordHeaderLen {
			return
		}
		rp.have = 0
		h, err := parseRecordHeader(rp.hdr[:])
		if err != nil {
			rp.dead = true
			emit(h, err)
			return
		}
		rp.left = h.Length
		emit(h, nil)
	}
}

// wireRecords records the TLS records in p, bytes of direction d on the
// socket, as KindWire events: at most MaxWireEvents per connection, then
// one note.
func (c *Conn) wireRecords(d wire.Direction, rp *recordParser, p []byte, stamp *time.Time) {
	cr := c.cr
	rp.feed(p, func(h recordHeader, err error) {
		n := cr.wireEvents.Add(1)
		switch {
		case n <= MaxWireEvents:
			line := h.String()
			if err != nil {
				line = err.Error() + ": the rest of this direction is not recorded"
			}
			e := c.event(KindWire, line)
			e.Dir, e.DirText = d, d.String()
			c.rec.emitAt(e, stamp)
		case n == MaxWireEvents+1:
			c.rec.emitAt(c.event(KindNote, "more than "+strconv.Itoa(MaxWireEvents)+" TLS records on this connection: the rest are not recorded"), stamp)
		}
	})
}
