package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// tmpSeq makes temporary file names unique within the process; the queue
// lock makes the process the only writer of its directory.
var tmpSeq atomic.Uint64

// writeDurable puts data at final atomically and durably: a new file in
// tmpDir, written and fsynced, renamed over final, then final's directory
// fsynced. A reader (or a crash) sees the old file or the new one, never a
// part of either. This is the Maildir recipe (write in tmp/, then rename)
// that agents/mailbox uses for messages.
func writeDurable(tmpDir, final string, data []byte) error {
	tmp := filepath.Join(tmpDir, filepath.Base(final)+"."+strconv.FormatUint(tmpSeq.Add(1), 10)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("queue: creating %s: %w", tmp, err)
	}
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(fmt.Errorf("queue: writing %s: %w", tmp, err))
	}
	// The bytes must be on disk before the name points at them, or a crash
	// could leave a committed name on an empty file.
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("queue: fsync %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("queue: closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("queue: renaming into %s: %w", final, err)
	}
	// The rename is durable only once the directory holding the new name is.
	if err := syncDir(filepath.Dir(final)); err != nil {
		return err
	}
	return nil
}

// removeDurable unlinks path and fsyncs its directory, so that the removal
// survives a crash. A file already gone is not an error.
func removeDurable(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("queue: removing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, making the names created, renamed or removed
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("queue: fsync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("queue: fsync %s: %w", dir, err)
	}
	return nil
}
