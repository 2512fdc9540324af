// Package mailbox keeps the users' mailboxes on disk, one Maildir per
// address, the way qmail, Postfix's virtual(8) and Dovecot store mail.
//
// A Store has a root directory; the Maildir of alice@a.test is
// root/a.test/alice/ with its three subdirectories:
//
//	tmp/  a message being written; never read by anyone else
//	new/  delivered, not yet seen by a mail reader
//	cur/  seen by a mail reader, with flags after ":2," (":2,S" = seen)
//
// Delivery writes the message into tmp/ under a unique name, flushes it to
// disk, and only then renames it into new/: a reader never sees half a
// message, and a crash leaves at most a stray file in tmp/. The name tells
// when and where the message was delivered:
//
//	1767225600.M123456P4321Q7.mda.b.test,S=1234
//	seconds   .M usec P pid Q counter . host ,S=size in octets
//
// (The first part is the Maildir specification's, the ",S=" suffix is
// Dovecot's, so a reader can know a message's size without stat.)
//
// Messages are stored byte for byte as delivered: with the CRLF line endings
// they had on the wire.
//
// What to watch in a transcript: the MDA's note "stored in bob@b.test's
// Maildir as new/<name>" comes before the "250" reply of that recipient —
// the reply promises the file is on disk.
//
// # Reading: users, folders, UIDs, flags
//
// The POP3 and IMAP servers read through Store.User(addr), which gives a
// User: the INBOX and the folders of one Maildir, laid out as Maildir++
// (Courier, and Dovecot's default):
//
//	root/b.test/bob/                 INBOX: cur/ new/ tmp/
//	root/b.test/bob/.Archive/        folder "Archive" (with a maildirfolder file)
//	root/b.test/bob/.Archive.2024/   folder "Archive/2024"
//	root/b.test/bob/subscriptions    subscribed names, one a line
//
// Names use "/" between levels, as IMAP LIST shows them; EncodeFolderName
// tells how a name becomes one directory (dots and non-ASCII are &-escaped,
// like modified UTF-7).
//
// Each folder keeps a UID list, maillab-uidlist, modelled on Dovecot's
// dovecot-uidlist: UIDVALIDITY, the next UID, and "uid :key" lines, where
// the key is the file name before ":2," — it stays when flags change, so
// the UID does too. Whoever scans a folder first after a delivery (a
// reader, or Deliver itself when a reader is watching) gives the new files
// the next UIDs in delivery order. The list is rewritten atomically and
// durably before a UID is shown to anyone, so a UID is never given twice;
// a scan reconciles it with the files after a crash.
//
// Flags live in the file names (":2,FS" = \Flagged \Seen; see Flags).
// The store keeps no keywords: an IMAP server should not offer "\*" in
// PERMANENTFLAGS. Keyword letters written by other programs (Dovecot's
// a–z) are kept when flags change.
//
// A Folder handle does what needs no session (STATUS, APPEND, COPY into
// it); a View is a selected folder: its own \Recent messages (RFC 3501
// section 2.3.2: reported to exactly one session), and Updates telling
// what other sessions and deliveries changed (new messages, expunges,
// flags) without ever blocking them. POP3 takes LockMaildrop first.
//
// A session of an IMAP server, as a sketch:
//
//	u, _ := store.User("bob@b.test")
//	v, _ := u.Select("INBOX", false)   // SELECT: new/ → cur/, \Recent claimed
//	defer v.Close()
//	msgs := v.Messages()               // * n EXISTS, sequence n = msgs[n-1]
//	v.SetFlags([]uint32{msgs[0].UID}, AddFlags, FlagSeen)
//	<-v.Ready()                        // during IDLE
//	evs, _ := v.Updates()              // * n EXISTS / EXPUNGE / FETCH FLAGS
//
// # Standards
//
// The Maildir specification (https://cr.yp.to/proto/maildir.html) and
// qmail's maildir(5); Dovecot's ",S=<size>" extension; RFC 5321 section
// 4.2.5 and section 6.1 (once the server has said 250 it is responsible for
// the message — hence the fsync before returning). Maildir++ folders
// (Courier, https://www.courier-mta.org/imap/README.maildirquota.html) and
// Dovecot's dovecot-uidlist (https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/maildir/).
// RFC 3501 sections 2.3.1.1 (UIDs, UIDVALIDITY), 2.3.2 (flags, \Recent),
// 5.1 (mailbox names, INBOX), 5.1.3 (modified UTF-7), 6.3.3–6.3.7
// (CREATE, DELETE, RENAME, SUBSCRIBE); RFC 4315 (UIDPLUS); RFC 6851 (MOVE);
// RFC 1939 section 8 (the POP3 maildrop lock).
//
// # Security
//
// Addresses come from the network. An address whose local part or domain
// is empty, is "." or "..", starts with a dot, or holds "/", "\", NUL or
// another control character is refused before any path is built, so no
// address can reach outside the root. Read and Header refuse a Message whose
// path lies outside the root. Directories are created 0700, files 0600.
//
// Folder names come from IMAP clients. CanonicalFolderName refuses empty
// components, ".", "..", control characters and absolute names; the
// encoding turns every name into a single directory name that starts with
// one dot (never "..") and holds no "/", and the path built from it is
// checked to be a direct child of the Maildir. Keys read from a UID list or
// a directory are file names without "/" that do not start with a dot.
//
// # Limits
//
// Local parts longer than 64 octets and domains longer than 255 are refused
// (RFC 5321 section 4.5.3.1). Deliver and Append do not bound the message
// size: the server in front of the store does (its MaxMessageBytes). Read
// refuses messages over its max argument (DefaultMaxReadBytes by default).
// A folder's directory name is at most 255 octets. A Watch queues at most
// Options.MaxPendingEvents events, then asks for a resync. UID list lines
// are at most 512 octets (longer ones are skipped and renumbered).
// Reading a folder's two directories takes about 1 ms per 1,000 messages
// (see BenchmarkScan); a scan does it only when a stat of cur/ and new/
// says they changed since (a few microseconds otherwise, BenchmarkRescan;
// see dirstate.go for when a directory's time is trusted: another
// program's change made in the same clock tick as this process's own is
// seen within a second). A View holds about 9 octets per message; the
// rest is shared by the folder's Views. Symbolic links in cur/ and new/,
// and folder directories that are links, are ignored.
package mailbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maillab/maillab/protocols/mail"
)

// ErrBadAddress is returned for an address that cannot name a Maildir.
var ErrBadAddress = errors.New("mailbox: bad address")

// deliveries numbers deliveries across every Store of the process: the Q
// part of a name must be unique per process (two Stores may share a root).
var deliveries atomic.Uint64

// Options tune a Store. The zero value is what production uses.
type Options struct {
	// NoSync turns off the fsync of each file and of new/. Only for
	// benchmarks and throw-away tests: without it a machine crash can lose
	// mail the MDA has already acknowledged with 250.
	NoSync bool
	// Now is the clock for delivery names; nil means time.Now. Scenarios
	// inject a fixed clock so names render the same twice.
	Now func() time.Time
	// Hostname goes at the end of delivery names; "" means os.Hostname.
	Hostname string
	// PID goes into delivery names; 0 means os.Getpid.
	PID int
	// MaxPendingEvents bounds the events queued for one Watch or View;
	// past it the reader gets one EventResync instead. 0 means
	// DefaultMaxPendingEvents.
	MaxPendingEvents int
	// Wake, when set, is called with the wake-up of a Watch (its Ready)
	// each time events are queued for it, instead of waking it at once:
	// calling wake, now or later, from any goroutine, wakes it. A lab uses
	// it to hold an IDLE session's news until the step that caused it has
	// finished, so that a transcript renders the same twice. Wake must not
	// block or call into the Store. nil wakes at once.
	Wake func(wake func())
}

// Store is a set of Maildirs under one root directory. Its methods are safe
// for concurrent use.
type Store struct {
	root string
	opts Options
	host string // escaped for file names
	made sync.Map
	gs   *groupSync  // batches the flushes of concurrent deliveries
	rh   *rootHandle // the root, open for syncfs until Close

	umu   sync.Mutex
	users map[string]*userState // by Maildir, made by User
}

// Delivery says where Deliver put a message.
type Delivery struct {
	Name string // file name in new/, e.g. "1767225600.M1P2Q3.host,S=42"
	Path string // full path of the file
	Size int64  // octets written
}

// Message is one message of a Maildir's INBOX.
type Message struct {
	Name  string // file name, flags included
	Path  string // full path
	Dir   string // "new" or "cur"
	Size  int64  // octets
	Flags string // the letters after ":2," in cur/ ("FS"); "" otherwise
}

// Open returns the Store rooted at root, creating the directory if needed.
func Open(root string) (*Store, error) {
	return OpenWith(root, Options{})
}

// OpenWith is Open with options.
func OpenWith(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, errors.New("mailbox: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("mailbox: root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("mailbox: root: %w", err)
	}
	host := opts.Hostname
	if host == "" {
		if host, err = os.Hostname(); err != nil || host == "" {
			host = "localhost"
		}
	}
	if opts.PID == 0 {
		opts.PID = os.Getpid()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rh, err := openRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("mailbox: root: %w", err)
	}
	s := &Store{root: abs, opts: opts, host: escapeHost(host), gs: newGroupSync(), rh: rh}
	// A Store dropped without Close does not keep its descriptor.
	runtime.AddCleanup(s, func(h *rootHandle) { _ = h.close() }, rh)
	return s, nil
}

// Close releases the descriptor of the root that the store keeps for its
// flushes. The store remains usable: a delivery after Close opens the root
// for each flush. Close is safe to call more than once.
func (s *Store) Close() error {
	return s.rh.close()
}

// escapeHost writes "/" as "\057" and ":" as "\072", as the Maildir
// specification asks, so the host part can neither make a path nor look
// like the ":2," info separator.
func escapeHost(h string) string {
	h = strings.ReplaceAll(h, `/`, `\057`)
	return strings.ReplaceAll(h, `:`, `\072`)
}

// Root returns the absolute root directory.
func (s *Store) Root() string { return s.root }

// Maildir returns the directory of addr's Maildir (which may not exist
// yet): root/<domain>/<local>, both lower-cased.
func (s *Store) Maildir(addr string) (string, error) {
	local, domain, err := splitAddress(addr)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.root, domain, local)
	if !s.inside(dir) {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, addr)
	}
	return dir, nil
}

// splitAddress checks and lower-cases addr's parts. Real MDAs fold case too
// (Postfix local(8), "CASE FOLDING"), although RFC 5321 section 2.4 lets
// the local part be case-sensitive.
func splitAddress(addr string) (local, domain string, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", "", fmt.Errorf("%w: %q has no domain", ErrBadAddress, addr)
	}
	local, domain = strings.ToLower(addr[:at]), strings.ToLower(addr[at+1:])
	// RFC 5321 section 4.5.3.1.1 and 4.5.3.1.2: 64 and 255 octets.
	if err := checkPart(local, 64); err != nil {
		return "", "", fmt.Errorf("%w: %q: local part %v", ErrBadAddress, addr, err)
	}
	if err := checkPart(domain, 255); err != nil {
		return "", "", fmt.Errorf("%w: %q: domain %v", ErrBadAddress, addr, err)
	}
	return local, domain, nil
}

func checkPart(p string, max int) error {
	switch {
	case p == "":
		return errors.New("is empty")
	case len(p) > max:
		return fmt.Errorf("is longer than %d octets", max)
	case p[0] == '.':
		return errors.New("starts with a dot")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("holds byte 0x%02x", c)
		}
	}
	return nil
}

// inside reports whether path is strictly below the root.
func (s *Store) inside(path string) bool {
	rel, err := filepath.Rel(s.root, filepath.Clean(path))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// ensure creates dir's cur, new and tmp once.
func (s *Store) ensure(dir string) error {
	if _, ok := s.made.Load(dir); ok {
		return nil
	}
	if err := s.makeMaildir(dir); err != nil {
		return fmt.Errorf("mailbox: creating Maildir: %w", err)
	}
	s.made.Store(dir, true)
	return nil
}

// makeMaildir creates the Maildir dir (root/<domain>/<local>) with its
// cur, new and tmp, unless it exists, in which case only the missing
// subdirectories are made.
//
// A new Maildir is built under a hidden temporary name in the domain
// directory and renamed into place, so no reader ever sees a Maildir
// without its subdirectories; and the domain directories this store makes
// are marked as the tops of independent hierarchies (markTopDir, "chattr
// +T"), so that ext4 places each user's Maildir in a block group of its
// own, chosen from a hash of that random temporary name among the groups
// with the most room and the fewest directories, instead of next to
// whatever else lives near the store's root. Why it matters: every
// delivery creates a file, and on an ext4 without a journal (as on the
// bench VM) the inode allocator skips, one by one, the inodes of its
// block group freed within the last 30 s or so (fs/ext4/ialloc.c,
// recently_deleted); with /tmp's group churned by builds, tests and the
// previous bench run, creating a file there cost 270–340 µs of kernel CPU,
// against 11 µs in a group of its own (bench VM, bench/profile.sh).
// Elsewhere the hint changes nothing but the placement.
func (s *Store) makeMaildir(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return mkSubdirs(dir)
	}
	parent := filepath.Dir(dir)
	switch err := os.Mkdir(parent, 0o700); {
	case err == nil:
		markTopDir(parent)
	case !errors.Is(err, os.ErrExist):
		return err
	}
	// Local parts never start with a dot (checkPart), so the temporary
	// name cannot be anyone's Maildir.
	tmp, err := os.MkdirTemp(parent, ".maillab-new.")
	if err != nil {
		return err
	}
	if err := mkSubdirs(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := renameDirNew(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if !errors.Is(err, os.ErrExist) {
			return err
		}
		// Made meanwhile (another Store on the same root, another
		// program): complete it if need be.
		return mkSubdirs(dir)
	}
	return nil
}

func mkSubdirs(dir string) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// Deliver stores the message read from r in addr's Maildir and returns once
// it is durable: written to tmp/, fsynced, renamed into new/, and new/
// fsynced (unless Options.NoSync). On any error — including a reader that
// ends early with io.ErrUnexpectedEOF, as a client that disconnects in the
// middle of DATA does — the file is removed and nothing appears in new/.
func (s *Store) Deliver(addr string, r io.Reader) (Delivery, error) {
	return s.deliver(addr, r, nil)
}

// DeliverBytes is Deliver for a message already in memory, given as parts
// that are stored one after the other (the MDA's trace fields, then the
// message). It writes the file with one system call, and lets concurrent
// deliveries share their flushes more closely (see groupSync).
func (s *Store) DeliverBytes(addr string, parts ...[]byte) (Delivery, error) {
	return s.deliver(addr, nil, parts)
}

// copyBufs are the buffers of Deliver's copy from a reader; they used to be
// a new 64 KiB bufio.Writer per message, cleared and then collected.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// deliver is Deliver (r) or DeliverBytes (parts).
//
// The system calls of a delivery, on Linux: openat (O_EXCL) in tmp/, one
// writev, close, syncfs, renameat2 into new/, syncfs — the two syncfs
// shared with the deliveries running meanwhile, on a descriptor of the
// root kept open. That is 6 where it was 26 (os.OpenFile's four fcntls and
// failed epoll_ctl; an openat, four fcntls, an epoll_ctl and a close
// around each syncfs; os.Rename's lstat). Under bench/run.sh's durable
// load (bench/profile.sh), the store's system calls per message went from
// about 17 to 4.5, and its syncfs from 0.84 to 0.45–0.57 per message.
func (s *Store) deliver(addr string, r io.Reader, parts [][]byte) (Delivery, error) {
	dir, err := s.Maildir(addr)
	if err != nil {
		return Delivery{}, err
	}
	if err := s.ensure(dir); err != nil {
		return Delivery{}, err
	}
	group := !s.opts.NoSync && groupCommit
	// entered: a flush about to start may wait for this delivery
	// (groupSync.gatherLocked), which has only CPU work left before its
	// own flush.
	entered := false
	defer func() {
		if entered {
			s.gs.leave()
		}
	}()
	if group && r == nil {
		entered = true // in memory
		s.gs.enter()
	}
	// Maildir specification, "How a message is delivered": a unique name
	// in tmp/, then the file, then a rename into new/.
	now := s.opts.Now()
	var f msgFile
	var base, tmp string
	for tries := 0; ; tries++ {
		base = s.deliveryName(now)
		tmp = dir + string(filepath.Separator) + "tmp" + string(filepath.Separator) + base
		f, err = createMsgFile(tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || tries == 10 {
			return Delivery{}, fmt.Errorf("mailbox: creating %s: %w", base, err)
		}
	}
	fail := func(err error) (Delivery, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return Delivery{}, err
	}
	var n int64
	if r != nil {
		bp := copyBufs.Get().(*[]byte)
		// io.CopyBuffer uses r's WriteTo when it has one (strings.Reader,
		// bytes.Reader: one write), else reads into the pooled buffer.
		n, err = io.CopyBuffer(f, r, *bp)
		copyBufs.Put(bp)
	} else {
		n, err = f.writeParts(parts)
	}
	if err != nil {
		return fail(fmt.Errorf("mailbox: writing message for %s: %w", addr, err))
	}
	if !s.opts.NoSync && !groupCommit {
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("mailbox: fsync: %w", err))
		}
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return Delivery{}, fmt.Errorf("mailbox: closing %s: %w", base, err)
	}
	if group && !entered {
		entered = true // the message is written
		s.gs.enter()
	}
	if group {
		// The file's bytes must be on disk before its name appears in
		// new/, or a crash could leave an empty message there.
		if err := s.flush(); err != nil {
			_ = os.Remove(tmp)
			return Delivery{}, err
		}
	}
	name := base + ",S=" + strconv.FormatInt(n, 10)
	final := dir + string(filepath.Separator) + "new" + string(filepath.Separator) + name
	if err := renameNew(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return Delivery{}, fmt.Errorf("mailbox: moving into new/: %w", err)
	}
	if !s.opts.NoSync {
		// The rename is durable only once the directory is.
		sync := func() error { return syncDir(filepath.Join(dir, "new")) }
		if group {
			sync = s.flush // syncfs: the directory entry too
		}
		if err := sync(); err != nil {
			// Not durable, so not delivered: the caller will answer with a
			// failure and the sender will try again.
			_ = os.Remove(final)
			s.markDelivery(dir)
			return Delivery{}, fmt.Errorf("mailbox: fsync new/: %w", err)
		}
	}
	if entered {
		// Durable: no flush is to wait for the rest.
		entered = false
		s.gs.leave()
	}
	s.notifyDelivery(dir)
	return Delivery{Name: name, Path: final, Size: n}, nil
}

// advance returns parts without their first m octets, leaving the
// caller's slice as it was.
func advance(parts [][]byte, m int) [][]byte {
	for len(parts) > 0 && m >= len(parts[0]) {
		m -= len(parts[0])
		parts = parts[1:]
	}
	if m > 0 {
		parts = append([][]byte{parts[0][m:]}, parts[1:]...)
	}
	return parts
}

// deliveryName is the unique part of a new message's name,
// "<sec>.M<usec>P<pid>Q<n>.<host>", made without fmt.
func (s *Store) deliveryName(now time.Time) string {
	b := make([]byte, 0, 48+len(s.host))
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, ".M"...)
	b = strconv.AppendInt(b, int64(now.Nanosecond()/1000), 10)
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(s.opts.PID), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, deliveries.Add(1), 10)
	b = append(b, '.')
	b = append(b, s.host...)
	return string(b)
}

// markDelivery tells the state of dir's INBOX, if this process has one,
// that a delivery changed new/, so that its next scan reads the
// directories whatever their times say (see dirsUnchangedLocked).
func (s *Store) markDelivery(dir string) *folderState {
	u := s.lookupUser(dir)
	if u == nil {
		return nil
	}
	fs := u.peekFolder(dir)
	if fs != nil {
		fs.delivered.Add(1)
	}
	return fs
}

// notifyDelivery tells the watchers of dir's INBOX, if there are any in
// this process, about the message just made durable: a scan gives it its
// UID and publishes EventNew. With no watcher, nothing is done here; the
// next reader's scan numbers it. A scan error is not the delivery's: the
// message is safe in new/ and the next scan tries again.
func (s *Store) notifyDelivery(dir string) {
	fs := s.markDelivery(dir)
	if fs == nil || !fs.hub.watched() {
		return
	}
	fs.mu.Lock()
	_ = fs.scanLocked(nil, false)
	fs.mu.Unlock()
}

// flush makes everything written under the store's root durable, sharing
// one syncfs(2) with the deliveries that run at the same time.
func (s *Store) flush() error {
	return s.gs.wait(s.rh.flush)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// List returns the messages of addr's INBOX (new/ and cur/), oldest
// delivery first (by the time in the name, then by name). A Maildir that
// does not exist yet is an empty INBOX. Files whose names start with a dot
// are skipped, as the specification asks.
func (s *Store) List(addr string) ([]Message, error) {
	dir, err := s.Maildir(addr)
	if err != nil {
		return nil, err
	}
	type sortable struct {
		Message
		sec, usec int64
	}
	var all []sortable
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mailbox: listing %s: %w", sub, err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
				continue
			}
			m := Message{Name: name, Path: filepath.Join(dir, sub, name), Dir: sub}
			if sub == "cur" {
				if i := strings.Index(name, ":2,"); i >= 0 {
					m.Flags = name[i+3:]
				}
			}
			size, ok := sizeFromName(name)
			if !ok {
				info, err := e.Info()
				if err != nil {
					continue // removed meanwhile
				}
				size = info.Size()
			}
			m.Size = size
			sec, usec := timeFromName(name)
			all = append(all, sortable{m, sec, usec})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.sec != b.sec {
			return a.sec < b.sec
		}
		if a.usec != b.usec {
			return a.usec < b.usec
		}
		return a.Name < b.Name
	})
	msgs := make([]Message, len(all))
	for i, a := range all {
		msgs[i] = a.Message
	}
	return msgs, nil
}

// sizeFromName reads Dovecot's ",S=<size>".
func sizeFromName(name string) (int64, bool) {
	i := strings.Index(name, ",S=")
	if i < 0 {
		return 0, false
	}
	rest := name[i+3:]
	end := strings.IndexAny(rest, ",:")
	if end >= 0 {
		rest = rest[:end]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// timeFromName reads "<seconds>.M<usec>"; names of other shapes sort as 0.
func timeFromName(name string) (sec, usec int64) {
	dot := strings.IndexByte(name, '.')
	if dot < 0 {
		return 0, 0
	}
	sec, err := strconv.ParseInt(name[:dot], 10, 64)
	if err != nil {
		return 0, 0
	}
	rest := name[dot+1:]
	if strings.HasPrefix(rest, "M") {
		end := 1
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		usec, _ = strconv.ParseInt(rest[1:end], 10, 64)
	}
	return sec, usec
}

// checkMessage refuses a Message that does not point into this Store.
func (s *Store) checkMessage(m Message) error {
	if !s.inside(m.Path) {
		return fmt.Errorf("mailbox: %q is outside the store", m.Path)
	}
	return nil
}

// Read returns the whole message.
func (s *Store) Read(m Message) ([]byte, error) {
	if err := s.checkMessage(m); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(m.Path)
	if err != nil {
		return nil, fmt.Errorf("mailbox: reading %s: %w", m.Name, err)
	}
	return b, nil
}

// Header parses the message's header block (up to
// mail.DefaultMaxHeaderBytes).
func (s *Store) Header(m Message) (mail.Header, error) {
	if err := s.checkMessage(m); err != nil {
		return mail.Header{}, err
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return mail.Header{}, fmt.Errorf("mailbox: opening %s: %w", m.Name, err)
	}
	defer f.Close()
	h, err := mail.ParseHeader(bufio.NewReader(f))
	if err != nil {
		return h, fmt.Errorf("mailbox: %s: %w", m.Name, err)
	}
	return h, nil
}
