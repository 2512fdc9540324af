//go:build !linux

package mailbox

// flushFS is not used where syncfs(2) does not exist: Deliver then fsyncs
// each file and directory itself.
func flushFS(root string) error { return nil }

const groupCommit = false
