//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package mailbox

import "os"

// flockExclusive: no flock(2) here; the in-process lock is all there is.
func flockExclusive(f *os.File) error { return nil }

func inode(st os.FileInfo) uint64 { return 0 }

const flockWorks = false
