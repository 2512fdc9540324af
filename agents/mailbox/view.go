package mailbox

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Folder is a handle on one folder of a User, for the operations that need
// no selected state: IMAP STATUS, APPEND, COPY/MOVE targets, POP3. Get one
// with User.Folder. A Folder is a small value: get one per command. Its
// methods are safe for concurrent use.
type Folder struct {
	fs *folderState
}

// Name returns the canonical folder name.
func (f *Folder) Name() string { return f.fs.name }

// Status scans the folder and counts its messages.
func (f *Folder) Status() (Status, error) { return f.fs.status() }

// Messages scans the folder and returns its messages in UID order. Recent
// is set for the messages no session has reported as recent yet; nothing
// is moved from new/ to cur/ and nothing is claimed.
func (f *Folder) Messages() ([]MessageInfo, error) { return f.fs.messages() }

// Open opens the message with uid for reading. The file stays readable
// after the message is renamed or expunged; close it.
func (f *Folder) Open(uid uint32) (*os.File, error) {
	file, _, err := f.fs.open(uid)
	return file, err
}

// Read returns the bytes of the message with uid; ErrTooBig if it is
// larger than max octets (max <= 0 means DefaultMaxReadBytes).
func (f *Folder) Read(uid uint32, max int64) ([]byte, error) { return f.fs.read(uid, max) }

// Append stores the message read from r with flags and internal date
// (zero means now) and returns its UID (RFC 3501 section 6.3.11; RFC 4315
// APPENDUID). Like Deliver it returns once the message is durable: written
// in tmp/, fsynced, renamed into cur/ with its flags, cur/ fsynced, and the
// UID list saved. r is read to the end; the caller bounds it. Every Watch
// of the folder gets EventNew.
func (f *Folder) Append(r io.Reader, flags Flags, date time.Time) (uint32, error) {
	return f.fs.append(nil, r, flags, date)
}

// SetFlags changes the flags of the messages with uids and returns their
// new state; UIDs that do not exist are skipped.
func (f *Folder) SetFlags(uids []uint32, op FlagOp, flags Flags) ([]MessageInfo, error) {
	return f.fs.setFlags(nil, uids, op, flags)
}

// Expunge removes the messages with uids whatever their flags (POP3's
// UPDATE state, RFC 1939 section 6) and returns the UIDs removed.
func (f *Folder) Expunge(uids []uint32) ([]uint32, error) {
	return f.fs.expunge(nil, uids, false, false)
}

// ExpungeDeleted removes the messages with FlagDeleted: those among uids,
// or all of them when uids is nil (RFC 3501 section 6.4.3; UID EXPUNGE,
// RFC 4315 section 2.1). It returns the UIDs removed.
func (f *Folder) ExpungeDeleted(uids []uint32) ([]uint32, error) {
	return f.fs.expunge(nil, uids, uids == nil, true)
}

// CopyTo copies the messages with uids into dst, keeping flags and
// internal dates, and returns the UID pairs (RFC 4315 COPYUID). UIDs that
// do not exist are skipped.
func (f *Folder) CopyTo(uids []uint32, dst *Folder) ([]UIDPair, error) {
	return transfer(nil, f.fs, dst.fs, uids, false)
}

// MoveTo moves the messages with uids into dst (RFC 6851) and returns the
// UID pairs. Each message is durable in dst before it leaves this folder.
func (f *Folder) MoveTo(uids []uint32, dst *Folder) ([]UIDPair, error) {
	return transfer(nil, f.fs, dst.fs, uids, true)
}

// UIDValidity returns the folder's UIDVALIDITY (reading the UID list if
// needed).
func (f *Folder) UIDValidity() (uint32, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.readyLocked(nil); err != nil {
		return 0, err
	}
	return f.fs.validity, nil
}

// Watch subscribes to the folder's changes (after a scan, so that the
// events are relative to the folder as it is now). Close the Watch.
func (f *Folder) Watch() (*Watch, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.readyLocked(nil); err != nil {
		return nil, err
	}
	return f.fs.hub.watch(), nil
}

// View is a folder as one session has selected it (IMAP SELECT or EXAMINE,
// a POP3 session): the messages it has reported, the ones that are recent
// to it, and a Watch for the changes others make. Only the session's
// goroutine should call its methods, except Ready.
type View struct {
	fs       *folderState
	w        *Watch
	readOnly bool
	validity uint32
	initial  []MessageInfo

	mu     sync.Mutex
	known  map[uint32]Flags // what the session has been told
	recent map[uint32]bool  // the UIDs that are recent to this session
	closed bool
}

// Select opens a View of a folder. Unless readOnly, the View is the
// folder's reader in the Maildir sense: messages in new/ move to cur/, and
// every message no session has reported as recent becomes recent to this
// one and to no other (RFC 3501 section 2.3.2). A read-only View (EXAMINE)
// changes nothing (RFC 3501 section 6.3.2: "MUST NOT cause messages to lose
// the \Recent flag"); it shows unclaimed messages as recent.
func (u *User) Select(name string, readOnly bool) (*View, error) {
	f, err := u.Folder(name)
	if err != nil {
		return nil, err
	}
	fs := f.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.scanLocked(nil, !readOnly); err != nil {
		return nil, err
	}
	v := &View{fs: fs, readOnly: readOnly, validity: fs.validity,
		known: make(map[uint32]Flags, len(fs.msgs)), recent: make(map[uint32]bool)}
	if !readOnly {
		if err := v.claimLocked(); err != nil {
			return nil, err
		}
	}
	v.initial = make([]MessageInfo, len(fs.msgs))
	for i := range fs.msgs {
		e := &fs.msgs[i]
		v.initial[i] = e.info(v.isRecentLocked(e.uid))
		v.known[e.uid] = e.flags
	}
	// Subscribed under fs.mu: every later change is published after this.
	v.w = fs.hub.watch()
	return v, nil
}

// claimLocked makes every unclaimed message recent to v.
func (v *View) claimLocked() error {
	fs := v.fs
	if fs.firstRecent >= fs.next {
		return nil
	}
	for i := len(fs.msgs) - 1; i >= 0 && fs.msgs[i].uid >= fs.firstRecent; i-- {
		v.recent[fs.msgs[i].uid] = true
	}
	fs.firstRecent = fs.next
	return fs.saveLocked()
}

func (v *View) isRecentLocked(uid uint32) bool {
	if v.readOnly {
		return uid >= v.fs.firstRecent
	}
	return v.recent[uid]
}

// Name returns the canonical folder name.
func (v *View) Name() string { return v.fs.name }

// ReadOnly reports whether the View was selected read-only.
func (v *View) ReadOnly() bool { return v.readOnly }

// UIDValidity returns the folder's UIDVALIDITY as of Select.
func (v *View) UIDValidity() uint32 { return v.validity }

// UIDNext returns the UID the next message will get.
func (v *View) UIDNext() uint32 {
	v.fs.mu.Lock()
	defer v.fs.mu.Unlock()
	return v.fs.next
}

// Folder returns a Folder handle of the same folder.
func (v *View) Folder() *Folder { return &Folder{fs: v.fs} }

// Messages returns the messages as of Select, in UID order (message
// sequence number n is index n-1). After Select, follow Updates.
func (v *View) Messages() []MessageInfo {
	return append([]MessageInfo(nil), v.initial...)
}

// Ready receives a value when Updates may have something (sent without
// blocking; a hint, Updates may return nothing).
func (v *View) Ready() <-chan struct{} { return v.w.Ready() }

// Updates returns, oldest first, and forgets the changes others made since
// Select or the last call: EventNew (Message fully set, Recent for this
// session), EventExpunge and EventFlags (Message.UID, and Flags). When
// the Watch lost events (a slow session), Updates compares the folder with
// what the session was told and returns the difference instead. EventGone
// means the folder was deleted or renamed, or its UIDVALIDITY changed: the
// session cannot go on with it (IMAP: "* BYE", or "* OK [CLOSED]" in
// IMAP4rev2). Changes the session made through this View are not repeated
// here; messages it copied or appended into this folder are.
func (v *View) Updates() ([]Event, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	evs := v.w.Events()
	for _, ev := range evs {
		if ev.Kind == EventResync {
			return v.resync()
		}
	}
	var out []Event
	claimed := false
	var firstRecent uint32
	for _, ev := range evs {
		uid := ev.Message.UID
		switch ev.Kind {
		case EventNew:
			if _, ok := v.known[uid]; ok {
				continue
			}
			if !claimed {
				// One claim covers every UID published so far.
				v.fs.mu.Lock()
				var err error
				if !v.readOnly && !v.fs.gone {
					err = v.claimLocked()
				}
				firstRecent = v.fs.firstRecent
				v.fs.mu.Unlock()
				if err != nil {
					return out, err
				}
				claimed = true
			}
			if v.readOnly {
				ev.Message.Recent = uid >= firstRecent
			} else {
				ev.Message.Recent = v.recent[uid]
			}
			v.known[uid] = ev.Message.Flags
		case EventExpunge:
			if _, ok := v.known[uid]; !ok {
				continue
			}
			delete(v.known, uid)
			delete(v.recent, uid)
		case EventFlags:
			if f, ok := v.known[uid]; !ok || f == ev.Message.Flags {
				continue
			}
			v.known[uid] = ev.Message.Flags
			ev.Message.Recent = v.recent[uid]
		}
		out = append(out, ev)
	}
	return out, nil
}

// resync compares the folder with what the session knows. Called with
// v.mu held.
func (v *View) resync() ([]Event, error) {
	fs := v.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.gone {
		return []Event{{Kind: EventGone}}, nil
	}
	if err := fs.scanLocked(v.w, !v.readOnly); err != nil {
		return nil, err
	}
	// The scan saw everything the pending events said.
	v.w.discard()
	if fs.validity != v.validity {
		return []Event{{Kind: EventGone}}, nil
	}
	if !v.readOnly {
		if err := v.claimLocked(); err != nil {
			return nil, err
		}
	}
	var out []Event
	present := make(map[uint32]bool, len(fs.msgs))
	for _, e := range fs.msgs {
		present[e.uid] = true
	}
	var gone []uint32
	for uid := range v.known {
		if !present[uid] {
			gone = append(gone, uid)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i] < gone[j] })
	for _, uid := range gone {
		delete(v.known, uid)
		delete(v.recent, uid)
		out = append(out, Event{Kind: EventExpunge, Message: MessageInfo{UID: uid}})
	}
	for i := range fs.msgs {
		e := &fs.msgs[i]
		f, ok := v.known[e.uid]
		switch {
		case !ok:
			out = append(out, Event{Kind: EventNew, Message: e.info(v.isRecentLocked(e.uid))})
		case f != e.flags:
			out = append(out, Event{Kind: EventFlags, Message: e.info(v.recent[e.uid])})
		default:
			continue
		}
		v.known[e.uid] = e.flags
	}
	return out, nil
}

// Rescan reads the folder's directories now, to find what other programs
// changed (a file dropped into new/ by hand, a message deleted by another
// MUA); what it finds comes out of Updates. IMAP servers call it for NOOP
// and when IDLE starts; deliveries through Deliver need no Rescan.
func (v *View) Rescan() error {
	v.fs.mu.Lock()
	defer v.fs.mu.Unlock()
	return v.fs.scanLocked(nil, !v.readOnly)
}

// Open opens a message for reading; see Folder.Open.
func (v *View) Open(uid uint32) (*os.File, error) { return v.Folder().Open(uid) }

// Read returns a message's bytes; see Folder.Read.
func (v *View) Read(uid uint32, max int64) ([]byte, error) { return v.fs.read(uid, max) }

func (v *View) writable(what string) error {
	if v.closed {
		return ErrClosed
	}
	if v.readOnly {
		return fmt.Errorf("%w: %s in read-only %q", ErrNotAllowed, what, v.fs.name)
	}
	return nil
}

// knownUIDs returns uids filtered to those the session knows, or all of
// them for nil.
func (v *View) knownUIDs(uids []uint32) []uint32 {
	var out []uint32
	if uids == nil {
		for uid := range v.known {
			out = append(out, uid)
		}
		return out
	}
	for _, uid := range uids {
		if _, ok := v.known[uid]; ok {
			out = append(out, uid)
		}
	}
	return out
}

// SetFlags changes flags like Folder.SetFlags; other sessions get
// EventFlags, this one does not (it reports the result itself).
func (v *View) SetFlags(uids []uint32, op FlagOp, flags Flags) ([]MessageInfo, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.writable("changing flags"); err != nil {
		return nil, err
	}
	res, err := v.fs.setFlags(v.w, v.knownUIDs(uids), op, flags)
	for i := range res {
		v.known[res[i].UID] = res[i].Flags
		res[i].Recent = v.recent[res[i].UID]
	}
	return res, err
}

func (v *View) forget(uids []uint32) {
	for _, uid := range uids {
		delete(v.known, uid)
		delete(v.recent, uid)
	}
}

// Expunge removes the messages with uids whatever their flags (POP3 UPDATE
// state) and returns the UIDs removed. Only messages the session knows are
// touched.
func (v *View) Expunge(uids []uint32) ([]uint32, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.writable("expunging"); err != nil {
		return nil, err
	}
	if len(uids) == 0 {
		return nil, nil // nil is not "everything" here
	}
	gone, err := v.fs.expunge(v.w, v.knownUIDs(uids), false, false)
	v.forget(gone)
	return gone, err
}

// ExpungeDeleted removes the known messages with FlagDeleted among uids,
// or all of them for nil (IMAP EXPUNGE, UID EXPUNGE, CLOSE), and returns
// the UIDs removed in ascending order.
func (v *View) ExpungeDeleted(uids []uint32) ([]uint32, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.writable("expunging"); err != nil {
		return nil, err
	}
	known := v.knownUIDs(uids)
	if len(known) == 0 {
		return nil, nil
	}
	gone, err := v.fs.expunge(v.w, known, false, true)
	v.forget(gone)
	return gone, err
}

// CopyTo copies known messages into dst; see Folder.CopyTo. Copies into
// the View's own folder come back from Updates as EventNew.
func (v *View) CopyTo(uids []uint32, dst *Folder) ([]UIDPair, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	return transfer(v.w, v.fs, dst.fs, v.knownUIDs(uids), false)
}

// MoveTo moves known messages into dst (RFC 6851); the session reports
// their expunges itself, other sessions get EventExpunge.
func (v *View) MoveTo(uids []uint32, dst *Folder) ([]UIDPair, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.writable("moving"); err != nil {
		return nil, err
	}
	pairs, err := transfer(v.w, v.fs, dst.fs, v.knownUIDs(uids), true)
	for _, p := range pairs {
		delete(v.known, p.Src)
		delete(v.recent, p.Src)
	}
	return pairs, err
}

// Close ends the View and its Watch. Closing twice is fine.
func (v *View) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	v.w.Close()
	return nil
}
