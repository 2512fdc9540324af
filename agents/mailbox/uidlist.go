package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// uidListFile is the name of the per-folder UID list, in the folder's
// directory next to cur/ new/ tmp/.
const uidListFile = "maillab-uidlist"

// maxUIDListLine bounds one line of the UID list: a key is one file name
// (NAME_MAX 255) and a UID has at most 10 digits.
const maxUIDListLine = 512

// uidList is the content of a UID list file, modelled on Dovecot's
// dovecot-uidlist version 3 (https://doc.dovecot.org/2.3/admin_manual/mailbox_formats/maildir/):
//
//	3 V1767225600 N4 R3
//	1 :1767225600.M1P2Q3.mda.b.test,S=42
//	3 :1767225601.M7P2Q4.mda.b.test,S=99
//
// The header holds the version (3), V the UIDVALIDITY, N the next UID to
// give and R the first UID not yet reported as recent to any session
// (Dovecot keeps that in its index). Each following line maps a UID to a
// message key (the file name before ":2,"), in ascending UID order.
type uidList struct {
	validity    uint32
	next        uint32
	firstRecent uint32
	entries     []uidEntry // ascending uid
}

type uidEntry struct {
	uid uint32
	key string
}

// errBadUIDList means the header cannot be trusted: the folder gets a new
// UIDVALIDITY (RFC 3501 section 2.3.1.1: UIDs that cannot be kept require
// a new UIDVALIDITY).
var errBadUIDList = errors.New("mailbox: bad UID list header")

// parseUIDList reads a UID list. A bad header is errBadUIDList; a bad line
// after it is skipped (its file will get a new UID: N still prevents
// reuse). Lines out of ascending order, repeated keys and UIDs at or above
// N are repaired the same way (N is raised past every UID seen).
func parseUIDList(b []byte) (uidList, error) {
	var l uidList
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) == 0 || f[0] != "3" || len(line) > maxUIDListLine {
		return l, errBadUIDList
	}
	for _, field := range f[1:] {
		if len(field) < 2 {
			continue
		}
		n, err := strconv.ParseUint(field[1:], 10, 32)
		if err != nil {
			continue
		}
		switch field[0] {
		case 'V':
			l.validity = uint32(n)
		case 'N':
			l.next = uint32(n)
		case 'R':
			l.firstRecent = uint32(n)
		}
	}
	if l.validity == 0 || l.next == 0 {
		return l, errBadUIDList
	}
	if l.firstRecent == 0 || l.firstRecent > l.next {
		l.firstRecent = l.next
	}
	seen := make(map[string]bool)
	var last uint32
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) == 0 || len(line) > maxUIDListLine {
			continue
		}
		// "<uid> [ext fields] :<key>"
		sp := bytes.IndexByte(line, ' ')
		colon := bytes.Index(line, []byte(" :"))
		if sp <= 0 || colon < sp {
			continue
		}
		uid, err := strconv.ParseUint(string(line[:sp]), 10, 32)
		key := string(line[colon+2:])
		if err != nil || uid == 0 || uint32(uid) <= last || !validKey(key) || seen[key] {
			continue
		}
		last = uint32(uid)
		seen[key] = true
		l.entries = append(l.entries, uidEntry{uid: uint32(uid), key: key})
	}
	if last >= l.next {
		// A UID at or past N: never give it again.
		if last == ^uint32(0) {
			return l, errBadUIDList
		}
		l.next = last + 1
	}
	return l, nil
}

// validKey reports whether key can be a message file name: what a Maildir
// reader would list, and nothing that leaves the directory.
func validKey(key string) bool {
	if key == "" || len(key) > 255 || key[0] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '/' || c == ':' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (l *uidList) marshal() []byte {
	var b bytes.Buffer
	b.Grow(64 + len(l.entries)*64)
	fmt.Fprintf(&b, "3 V%d N%d R%d\n", l.validity, l.next, l.firstRecent)
	for _, e := range l.entries {
		b.WriteString(strconv.FormatUint(uint64(e.uid), 10))
		b.WriteString(" :")
		b.WriteString(e.key)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeFileAtomic replaces dir/name with data: a temporary file in dir,
// fsync, rename, fsync of dir. A crash leaves either the old or the new
// content, never a mix (plus, at worst, a stray temporary file).
func writeFileAtomic(dir, name string, data []byte, noSync bool) error {
	f, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("mailbox: writing %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mailbox: writing %s: %w", name, err)
	}
	if !noSync {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("mailbox: fsync after writing %s: %w", name, err)
		}
	}
	return nil
}
