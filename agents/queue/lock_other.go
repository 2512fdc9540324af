//go:build !unix

package queue

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates dir/lock where flock(2) does not exist: two queues
// on one directory are not detected there.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: lock: %w", err)
	}
	return f, nil
}
