package mailbox

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Reading cur/ and new/ in full costs about 1 ms per 1,000 messages, and
// an IMAP server rescans after every command. Other programs can change a
// Maildir only by creating, renaming or unlinking files in cur/ and new/,
// and each of those changes the directory's modification time. So a scan
// first stats the two directories and reads them again only when one of
// them is not as it was at the last reading — Dovecot's maildir "quick
// check". Three things make that safe:
//
//   - File system clocks are coarse (a kernel tick, a second on some file
//     systems): a change made in the same tick as the stat that was
//     remembered leaves the time as it was. A remembered time less than
//     dirSettle before that stat is therefore not trusted: the directory
//     is read again at every scan until its time has settled.
//   - This process's own renames and unlinks, made under the folder's
//     lock, change the times too. The operation updates the folder state
//     itself, then adopts the new stamp of the directory (adoptLocked) if
//     the stamp before the operation was the remembered one; otherwise the
//     next scan reads the directory.
//   - Deliver renames into new/ without the folder's lock: it counts its
//     changes in the folder state (Store.markDelivery), and a scan reads
//     the directories when the count moved since the last reading.
//   - An adopted stamp is recent, so another program's change in the same
//     tick as the operation could hide behind it: a directory whose stamp
//     was adopted is read again once dirMaxStale has passed since its last
//     reading. That bounds how late such a change can be seen.
const (
	dirSettle   = 2 * time.Second
	dirMaxStale = time.Second
)

// subDirs are the directories a scan reads, in the order of folderState.dirs.
var subDirs = [2]string{"cur", "new"}

// dirStamp identifies the state of a directory.
type dirStamp struct {
	mtime int64 // modification time, ns
	size  int64
	ino   uint64
	ok    bool // it exists
}

type dirState struct {
	stamp   dirStamp
	settled bool // stamp.mtime was dirSettle older than the stat that read it
	adopted bool // stamp is that of this process's own change since the last reading
}

// dirReads counts the readings of a folder's directories, for tests.
var dirReads atomic.Int64

func statDir(path string) dirStamp {
	st, err := os.Stat(path)
	if err != nil {
		return dirStamp{}
	}
	return dirStamp{mtime: st.ModTime().UnixNano(), size: st.Size(), ino: inode(st), ok: true}
}

// statDirsLocked returns the stamps of cur/ and new/ now.
func (fs *folderState) statDirsLocked() [2]dirStamp {
	return [2]dirStamp{statDir(filepath.Join(fs.dir, subDirs[0])), statDir(filepath.Join(fs.dir, subDirs[1]))}
}

// dirsUnchangedLocked reports whether a scan can skip reading cur/ and
// new/: both are as the last reading and this process's changes since
// left them, and their stamps can be trusted.
func (fs *folderState) dirsUnchangedLocked() bool {
	if !fs.scanned || fs.delivered.Load() != fs.readDelivered {
		return false
	}
	now := time.Now()
	st := fs.statDirsLocked()
	for i := range fs.dirs {
		d := &fs.dirs[i]
		switch {
		case st[i] != d.stamp:
			return false
		case d.settled && !d.adopted:
		case d.adopted && now.Sub(fs.lastRead) < dirMaxStale:
		default:
			return false
		}
	}
	return true
}

// readDirsLocked remembers the stamps taken just before a reading of the
// directories that started at start.
func (fs *folderState) readDirsLocked(start time.Time, st [2]dirStamp) {
	fs.lastRead = start
	for i := range fs.dirs {
		fs.dirs[i] = dirState{stamp: st[i], settled: !st[i].ok || st[i].mtime < start.Add(-dirSettle).UnixNano()}
	}
}

// adoptLocked is called after this process changed cur/ or new/ under the
// folder's lock and updated the folder state itself; pre are the stamps
// taken before the change. A directory whose stamp before was the
// remembered one gets its new stamp remembered, so the change does not
// make the next scan read it.
func (fs *folderState) adoptLocked(pre [2]dirStamp) {
	post := fs.statDirsLocked()
	for i := range fs.dirs {
		d := &fs.dirs[i]
		if post[i] == pre[i] || pre[i] != d.stamp {
			continue
		}
		d.stamp, d.adopted = post[i], true
	}
}

// forgetDirsLocked makes the next scan read the directories, when a file
// the state names turned out to be missing.
func (fs *folderState) forgetDirsLocked() {
	fs.dirs = [2]dirState{}
}
