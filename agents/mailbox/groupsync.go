package mailbox

import "sync"

// groupSync coalesces the flushes of concurrent deliveries ("group
// commit"): every caller of wait needs a flush that starts after its own
// writes; while one flush runs, the callers that arrive meanwhile queue up,
// and the next flush serves them all. One flush per batch instead of one per
// message is how a Maildir store gets past the disk's fsync rate without
// answering 250 for a message that is not yet on disk.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // flushes started
	done    uint64 // flushes finished
	err     error  // result of the last finished flush
}

func newGroupSync() *groupSync {
	g := &groupSync{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait returns once a flush that started after the call has finished, and
// that flush's error. flush is run by one of the waiting callers.
func (g *groupSync) wait(flush func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A flush already running may have started before our writes: only the
	// next one counts.
	target := g.started + 1
	for g.done < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := flush()
		g.mu.Lock()
		g.running = false
		g.done, g.err = n, err
		g.cond.Broadcast()
	}
	return g.err
}
