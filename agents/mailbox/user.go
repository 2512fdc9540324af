package mailbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Files in a user's Maildir besides the folders.
const (
	subscriptionsFile = "subscriptions"       // Courier's and Dovecot's name; one folder name a line
	uidValidityFile   = "maillab-uidvalidity" // the last UIDVALIDITY given, like dovecot-uidvalidity
	folderMarker      = "maildirfolder"       // Maildir++: this directory is a folder
	lockFile          = "maillab-pop3.lock"   // flock(2)ed by the POP3 maildrop lock
)

// userState is the in-memory state of one user's Maildir, shared by every
// User value of that address in the process.
type userState struct {
	s   *Store
	dir string

	// mu serialises changes of the folder tree and the subscriptions.
	mu sync.Mutex

	fmu     sync.Mutex // guards folders; taken after mu and after any folder's mu
	folders map[string]*folderState

	uvMu sync.Mutex // guards the UIDVALIDITY file; a leaf lock

	lockMu sync.Mutex // guards pop3
	pop3   bool       // the maildrop lock is held in this process
}

// user returns the state of the Maildir dir, creating it once.
func (s *Store) user(dir string) *userState {
	s.umu.Lock()
	defer s.umu.Unlock()
	if s.users == nil {
		s.users = make(map[string]*userState)
	}
	u := s.users[dir]
	if u == nil {
		u = &userState{s: s, dir: dir, folders: make(map[string]*folderState)}
		s.users[dir] = u
	}
	return u
}

// lookupUser returns the state of dir if some reader made it.
func (s *Store) lookupUser(dir string) *userState {
	s.umu.Lock()
	defer s.umu.Unlock()
	return s.users[dir]
}

// folder returns the shared state of a canonical folder name.
func (u *userState) folder(name string) *folderState {
	dir := u.dir
	if name != Inbox {
		enc, _ := EncodeFolderName(name)
		dir = filepath.Join(u.dir, enc)
	}
	u.fmu.Lock()
	defer u.fmu.Unlock()
	fs := u.folders[dir]
	if fs == nil {
		fs = &folderState{s: u.s, u: u, name: name, dir: dir}
		fs.hub.max = u.s.opts.MaxPendingEvents
		fs.hub.wake = u.s.opts.Wake
		if fs.hub.max <= 0 {
			fs.hub.max = DefaultMaxPendingEvents
		}
		u.folders[dir] = fs
	}
	return fs
}

// peekFolder returns the state of dir if it exists.
func (u *userState) peekFolder(dir string) *folderState {
	u.fmu.Lock()
	defer u.fmu.Unlock()
	return u.folders[dir]
}

// retire marks the state of dir gone (deleted or renamed): its Views get
// ErrNoFolder and EventGone; a later use of the name gets a fresh state.
// Called with u.mu held.
func (u *userState) retire(dir string) {
	u.fmu.Lock()
	fs := u.folders[dir]
	delete(u.folders, dir)
	u.fmu.Unlock()
	if fs == nil {
		return
	}
	fs.mu.Lock()
	fs.gone = true
	fs.mu.Unlock()
	fs.hub.publish(nil, Event{Kind: EventGone})
}

// newUIDValidity returns a UIDVALIDITY greater than any this Maildir has
// given (RFC 3501 section 2.3.1.1: a re-created name must not get UIDs
// that could be mistaken for old ones): the current time in seconds, or
// the last value plus one, kept in maillab-uidvalidity across restarts.
func (u *userState) newUIDValidity() (uint32, error) {
	u.uvMu.Lock()
	defer u.uvMu.Unlock()
	var last uint64
	if b, err := os.ReadFile(filepath.Join(u.dir, uidValidityFile)); err == nil {
		last, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	}
	now := u.s.opts.Now().Unix()
	v := uint64(1)
	if now > 0 && now < 1<<32 {
		v = uint64(now)
	}
	if v <= last {
		v = last + 1
	}
	if v >= 1<<32 {
		return 0, errors.New("mailbox: UIDVALIDITY exhausted")
	}
	if err := writeFileAtomic(u.dir, uidValidityFile, []byte(strconv.FormatUint(v, 10)+"\n"), u.s.opts.NoSync); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// User is one address's mailbox: its INBOX and its folders. Get one with
// Store.User. Its methods are safe for concurrent use; many User values of
// the same address share their state.
type User struct {
	s    *Store
	u    *userState
	addr string
}

// User returns the mailbox of addr, creating its Maildir (INBOX) if it
// does not exist yet.
func (s *Store) User(addr string) (*User, error) {
	dir, err := s.Maildir(addr)
	if err != nil {
		return nil, err
	}
	if err := s.ensure(dir); err != nil {
		return nil, err
	}
	return &User{s: s, u: s.user(dir), addr: addr}, nil
}

// Address returns the address the User was opened with.
func (u *User) Address() string { return u.addr }

// Dir returns the user's Maildir, which is also the INBOX.
func (u *User) Dir() string { return u.u.dir }

// folderDir checks name and returns its canonical form and directory.
func (u *User) folderDir(name string) (string, string, error) {
	canon, err := CanonicalFolderName(name)
	if err != nil {
		return "", "", err
	}
	if canon == Inbox {
		return canon, u.u.dir, nil
	}
	enc, err := EncodeFolderName(canon)
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(u.u.dir, enc)
	// Belt and braces: the encoding cannot leave the Maildir, and this
	// says so on the line that builds the path.
	if filepath.Dir(dir) != u.u.dir {
		return "", "", fmt.Errorf("%w: %q leaves the Maildir", ErrBadFolder, name)
	}
	return canon, dir, nil
}

// isDir reports whether path is a directory, not following a symbolic
// link: a link in a Maildir could point anywhere.
func isDir(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.IsDir()
}

// Folder returns a handle on an existing folder: ErrNoFolder if it does
// not exist (INBOX always exists).
func (u *User) Folder(name string) (*Folder, error) {
	canon, dir, err := u.folderDir(name)
	if err != nil {
		return nil, err
	}
	if canon != Inbox && !isDir(filepath.Join(dir, "cur")) {
		return nil, fmt.Errorf("%w: %q", ErrNoFolder, canon)
	}
	return &Folder{fs: u.u.folder(canon)}, nil
}

// FolderInfo is one folder of a listing (IMAP LIST, RFC 3501 section
// 6.3.8).
type FolderInfo struct {
	// Name is the canonical name, "/" between levels.
	Name string
	// NoSelect: the name exists only because it has inferior names; it has
	// no messages and cannot be selected (\Noselect).
	NoSelect bool
	// HasChildren: inferior names exist (\HasChildren, RFC 3348; without
	// it, \HasNoChildren).
	HasChildren bool
	// Subscribed: the name is in the subscriptions file (\Subscribed, RFC
	// 5258).
	Subscribed bool
}

// Folders lists every folder: INBOX and its inferiors first, then the
// others, sorted by name,
// with the names that exist only as parents of others ("a" when only
// ".a.b" is on disk) as NoSelect. Directories whose names are not the
// encoding of a folder name are skipped.
func (u *User) Folders() ([]FolderInfo, error) {
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	return u.foldersLocked()
}

func (u *User) foldersLocked() ([]FolderInfo, error) {
	ents, err := os.ReadDir(u.u.dir)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listing folders: %w", err)
	}
	real := map[string]bool{Inbox: true}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name, err := DecodeFolderDir(e.Name())
		if err != nil {
			continue
		}
		real[name] = true
	}
	all := make(map[string]bool, len(real)) // name → selectable
	for name := range real {
		all[name] = true
		parts := strings.Split(name, Separator)
		for i := 1; i < len(parts); i++ {
			p := strings.Join(parts[:i], Separator)
			if !all[p] {
				all[p] = real[p]
			}
		}
	}
	subs, err := u.readSubscriptions()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	// INBOX and its inferiors first, as clients show them.
	inInbox := func(n string) bool { return n == Inbox || strings.HasPrefix(n, Inbox+Separator) }
	sort.Slice(names, func(i, j int) bool {
		if a, b := inInbox(names[i]), inInbox(names[j]); a != b {
			return a
		}
		return names[i] < names[j]
	})
	hasKids := make(map[string]bool)
	for name := range all {
		if i := strings.LastIndex(name, Separator); i >= 0 {
			hasKids[name[:i]] = true
		}
	}
	out := make([]FolderInfo, len(names))
	for i, name := range names {
		out[i] = FolderInfo{Name: name, NoSelect: !all[name], HasChildren: hasKids[name], Subscribed: subs[name]}
	}
	return out, nil
}

// CreateFolder creates a folder, and its missing parents (RFC 3501 section
// 6.3.3: "the server SHOULD create any superior hierarchical names that
// are needed"). A trailing "/" is dropped (same section). Creating INBOX
// or an existing folder is ErrFolderExists. The folder appears atomically:
// it is built under a temporary name (with cur/ new/ tmp/, the
// maildirfolder marker and a UID list with a fresh UIDVALIDITY) and then
// renamed into place.
func (u *User) CreateFolder(name string) error {
	name = strings.TrimSuffix(name, Separator)
	canon, dir, err := u.folderDir(name)
	if err != nil {
		return err
	}
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	if canon == Inbox || isDir(dir) {
		return fmt.Errorf("%w: %q", ErrFolderExists, canon)
	}
	parts := strings.Split(canon, Separator)
	for i := 1; i <= len(parts); i++ {
		p := strings.Join(parts[:i], Separator)
		if p == Inbox {
			continue
		}
		_, pdir, _ := u.folderDir(p)
		if isDir(pdir) {
			continue
		}
		if err := u.makeFolderLocked(pdir); err != nil {
			return err
		}
	}
	return nil
}

// makeFolderLocked builds a folder directory atomically.
func (u *User) makeFolderLocked(dir string) error {
	// ".." starts no folder directory (DecodeFolderDir refuses it), so the
	// half-built folder is never listed.
	tmp, err := os.MkdirTemp(u.u.dir, "..maillab-new.")
	if err != nil {
		return fmt.Errorf("mailbox: creating folder: %w", err)
	}
	fail := func(err error) error {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("mailbox: creating folder %s: %w", filepath.Base(dir), err)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(tmp, sub), 0o700); err != nil {
			return fail(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, folderMarker), nil, 0o600); err != nil {
		return fail(err)
	}
	v, err := u.u.newUIDValidity()
	if err != nil {
		return fail(err)
	}
	l := uidList{validity: v, next: 1, firstRecent: 1}
	if err := writeFileAtomic(tmp, uidListFile, l.marshal(), u.s.opts.NoSync); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	if !u.s.opts.NoSync {
		if err := syncDir(u.u.dir); err != nil {
			return fmt.Errorf("mailbox: fsync after creating folder: %w", err)
		}
	}
	return nil
}

// children returns the directories of the folders below canon.
func (u *User) childDirs(canon string) ([]string, error) {
	var prefix string
	if canon == Inbox {
		prefix = ".INBOX."
	} else {
		enc, err := EncodeFolderName(canon)
		if err != nil {
			return nil, err
		}
		prefix = enc + "."
	}
	ents, err := os.ReadDir(u.u.dir)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listing folders: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			if _, err := DecodeFolderDir(e.Name()); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}

// DeleteFolder deletes a folder and its messages. RFC 3501 section 6.3.4:
// INBOX cannot be deleted (ErrNotAllowed); a folder with inferior names
// loses its messages and stays as a NoSelect parent (in Maildir++ the
// inferior folders are sibling directories, so removing the directory does
// exactly that); a NoSelect name with inferior names cannot be deleted
// (ErrHasChildren). Subscriptions are kept (section 6.3.6). Open Views of
// the folder get EventGone and then ErrNoFolder.
//
// The directory is first renamed to a hidden name and then removed, so a
// crash leaves either the whole folder or no folder.
func (u *User) DeleteFolder(name string) error {
	canon, dir, err := u.folderDir(name)
	if err != nil {
		return err
	}
	if canon == Inbox {
		return fmt.Errorf("%w: INBOX cannot be deleted (RFC 3501 section 6.3.4)", ErrNotAllowed)
	}
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	if !isDir(dir) {
		kids, err := u.childDirs(canon)
		if err != nil {
			return err
		}
		if len(kids) > 0 {
			return fmt.Errorf("%w: %q has no messages of its own and has inferior names", ErrHasChildren, canon)
		}
		return fmt.Errorf("%w: %q", ErrNoFolder, canon)
	}
	trash, err := os.MkdirTemp(u.u.dir, "..maillab-deleted.")
	if err != nil {
		return fmt.Errorf("mailbox: deleting %q: %w", canon, err)
	}
	if err := os.Rename(dir, filepath.Join(trash, "f")); err != nil {
		_ = os.Remove(trash)
		return fmt.Errorf("mailbox: deleting %q: %w", canon, err)
	}
	u.u.retire(dir)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("mailbox: deleting %q: %w", canon, err)
	}
	// What an earlier deletion left when the process died.
	if old, _ := filepath.Glob(filepath.Join(u.u.dir, "..maillab-deleted.*")); len(old) > 0 {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	return nil
}

// RenameFolder renames a folder and its inferior names (RFC 3501 section
// 6.3.5: "a/x" follows "a" to "b/x"), creating the missing parents of the
// new name. The UIDs and UIDVALIDITY move with the folder. ErrFolderExists
// when the new name (or one of the renamed inferiors) exists;
// ErrNotAllowed when the new name is below the old one.
//
// Renaming INBOX is special (same section): its messages move into a new
// folder of the new name, INBOX stays and is empty, and folders below
// INBOX stay where they are.
//
// Each directory rename is atomic; a crash between two of them leaves some
// inferiors under the old name, never a message lost.
func (u *User) RenameFolder(oldName, newName string) error {
	oldCanon, oldDir, err := u.folderDir(oldName)
	if err != nil {
		return err
	}
	newCanon, newDir, err := u.folderDir(newName)
	if err != nil {
		return err
	}
	if newCanon == Inbox {
		return fmt.Errorf("%w: INBOX exists", ErrFolderExists)
	}
	if oldCanon == newCanon || strings.HasPrefix(newCanon, oldCanon+Separator) {
		return fmt.Errorf("%w: cannot rename %q to %q", ErrNotAllowed, oldCanon, newCanon)
	}
	if oldCanon == Inbox {
		return u.renameInbox(newCanon)
	}
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	kids, err := u.childDirs(oldCanon)
	if err != nil {
		return err
	}
	oldEnc := filepath.Base(oldDir)
	newEnc := filepath.Base(newDir)
	type move struct{ from, to string }
	var moves []move
	if isDir(oldDir) {
		moves = append(moves, move{oldEnc, newEnc})
	}
	for _, k := range kids {
		moves = append(moves, move{k, newEnc + strings.TrimPrefix(k, oldEnc)})
	}
	if len(moves) == 0 {
		return fmt.Errorf("%w: %q", ErrNoFolder, oldCanon)
	}
	for _, m := range moves {
		if len(m.to) > maxFolderDir {
			return fmt.Errorf("%w: %q would be too long under %q", ErrBadFolder, m.from, newCanon)
		}
		if _, err := os.Lstat(filepath.Join(u.u.dir, m.to)); err == nil {
			to, _ := DecodeFolderDir(m.to)
			return fmt.Errorf("%w: %q", ErrFolderExists, to)
		}
	}
	// Parents of the new name, as CreateFolder makes them.
	parts := strings.Split(newCanon, Separator)
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], Separator)
		if p == Inbox {
			continue
		}
		if _, pdir, _ := u.folderDir(p); !isDir(pdir) {
			if err := u.makeFolderLocked(pdir); err != nil {
				return err
			}
		}
	}
	for _, m := range moves {
		from := filepath.Join(u.u.dir, m.from)
		if err := os.Rename(from, filepath.Join(u.u.dir, m.to)); err != nil {
			return fmt.Errorf("mailbox: renaming %q to %q: %w", oldCanon, newCanon, err)
		}
		u.u.retire(from)
	}
	if !u.s.opts.NoSync {
		if err := syncDir(u.u.dir); err != nil {
			return fmt.Errorf("mailbox: fsync after rename: %w", err)
		}
	}
	return nil
}

// renameInbox moves every message of INBOX into a new folder.
func (u *User) renameInbox(newCanon string) error {
	if err := u.CreateFolder(newCanon); err != nil {
		return err
	}
	src := u.u.folder(Inbox)
	dst := u.u.folder(newCanon)
	src.mu.Lock()
	err := src.scanLocked(nil, false)
	uids := make([]uint32, len(src.msgs))
	for i, e := range src.msgs {
		uids[i] = e.uid
	}
	src.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = transfer(nil, src, dst, uids, true)
	return err
}

// readSubscriptions reads the subscriptions file (missing: none).
func (u *User) readSubscriptions() (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(u.u.dir, subscriptionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox: reading subscriptions: %w", err)
	}
	subs := make(map[string]bool)
	for _, line := range strings.Split(string(b), "\n") {
		if canon, err := CanonicalFolderName(line); err == nil {
			subs[canon] = true
		}
	}
	return subs, nil
}

func (u *User) writeSubscriptions(subs map[string]bool) error {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return writeFileAtomic(u.u.dir, subscriptionsFile, []byte(b.String()), u.s.opts.NoSync)
}

// Subscriptions returns the subscribed names, sorted. They need not exist
// (RFC 3501 section 6.3.6: the server must not remove a name from the list
// because its folder is gone).
func (u *User) Subscriptions() ([]string, error) {
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	subs, err := u.readSubscriptions()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Subscribe adds a name to the subscriptions file (RFC 3501 section
// 6.3.6). The folder need not exist.
func (u *User) Subscribe(name string) error {
	return u.changeSubscription(name, true)
}

// Unsubscribe removes a name from the subscriptions file (RFC 3501 section
// 6.3.7). Removing a name that is not there is not an error.
func (u *User) Unsubscribe(name string) error {
	return u.changeSubscription(name, false)
}

func (u *User) changeSubscription(name string, on bool) error {
	canon, err := CanonicalFolderName(name)
	if err != nil {
		return err
	}
	u.u.mu.Lock()
	defer u.u.mu.Unlock()
	subs, err := u.readSubscriptions()
	if err != nil {
		return err
	}
	if subs[canon] == on {
		return nil
	}
	if on {
		subs[canon] = true
	} else {
		delete(subs, canon)
	}
	return u.writeSubscriptions(subs)
}

// Append stores a message in the named folder; see Folder.Append.
func (u *User) Append(name string, r io.Reader, flags Flags, date time.Time) (uidValidity, uid uint32, err error) {
	f, err := u.Folder(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err = f.Append(r, flags, date)
	if err != nil {
		return 0, 0, err
	}
	f.fs.mu.Lock()
	v := f.fs.validity
	f.fs.mu.Unlock()
	return v, uid, nil
}
