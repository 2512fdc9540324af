// Package wire holds the byte-level pieces every maillab protocol shares:
// bounded line reading, dot-stuffing (RFC 5321 section 4.5.2, RFC 1939
// section 3) and the small Tracer interface through which protocol code adds
// meaning (state changes, bulk and secret marks) to the transcript recorded
// at the socket.
//
// It imports nothing of maillab's.
//
// # Limits
//
// Every reader here is bounded: a line longer than the limit given is
// consumed up to its end and reported as ErrLineTooLong, so one bad line
// never desynchronises a session.
package wire

import (
	"net"
)

// Direction tells which way a line crossed a socket.
type Direction int

const (
	// ClientToServer is a line written by the side that opened the connection.
	ClientToServer Direction = iota + 1
	// ServerToClient is a line written by the side that accepted it.
	ServerToClient
)

// String returns "C" or "S", as transcripts label lines.
func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "C"
	case ServerToClient:
		return "S"
	}
	return "?"
}

// Mark tells the transcript how to treat the lines that follow in one
// direction, until the next Mark for that direction.
type Mark int

const (
	// MarkNone: ordinary protocol lines.
	MarkNone Mark = iota
	// MarkBulk: message content (the lines after DATA's 354); renderers may
	// elide them.
	MarkBulk
	// MarkSecret: credentials; renderers mask them unless asked not to.
	MarkSecret
)

// Tracer receives meaning from protocol code. The transcript tap (a net.Conn
// wrapper) implements it; protocol code finds it with TracerOf and never
// imports the transcript package.
type Tracer interface {
	// State reports a change of protocol state, e.g. "Ready" to "Mail".
	State(from, to string)
	// Mark applies m to the lines that will next cross in direction d.
	Mark(d Direction, m Mark)
	// Note adds a free-text remark, e.g. "message stored as new/1234.M5P6.host".
	Note(text string)
	// QueueID tags the following events with the id of the message they carry.
	QueueID(id string)
}

// TracerOf returns c's Tracer when c (or the connection it wraps, through an
// Unwrap() net.Conn method) implements one, and a Tracer that does nothing
// otherwise. It never returns nil.
func TracerOf(c net.Conn) Tracer {
	for c != nil {
		if t, ok := c.(Tracer); ok {
			return t
		}
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	return nopTracer{}
}

type nopTracer struct{}

func (nopTracer) State(string, string) {}
func (nopTracer) Mark(Direction, Mark) {}
func (nopTracer) Note(string)          {}
func (nopTracer) QueueID(string)       {}
