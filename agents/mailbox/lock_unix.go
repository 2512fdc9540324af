//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package mailbox

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// flockExclusive takes flock(2) LOCK_EX without waiting; errLockBusy when
// another open file holds it.
func flockExclusive(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errLockBusy
		default:
			return err
		}
	}
}

// inode is part of a file's identity (a rename-replaced file has another).
func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}

// flockWorks says whether another Store in the process is refused the lock.
const flockWorks = true
