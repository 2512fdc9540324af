package mailbox

import "sync"

// EventKind says what happened to a folder.
type EventKind uint8

const (
	// EventNew: a message with UID appeared (delivery, APPEND, COPY,
	// MOVE, or a file found by a scan). IMAP: "* n EXISTS".
	EventNew EventKind = iota + 1
	// EventExpunge: the message with UID is gone. IMAP: "* n EXPUNGE".
	EventExpunge
	// EventFlags: the message with UID now has Flags. IMAP: "* n FETCH
	// (UID u FLAGS (...))".
	EventFlags
	// EventResync: events were lost (the watcher was too slow and its
	// buffer filled up) or the folder's UIDVALIDITY changed: the reader
	// must compare its view with the folder again (View.Sync does).
	EventResync
	// EventGone: the folder was deleted or renamed.
	EventGone
)

var eventNames = [...]string{"", "new", "expunge", "flags", "resync", "gone"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "EventKind(?)"
}

// Event is one change of a folder, as a watcher receives it.
type Event struct {
	Kind EventKind
	// Message is the message concerned: all fields for EventNew (Recent
	// only as a View reports it), UID for EventExpunge, UID and Flags for
	// EventFlags.
	Message MessageInfo
	// Old is, for EventFlags from View.Updates, the flags the session had
	// been told before.
	Old Flags
}

// DefaultMaxPendingEvents is the default of Options.MaxPendingEvents.
const DefaultMaxPendingEvents = 1024

// hub fans the events of one folder out to its watchers. Publishing never
// blocks: each watcher has a bounded queue, and a full queue is replaced
// by one EventResync.
type hub struct {
	mu   sync.Mutex
	subs map[*Watch]struct{}
	max  int
	wake func(func()) // Options.Wake
}

// Watch receives the events of one folder caused by others: other
// sessions' Views, Folder methods, Deliver, and files another program put
// in the Maildir (seen when a scan runs). A View's own changes are not sent
// to its own Watch.
//
// Wait on Ready, then call Events. A Watch must be closed.
type Watch struct {
	h      *hub
	ready  chan struct{}
	mu     sync.Mutex
	queue  []Event
	lost   bool
	closed bool
}

func (h *hub) watch() *Watch {
	w := &Watch{h: h, ready: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*Watch]struct{})
	}
	h.subs[w] = struct{}{}
	h.mu.Unlock()
	return w
}

func (h *hub) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

// publish queues evs on every watcher but origin (which may be nil).
func (h *hub) publish(origin *Watch, evs ...Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		if w != origin {
			w.push(h.max, evs)
		}
	}
}

func (w *Watch) push(max int, evs []Event) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	if !w.lost {
		if len(w.queue)+len(evs) > max {
			// A slow reader: drop what is queued and ask it to resync
			// instead of holding the writer or growing without bound.
			w.queue = w.queue[:0]
			w.lost = true
		} else {
			w.queue = append(w.queue, evs...)
		}
	}
	w.mu.Unlock()
	if w.h.wake != nil {
		w.h.wake(w.signal)
		return
	}
	w.signal()
}

// signal wakes the reader of Ready; waking it twice is waking it once.
func (w *Watch) signal() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when events may be waiting. It is a hint: Events
// may return nothing (a View's Sync took them meanwhile).
func (w *Watch) Ready() <-chan struct{} { return w.ready }

// Events returns and forgets the pending events, oldest first. When events
// were lost it returns just one EventResync.
func (w *Watch) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lost {
		w.lost = false
		return []Event{{Kind: EventResync}}
	}
	if len(w.queue) == 0 {
		return nil
	}
	evs := w.queue
	w.queue = nil
	return evs
}

// discard forgets the pending events: a View's Sync has just read the whole
// folder, which supersedes them.
func (w *Watch) discard() {
	w.mu.Lock()
	w.queue, w.lost = nil, false
	w.mu.Unlock()
	select {
	case <-w.ready:
	default:
	}
}

// Close stops the Watch; it gets no more events. Closing twice is fine.
func (w *Watch) Close() {
	w.h.mu.Lock()
	delete(w.h.subs, w)
	w.h.mu.Unlock()
	w.mu.Lock()
	w.closed = true
	w.queue = nil
	w.mu.Unlock()
}
