package mailbox

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// groupCommit reports whether Deliver batches its flushes with syncfs(2).
const groupCommit = true

// rootHandle is the store root, kept open for syncfs(2) from OpenWith to
// Store.Close: opening it for every flush cost an openat, four fcntls, a
// failed epoll_ctl and a close per flush through os.Open (about 0.84
// flushes per message under bench/run.sh's load).
type rootHandle struct {
	mu   sync.RWMutex // held for reading while a syncfs uses fd
	path string
	fd   int // -1 once closed
}

func openRoot(path string) (*rootHandle, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &rootHandle{path: path, fd: fd}, nil
}

// close closes the descriptor; later flushes open the root each time.
func (h *rootHandle) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// flush makes every write and rename under the root durable with one
// syncfs(2): the data and metadata of all the files of the batch, and the
// directory entries that name them.
func (h *rootHandle) flush() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	fd := h.fd
	if fd < 0 {
		// After Store.Close: as before, a descriptor for this flush only.
		var err error
		if fd, err = unix.Open(h.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("mailbox: syncfs: %w", &os.PathError{Op: "open", Path: h.path, Err: err})
		}
		defer unix.Close(fd)
	}
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("mailbox: syncfs %s: %w", h.path, err)
	}
	return nil
}

// msgFile is a message being written into tmp/, through bare system
// calls: os.OpenFile costs four fcntls and a failed epoll_ctl more per
// file (it tries to register every file with the network poller), and
// os.Rename an lstat more per rename.
type msgFile struct{ fd int }

func createMsgFile(path string) (msgFile, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return msgFile{-1}, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return msgFile{fd}, nil
	}
}

// Write writes all of p (io.Writer, for Deliver's reader).
func (f msgFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(f.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, errors.New("mailbox: write wrote nothing")
		}
		n += m
	}
	return n, nil
}

// writeParts writes the parts one after the other, with one writev(2) for
// a message of ordinary size.
func (f msgFile) writeParts(parts [][]byte) (int64, error) {
	var total int64
	for len(parts) > 0 {
		if len(parts[0]) == 0 {
			parts = parts[1:]
			continue
		}
		m, err := unix.Writev(f.fd, parts)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if m == 0 {
			return total, errors.New("mailbox: writev wrote nothing")
		}
		total += int64(m)
		parts = advance(parts, m) // all of them, but for a short write
	}
	return total, nil
}

func (f msgFile) Sync() error { return unix.Fsync(f.fd) }

func (f msgFile) Close() error { return unix.Close(f.fd) }

// renameNew moves a file from tmp/ into new/. RENAME_NOREPLACE: a name in
// new/ is unique, and if it were not, no message may replace another one.
func renameNew(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		// A file system without RENAME_NOREPLACE.
		err = unix.Rename(from, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// renameDirNew renames a directory, failing (with an error matching
// os.ErrExist) if to exists, even empty.
func renameDirNew(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		if _, serr := os.Lstat(to); serr == nil {
			err = unix.EEXIST
		} else {
			err = unix.Rename(from, to)
		}
	}
	if err == unix.ENOTEMPTY {
		err = unix.EEXIST
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// fsTopDirFlag is FS_TOPDIR_FL of linux/fs.h ("chattr +T"): the ext2/3/4
// block allocator (Orlov) treats the directory as the top of independent
// hierarchies, as it does the file system's root, and spreads the
// directories made in it over the block groups with the most room and
// the fewest directories instead of packing them next to it.
const fsTopDirFlag = 0x00004000

// markTopDir sets fsTopDirFlag on dir, best effort: file systems without
// the flag refuse the ioctl, and nothing else depends on it.
func markTopDir(dir string) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopDirFlag != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFlag))
}
