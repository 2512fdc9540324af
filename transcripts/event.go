// Package transcripts records every line that crosses a lab socket as an
// Event, so that a class can read the protocol dialogue between agents.
//
// The recording happens at the socket: agents wrap their listeners with
// Recorder.Listen and their dialers with Recorder.Dialer, so a transcript
// shows exactly what crossed the wire. Protocol code adds meaning through
// wire.Tracer (implemented by the tapped connections): state changes, bulk
// and secret marks, notes, queue ids.
//
// # Security
//
// Tapped connections carry whatever peers send, lab agents or not. Recorded
// lines are capped (MaxLineBytes) and made printable (invalid UTF-8 and
// control characters are escaped), so a hostile client can neither exhaust
// memory nor drive the class's terminal. Credentials are recorded, marked
// Secret; renderers mask them.
//
// # Limits
//
// A Recorder keeps at most Options.MaxEvents events (Recorder.Dropped
// counts the rest). A lab client is named on the listening side only over
// TCP; on other networks it stays unnamed. An accepted connection waits at
// most 2s for a pending lab dialer to name itself. After STARTTLS the
// encrypted bytes are recorded as one KindWire event per TLS record header,
// at most MaxWireEvents per connection; the decrypted lines are recorded
// only when protocol code hands the TLS connection to the tap
// (wire.AfterTLS).
//
// # TLS
//
// What crosses the socket after STARTTLS (RFC 3207, RFC 2595), or from the
// first byte on an implicit-TLS port (RFC 8314), is TLS records: the tap
// records their headers as KindWire events ("TLS record: handshake, 512
// bytes"), what a sniffer sees. An implicit-TLS connection is recognised
// by its first client byte, 0x16 (a handshake record, RFC 8446 section
// 5.1), which no mail protocol line starts with; nothing needs configuring.
// When protocol code calls wire.AfterTLS, the handshake is recorded as a
// KindTLS event and the decrypted lines as KindLine events with TLS set;
// wire.TLSFailed records a KindNote "TLS handshake failed: ...".
package transcripts

import (
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// Kind says what an Event is.
type Kind string

const (
	KindOpen  Kind = "open"  // a connection was opened (Line: "127.0.0.1:5123 -> 127.0.0.1:2525")
	KindLine  Kind = "line"  // one protocol line crossed the socket
	KindClose Kind = "close" // the connection ended (Line: reason, or "")
	KindState Kind = "state" // protocol state change (Line: "Ready -> Mail")
	KindNote  Kind = "note"  // a remark from an agent or the scenario runner
	// KindTLS: a TLS handshake completed (Line: "TLS 1.3 handshake done:
	// cipher TLS_AES_128_GCM_SHA256, server certificate CN=mx.a.example
	// (issued by maillab lab CA 5f3a9c), verified by the client"). Agent
	// is the side that recorded it: the client when it is a lab agent (it
	// knows the certificate and whether it checked it), else the server.
	KindTLS Kind = "tls"
	// KindWire: one TLS record crossed the socket, seen from its 5-byte
	// header (RFC 8446 section 5.1): Dir, and Line "TLS record: application
	// data, 41 bytes" (the length field: the bytes after the header), or
	// "not a TLS record (...)" once, for bytes that are not TLS.
	KindWire Kind = "wire"
)

// Notes the tap records. PlaintextPasswordWarning follows a line marked
// secret that crossed without TLS (once per run of secret client lines).
const (
	PlaintextPasswordWarning = "WARNING: this password crossed the wire unencrypted: anyone who can see the link can read it (in clear text, or in base64, which is an encoding, not encryption)"
	NoteStartTLS             = "STARTTLS accepted: a TLS handshake follows, and from here on the bytes on the wire are encrypted"
	NoteImplicitTLS          = "implicit TLS (RFC 8314): the client starts with a TLS handshake, so every byte on the wire is encrypted"
	// TLSFailedPrefix starts the note of a failed handshake.
	TLSFailedPrefix = "TLS handshake failed: "
)

// MaxWireEvents bounds the KindWire events of one connection; one note
// tells when more records crossed.
const MaxWireEvents = 10000

// Event is one thing that happened on a lab connection, or a note.
type Event struct {
	Seq     int64          `json:"seq"`            // 1, 2, 3... in recording order
	Time    time.Time      `json:"time"`           // from the recorder's clock
	Conn    int            `json:"conn,omitempty"` // connection id, 1-based in order of opening; 0 for notes outside a connection
	Client  string         `json:"client,omitempty"`
	Server  string         `json:"server,omitempty"`
	Proto   string         `json:"proto,omitempty"` // "smtp", "lmtp", ...
	Kind    Kind           `json:"kind"`
	Dir     wire.Direction `json:"-"`
	DirText string         `json:"dir,omitempty"` // "C" or "S" for lines
	Line    string         `json:"line"`          // without CRLF
	Bulk    bool           `json:"bulk,omitempty"`
	Secret  bool           `json:"secret,omitempty"`
	// TLS: recorded inside TLS (a decrypted line, or a note or state change
	// made after the handshake); a sniffer on the link sees none of it.
	TLS     bool   `json:"tls,omitempty"`
	QueueID string `json:"queue_id,omitempty"`
	Agent   string `json:"agent,omitempty"` // who wrote a note
}
