//go:build !linux

package mailbox

import (
	"errors"
	"os"
)

// Without syncfs(2), Deliver fsyncs each file and directory itself.
const groupCommit = false

// rootHandle is unused where syncfs(2) does not exist.
type rootHandle struct{}

func openRoot(path string) (*rootHandle, error) { return &rootHandle{}, nil }
func (h *rootHandle) close() error              { return nil }
func (h *rootHandle) flush() error              { return nil }

// msgFile is a message being written into tmp/.
type msgFile struct{ *os.File }

func createMsgFile(path string) (msgFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	return msgFile{f}, err
}

func (f msgFile) writeParts(parts [][]byte) (int64, error) {
	var total int64
	for _, p := range parts {
		n, err := f.File.Write(p)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func renameNew(from, to string) error { return os.Rename(from, to) }

// renameDirNew renames a directory, failing with os.ErrExist if to exists
// (not atomically, where there is no RENAME_NOREPLACE).
func renameDirNew(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrExist}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Rename(from, to)
}

// markTopDir is a hint for Linux's ext2/3/4 allocator only.
func markTopDir(dir string) {}
