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
// encrypted bytes are not recorded.
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
)

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
	QueueID string         `json:"queue_id,omitempty"`
	Agent   string         `json:"agent,omitempty"` // who wrote a note
}
