package queue

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"
)

// envelopeVersion is written in every envelope file. A reader refuses other
// versions instead of guessing (the file is moved to corrupt/ by Open).
const envelopeVersion = 1

// Limits on what an envelope may hold. They bound what Open and ReadDir
// read from disk, whoever wrote it.
const (
	maxEnvelopeBytes = 8 << 20 // an envelope file
	maxRcpts         = 10000   // recipients of one message
	maxAddrBytes     = 512     // one address (RFC 5321 section 4.5.3.1.3 allows a path of 256)
	maxIDBytes       = 64      // a queue id
	maxDiagBytes     = 1000    // a stored diagnostic
)

// Recipient states, as stored and as List shows them.
const (
	StatePending   = "pending"   // not delivered yet; will be attempted again
	StateDelivered = "delivered" // a server took responsibility for it (250)
	StateFailed    = "failed"    // permanently refused (5xx): bounced
	StateExpired   = "expired"   // still failing temporarily after MaxAge: bounced
)

// envelope is the on-disk form of a message's state: env/ID.json. It is
// the commit record of the queue: a body without its envelope is a Put
// that did not finish, and is removed by Open.
type envelope struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	From    string    `json:"from"` // "" is the null reverse-path <>
	Arrived time.Time `json:"arrived"`
	// Queued is when Put wrote it, by the real clock: MaxAge counts from
	// here, so that a lab with a fixed Now (for repeatable transcripts)
	// still gives up in time. Zero in old envelopes: Arrived is used.
	Queued   time.Time    `json:"queued,omitzero"`
	Size     int64        `json:"size"`
	Attempts int          `json:"attempts"`
	Next     time.Time    `json:"next"`
	Bounce   bool         `json:"bounce,omitempty"`
	Rcpts    []rcptRecord `json:"rcpts"`
}

// rcptRecord is one recipient in an envelope.
type rcptRecord struct {
	Addr        string    `json:"addr"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts,omitempty"`
	LastStatus  string    `json:"last_status,omitempty"`
	LastDiag    string    `json:"last_diag,omitempty"`
	RemoteMTA   string    `json:"remote_mta,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// DSN is the queue id chosen for the bounce that reports this
	// recipient's failure, written before the bounce is queued; DSNQueued
	// says the bounce is safely in the queue. A failed recipient with a DSN
	// but not DSNQueued is a bounce still owed (after a crash, Open's
	// caller gets it queued at the next attempt).
	DSN       string `json:"dsn,omitempty"`
	DSNQueued bool   `json:"dsn_queued,omitempty"`
}

// final reports whether nothing more will be done for r: delivered, or
// failed with its bounce queued (or with no bounce to send).
func (r *rcptRecord) final() bool {
	switch r.State {
	case StateDelivered:
		return true
	case StateFailed, StateExpired:
		return r.DSN == "" || r.DSNQueued
	}
	return false
}

// marshal returns the bytes of the envelope file.
func (e *envelope) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(e, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("queue: envelope %s: %w", e.ID, err)
	}
	return append(b, '\n'), nil
}

// parseEnvelope decodes and checks an envelope file. It never panics,
// whatever data holds (FuzzEnvelope), and accepts only what the queue could
// have written: the expected version, a valid id, known states, addresses
// without control characters.
func parseEnvelope(data []byte) (*envelope, error) {
	if len(data) > maxEnvelopeBytes {
		return nil, fmt.Errorf("queue: envelope larger than %d octets", maxEnvelopeBytes)
	}
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("queue: envelope: %w", err)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e *envelope) check() error {
	if e.Version != envelopeVersion {
		return fmt.Errorf("queue: envelope version %d, want %d", e.Version, envelopeVersion)
	}
	if !validID(e.ID) {
		return fmt.Errorf("queue: envelope: invalid id %q", e.ID)
	}
	if e.From != "" && !validAddr(e.From) {
		return fmt.Errorf("queue: envelope %s: invalid reverse-path %q", e.ID, e.From)
	}
	if e.Size < 0 || e.Attempts < 0 {
		return fmt.Errorf("queue: envelope %s: negative size or attempts", e.ID)
	}
	if len(e.Rcpts) == 0 || len(e.Rcpts) > maxRcpts {
		return fmt.Errorf("queue: envelope %s: %d recipients", e.ID, len(e.Rcpts))
	}
	for i := range e.Rcpts {
		r := &e.Rcpts[i]
		if !validAddr(r.Addr) {
			return fmt.Errorf("queue: envelope %s: invalid recipient %q", e.ID, r.Addr)
		}
		switch r.State {
		case StatePending, StateDelivered, StateFailed, StateExpired:
		default:
			return fmt.Errorf("queue: envelope %s: recipient %s: unknown state %q", e.ID, r.Addr, r.State)
		}
		if r.Attempts < 0 {
			return fmt.Errorf("queue: envelope %s: recipient %s: negative attempts", e.ID, r.Addr)
		}
		if r.DSN != "" && !validID(r.DSN) {
			return fmt.Errorf("queue: envelope %s: recipient %s: invalid DSN id %q", e.ID, r.Addr, r.DSN)
		}
		if len(r.LastStatus) > 16 || len(r.LastDiag) > maxDiagBytes || len(r.RemoteMTA) > 255 {
			return fmt.Errorf("queue: envelope %s: recipient %s: field too long", e.ID, r.Addr)
		}
	}
	return nil
}

// readEnvelope reads and parses one envelope file, refusing files larger
// than maxEnvelopeBytes without reading them whole.
func readEnvelope(path string) (*envelope, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEnvelopeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("queue: reading %s: %w", path, err)
	}
	return parseEnvelope(data)
}

// validID reports whether id can name queue files: 1 to 64 letters, digits,
// '.', '_' or '-', starting with a letter or digit (so never "." or "..",
// never a path).
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validAddr reports whether a is acceptable as a stored address: not
// empty, bounded, UTF-8 (RFC 6531 addresses), and free of control
// characters, so it can go into a DSN header field without adding lines.
// Its syntax is the MTA's business (it parsed the SMTP path).
func validAddr(a string) bool {
	if a == "" || len(a) > maxAddrBytes || !utf8.ValidString(a) {
		return false
	}
	for _, c := range a {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
