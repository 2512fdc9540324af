package mailbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// flushFS makes every write and rename under root durable with one
// syncfs(2): the data and metadata of all the files of the batch, and the
// directory entries that name them, in one journal commit.
func flushFS(root string) error {
	d, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("mailbox: syncfs: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("mailbox: syncfs %s: %w", root, err)
	}
	return nil
}

// groupCommit reports whether Deliver batches its flushes with flushFS.
const groupCommit = true
