package mailbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ErrMaildropLocked is returned by LockMaildrop while another session
// holds the lock; a POP3 server answers "-ERR [IN-USE]" (RFC 2449 section
// 8.1.1).
var ErrMaildropLocked = errors.New("mailbox: maildrop in use")

// MaildropLock is the exclusive lock of a POP3 session on a maildrop
// (RFC 1939 section 8: "the POP3 server ... acquires an exclusive-access
// lock on the maildrop"). It excludes other POP3 sessions only: IMAP
// sessions and deliveries go on, and a POP3 session sees the maildrop as
// it was at login (its View), expunging only what still exists.
type MaildropLock struct {
	u    *userState
	f    *os.File
	once sync.Once
}

// LockMaildrop takes the maildrop lock of the user, or returns
// ErrMaildropLocked. The lock is held in the process (for every Store
// value sharing the root) and, where flock(2) exists, on the file
// maillab-pop3.lock in the Maildir, so another process (a second lab, a
// real POP3 server run against the same Maildir with flock locking) is
// excluded too; the kernel drops that lock if the process dies.
func (u *User) LockMaildrop() (*MaildropLock, error) {
	us := u.u
	us.lockMu.Lock()
	defer us.lockMu.Unlock()
	if us.pop3 {
		return nil, fmt.Errorf("%w: %s", ErrMaildropLocked, u.addr)
	}
	f, err := os.OpenFile(filepath.Join(us.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mailbox: maildrop lock: %w", err)
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, errLockBusy) {
			return nil, fmt.Errorf("%w: %s (another process)", ErrMaildropLocked, u.addr)
		}
		return nil, fmt.Errorf("mailbox: maildrop lock: %w", err)
	}
	us.pop3 = true
	return &MaildropLock{u: us, f: f}, nil
}

// Unlock releases the lock. Calling it again does nothing.
func (l *MaildropLock) Unlock() error {
	var err error
	l.once.Do(func() {
		l.u.lockMu.Lock()
		defer l.u.lockMu.Unlock()
		// Closing the descriptor releases the flock.
		if cerr := l.f.Close(); cerr != nil {
			err = fmt.Errorf("mailbox: maildrop unlock: %w", cerr)
		}
		l.u.pop3 = false
	})
	return err
}

var errLockBusy = errors.New("mailbox: lock busy")
