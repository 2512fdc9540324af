package mda

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/imap/imapserver"
)

// imapBackend serves the users' folders to the IMAP server.
type imapBackend struct{ m *MDA }

// Login checks the password (LOGIN, AUTHENTICATE PLAIN).
//
//	C: a1 LOGIN bob ***
//	S: a1 OK [CAPABILITY IMAP4rev1 ...] Logged in
func (b imapBackend) Login(user, pass string) (imapserver.User, error) {
	addr, ok := b.m.authenticate(user, func(secret string) bool { return equal(pass, secret) })
	if !ok {
		return nil, imapserver.ErrAuthFailed
	}
	u, err := b.m.cfg.Store.User(addr)
	if err != nil {
		return nil, err
	}
	return &imapUser{u: u, addr: addr}, nil
}

// imapFlags are the IMAP system flags the Maildir keeps (RFC 3501 section
// 2.3.2), in the order FLAGS lists them. \Recent is not a file flag, and
// the Maildir's P (passed) has no system flag: IMAP neither shows nor
// changes it.
var imapFlags = [...]struct {
	f    mailbox.Flags
	name string
}{
	{mailbox.FlagAnswered, `\Answered`},
	{mailbox.FlagFlagged, `\Flagged`},
	{mailbox.FlagDeleted, `\Deleted`},
	{mailbox.FlagSeen, `\Seen`},
	{mailbox.FlagDraft, `\Draft`},
}

// visibleFlags are the Maildir flags IMAP shows.
const visibleFlags = mailbox.FlagAnswered | mailbox.FlagFlagged | mailbox.FlagDeleted | mailbox.FlagSeen | mailbox.FlagDraft

// flagNames returns the IMAP names of f. The slices are shared by every
// message with the same flags (the server keeps one per message of each
// session): never change one; their capacity is their length, so an
// append copies.
func flagNames(f mailbox.Flags) []string { return flagNameSets[f&mailbox.AllFlags] }

var flagNameSets = func() (sets [mailbox.AllFlags + 1][]string) {
	for f := range sets {
		out := []string{}
		for _, x := range imapFlags {
			if mailbox.Flags(f)&x.f != 0 {
				out = append(out, x.name)
			}
		}
		sets[f] = slices.Clip(out)
	}
	return sets
}()

// parseFlags returns the Maildir flags of IMAP flag names (case-insensitive,
// RFC 3501 section 9: flag names are atoms compared without case).
// Keywords are dropped: the store keeps none, PERMANENTFLAGS does not offer
// them, and RFC 3501 section 7.1 lets the server ignore such a change.
func parseFlags(names []string) mailbox.Flags {
	var f mailbox.Flags
	for _, n := range names {
		for _, x := range imapFlags {
			if strings.EqualFold(n, x.name) {
				f |= x.f
			}
		}
	}
	return f
}

// message converts a store message.
func message(m mailbox.MessageInfo) imapserver.Message {
	return imapserver.Message{UID: m.UID, Flags: flagNames(m.Flags), Recent: m.Recent, Size: m.Size, InternalDate: m.Date}
}

// imapError maps a store error to what the IMAP server answers:
// ErrNoSuchMailbox (NO [NONEXISTENT], or [TRYCREATE] for APPEND, COPY and
// MOVE), ErrMailboxExists (NO [ALREADYEXISTS]), or NO [CANNOT] with the
// store's reason for a bad name or a forbidden operation.
func imapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mailbox.ErrNoFolder):
		return fmt.Errorf("%w: %w", imapserver.ErrNoSuchMailbox, err)
	case errors.Is(err, mailbox.ErrFolderExists):
		return fmt.Errorf("%w: %w", imapserver.ErrMailboxExists, err)
	case errors.Is(err, mailbox.ErrBadFolder):
		return imap.Errorf(imap.NO, imap.CodeCannot, "Invalid mailbox name: %s", reason(err, mailbox.ErrBadFolder))
	case errors.Is(err, mailbox.ErrNotAllowed):
		return imap.Errorf(imap.NO, imap.CodeCannot, "%s", capitalize(reason(err, mailbox.ErrNotAllowed)))
	case errors.Is(err, mailbox.ErrHasChildren):
		return imap.Errorf(imap.NO, imap.CodeCannot, "%s", capitalize(reason(err, mailbox.ErrHasChildren)))
	}
	return err
}

// reason is the text of err after its sentinel's: "mailbox: bad folder
// name: \"../x\" has a component \"..\"" → "\"../x\" has a component \"..\"".
func reason(err, sentinel error) string {
	s := err.Error()
	if r, ok := strings.CutPrefix(s, sentinel.Error()+": "); ok {
		return r
	}
	return strings.TrimPrefix(s, "mailbox: ")
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// imapUser is one logged-in IMAP session's view of a user's folders.
type imapUser struct {
	u    *mailbox.User
	addr string
}

// Name returns the address the login name resolved to, so the server's
// note "logged in as bob@b.test" tells which Maildir "LOGIN bob" opened.
func (s *imapUser) Name() string { return s.addr }

// List answers LIST and LSUB (RFC 3501 sections 6.3.8 and 6.3.9).
//
//	C: a2 LIST "" "*"
//	S: * LIST (\HasNoChildren) "/" INBOX
//	S: * LIST (\Noselect \HasChildren) "/" Archive
//	S: * LIST (\HasNoChildren) "/" Archive/2024
func (s *imapUser) List(ref, pattern string, subscribedOnly bool) ([]imapserver.MailboxInfo, error) {
	// RFC 3501 section 6.3.8: the reference is put before the pattern.
	full := ref + pattern
	folders, err := s.u.Folders()
	if err != nil {
		return nil, err
	}
	if subscribedOnly {
		return s.lsub(full, folders)
	}
	var out []imapserver.MailboxInfo
	for _, f := range folders {
		if !imap.MatchMailbox(full, f.Name, '/') {
			continue
		}
		attrs := []string{}
		if f.NoSelect {
			attrs = append(attrs, `\Noselect`)
		}
		// RFC 3348: one of the two child attributes on every name.
		if f.HasChildren {
			attrs = append(attrs, `\HasChildren`)
		} else {
			attrs = append(attrs, `\HasNoChildren`)
		}
		out = append(out, imapserver.MailboxInfo{Name: f.Name, Attributes: attrs})
	}
	return out, nil
}

// lsub lists the subscribed names matching full. A subscribed name whose
// folder does not exist (any more) is \Noselect. RFC 3501 section 6.3.9:
// when "%" stops above a subscribed name, the unsubscribed parent it
// stops at is listed with \Noselect.
func (s *imapUser) lsub(full string, folders []mailbox.FolderInfo) ([]imapserver.MailboxInfo, error) {
	subs, err := s.u.Subscriptions()
	if err != nil {
		return nil, err
	}
	selectable := make(map[string]bool, len(folders))
	for _, f := range folders {
		selectable[f.Name] = !f.NoSelect
	}
	subscribed := make(map[string]bool, len(subs))
	for _, n := range subs {
		subscribed[n] = true
	}
	noselect := map[string]bool{}
	matched := map[string]bool{}
	for _, n := range subs {
		if imap.MatchMailbox(full, n, '/') {
			matched[n] = true
			noselect[n] = !selectable[n]
			continue
		}
		parts := strings.Split(n, mailbox.Separator)
		for i := len(parts) - 1; i >= 1; i-- {
			p := strings.Join(parts[:i], mailbox.Separator)
			if !subscribed[p] && imap.MatchMailbox(full, p, '/') {
				matched[p] = true
				noselect[p] = true
				break
			}
		}
	}
	names := make([]string, 0, len(matched))
	for n := range matched {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]imapserver.MailboxInfo, 0, len(names))
	for _, n := range names {
		attrs := []string{}
		if noselect[n] {
			attrs = append(attrs, `\Noselect`)
		}
		out = append(out, imapserver.MailboxInfo{Name: n, Attributes: attrs})
	}
	return out, nil
}

// Create makes a folder and its missing parents (RFC 3501 section 6.3.3).
//
//	C: a3 CREATE Archive/2024
//	S: a3 OK CREATE completed
//	C: a4 CREATE ../x
//	S: a4 NO [CANNOT] Invalid mailbox name: "../x" has a component ".."
func (s *imapUser) Create(name string) error { return imapError(s.u.CreateFolder(name)) }

// Delete removes a folder and its messages (RFC 3501 section 6.3.4).
func (s *imapUser) Delete(name string) error { return imapError(s.u.DeleteFolder(name)) }

// Rename renames a folder and its inferiors (RFC 3501 section 6.3.5).
func (s *imapUser) Rename(oldName, newName string) error {
	return imapError(s.u.RenameFolder(oldName, newName))
}

// Subscribe adds a name to the subscriptions (RFC 3501 section 6.3.6).
func (s *imapUser) Subscribe(name string) error { return imapError(s.u.Subscribe(name)) }

// Unsubscribe removes a name from the subscriptions (section 6.3.7).
func (s *imapUser) Unsubscribe(name string) error { return imapError(s.u.Unsubscribe(name)) }

// Status counts a folder without selecting it (RFC 3501 section 6.3.10).
func (s *imapUser) Status(name string) (imapserver.MailboxStatus, error) {
	f, err := s.u.Folder(name)
	if err != nil {
		return imapserver.MailboxStatus{}, imapError(err)
	}
	st, err := f.Status()
	if err != nil {
		return imapserver.MailboxStatus{}, imapError(err)
	}
	return imapserver.MailboxStatus{Messages: st.Messages, Recent: st.Recent, Unseen: st.Unseen, UIDNext: st.UIDNext, UIDValidity: st.UIDValidity}, nil
}

// Append stores a message in cur/ with its flags (RFC 3501 section
// 6.3.11); a folder that does not exist gives NO [TRYCREATE].
func (s *imapUser) Append(name string, flags []string, date time.Time, body []byte) (uint32, uint32, error) {
	v, uid, err := s.u.Append(name, bytes.NewReader(body), parseFlags(flags), date)
	return v, uid, imapError(err)
}

// Open selects a folder: read-write for SELECT (its new/ files move to
// cur/ and become \Recent to this session), read-only for EXAMINE.
func (s *imapUser) Open(name string, readOnly bool) (imapserver.Mailbox, error) {
	v, err := s.u.Select(name, readOnly)
	if err != nil {
		return nil, imapError(err)
	}
	return &imapMailbox{u: s.u, v: v}, nil
}

// Logout ends the session; nothing is held besides the open View.
func (s *imapUser) Logout() error { return nil }

var (
	_ imapserver.HeaderReader = (*imapMailbox)(nil)
	_ imapserver.UIDLister    = (*imapMailbox)(nil)
)

// imapMailbox is a selected folder: a mailbox.View, which knows the
// Maildir flags of the messages the session knows (so that STORE FLAGS can
// keep the P flag IMAP does not show, and a deleted folder can be reported
// as expunges). It keeps nothing per message itself.
type imapMailbox struct {
	u    *mailbox.User
	v    *mailbox.View
	gone bool // the folder was deleted or renamed, and reported so
}

// Info returns UIDVALIDITY and UIDNEXT.
func (mb *imapMailbox) Info() (uint32, uint32) { return mb.v.UIDValidity(), mb.v.UIDNext() }

// Messages returns the folder as of SELECT.
func (mb *imapMailbox) Messages() []imapserver.Message {
	msgs := mb.v.Messages()
	out := make([]imapserver.Message, len(msgs))
	for i, m := range msgs {
		out[i] = message(m)
	}
	return out
}

// UIDs returns the UIDs of Messages, in an array every session that
// selected the folder as it is shares (mailbox.View.SharedUIDs): the
// server keeps it as its sequence numbers instead of a copy per session
// (4 KB for 1,000 messages) and copies it only to change it.
func (mb *imapMailbox) UIDs() []uint32 { return mb.v.SharedUIDs() }

// Lookup returns the messages with uids as the session knows them: the
// flags the View was told, the size and date of the folder's shared
// records; UID 0 for a UID the View no longer knows. The server keeps only
// UIDs per session and asks here once per command that needs more (FETCH
// FLAGS, SEARCH...); each UID costs a binary search in the View.
func (mb *imapMailbox) Lookup(uids []uint32) []imapserver.Message {
	out := make([]imapserver.Message, len(uids))
	if len(uids) == 0 {
		return out
	}
	msgs, known := mb.v.Lookup(uids)
	for i := range msgs {
		if known[i] {
			out[i] = message(msgs[i])
		}
	}
	return out
}

// Read returns the file's bytes, exactly as delivered.
func (mb *imapMailbox) Read(uid uint32) ([]byte, error) {
	b, err := mb.v.Read(uid, 0)
	return b, imapError(err)
}

// ReadHeader returns the file's first octets up to and including the empty
// line that ends the header (imapserver.HeaderReader): what FETCH
// BODY.PEEK[HEADER], ENVELOPE and SEARCH FROM need, without reading the
// body. Its errors are Read's: no such message, or a file over the limit
// Read has (mailbox.DefaultMaxReadBytes).
func (mb *imapMailbox) ReadHeader(uid uint32) ([]byte, error) {
	f, err := mb.v.Open(uid)
	if err != nil {
		return nil, imapError(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > mailbox.DefaultMaxReadBytes {
		return nil, fmt.Errorf("%w: UID %d is %d octets, limit %d", mailbox.ErrTooBig, uid, st.Size(), int64(mailbox.DefaultMaxReadBytes))
	}
	b, err := imapserver.ReadHeaderBlock(f)
	if err != nil {
		return nil, fmt.Errorf("mailbox: reading UID %d: %w", uid, err)
	}
	return b, nil
}

// Store changes flags by renaming files (":2,S" for \Seen).
//
//	C: a5 STORE 1 +FLAGS (\Seen)
//	S: * 1 FETCH (FLAGS (\Seen))
func (mb *imapMailbox) Store(uids []uint32, op imapserver.StoreOp, names []string) ([]imapserver.Message, error) {
	f := parseFlags(names)
	var res []mailbox.MessageInfo
	var err error
	switch op {
	case imapserver.StoreAdd:
		res, err = mb.v.SetFlags(uids, mailbox.AddFlags, f)
	case imapserver.StoreRemove:
		res, err = mb.v.SetFlags(uids, mailbox.RemoveFlags, f)
	default:
		// FLAGS replaces what IMAP shows; a P flag the file has stays.
		var plain, passed []uint32
		for _, uid := range uids {
			if f, _ := mb.v.Flags(uid); f&mailbox.FlagPassed != 0 {
				passed = append(passed, uid)
			} else {
				plain = append(plain, uid)
			}
		}
		if len(plain) > 0 {
			res, err = mb.v.SetFlags(plain, mailbox.ReplaceFlags, f)
		}
		if len(passed) > 0 && err == nil {
			var more []mailbox.MessageInfo
			more, err = mb.v.SetFlags(passed, mailbox.ReplaceFlags, f|mailbox.FlagPassed)
			res = append(res, more...)
			sort.Slice(res, func(i, j int) bool { return res[i].UID < res[j].UID })
		}
	}
	out := make([]imapserver.Message, len(res))
	for i, m := range res {
		out[i] = message(m)
	}
	return out, imapError(err)
}

// dest returns the folder a COPY or MOVE goes to.
func (mb *imapMailbox) dest(name string) (*mailbox.Folder, uint32, error) {
	f, err := mb.u.Folder(name)
	if err != nil {
		return nil, 0, imapError(err)
	}
	v, err := f.UIDValidity()
	if err != nil {
		return nil, 0, imapError(err)
	}
	return f, v, nil
}

func pairs(ps []mailbox.UIDPair) [][2]uint32 {
	out := make([][2]uint32, len(ps))
	for i, p := range ps {
		out[i] = [2]uint32{p.Src, p.Dst}
	}
	return out
}

// Copy links the files into dest (RFC 3501 section 6.4.7), keeping flags
// and internal dates.
func (mb *imapMailbox) Copy(uids []uint32, dest string) (uint32, [][2]uint32, error) {
	f, v, err := mb.dest(dest)
	if err != nil {
		return 0, nil, err
	}
	ps, err := mb.v.CopyTo(uids, f)
	return v, pairs(ps), imapError(err)
}

// Move renames the files into dest (RFC 6851).
//
//	C: a6 MOVE 1 Archive
//	S: * OK [COPYUID 1768469400 1 1] Moved
//	S: * 1 EXPUNGE
func (mb *imapMailbox) Move(uids []uint32, dest string) (uint32, [][2]uint32, error) {
	f, v, err := mb.dest(dest)
	if err != nil {
		return 0, nil, err
	}
	ps, err := mb.v.MoveTo(uids, f)
	return v, pairs(ps), imapError(err)
}

// Expunge removes the files of the messages marked \Deleted.
func (mb *imapMailbox) Expunge(uids []uint32) ([]uint32, error) {
	gone, err := mb.v.ExpungeDeleted(uids)
	return gone, imapError(err)
}

// Notify fires when another session, a delivery or a rescan changed the
// folder.
func (mb *imapMailbox) Notify() <-chan struct{} { return mb.v.Ready() }

// Updates reads the folder's directories again (View.Rescan) and returns
// what others changed since the last call. The server calls it after every
// command — NOOP is the classic poll — and when IDLE starts, so a file
// another program put into new/, or removed, is seen then; deliveries over
// LMTP and other sessions' changes arrive through Notify without a rescan.
//
// A folder deleted or renamed under the session (mailbox.EventGone) is
// reported as the expunge of every message: the server has no way to say
// "* BYE" from here, and an empty mailbox is the truth for this session.
//
// The rescan costs three stat calls when nothing changed on disk (see
// mailbox.View.Rescan).
func (mb *imapMailbox) Updates() []imapserver.Update {
	if mb.gone {
		return nil
	}
	_ = mb.v.Rescan() // an error here (folder gone) comes back as EventGone or from the next command
	evs, err := mb.v.Updates()
	if err != nil {
		return nil
	}
	var out []imapserver.Update
	for _, ev := range evs {
		m := ev.Message
		switch ev.Kind {
		case mailbox.EventNew:
			out = append(out, imapserver.Update{Kind: imapserver.UpdateExists, Message: message(m)})
		case mailbox.EventFlags:
			if ev.Old&visibleFlags == m.Flags&visibleFlags {
				continue // only P changed: nothing IMAP can show
			}
			out = append(out, imapserver.Update{Kind: imapserver.UpdateFlags, Message: message(m)})
		case mailbox.EventExpunge:
			out = append(out, imapserver.Update{Kind: imapserver.UpdateExpunge, Message: imapserver.Message{UID: m.UID}})
		case mailbox.EventGone:
			for _, uid := range mb.v.UIDs() {
				out = append(out, imapserver.Update{Kind: imapserver.UpdateExpunge, Message: imapserver.Message{UID: uid}})
			}
			mb.gone = true
			return out
		}
	}
	return out
}

// PermanentFlags are the five system flags the file names keep; no "\*":
// the store keeps no keywords.
func (mb *imapMailbox) PermanentFlags() []string { return flagNames(visibleFlags) }

// Close ends the View.
func (mb *imapMailbox) Close() error { return mb.v.Close() }
