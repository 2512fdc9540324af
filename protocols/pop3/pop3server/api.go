package pop3server

import (
	"io"
)

// Backend opens maildrops. It is shared by all connections of a Server and
// must be safe for concurrent use.
//
// Errors: return (or wrap) pop3.ErrAuth for an unknown user or a wrong
// password, pop3.ErrInUse when the maildrop is locked by another session
// (RFC 2449 section 8.1.1), pop3.ErrTemp for temporary failures (RFC 3206
// section 4). Any *pop3.Error goes to the client as "-ERR [CODE] text";
// any other error is logged and answered "-ERR [SYS/TEMP] ...".
type Backend interface {
	// Login checks a user name and password (USER/PASS, RFC 1939 section
	// 7; AUTH PLAIN, RFC 5034) and, when they are right, locks and opens
	// the user's maildrop (RFC 1939 section 4: exclusive access).
	Login(user, pass string) (Maildrop, error)
	// APOP checks digest, the lower-case hex MD5 of timestamp followed by
	// the user's shared secret (pop3.APOPDigest), and opens the maildrop
	// like Login. timestamp is the one from this connection's greeting,
	// angle brackets included, e.g. "<1896.697170952@dbc.mtview.ca.us>".
	APOP(user, timestamp, digest string) (Maildrop, error)
}

// MessageInfo describes one message of a maildrop.
type MessageInfo struct {
	// Size is the exact size in octets of the message as RETR sends it:
	// lines ending in CRLF, before dot-stuffing (RFC 1939 section 5, LIST).
	Size int64
	// UID is the unique-id listing of RFC 1939 section 7: 1 to 70
	// characters in 0x21..0x7E, the same for the message in every session
	// and never reused for another message of the maildrop.
	UID string
}

// Maildrop is one locked user's mailbox for the length of a session. The
// server calls its methods from one goroutine only.
type Maildrop interface {
	// Messages lists the maildrop as it was when the session began. The
	// server calls it once, right after login; message n of the session
	// (RFC 1939 section 5: numbers start at 1 and do not change during the
	// session) is index n-1 of this slice. Mail delivered later is not seen
	// until the next session.
	Messages() ([]MessageInfo, error)
	// Open returns the text of the message at index i (0-based, as in
	// Messages) with lines ending in CRLF or LF; the server dot-stuffs it.
	// The server closes the reader.
	Open(i int) (io.ReadCloser, error)
	// Update removes the messages at the given indexes (0-based, sorted,
	// no duplicates). It is called only in the UPDATE state, after QUIT in
	// the TRANSACTION state (RFC 1939 section 6), possibly with none; a
	// dropped connection, a timeout or a shutdown never calls it. An error
	// is reported to the client as "-ERR ..." (some deleted messages may
	// have been removed, RFC 1939 section 6).
	Update(deleted []int) error
	// Close releases the maildrop lock. It is called exactly once per
	// successful login, after Update if any, however the session ended.
	Close() error
}
