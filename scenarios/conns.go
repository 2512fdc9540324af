package scenarios

import (
	"context"
	"sync"
	"time"

	"github.com/maillab/maillab/transcripts"
)

// connTracker follows the lab's open connections through the transcript,
// so that a step can end only when its connections are closed and
// recorded: the runner's next note then always comes after them, and a
// transcript renders in the same order every time.
type connTracker struct {
	mu      sync.Mutex
	open    map[int]string // conn id -> client agent
	changed chan struct{}  // closed and replaced on every change
}

func newConnTracker() *connTracker {
	return &connTracker{open: map[int]string{}, changed: make(chan struct{})}
}

// event is the Recorder subscription: quick, and never records.
func (t *connTracker) event(e transcripts.Event) {
	if e.Conn == 0 || e.Kind != transcripts.KindOpen && e.Kind != transcripts.KindClose {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Kind == transcripts.KindOpen {
		t.open[e.Conn] = e.Client
	} else {
		delete(t.open, e.Conn)
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// closeWait bounds how long a step waits for its connections to be
// recorded as closed; past it the run goes on (the order of a few
// transcript lines is then all that may differ).
const closeWait = 5 * time.Second

// waitClosed returns once no connection opened by client is open, or ctx
// ends, or closeWait passes.
func (t *connTracker) waitClosed(ctx context.Context, client string) {
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	for {
		t.mu.Lock()
		busy := false
		for _, c := range t.open {
			if c == client {
				busy = true
				break
			}
		}
		changed := t.changed
		t.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}
