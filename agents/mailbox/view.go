package mailbox

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"time"
	"weak"
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
//
// A View holds per message only a pointer to data every View of the
// folder shares and the flags its session was told: 9 octets, and not even
// that while it agrees with the folder: Views that know the folder as it is
// share one immutable snapshot of those two arrays (and of the UIDs, for
// the IMAP server), and a View copies them only when its session's
// knowledge departs from the folder's (copy on write, see own). With 1,000
// IMAP sessions idling on one 1,000-message INBOX that is 13 KB per
// session saved (8 KB of pointers, 1 KB of flags, 4 KB of UIDs).
type View struct {
	fs       *folderState
	w        *Watch
	readOnly bool
	validity uint32
	// selRecent is, for a read-only View, the first unclaimed UID as of
	// Select: Messages shows the messages from it on as recent.
	selRecent uint32

	mu    sync.Mutex
	msgs  []*msgData // what the session has been told, ascending UID
	flags []Flags    // the flags it was told, parallel to msgs
	// snap is set while msgs and flags are snap's arrays, shared with
	// other Views: they must not be modified (own copies them first).
	snap   *viewSnap
	recent []uidRange // read-write: the UIDs claimed as recent by this View
	closed bool
}

// viewSnap is a folder's messages as Views know them (msgs and flags as
// in View) and their UIDs, shared by every View that knows exactly that.
// It is never modified once made.
type viewSnap struct {
	msgs  []*msgData
	flags []Flags
	uids  []uint32
}

// snaps holds the latest snapshot of each folder, weakly: a snapshot lives
// as long as a View uses it, and a folder's entry is replaced when the
// folder changed. Keys are weak too, so that a deleted folder's state is
// not kept; dead entries are dropped when the map has doubled.
var snaps struct {
	mu    sync.Mutex
	m     map[weak.Pointer[folderState]]weak.Pointer[viewSnap]
	purge int // purge dead entries when len(m) reaches it
}

// snapLocked returns a snapshot of fs.msgs as a View knows them right
// after Select: the cached one when it still matches (len(fs.msgs)
// comparisons, no allocation), or a new one. Called with fs.mu held.
func (fs *folderState) snapLocked() *viewSnap {
	if sn := cachedSnap(fs); sn != nil && fs.matchesLocked(sn.msgs, sn.flags) {
		return sn
	}
	msgs := make([]*msgData, len(fs.msgs))
	flags := make([]Flags, len(fs.msgs))
	for i := range fs.msgs {
		msgs[i] = fs.shareLocked(i)
		flags[i] = fs.msgs[i].flags
	}
	return cacheSnap(fs, msgs, flags)
}

// cachedSnap returns the latest snapshot made of fs, if it is still used.
func cachedSnap(fs *folderState) *viewSnap {
	snaps.mu.Lock()
	defer snaps.mu.Unlock()
	return snaps.m[weak.Make(fs)].Value()
}

// cacheSnap makes msgs and flags (never to be modified again) a snapshot,
// fs's latest.
func cacheSnap(fs *folderState, msgs []*msgData, flags []Flags) *viewSnap {
	sn := &viewSnap{msgs: slices.Clip(msgs), flags: slices.Clip(flags), uids: make([]uint32, len(msgs))}
	for i, d := range msgs {
		sn.uids[i] = d.uid
	}
	snaps.mu.Lock()
	defer snaps.mu.Unlock()
	if snaps.m == nil {
		snaps.m = make(map[weak.Pointer[folderState]]weak.Pointer[viewSnap])
	}
	if len(snaps.m) >= snaps.purge {
		for k, v := range snaps.m {
			if k.Value() == nil || v.Value() == nil {
				delete(snaps.m, k)
			}
		}
		snaps.purge = max(2*len(snaps.m), 16)
	}
	snaps.m[weak.Make(fs)] = weak.Make(sn)
	return sn
}

// matchesLocked reports whether msgs and flags are the folder's messages
// as they are now (the same shared data, the same flags). Called with
// fs.mu held.
func (fs *folderState) matchesLocked(msgs []*msgData, flags []Flags) bool {
	if len(msgs) != len(fs.msgs) {
		return false
	}
	for i := range fs.msgs {
		if flags[i] != fs.msgs[i].flags || msgs[i] != fs.shareLocked(i) {
			return false
		}
	}
	return true
}

// own makes msgs and flags the View's own, before a change.
func (v *View) own() {
	if v.snap != nil {
		v.msgs = slices.Clone(v.msgs)
		v.flags = slices.Clone(v.flags)
		v.snap = nil
	}
}

// reshare makes a View with its own copy share a snapshot again when it
// knows what one holds: after the updates every session takes (a delivery,
// a flag change) the sessions converge on one snapshot instead of keeping
// a copy each. It compares the View with the folder's latest snapshot
// first (two slice comparisons, no lock). Failing that, when the View
// knows the folder as it is now, its arrays become the folder's snapshot,
// for the others to adopt. That comparison costs len(msgs) steps under the
// folder's lock, so it is only made when the session has taken every
// change signalled to it (Ready empty): the sessions of a busy folder, a
// few changes behind at every update, would pay it for nothing (in the
// 50-client mixed load of bench/imap.sh, some 1,300 STOREs a second each
// made 49 other sessions compare 1,000 messages, at some 15 ns each: most
// of a core). Called with v.mu held, and v.fs.mu when fsLocked.
func (v *View) reshare(fsLocked bool) {
	if v.snap != nil {
		return
	}
	if sn := cachedSnap(v.fs); sn != nil && slices.Equal(sn.msgs, v.msgs) && slices.Equal(sn.flags, v.flags) {
		v.msgs, v.flags, v.snap = sn.msgs, sn.flags, sn
		return
	}
	if len(v.w.Ready()) > 0 {
		return
	}
	if !fsLocked {
		v.fs.mu.Lock()
		defer v.fs.mu.Unlock()
	}
	if v.fs.matchesLocked(v.msgs, v.flags) {
		sn := cacheSnap(v.fs, v.msgs, v.flags)
		v.msgs, v.flags, v.snap = sn.msgs, sn.flags, sn
	}
}

// uidRange is the UIDs from lo up to hi, hi excluded.
type uidRange struct{ lo, hi uint32 }

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
	v := &View{fs: fs, readOnly: readOnly, validity: fs.validity, selRecent: fs.firstRecent}
	if !readOnly {
		if err := v.claimLocked(); err != nil {
			return nil, err
		}
	}
	sn := fs.snapLocked()
	v.msgs, v.flags, v.snap = sn.msgs, sn.flags, sn
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
	if n := len(v.recent); n > 0 && v.recent[n-1].hi == fs.firstRecent {
		v.recent[n-1].hi = fs.next
	} else {
		v.recent = append(v.recent, uidRange{fs.firstRecent, fs.next})
	}
	fs.firstRecent = fs.next
	return fs.saveLocked()
}

// claimed reports whether uid is among the UIDs v claimed.
func (v *View) claimed(uid uint32) bool {
	i := sort.Search(len(v.recent), func(i int) bool { return v.recent[i].hi > uid })
	return i < len(v.recent) && v.recent[i].lo <= uid
}

func (v *View) isRecentLocked(uid uint32) bool {
	if v.readOnly {
		return uid >= v.fs.firstRecent
	}
	return v.claimed(uid)
}

// find returns the index of uid in v.msgs, or where it would go and false.
func (v *View) find(uid uint32) (int, bool) {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= uid })
	return i, i < len(v.msgs) && v.msgs[i].uid == uid
}

// learn adds a message the session is told about.
func (v *View) learn(d *msgData, f Flags) {
	v.own()
	i, ok := v.find(d.uid)
	if ok {
		v.flags[i] = f
		return
	}
	v.msgs = slices.Insert(v.msgs, i, d)
	v.flags = slices.Insert(v.flags, i, f)
}

// forget drops the messages with uids from what the session knows.
func (v *View) forget(uids []uint32) {
	if len(uids) == 0 {
		return
	}
	v.own()
	if len(uids) == 1 {
		if i, ok := v.find(uids[0]); ok {
			v.msgs = slices.Delete(v.msgs, i, i+1)
			v.flags = slices.Delete(v.flags, i, i+1)
			v.trim()
		}
		return
	}
	gone := make(map[uint32]bool, len(uids))
	for _, uid := range uids {
		if _, ok := v.find(uid); ok {
			gone[uid] = true
		}
	}
	if len(gone) == 0 {
		return
	}
	n := 0
	for i, d := range v.msgs {
		if !gone[d.uid] {
			v.msgs[n], v.flags[n] = d, v.flags[i]
			n++
		}
	}
	clear(v.msgs[n:])
	v.msgs, v.flags = v.msgs[:n], v.flags[:n]
	v.trim()
}

// trim gives back the memory of a View that has forgotten many messages.
func (v *View) trim() {
	if c := cap(v.msgs); c > 64 && len(v.msgs) < c/4 {
		v.msgs = slices.Clip(slices.Clone(v.msgs))
		v.flags = slices.Clip(slices.Clone(v.flags))
	}
}

// info is the MessageInfo of v.msgs[i] as the session knows it.
func (v *View) info(i int, recent bool) MessageInfo {
	d := v.msgs[i]
	return MessageInfo{UID: d.uid, Key: d.key, Flags: v.flags[i], Size: d.size, Date: d.date, Recent: recent}
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

// Messages returns the messages the session knows, in UID order (message
// sequence number n is index n-1): those of Select until the session takes
// Updates or changes the folder through the View. After Select, follow
// Updates.
func (v *View) Messages() []MessageInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]MessageInfo, len(v.msgs))
	for i, d := range v.msgs {
		recent := d.uid >= v.selRecent
		if !v.readOnly {
			recent = v.claimed(d.uid)
		}
		out[i] = v.info(i, recent)
	}
	return out
}

// Lookup returns, for each of uids, the message as the session knows it
// (like Messages, but only those asked for), and whether the session knows
// it; an unknown UID gives the zero MessageInfo and false. It costs a
// binary search per UID, not a copy of the folder.
func (v *View) Lookup(uids []uint32) ([]MessageInfo, []bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]MessageInfo, len(uids))
	known := make([]bool, len(uids))
	for k, uid := range uids {
		i, ok := v.find(uid)
		if !ok {
			continue
		}
		recent := uid >= v.selRecent
		if !v.readOnly {
			recent = v.claimed(uid)
		}
		out[k], known[k] = v.info(i, recent), true
	}
	return out, known
}

// Flags returns the flags the session was told the message with uid has,
// and whether the session knows that message.
func (v *View) Flags(uid uint32) (Flags, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i, ok := v.find(uid); ok {
		return v.flags[i], true
	}
	return 0, false
}

// UIDs returns the UIDs of the messages the session knows, ascending.
func (v *View) UIDs() []uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.uidsLocked()
}

// SharedUIDs is UIDs, but returns the array shared by every View of the
// folder that knows the same messages when there is one: the caller must
// not modify it (its capacity is its length, so an append copies). The
// IMAP server keeps it as the session's sequence numbers at SELECT.
func (v *View) SharedUIDs() []uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.snap != nil {
		return slices.Clip(v.snap.uids)
	}
	return v.uidsLocked()
}

func (v *View) uidsLocked() []uint32 {
	out := make([]uint32, len(v.msgs))
	for i, d := range v.msgs {
		out[i] = d.uid
	}
	return out
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
	locked := false
	defer func() {
		if locked {
			v.fs.mu.Unlock()
		}
	}()
	var firstRecent uint32
	for _, ev := range evs {
		uid := ev.Message.UID
		switch ev.Kind {
		case EventNew:
			if _, ok := v.find(uid); ok {
				continue
			}
			if !locked {
				// One claim covers every UID published so far.
				v.fs.mu.Lock()
				locked = true
				if !v.readOnly && !v.fs.gone {
					if err := v.claimLocked(); err != nil {
						return out, err
					}
				}
				firstRecent = v.fs.firstRecent
			}
			if v.readOnly {
				ev.Message.Recent = uid >= firstRecent
			} else {
				ev.Message.Recent = v.claimed(uid)
			}
			v.learn(v.sharedLocked(ev.Message), ev.Message.Flags)
		case EventExpunge:
			if _, ok := v.find(uid); !ok {
				continue
			}
			v.forget([]uint32{uid})
		case EventFlags:
			i, ok := v.find(uid)
			if !ok || v.flags[i] == ev.Message.Flags {
				continue
			}
			v.own()
			ev.Old = v.flags[i]
			v.flags[i] = ev.Message.Flags
			ev.Message.Recent = !v.readOnly && v.claimed(uid)
		}
		out = append(out, ev)
	}
	if len(out) > 0 {
		v.reshare(locked)
	}
	return out, nil
}

// sharedLocked returns the folder's shared data of the message m
// describes, or new data when the folder no longer has it. Called with
// v.fs.mu held.
func (v *View) sharedLocked(m MessageInfo) *msgData {
	fs := v.fs
	if i := fs.find(m.UID); i >= 0 && fs.msgs[i].key == m.Key {
		return fs.shareLocked(i)
	}
	return &msgData{uid: m.UID, key: m.Key, size: m.Size, date: m.Date}
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
	// Known messages the folder no longer has are expunged, first.
	var out []Event
	j := 0
	for _, d := range v.msgs {
		for j < len(fs.msgs) && fs.msgs[j].uid < d.uid {
			j++
		}
		if j == len(fs.msgs) || fs.msgs[j].uid != d.uid {
			out = append(out, Event{Kind: EventExpunge, Message: MessageInfo{UID: d.uid}})
		}
	}
	// Then the folder's messages the session does not know, or knows
	// with other flags; the session knows the folder as it is after.
	for i := range fs.msgs {
		e := &fs.msgs[i]
		k, ok := v.find(e.uid)
		switch {
		case !ok:
			out = append(out, Event{Kind: EventNew, Message: e.info(v.isRecentLocked(e.uid))})
		case v.flags[k] != e.flags:
			out = append(out, Event{Kind: EventFlags, Message: e.info(!v.readOnly && v.claimed(e.uid)), Old: v.flags[k]})
		}
	}
	sn := fs.snapLocked()
	v.msgs, v.flags, v.snap = sn.msgs, sn.flags, sn
	return out, nil
}

// Rescan reads the folder's directories now, to find what other programs
// changed (a file dropped into new/ by hand, a message deleted by another
// MUA); what it finds comes out of Updates. IMAP servers call it for NOOP
// and when IDLE starts; deliveries through Deliver need no Rescan. When
// stat says neither directory changed since the last reading, it reads
// neither (three stat calls in all).
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
		out = make([]uint32, len(v.msgs))
		for i, d := range v.msgs {
			out[i] = d.uid
		}
		return out
	}
	for _, uid := range uids {
		if _, ok := v.find(uid); ok {
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
		if k, ok := v.find(res[i].UID); ok && v.flags[k] != res[i].Flags {
			v.own()
			v.flags[k] = res[i].Flags
		}
		res[i].Recent = v.claimed(res[i].UID)
	}
	if len(res) > 0 {
		v.reshare(false)
	}
	return res, err
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
	moved := make([]uint32, len(pairs))
	for i, p := range pairs {
		moved[i] = p.Src
	}
	v.forget(moved)
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
