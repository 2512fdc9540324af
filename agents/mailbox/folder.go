package mailbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of folder operations; test with errors.Is.
var (
	// ErrNoFolder: the folder does not exist (or was deleted or renamed
	// while in use).
	ErrNoFolder = errors.New("mailbox: no such folder")
	// ErrFolderExists: CreateFolder or RenameFolder to a name in use.
	ErrFolderExists = errors.New("mailbox: folder exists")
	// ErrHasChildren: DeleteFolder of a name that has inferior names and
	// no messages of its own (RFC 3501 section 6.3.4).
	ErrHasChildren = errors.New("mailbox: folder has inferior names")
	// ErrNotAllowed: deleting INBOX, renaming a folder into itself,
	// changing a read-only View.
	ErrNotAllowed = errors.New("mailbox: operation not allowed")
	// ErrNoMessage: no message has that UID (any more).
	ErrNoMessage = errors.New("mailbox: no such message")
	// ErrTooBig: the message is larger than the caller's limit.
	ErrTooBig = errors.New("mailbox: message too big")
	// ErrClosed: the View or Watch was closed.
	ErrClosed = errors.New("mailbox: closed")
)

// MessageInfo describes one message of a folder.
type MessageInfo struct {
	// UID is the message's unique identifier in the folder (RFC 3501
	// section 2.3.1.1): ascending in delivery order, never reused while
	// the folder keeps its UIDVALIDITY.
	UID uint32
	// Key is the file name before ":2,"; it does not change when flags
	// do, and is unique in the folder.
	Key string
	// Flags are the flags in the file name.
	Flags Flags
	// Size is the size of the file in octets: the message exactly as Read
	// returns it (CRLF line endings as delivered).
	Size int64
	// Date is the internal date (RFC 3501 section 2.3.3): the time in the
	// file name (delivery time, or the date given to Append), else the
	// file's modification time.
	Date time.Time
	// Recent is the IMAP \Recent flag (RFC 3501 section 2.3.2): in a
	// View, whether this session is the one that sees the message as
	// recent; in Folder.Messages, whether no session has seen it yet.
	Recent bool
}

// Status is what IMAP STATUS reports (RFC 3501 section 6.3.10).
type Status struct {
	Messages    uint32
	Recent      uint32 // messages no session has reported as recent yet
	Unseen      uint32 // messages without FlagSeen
	UIDNext     uint32
	UIDValidity uint32
}

// UIDPair is one source → destination UID mapping of a copy or move, as
// UIDPLUS reports it in COPYUID (RFC 4315 section 3).
type UIDPair struct {
	Src, Dst uint32
}

// entry is a message as the folder state knows it.
type entry struct {
	uid   uint32
	key   string
	sub   string // "new" or "cur"; "" until the file has been seen
	name  string // file name in sub
	flags Flags
	extra string // info letters the store does not interpret
	size  int64
	date  time.Time
	// shared is what Views hold of this message (see shareLocked); nil
	// until a View needs it, and replaced when it no longer matches.
	shared *msgData
}

// msgData is what every session of a folder shares about one message: the
// parts that never change while it has its UID. It is never modified once
// a View holds it, so Views read it without a lock; a View keeps only a
// pointer to it and the flags it told its session.
type msgData struct {
	uid  uint32
	key  string
	size int64
	date time.Time
}

// shareLocked returns the shared data of msgs[i], making it when the entry
// has none or has changed since (a renumbering, a size or date filled in).
func (fs *folderState) shareLocked(i int) *msgData {
	e := &fs.msgs[i]
	if d := e.shared; d != nil && d.uid == e.uid && d.key == e.key && d.size == e.size && d.date.Equal(e.date) {
		return d
	}
	e.shared = &msgData{uid: e.uid, key: e.key, size: e.size, date: e.date}
	return e.shared
}

func (e *entry) path(dir string) string { return filepath.Join(dir, e.sub, e.name) }

func (e *entry) info(recent bool) MessageInfo {
	return MessageInfo{UID: e.uid, Key: e.key, Flags: e.flags, Size: e.size, Date: e.date, Recent: recent}
}

// fileID tells whether the UID list changed on disk since it was read.
type fileID struct {
	size  int64
	mtime time.Time
	ino   uint64
}

// folderState is the shared in-memory state of one folder: every Folder
// and View of it in the process points to the same one. mu serialises
// every change of the folder's files and UID list in this process.
type folderState struct {
	s    *Store
	u    *userState
	name string // canonical folder name
	dir  string // absolute directory
	hub  hub

	mu          sync.Mutex
	gone        bool
	scanned     bool // msgs hold the files as of a scan
	listID      fileID
	validity    uint32
	next        uint32
	firstRecent uint32
	msgs        []entry // ascending UID
	// dirs are cur/ and new/ as the last reading of them (and this
	// process's own changes since) left them; see dirsUnchangedLocked.
	dirs     [2]dirState
	lastRead time.Time // when the last reading of the directories started
	// delivered counts Deliver's changes of new/ (Store.markDelivery);
	// readDelivered is its value as of the last reading.
	delivered     atomic.Uint64
	readDelivered uint64
}

// find returns the index of uid in msgs, or -1.
func (fs *folderState) find(uid uint32) int {
	i := sort.Search(len(fs.msgs), func(i int) bool { return fs.msgs[i].uid >= uid })
	if i < len(fs.msgs) && fs.msgs[i].uid == uid {
		return i
	}
	return -1
}

func (fs *folderState) uidListID() (fileID, error) {
	st, err := os.Stat(filepath.Join(fs.dir, uidListFile))
	if err != nil {
		return fileID{}, err
	}
	return fileID{size: st.Size(), mtime: st.ModTime(), ino: inode(st)}, nil
}

// readyLocked makes msgs match the disk unless nothing can have changed
// it: a scan has run and the UID list is the one this process wrote or
// read last. Files other programs add are seen by scanLocked, not here.
func (fs *folderState) readyLocked(origin *Watch) error {
	if fs.gone {
		return fmt.Errorf("%w: %q", ErrNoFolder, fs.name)
	}
	if fs.scanned {
		if id, err := fs.uidListID(); err == nil && id == fs.listID {
			return nil
		}
	}
	return fs.scanLocked(origin, false)
}

// loadLocked reads the UID list if it changed on disk (or was never
// read), creating it with a new UIDVALIDITY when it is missing or its
// header is unreadable. It reports whether msgs were replaced.
func (fs *folderState) loadLocked() (bool, error) {
	path := filepath.Join(fs.dir, uidListFile)
	id, err := fs.uidListID()
	if err == nil && fs.validity != 0 && id == fs.listID {
		return false, nil
	}
	var l uidList
	if err == nil {
		var b []byte
		b, err = os.ReadFile(path)
		if err == nil {
			l, err = parseUIDList(b)
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errBadUIDList) {
		return false, fmt.Errorf("mailbox: reading UID list of %q: %w", fs.name, err)
	}
	fresh := err != nil
	if fresh {
		// RFC 3501 section 2.3.1.1: the UIDs cannot be kept, so the
		// folder gets a new, greater UIDVALIDITY and numbers from 1.
		v, err := fs.u.newUIDValidity()
		if err != nil {
			return false, err
		}
		l = uidList{validity: v, next: 1, firstRecent: 1}
	}
	old := make(map[string]*entry, len(fs.msgs))
	for i := range fs.msgs {
		old[fs.msgs[i].key] = &fs.msgs[i]
	}
	msgs := make([]entry, 0, len(l.entries))
	for _, le := range l.entries {
		e := entry{uid: le.uid, key: le.key, size: -1}
		if o := old[le.key]; o != nil && o.uid == le.uid {
			e = *o
		}
		msgs = append(msgs, e)
	}
	fs.validity, fs.next, fs.firstRecent, fs.msgs = l.validity, l.next, l.firstRecent, msgs
	fs.scanned = false
	fs.listID = id
	if fresh {
		if err := fs.saveLocked(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// saveLocked writes the UID list (atomically, durably) and remembers its
// identity.
func (fs *folderState) saveLocked() error {
	l := uidList{validity: fs.validity, next: fs.next, firstRecent: fs.firstRecent}
	l.entries = make([]uidEntry, len(fs.msgs))
	for i, e := range fs.msgs {
		l.entries[i] = uidEntry{uid: e.uid, key: e.key}
	}
	if err := writeFileAtomic(fs.dir, uidListFile, l.marshal(), fs.s.opts.NoSync); err != nil {
		return err
	}
	id, err := fs.uidListID()
	if err != nil {
		return fmt.Errorf("mailbox: UID list of %q: %w", fs.name, err)
	}
	fs.listID = id
	return nil
}

type fileRef struct {
	sub, name string
}

// readFiles lists the message files of new/ and cur/ by key. Dot-files are
// skipped (Maildir specification); a key in both new/ and cur/ (a copy
// made by another program) counts once, cur/ first.
func readFiles(dir string, sizeHint int) (map[string]fileRef, error) {
	dirReads.Add(1)
	files := make(map[string]fileRef, sizeHint)
	for _, sub := range []string{"cur", "new"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailbox: listing %s: %w", sub, err)
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("mailbox: listing %s: %w", sub, err)
		}
		for _, e := range ents {
			name := e.Name()
			if name[0] == '.' || !e.Type().IsRegular() {
				continue
			}
			key, _, _ := splitName(name)
			if !validKey(key) {
				continue
			}
			if _, dup := files[key]; !dup {
				files[key] = fileRef{sub, name}
			}
		}
	}
	return files, nil
}

// orderKey sorts files without a UID in delivery order: the time in the
// name, then the delivery counter (Q), then the name.
type orderKey struct {
	sec, usec, q int64
	name         string
}

func deliveryOrder(name string) orderKey {
	sec, usec := timeFromName(name)
	k := orderKey{sec: sec, usec: usec, name: name}
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		mid := name[dot+1:]
		if end := strings.IndexByte(mid, '.'); end >= 0 {
			mid = mid[:end]
		}
		if q := strings.IndexByte(mid, 'Q'); q >= 0 {
			k.q, _ = strconv.ParseInt(mid[q+1:], 10, 64)
		}
	}
	return k
}

func (a orderKey) less(b orderKey) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.usec != b.usec {
		return a.usec < b.usec
	}
	if a.q != b.q {
		return a.q < b.q
	}
	return a.name < b.name
}

// fillLocked sets the size and date of e from its name, or from stat.
func (fs *folderState) fill(e *entry) {
	size, ok := sizeFromName(e.key)
	sec, usec := timeFromName(e.key)
	if ok {
		e.size = size
	}
	if sec > 0 {
		e.date = time.Unix(sec, usec*1000)
	}
	if ok && sec > 0 {
		return
	}
	st, err := os.Stat(e.path(fs.dir))
	if err != nil {
		if e.size < 0 {
			e.size = 0
		}
		return
	}
	if !ok {
		e.size = st.Size()
	}
	if sec <= 0 {
		e.date = st.ModTime()
	}
}

// scanLocked reconciles the UID list with the files (Maildir
// specification: the directory is the truth): listed keys whose file is
// gone are dropped, files without a UID get the next UIDs in delivery
// order, flags are read from the names. With moveNew, files in new/ move
// to cur/ (Maildir specification: a reader that has seen new mail moves
// it). Changes are published to every watcher but origin.
func (fs *folderState) scanLocked(origin *Watch, moveNew bool) error {
	if fs.gone {
		return fmt.Errorf("%w: %q", ErrNoFolder, fs.name)
	}
	wasScanned := fs.scanned
	reloaded, err := fs.loadLocked()
	if err != nil {
		return err
	}
	if !reloaded && fs.dirsUnchangedLocked() {
		// Nothing changed on disk that the state does not hold.
		if moveNew {
			return fs.moveNewLocked()
		}
		return nil
	}
	start := time.Now()
	delivered := fs.delivered.Load()
	stamps := fs.statDirsLocked()
	files, err := readFiles(fs.dir, len(fs.msgs)+16)
	if err != nil {
		return err
	}
	// Events only make sense relative to a state readers knew.
	notify := wasScanned && !reloaded
	var evs []Event
	changed := false
	msgs := fs.msgs[:0:0]
	msgs = append(msgs, fs.msgs...)
	out := msgs[:0]
	for _, e := range msgs {
		f, ok := files[e.key]
		if !ok {
			changed = true
			evs = append(evs, Event{Kind: EventExpunge, Message: MessageInfo{UID: e.uid}})
			continue
		}
		delete(files, e.key)
		if f.name != e.name || f.sub != e.sub {
			known := e.sub != ""
			_, flags, extra := splitName(f.name)
			e.sub, e.name, e.extra = f.sub, f.name, extra
			if known && flags != e.flags {
				e.flags = flags
				evs = append(evs, Event{Kind: EventFlags, Message: e.info(false)})
			}
			e.flags = flags
		}
		if e.size < 0 || e.date.IsZero() {
			fs.fill(&e)
		}
		out = append(out, e)
	}
	if len(files) > 0 {
		fresh := make([]entry, 0, len(files))
		for key, f := range files {
			_, flags, extra := splitName(f.name)
			fresh = append(fresh, entry{key: key, sub: f.sub, name: f.name, flags: flags, extra: extra, size: -1})
		}
		sort.Slice(fresh, func(i, j int) bool {
			return deliveryOrder(fresh[i].key).less(deliveryOrder(fresh[j].key))
		})
		if uint64(fs.next)+uint64(len(fresh)) > uint64(^uint32(0)) {
			// RFC 3501 section 2.3.1.1: out of UIDs, so a new UIDVALIDITY
			// and everything renumbered from 1.
			v, err := fs.u.newUIDValidity()
			if err != nil {
				return err
			}
			fs.validity, fs.next, fs.firstRecent = v, 1, 1
			for i := range out {
				out[i].uid = fs.next
				fs.next++
			}
			notify = false
			fs.hub.publish(nil, Event{Kind: EventResync})
		}
		for _, e := range fresh {
			e.uid = fs.next
			fs.next++
			fs.fill(&e)
			out = append(out, e)
			evs = append(evs, Event{Kind: EventNew, Message: e.info(false)})
		}
		changed = true
	}
	fs.msgs = out
	fs.scanned = true
	fs.readDirsLocked(start, stamps)
	fs.readDelivered = delivered
	var moveErr error
	if moveNew {
		moveErr = fs.moveNewLocked()
	}
	if changed {
		if err := fs.saveLocked(); err != nil {
			return err
		}
	}
	if reloaded && wasScanned {
		// Another process rewrote the list: what readers knew may not hold.
		fs.hub.publish(nil, Event{Kind: EventResync})
	}
	if notify {
		fs.hub.publish(origin, evs...)
	}
	return moveErr
}

// moveNewLocked moves the files of new/ to cur/ (Maildir specification: a
// reader that has seen new mail moves it).
func (fs *folderState) moveNewLocked() error {
	var pre [2]dirStamp
	moved := false
	defer func() {
		if moved {
			fs.adoptLocked(pre)
		}
	}()
	for i := range fs.msgs {
		e := &fs.msgs[i]
		if e.sub != "new" {
			continue
		}
		if !moved {
			pre = fs.statDirsLocked()
			moved = true
		}
		name := curName(e.key, e.flags, e.extra)
		if err := os.Rename(e.path(fs.dir), filepath.Join(fs.dir, "cur", name)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				fs.forgetDirsLocked()
				continue // moved by someone else: the next scan finds it
			}
			return fmt.Errorf("mailbox: moving %s to cur/: %w", e.key, err)
		}
		e.sub, e.name = "cur", name
	}
	return nil
}

// sortedUIDs returns uids ascending without duplicates.
func sortedUIDs(uids []uint32) []uint32 {
	out := append([]uint32(nil), uids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	n := 0
	for i, u := range out {
		if i == 0 || u != out[n-1] {
			out[n] = u
			n++
		}
	}
	return out[:n]
}

// setFlags changes the flags of uids; UIDs that do not exist are skipped
// (RFC 3501 section 6.4.6 leaves them out of the answer). A flag change
// renames the file into cur/ and is not fsynced: a crash may lose it but
// never the message.
func (fs *folderState) setFlags(origin *Watch, uids []uint32, op FlagOp, f Flags) ([]MessageInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.readyLocked(origin); err != nil {
		return nil, err
	}
	var out []MessageInfo
	var evs []Event
	retried := false
	var pre [2]dirStamp
	renamed := false
	defer func() {
		if renamed {
			fs.adoptLocked(pre)
		}
	}()
	for _, uid := range sortedUIDs(uids) {
		i := fs.find(uid)
		if i < 0 {
			continue
		}
		e := &fs.msgs[i]
		nf := op.apply(e.flags, f)
		name := curName(e.key, nf, e.extra)
		if e.sub != "cur" || e.name != name {
			if !renamed {
				pre, renamed = fs.statDirsLocked(), true
			}
			err := os.Rename(e.path(fs.dir), filepath.Join(fs.dir, "cur", name))
			if errors.Is(err, os.ErrNotExist) && !retried {
				// Renamed or removed by another program: look again.
				retried = true
				fs.forgetDirsLocked()
				if err := fs.scanLocked(origin, false); err != nil {
					return out, err
				}
				if i = fs.find(uid); i < 0 {
					continue
				}
				e = &fs.msgs[i]
				nf = op.apply(e.flags, f)
				name = curName(e.key, nf, e.extra)
				err = os.Rename(e.path(fs.dir), filepath.Join(fs.dir, "cur", name))
			}
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("mailbox: changing flags of UID %d: %w", uid, err)
			}
			e.sub, e.name = "cur", name
		}
		changed := nf != e.flags
		e.flags = nf
		out = append(out, e.info(false))
		if changed {
			evs = append(evs, Event{Kind: EventFlags, Message: e.info(false)})
		}
	}
	fs.hub.publish(origin, evs...)
	return out, nil
}

// expunge removes the files of uids (all messages when all is set), only
// those with FlagDeleted when onlyDeleted. It returns the UIDs removed.
func (fs *folderState) expunge(origin *Watch, uids []uint32, all, onlyDeleted bool) ([]uint32, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.readyLocked(origin); err != nil {
		return nil, err
	}
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	var gone []uint32
	var evs []Event
	keep := fs.msgs[:0:0]
	var firstErr error
	pre := fs.statDirsLocked()
	defer fs.adoptLocked(pre)
	for _, e := range fs.msgs {
		if (!all && !want[e.uid]) || (onlyDeleted && e.flags&FlagDeleted == 0) {
			keep = append(keep, e)
			continue
		}
		err := os.Remove(e.path(fs.dir))
		if errors.Is(err, os.ErrNotExist) {
			// Gone already, or renamed by another program: look again
			// at the next scan.
			fs.forgetDirsLocked()
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			if firstErr == nil {
				firstErr = fmt.Errorf("mailbox: expunging UID %d: %w", e.uid, err)
			}
			keep = append(keep, e)
			continue
		}
		gone = append(gone, e.uid)
		evs = append(evs, Event{Kind: EventExpunge, Message: MessageInfo{UID: e.uid}})
	}
	if len(gone) == 0 {
		return nil, firstErr
	}
	fs.msgs = keep
	if !fs.s.opts.NoSync {
		for _, sub := range []string{"cur", "new"} {
			if err := syncDir(filepath.Join(fs.dir, sub)); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("mailbox: fsync after expunge: %w", err)
			}
		}
	}
	if err := fs.saveLocked(); err != nil && firstErr == nil {
		firstErr = err
	}
	fs.hub.publish(origin, evs...)
	return gone, firstErr
}

// status counts the folder after a scan.
func (fs *folderState) status() (Status, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.scanLocked(nil, false); err != nil {
		return Status{}, err
	}
	st := Status{Messages: uint32(len(fs.msgs)), UIDNext: fs.next, UIDValidity: fs.validity}
	for _, e := range fs.msgs {
		if e.flags&FlagSeen == 0 {
			st.Unseen++
		}
		if e.uid >= fs.firstRecent {
			st.Recent++
		}
	}
	return st, nil
}

// messages lists the folder after a scan; Recent means unclaimed.
func (fs *folderState) messages() ([]MessageInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.scanLocked(nil, false); err != nil {
		return nil, err
	}
	out := make([]MessageInfo, len(fs.msgs))
	for i := range fs.msgs {
		out[i] = fs.msgs[i].info(fs.msgs[i].uid >= fs.firstRecent)
	}
	return out, nil
}

// open opens the file of uid, looking again if it was renamed meanwhile.
// The open file stays readable whatever happens to its name afterwards.
func (fs *folderState) open(uid uint32) (*os.File, MessageInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.readyLocked(nil); err != nil {
		return nil, MessageInfo{}, err
	}
	for try := 0; try < 2; try++ {
		i := fs.find(uid)
		if i < 0 {
			break
		}
		e := &fs.msgs[i]
		f, err := os.Open(e.path(fs.dir))
		if err == nil {
			return f, e.info(false), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, MessageInfo{}, fmt.Errorf("mailbox: opening UID %d: %w", uid, err)
		}
		fs.forgetDirsLocked()
		if err := fs.scanLocked(nil, false); err != nil {
			return nil, MessageInfo{}, err
		}
	}
	return nil, MessageInfo{}, fmt.Errorf("%w: UID %d in %q", ErrNoMessage, uid, fs.name)
}

// read returns the bytes of uid, refusing more than max octets.
func (fs *folderState) read(uid uint32, max int64) ([]byte, error) {
	f, info, err := fs.open(uid)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if max <= 0 {
		max = DefaultMaxReadBytes
	}
	if st, err := f.Stat(); err == nil && st.Size() > max {
		return nil, fmt.Errorf("%w: UID %d is %d octets, limit %d", ErrTooBig, uid, st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("mailbox: reading UID %d: %w", info.UID, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: UID %d is over %d octets", ErrTooBig, uid, max)
	}
	return b, nil
}

// DefaultMaxReadBytes is the limit of Read when the caller gives none:
// 64 MiB, above what the lab's MTAs accept.
const DefaultMaxReadBytes = 64 << 20

// newKey returns a fresh unique key for a message of size octets dated t,
// in Deliver's format.
func (s *Store) newKey(t time.Time, size int64) string {
	sec := t.Unix()
	if sec < 0 {
		sec, t = 0, time.Unix(0, 0)
	}
	return fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d", sec, t.Nanosecond()/1000, s.opts.PID, deliveries.Add(1), s.host, size)
}

// writeTmp writes r into a new file in dir/tmp, flushed to disk unless
// NoSync, and returns its path and size.
func (s *Store) writeTmp(dir string, r io.Reader) (string, int64, error) {
	f, err := os.CreateTemp(filepath.Join(dir, "tmp"), "append.*")
	if err != nil {
		return "", 0, fmt.Errorf("mailbox: creating a file in tmp/: %w", err)
	}
	tmp := f.Name()
	w := bufio.NewWriterSize(f, 64<<10)
	n, err := io.Copy(w, r)
	if err == nil {
		err = w.Flush()
	}
	if err == nil && !s.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", 0, fmt.Errorf("mailbox: writing message: %w", err)
	}
	return tmp, n, nil
}

// append stores a message in cur/ with flags, dated date, durably, and
// gives it the next UID.
func (fs *folderState) append(origin *Watch, r io.Reader, flags Flags, date time.Time) (uint32, error) {
	if date.IsZero() {
		date = fs.s.opts.Now()
	}
	tmp, n, err := fs.s.writeTmp(fs.dir, r)
	if err != nil {
		return 0, err
	}
	key := fs.s.newKey(date, n)
	// The time in the name is the internal date; the file's mtime says
	// the same for programs that look there (Dovecot does).
	_ = os.Chtimes(tmp, date, date)
	name := curName(key, flags&AllFlags, "")
	final := filepath.Join(fs.dir, "cur", name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.readyLocked(origin); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	pre := fs.statDirsLocked()
	defer fs.adoptLocked(pre)
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("mailbox: moving into cur/: %w", err)
	}
	if !fs.s.opts.NoSync {
		if err := syncDir(filepath.Join(fs.dir, "cur")); err != nil {
			_ = os.Remove(final)
			return 0, fmt.Errorf("mailbox: fsync cur/: %w", err)
		}
	}
	e := entry{key: key, sub: "cur", name: name, flags: flags & AllFlags, size: n}
	fs.fill(&e)
	uid, err := fs.addLocked(e)
	if err != nil {
		return 0, err
	}
	fs.hub.publish(origin, Event{Kind: EventNew, Message: fs.msgs[len(fs.msgs)-1].info(false)})
	return uid, nil
}

// addLocked gives e the next UID and saves the UID list. The UID is not
// shown to anyone before the list is durable, so a crash cannot make it
// be given twice.
func (fs *folderState) addLocked(e entry) (uint32, error) {
	if fs.next == ^uint32(0) {
		// Out of UIDs: the next scan renumbers under a new UIDVALIDITY.
		return 0, fmt.Errorf("mailbox: folder %q has run out of UIDs", fs.name)
	}
	e.uid = fs.next
	fs.next++
	fs.msgs = append(fs.msgs, e)
	if err := fs.saveLocked(); err != nil {
		return 0, err
	}
	return e.uid, nil
}

// lockPair locks two folder states in a fixed order (by directory), once
// when they are the same, and returns the unlock.
func lockPair(a, b *folderState) func() {
	if a == b {
		a.mu.Lock()
		return a.mu.Unlock
	}
	if a.dir > b.dir {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.mu.Unlock(); a.mu.Unlock() }
}

// transfer copies (or, with move, moves) uids from src to dst, keeping
// flags and internal dates (RFC 3501 section 6.4.7). The files are linked
// (copy) or renamed (move) under the same name when it is free in dst, and
// durable before any new UID is given. Missing UIDs are skipped. The pairs
// are in ascending source UID order, with ascending new UIDs (RFC 4315
// section 3).
func transfer(origin *Watch, src, dst *folderState, uids []uint32, move bool) ([]UIDPair, error) {
	unlock := lockPair(src, dst)
	defer unlock()
	if err := src.readyLocked(origin); err != nil {
		return nil, err
	}
	if err := dst.readyLocked(nil); err != nil {
		return nil, err
	}
	if move && src.gone {
		return nil, fmt.Errorf("%w: %q", ErrNoFolder, src.name)
	}
	// The states hold the files' changes only when transfer gets to the
	// end; on an earlier error the next scans read the directories.
	preSrc, preDst := src.statDirsLocked(), dst.statDirsLocked()
	complete := false
	defer func() {
		if !complete {
			return
		}
		src.adoptLocked(preSrc)
		if dst != src {
			dst.adoptLocked(preDst)
		}
	}()
	s := src.s
	dstKeys := make(map[string]bool, len(dst.msgs))
	for _, e := range dst.msgs {
		dstKeys[e.key] = true
	}
	type moved struct {
		srcUID uint32
		e      entry
	}
	var done []moved
	var firstErr error
	for _, uid := range sortedUIDs(uids) {
		i := src.find(uid)
		if i < 0 {
			continue
		}
		se := src.msgs[i]
		de := se
		if dstKeys[de.key] {
			de.key = s.newKey(se.date, se.size)
		}
		de.name = de.key
		if de.sub == "cur" {
			de.name = curName(de.key, de.flags, de.extra)
		}
		from := se.path(src.dir)
		// A hard link never replaces an existing file (rename would): a
		// name taken in dst gets a fresh key. For a move the source is
		// unlinked afterwards, so a crash in between leaves the message
		// twice, never nowhere.
		var err error
		for try := 0; ; try++ {
			err = os.Link(from, de.path(dst.dir))
			if !errors.Is(err, os.ErrExist) || try == 3 {
				break
			}
			de.key = s.newKey(se.date, se.size)
			de.name = de.key
			if de.sub == "cur" {
				de.name = curName(de.key, de.flags, de.extra)
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrExist) {
			// No hard links here (another file system, or not supported).
			err = copyFile(s, from, de.path(dst.dir), dst.dir)
		}
		if err == nil && move {
			if rerr := os.Remove(from); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				_ = os.Remove(de.path(dst.dir))
				err = rerr
			}
		}
		if errors.Is(err, os.ErrNotExist) {
			src.forgetDirsLocked()
			continue // expunged by another program meanwhile
		}
		if err != nil {
			firstErr = fmt.Errorf("mailbox: copying UID %d to %q: %w", uid, dst.name, err)
			break
		}
		dstKeys[de.key] = true
		done = append(done, moved{uid, de})
	}
	if len(done) == 0 {
		return nil, firstErr
	}
	if !s.opts.NoSync {
		for _, sub := range []string{"cur", "new"} {
			if err := syncDir(filepath.Join(dst.dir, sub)); err != nil {
				return nil, fmt.Errorf("mailbox: fsync %q: %w", dst.name, err)
			}
		}
	}
	// The files are durable in dst: now UIDs, dst first, so that a crash
	// between the two writes leaves the message in dst (src's stale line is
	// dropped at its next scan).
	pairs := make([]UIDPair, 0, len(done))
	var newEvs, goneEvs []Event
	gone := make(map[uint32]bool, len(done))
	start := len(dst.msgs)
	if uint64(dst.next)+uint64(len(done)) >= uint64(^uint32(0)) {
		return nil, fmt.Errorf("mailbox: folder %q has run out of UIDs", dst.name)
	}
	for _, d := range done {
		d.e.uid = dst.next
		dst.next++
		dst.msgs = append(dst.msgs, d.e)
		pairs = append(pairs, UIDPair{Src: d.srcUID, Dst: d.e.uid})
		gone[d.srcUID] = true
	}
	if err := dst.saveLocked(); err != nil {
		return nil, err
	}
	for _, e := range dst.msgs[start:] {
		newEvs = append(newEvs, Event{Kind: EventNew, Message: e.info(false)})
	}
	if move {
		keep := src.msgs[:0:0]
		for _, e := range src.msgs {
			if gone[e.uid] {
				goneEvs = append(goneEvs, Event{Kind: EventExpunge, Message: MessageInfo{UID: e.uid}})
				continue
			}
			keep = append(keep, e)
		}
		src.msgs = keep
		if !s.opts.NoSync {
			for _, sub := range []string{"cur", "new"} {
				if err := syncDir(filepath.Join(src.dir, sub)); err != nil && firstErr == nil {
					firstErr = fmt.Errorf("mailbox: fsync %q: %w", src.name, err)
				}
			}
		}
		if err := src.saveLocked(); err != nil && firstErr == nil {
			firstErr = err
		}
		src.hub.publish(origin, goneEvs...)
	}
	// Messages arriving in dst are news for every reader of dst, the
	// caller's own View included (it did not put them there itself).
	dst.hub.publish(nil, newEvs...)
	complete = true
	return pairs, firstErr
}

// copyFile copies from into to through dst's tmp/, durably.
func copyFile(s *Store, from, to, dstDir string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, _, err := s.writeTmp(dstDir, in)
	if err != nil {
		return err
	}
	if st, err := in.Stat(); err == nil {
		_ = os.Chtimes(tmp, st.ModTime(), st.ModTime())
	}
	if err := os.Rename(tmp, to); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
