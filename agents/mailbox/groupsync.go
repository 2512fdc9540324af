package mailbox

import (
	"sync"
	"time"
)

// groupSync coalesces the flushes of concurrent deliveries ("group
// commit"): every caller of wait needs a flush that starts after its own
// writes; while one flush runs, the callers that arrive meanwhile queue up,
// and the next flush serves them all. One flush per batch instead of one per
// message is how a Maildir store gets past the disk's fsync rate without
// answering 250 for a message that is not yet on disk.
//
// A short gather: the caller that is about to start a flush first waits,
// at most gatherWindow, while deliveries that have entered (enter) are
// still on their way to a flush of their own (creating their file, or
// renaming it between their two flushes), so that the flush covers them
// too. Without it, under bench/run.sh's durable load (10 sessions, 1
// message each) a syncfs covered 1.2 messages (0.84 syncfs per message,
// each about 60 µs of CPU on the bench VM); the deliveries that enter are
// already in memory (mda's DeliverBytes), so the wait is for CPU work, not
// for a client. Nobody waits when no other delivery is in progress, and
// nobody is answered before a flush that started after their writes has
// finished.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond // the queued callers: a flush finished
	gcond   *sync.Cond // the gathering caller: a caller queued or left
	running bool       // a caller is gathering or flushing
	gather  bool       // ... gathering
	started uint64     // flushes started
	done    uint64     // flushes finished
	err     error      // result of the last finished flush
	active  int        // deliveries between enter and leave
	queued  int        // callers of wait that no started flush covers yet
	window  time.Duration
}

// gatherWindow bounds the wait of a flush for the deliveries in progress.
// A syncfs takes 200–500 µs of wall time on the bench VM; a delivery's
// create, write and rename take tens of microseconds when it has a CPU.
const gatherWindow = 500 * time.Microsecond

func newGroupSync() *groupSync {
	g := &groupSync{window: gatherWindow}
	g.cond = sync.NewCond(&g.mu)
	g.gcond = sync.NewCond(&g.mu)
	return g
}

// enter announces a delivery that will call wait (once or more) before
// leave: a flush about to start waits for it (within the window).
func (g *groupSync) enter() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

// leave ends what enter began.
func (g *groupSync) leave() {
	g.mu.Lock()
	g.active--
	if g.gather {
		g.gcond.Signal()
	}
	g.mu.Unlock()
}

// wait returns once a flush that started after the call has finished, and
// that flush's error. flush is run by one of the waiting callers.
func (g *groupSync) wait(flush func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A flush already running may have started before our writes: only the
	// next one counts.
	target := g.started + 1
	g.queued++
	if g.gather {
		g.gcond.Signal()
	}
	for g.done < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.gatherLocked()
		g.started++
		n := g.started
		g.queued = 0 // every caller queued so far is covered by flush n
		g.mu.Unlock()
		err := flush()
		g.mu.Lock()
		g.running = false
		g.done, g.err = n, err
		g.cond.Broadcast()
	}
	return g.err
}

// gatherLocked waits, at most the window, while some delivery that has
// entered has not queued yet. Called with g.mu held and g.running set.
func (g *groupSync) gatherLocked() {
	if g.window <= 0 || g.queued >= g.active {
		return
	}
	g.gather = true
	deadline := time.Now().Add(g.window)
	t := time.AfterFunc(g.window, func() {
		g.mu.Lock()
		g.gcond.Signal()
		g.mu.Unlock()
	})
	for g.queued < g.active && time.Now().Before(deadline) {
		g.gcond.Wait()
	}
	t.Stop()
	g.gather = false
}
