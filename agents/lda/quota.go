package lda

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
)

// settle is how old a directory's modification time must be, when it is
// read, for its sum to be trusted while the time stays the same: file
// system clocks are coarse, so a change in the same tick as the reading
// would leave the time as it was (see the mailbox package's dirstate.go,
// which takes the same care).
const settle = 2 * time.Second

// quotas computes the size of users' Maildirs: the sum of the ",S="
// sizes in the file names of cur/ and new/ of every folder, a directory
// being read again only when its modification time changed (or had not
// settled when it was read).
type quotas struct {
	s    *mailbox.Store
	mu   sync.Mutex
	dirs map[string]dirSum // cur/ or new/ directory → its sum
}

type dirSum struct {
	mtime time.Time
	read  time.Time // when it was read
	sum   int64
}

func newQuotas(s *mailbox.Store) *quotas {
	return &quotas{s: s, dirs: map[string]dirSum{}}
}

// usage returns the octets of all addr's folders.
func (q *quotas) usage(addr string) (int64, error) {
	root, err := q.s.Maildir(addr)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	folders := []string{root}
	for _, e := range ents {
		// Maildir++ folders: ".Name"; mailbox's half-built or half-deleted
		// folders start with "..", which DecodeFolderDir refuses.
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			if _, err := mailbox.DecodeFolderDir(e.Name()); err == nil {
				folders = append(folders, filepath.Join(root, e.Name()))
			}
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var total int64
	for _, f := range folders {
		for _, sub := range []string{"cur", "new"} {
			n, err := q.dirSize(filepath.Join(f, sub))
			if err != nil {
				return 0, err
			}
			total += n
		}
	}
	return total, nil
}

// dirSize returns the sum of dir's messages, from the cache when dir has
// not changed since it was read.
func (q *quotas) dirSize(dir string) (int64, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		delete(q.dirs, dir)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if c, ok := q.dirs[dir]; ok && c.mtime.Equal(st.ModTime()) && c.read.Sub(c.mtime) >= settle {
		return c.sum, nil
	}
	now := time.Now()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		if n, ok := sizeFromName(name); ok {
			sum += n
			continue
		}
		if info, err := e.Info(); err == nil {
			sum += info.Size() // a file another program delivered, without ",S="
		}
	}
	q.dirs[dir] = dirSum{mtime: st.ModTime(), read: now, sum: sum}
	return sum, nil
}

// sizeFromName reads Dovecot's ",S=<size>" (the mailbox package writes it
// in every name).
func sizeFromName(name string) (int64, bool) {
	i := strings.Index(name, ",S=")
	if i < 0 {
		return 0, false
	}
	rest := name[i+3:]
	if end := strings.IndexAny(rest, ",:"); end >= 0 {
		rest = rest[:end]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}
