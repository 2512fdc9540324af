package scenarios

import (
	"context"
	"strings"
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
	open    map[int]openConn // by conn id
	changed chan struct{}    // closed and replaced on every change
	watches []*lineWatch
}

// openConn is an open connection: the client agent and the protocol.
type openConn struct {
	client, proto string
}

// lineWatch waits for a server line starting with prefix on a connection
// of client in proto.
type lineWatch struct {
	client, proto, prefix string
	seen                  chan struct{}
}

func newConnTracker() *connTracker {
	return &connTracker{open: map[int]openConn{}, changed: make(chan struct{})}
}

// event is the Recorder subscription: quick, and never records.
func (t *connTracker) event(e transcripts.Event) {
	if e.Conn == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case transcripts.KindOpen:
		t.open[e.Conn] = openConn{client: e.Client, proto: e.Proto}
	case transcripts.KindClose:
		delete(t.open, e.Conn)
	case transcripts.KindLine:
		if e.DirText != "S" || len(t.watches) == 0 {
			return
		}
		keep := t.watches[:0]
		for _, w := range t.watches {
			if w.client == e.Client && w.proto == e.Proto && strings.HasPrefix(e.Line, w.prefix) {
				close(w.seen)
				continue
			}
			keep = append(keep, w)
		}
		t.watches = keep
		return
	default:
		return
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// watchLine returns a channel closed when the server sends client a line
// starting with prefix on a proto connection ("+ " of an IMAP
// continuation), and a function that stops watching.
func (t *connTracker) watchLine(client, proto, prefix string) (<-chan struct{}, func()) {
	w := &lineWatch{client: client, proto: proto, prefix: prefix, seen: make(chan struct{})}
	t.mu.Lock()
	t.watches = append(t.watches, w)
	t.mu.Unlock()
	return w.seen, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, x := range t.watches {
			if x == w {
				t.watches = append(t.watches[:i:i], t.watches[i+1:]...)
				return
			}
		}
	}
}

// closeWait bounds how long a step waits for its connections to be
// recorded as closed; past it the run goes on (the order of a few
// transcript lines is then all that may differ).
const closeWait = 5 * time.Second

// waitClosed returns once no proto connection opened by client is open,
// or ctx ends, or closeWait passes. (A device's IMAP session stays open
// across steps: its other connections are waited for by protocol.)
func (t *connTracker) waitClosed(ctx context.Context, client, proto string) {
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	for {
		t.mu.Lock()
		busy := false
		for _, c := range t.open {
			if c.client == client && c.proto == proto {
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
