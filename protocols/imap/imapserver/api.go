package imapserver

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"time"
)

// Backend authenticates users; it is the only thing a Server needs.
// A returned *imap.Error goes to the client as is; the sentinels below are
// mapped to response codes; any other error is logged and answered with
// "NO [SERVERBUG]". Every method may be called from many sessions at once.
type Backend interface {
	// Login checks a user name and password (LOGIN, AUTHENTICATE PLAIN).
	// ErrAuthFailed becomes "NO [AUTHENTICATIONFAILED]" (RFC 5530).
	Login(user, pass string) (User, error)
}

// Errors a backend returns for the server to answer with the right code.
var (
	// ErrNoSuchMailbox: the mailbox does not exist. APPEND, COPY and MOVE
	// answer "NO [TRYCREATE]" (RFC 3501 sections 6.3.11, 6.4.7); other
	// commands "NO [NONEXISTENT]" (RFC 5530).
	ErrNoSuchMailbox = errors.New("imapserver: no such mailbox")
	// ErrMailboxExists: CREATE or RENAME to a name in use, "NO [ALREADYEXISTS]".
	ErrMailboxExists = errors.New("imapserver: mailbox already exists")
	// ErrAuthFailed: wrong user name or password, "NO [AUTHENTICATIONFAILED]".
	ErrAuthFailed = errors.New("imapserver: authentication failed")
	// ErrCannot: the operation is not allowed (deleting INBOX, a read-only
	// mailbox), "NO [CANNOT]".
	ErrCannot = errors.New("imapserver: operation not allowed")
)

// MailboxInfo is one LIST or LSUB answer. Names use "/" as the hierarchy
// delimiter and "INBOX" for the inbox (RFC 3501 section 5.1).
type MailboxInfo struct {
	Name       string
	Attributes []string // e.g. `\Noselect`, `\HasChildren`, `\Subscribed`
}

// MailboxStatus answers STATUS (RFC 3501 section 6.3.10).
type MailboxStatus struct {
	Messages, Recent, Unseen, UIDNext, UIDValidity uint32
}

// User is one authenticated session's view of a user's mailboxes. Mailbox
// names are as the client sent them, except that "INBOX" is matched without
// regard to case (RFC 3501 section 5.1) before the call.
type User interface {
	// Name is the user name given at login.
	Name() string
	// List returns the mailboxes matching pattern under reference (RFC
	// 3501 section 6.3.8: "*" matches anything, "%" anything but "/").
	// With subscribedOnly, only subscribed ones (LSUB). The server passes
	// ref and pattern as received; imap.MatchMailbox helps to
	// implement it.
	List(ref, pattern string, subscribedOnly bool) ([]MailboxInfo, error)
	Create(name string) error
	Delete(name string) error
	Rename(oldName, newName string) error
	Subscribe(name string) error
	Unsubscribe(name string) error
	Status(name string) (MailboxStatus, error)
	// Append stores a message (RFC 3501 section 6.3.11). flags never
	// contain `\Recent`; a zero date means now. It returns the UIDPLUS
	// answer (RFC 4315): the mailbox's UIDVALIDITY and the new UID. Every
	// open handle of that mailbox, the caller's included, sees it as an
	// UpdateExists.
	Append(name string, flags []string, date time.Time, body []byte) (uidValidity, uid uint32, err error)
	// Open selects a mailbox (SELECT, or EXAMINE with readOnly). The handle
	// lives until Close.
	Open(name string, readOnly bool) (Mailbox, error)
	// Logout ends the session; open mailboxes have been closed before.
	Logout() error
}

// Message is one message as a session sees it at SELECT time or in an
// update. Flags never contain `\Recent`: Recent says whether this session
// is the one that sees the message as recent (RFC 3501 section 2.3.2:
// exactly one session does).
type Message struct {
	UID          uint32
	Flags        []string
	Recent       bool
	Size         int64 // RFC822.SIZE: octets of Read's result
	InternalDate time.Time
}

// HeaderReader is an optional interface of a Mailbox whose messages' headers
// can be read without the rest, as from a file read only up to its blank
// line. The server uses it when a command needs no more than the header:
// FETCH of ENVELOPE, RFC822.HEADER, BODY[HEADER] or BODY[HEADER.FIELDS
// (...)] (.PEEK and .NOT included), and SEARCH keys that look at header
// fields, flags, sizes and dates only. Without it the server calls Read and
// cuts the header off itself.
//
// The contract, so that both ways give the client the same octets:
// ReadHeader returns exactly the first octets of what Read would return for
// the same UID, up to and including the first empty line ("\r\n", or "\n"
// alone, ending the header; RFC 5322 section 2.1), line endings as stored
// (CRLF, like Read); the whole message when it has no empty line: full[:n]
// with n = mail.HeaderEnd(full), or all of full when n is -1.
// ReadHeaderBlock reads them from an io.Reader. Errors are those of Read,
// for the same reasons. Only the session's goroutine calls it, like the
// other Mailbox methods; the server does not modify the slice.
type HeaderReader interface {
	ReadHeader(uid uint32) ([]byte, error)
}

// ReadHeaderBlock reads from r, a message's full text, the octets a
// HeaderReader returns: up to and including the empty line that ends the
// header, or all of r when there is none. It reads 4 KiB at first, more
// only when the header is longer, and stops once it has the header's end.
func ReadHeaderBlock(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 4<<10)
	scan := 0 // start of the first line not yet known to be a field line
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for {
			nl := bytes.IndexByte(buf[scan:], '\n')
			if nl < 0 {
				break
			}
			if nl == 0 || nl == 1 && buf[scan] == '\r' {
				return buf[: scan+nl+1 : scan+nl+1], nil
			}
			scan += nl + 1
		}
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// UIDLister is an optional interface of a Mailbox that can share one array
// of UIDs among the sessions that selected the same mailbox. UIDs returns
// the UIDs of what Messages returns, in the same order, called right after
// it at SELECT; the server keeps the slice as the session's sequence
// numbers, never modifies it (it copies it before the first change: an
// EXISTS, an EXPUNGE), and the Mailbox must not modify it either. Without
// it (or when the two disagree) the server makes its own copy: 4 octets a
// message per session.
type UIDLister interface {
	UIDs() []uint32
}

// StoreOp says how Mailbox.Store changes flags (RFC 3501 section 6.4.6).
type StoreOp int

const (
	StoreReplace StoreOp = iota + 1 // FLAGS
	StoreAdd                        // +FLAGS
	StoreRemove                     // -FLAGS
)

// UpdateKind is what happened to a message in an Update.
type UpdateKind int

const (
	// UpdateExists: a new message (Message fully set).
	UpdateExists UpdateKind = iota + 1
	// UpdateExpunge: the message with Message.UID was removed.
	UpdateExpunge
	// UpdateFlags: the flags of Message.UID are now Message.Flags.
	UpdateFlags
)

// Update is a change of a mailbox that the session holding a handle did not
// make through that handle's Store, Expunge or Move: other sessions'
// changes, deliveries, and messages APPENDed, COPYed or MOVEd into it.
type Update struct {
	Kind UpdateKind
	Message
}

// Mailbox is an open (selected) mailbox. Messages are named by UID; the
// server keeps the session's sequence numbers (RFC 3501 section 2.3.1.2).
// Only the session's goroutine calls its methods, except Notify's channel.
type Mailbox interface {
	// Info returns UIDVALIDITY and UIDNEXT (RFC 3501 section 2.3.1.1).
	Info() (uidValidity, uidNext uint32)
	// Messages returns the messages in UID order, as of the call. The
	// server calls it once, at SELECT, keeps their UIDs and which are
	// Recent, and follows Updates after that.
	Messages() []Message
	// Lookup returns the messages with these UIDs (ascending) as the
	// handle knows them now: out[i] is uids[i]'s, with UID 0 when that
	// message no longer exists; len(out) == len(uids). Recent is not
	// read: the server keeps which messages are recent to the session,
	// from Messages and UpdateExists. The server keeps no more than the
	// UIDs of the messages per session, and calls Lookup once for a
	// command that needs flags, sizes or dates (FETCH FLAGS, INTERNALDATE,
	// RFC822.SIZE, a FETCH that sets \Seen, SEARCH).
	Lookup(uids []uint32) []Message
	// Read returns a message's full text (CRLF line endings).
	Read(uid uint32) ([]byte, error)
	// Store changes the flags of the messages with these UIDs (ignoring
	// UIDs that no longer exist) and returns their new flags; `\Recent` is
	// never passed. Other handles see UpdateFlags.
	Store(uids []uint32, op StoreOp, flags []string) ([]Message, error)
	// Copy copies messages to dest, returning dest's UIDVALIDITY and the
	// (source UID, new UID) pairs for UIDPLUS (RFC 4315). ErrNoSuchMailbox
	// when dest does not exist.
	Copy(uids []uint32, dest string) (destUIDValidity uint32, pairs [][2]uint32, err error)
	// Move is Copy followed by removing the source messages, atomically
	// (RFC 6851 section 3.3). The pairs name the moved messages; the
	// server then reports their EXPUNGEs. Other handles see UpdateExpunge.
	Move(uids []uint32, dest string) (destUIDValidity uint32, pairs [][2]uint32, err error)
	// Expunge removes messages marked `\Deleted`: those among uids (UID
	// EXPUNGE, RFC 4315 section 2.1), or all of them when uids is nil. It
	// returns the UIDs removed, in ascending order.
	Expunge(uids []uint32) ([]uint32, error)
	// Notify returns a channel that receives a value (sent without
	// blocking; capacity 1 is enough) whenever Updates has something new.
	Notify() <-chan struct{}
	// Updates returns, in order, and forgets the changes queued since the
	// last call. The backend queues them without blocking the session that
	// made them; the server collects them at the next command that allows
	// it, or at once while IDLE.
	Updates() []Update
	// PermanentFlags lists the flags a client can set for good (RFC 3501
	// section 7.1: `\*` means any new keyword).
	PermanentFlags() []string
	// Close unselects the mailbox (no expunge: the server calls Expunge
	// itself for CLOSE).
	Close() error
}
