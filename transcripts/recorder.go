package transcripts

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxEvents is how many events a Recorder keeps when Options.MaxEvents
// is 0.
const DefaultMaxEvents = 100000

// registrationWait bounds how long an accepted connection waits for a lab
// dialer of the same Recorder to say who it is (see Recorder.Listen).
const registrationWait = 2 * time.Second

// Options configure a Recorder. The zero value is ready to use.
type Options struct {
	// Now is the clock stamped on events; nil means time.Now. Scenarios
	// inject a fake clock so a transcript renders the same bytes twice.
	Now func() time.Time
	// MaxEvents bounds the events kept for Events; 0 means DefaultMaxEvents,
	// and a negative number keeps none: a long-running lab whose events only
	// go to subscribers (a live renderer) then uses no memory for them.
	// Subscribers still receive every event.
	MaxEvents int
}

// Recorder collects the events of every tapped connection of a lab run and
// hands them, in Seq order, to its subscribers.
//
// Agents wrap their listeners with Listen and their dialers with Dialer. A
// connection between two agents tapped by the same Recorder is recorded once,
// by the listening side, and names both agents. A nil *Recorder is not
// usable: callers that may run without a transcript guard their calls.
type Recorder struct {
	now func() time.Time
	max int

	// dmu serialises recording and delivery, so that subscribers see events
	// in Seq order whatever goroutine produced them.
	dmu sync.Mutex

	mu        sync.Mutex // guards the fields below
	seq       int64
	last      time.Time // time of the latest event
	events    []Event
	dropped   int64
	subs      []subscription
	nextSub   int
	nextConn  int
	listeners map[*tapListener]struct{}
	dials     map[string]*dialReg // lab dialers by local address, until claimed
	pending   map[*tapListener]int
	changed   chan struct{} // closed and replaced when dials or pending change
}

type subscription struct {
	id int
	fn func(Event)
}

// NewRecorder returns an empty Recorder.
func NewRecorder(opts Options) *Recorder {
	r := &Recorder{
		now:       opts.Now,
		max:       opts.MaxEvents,
		listeners: make(map[*tapListener]struct{}),
		dials:     make(map[string]*dialReg),
		pending:   make(map[*tapListener]int),
		changed:   make(chan struct{}),
	}
	if r.now == nil {
		r.now = time.Now
	}
	switch {
	case r.max == 0:
		r.max = DefaultMaxEvents
	case r.max < 0:
		r.max = 0
	}
	return r
}

// Subscribe calls fn with every event recorded from now on, in Seq order, on
// the goroutine that recorded it and before the recording call returns (a
// tapped Write waits for fn before its bytes reach the socket). fn must be
// quick and must not record (Note, or I/O on a tapped connection): that would
// deadlock. cancel stops the delivery; it may be called more than once.
func (r *Recorder) Subscribe(fn func(Event)) (cancel func()) {
	r.mu.Lock()
	r.nextSub++
	id := r.nextSub
	r.subs = append(r.subs, subscription{id: id, fn: fn})
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i, s := range r.subs {
			if s.id == id {
				r.subs = append(r.subs[:i:i], r.subs[i+1:]...)
				return
			}
		}
	}
}

// Events returns a copy of the events kept so far, in Seq order. At most
// Options.MaxEvents are kept: the first ones; Dropped tells how many later
// events were not.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Dropped returns how many events were delivered to subscribers but not
// kept for Events because MaxEvents was reached.
func (r *Recorder) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Note records a remark outside any connection, e.g. the scenario runner's
// "say: ..." or "expect ok: ...".
func (r *Recorder) Note(agent, text string) {
	r.emit(Event{Kind: KindNote, Agent: agent, Line: escapeLine([]byte(text))})
}

// emit stamps e with the next Seq and the clock, keeps it and delivers it.
func (r *Recorder) emit(e Event) { r.emitAt(e, nil) }

// emitAt is emit for the lines of one Read or Write, which crossed together:
// the first reads the clock into *stamp, the others reuse it (the clock can
// cost a microsecond, and a 10 MiB message has 130000 lines). Times never go
// backwards in Seq order.
func (r *Recorder) emitAt(e Event, stamp *time.Time) {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	r.mu.Lock()
	r.seq++
	e.Seq = r.seq
	if stamp != nil && !stamp.IsZero() {
		e.Time = *stamp
	} else {
		e.Time = r.now()
		if stamp != nil {
			*stamp = e.Time
		}
	}
	if e.Time.Before(r.last) {
		e.Time = r.last
	}
	r.last = e.Time
	if e.Dir != 0 && e.DirText == "" {
		e.DirText = e.Dir.String()
	}
	if len(r.events) < r.max {
		r.events = append(r.events, e)
	} else {
		r.dropped++
	}
	subs := r.subs
	r.mu.Unlock()
	for _, s := range subs {
		s.fn(e)
	}
}

// newConnID returns the next connection id: 1, 2, 3...
func (r *Recorder) newConnID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextConn++
	return r.nextConn
}

// notifyLocked wakes the goroutines waiting for a dial registration.
// r.mu must be held.
func (r *Recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Listen wraps a server's listener: every accepted connection is tapped and
// recorded, with agent as the server's name and proto ("smtp", "lmtp", ...)
// as its protocol. The client is named after the lab agent that dialed it
// through this Recorder's Dialer, or else by its address ("127.0.0.1:40312").
//
// To name a lab client without a race (the server greets right after
// accepting, maybe before the client's Dial has returned), a dialer
// registers itself before connecting; Accept then holds a connection whose
// client is unknown while dials to this listener are pending, at most 2s.
func (r *Recorder) Listen(l net.Listener, agent, proto string) net.Listener {
	tl := &tapListener{Listener: l, rec: r, agent: agent, proto: proto, done: make(chan struct{})}
	r.mu.Lock()
	r.listeners[tl] = struct{}{}
	r.mu.Unlock()
	return tl
}

// Dialer wraps a client's dial function (nil means a net.Dialer) so that the
// connections it opens are tapped, with agent as the client's name. When the
// address dialed is a listener tapped by the same Recorder, the listening side
// records the connection and names this agent as its client; otherwise the
// dialing side records it, naming the server by its address.
func (r *Recorder) Dialer(agent, proto string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := r.listenerFor(addr)
		if target != nil {
			r.mu.Lock()
			r.pending[target]++
			r.mu.Unlock()
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			if target != nil {
				r.endPending(target, "", nil)
			}
			return nil, err
		}
		if l := r.listenerFor(c.RemoteAddr().String()); l != nil {
			// The listening side records; this side only forwards meaning.
			reg := &dialReg{agent: agent, ready: make(chan struct{})}
			if _, ok := c.LocalAddr().(*net.TCPAddr); !ok {
				// Only TCP addresses tell two clients apart: this one
				// stays unnamed on the listening side.
				close(reg.ready)
				r.endPending(target, "", nil)
			} else {
				r.endPending(target, c.LocalAddr().String(), reg)
			}
			return newConn(c, r, sideClient, false, reg), nil
		}
		if target != nil {
			r.endPending(target, "", nil)
		}
		t := newConn(c, r, sideClient, true, nil)
		t.open(&connRec{
			id:     r.newConnID(),
			client: agent,
			server: c.RemoteAddr().String(),
			proto:  proto,
		}, c.LocalAddr().String(), c.RemoteAddr().String())
		return t, nil
	}
}

// endPending records a lab dialer's local address (when reg is not nil) and
// ends its pending state on l, in one step so Accept never sees neither.
func (r *Recorder) endPending(l *tapListener, local string, reg *dialReg) {
	if l == nil && reg == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reg != nil {
		r.dials[local] = reg
	}
	if l != nil {
		if r.pending[l]--; r.pending[l] <= 0 {
			delete(r.pending, l)
		}
	}
	r.notifyLocked()
}

// listenerFor returns the tapped listener of r whose address addr names, or
// nil. A host name ("localhost:2525") matches any listener on that port.
func (r *Recorder) listenerFor(addr string) *tapListener {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	for l := range r.listeners {
		ta, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			if l.Addr().String() == addr {
				return l
			}
			continue
		}
		if strconv.Itoa(ta.Port) != port {
			continue
		}
		if ip == nil || ta.IP.IsUnspecified() || ta.IP.Equal(ip) {
			return l
		}
	}
	return nil
}

// claimDial waits, while dials to l are pending, for a lab dialer to register
// the local address remote, and returns its registration or nil.
func (r *Recorder) claimDial(l *tapListener, remote string) *dialReg {
	var timeout <-chan time.Time
	for {
		r.mu.Lock()
		reg, ok := r.dials[remote]
		if ok {
			delete(r.dials, remote)
			r.mu.Unlock()
			return reg
		}
		waiting := r.pending[l] > 0
		changed := r.changed
		r.mu.Unlock()
		if !waiting {
			return nil
		}
		if timeout == nil {
			t := time.NewTimer(registrationWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil
		case <-l.done:
			return nil
		}
	}
}

// forgetDial removes a registration nobody claimed (its conn is closing).
func (r *Recorder) forgetDial(reg *dialReg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.dials {
		if v == reg {
			delete(r.dials, k)
		}
	}
}

// dialReg is a lab dialer's registration: who it is, and, once the listening
// side has accepted the connection, the shared record of it.
type dialReg struct {
	agent string
	ready chan struct{} // closed when rec is set, or when nobody will set it
	rec   *connRec      // written before ready is closed
}

// tapListener is the net.Listener returned by Recorder.Listen.
type tapListener struct {
	net.Listener
	rec   *Recorder
	agent string
	proto string

	closeOnce sync.Once
	done      chan struct{}
}

// Accept waits for a connection and returns it tapped.
func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	remote := c.RemoteAddr().String()
	client := remote
	reg := l.rec.claimDial(l, remote)
	if reg != nil {
		client = reg.agent
	}
	cr := &connRec{id: l.rec.newConnID(), client: client, server: l.agent, proto: l.proto, labClient: reg != nil}
	if reg != nil {
		reg.rec = cr
		close(reg.ready)
	}
	t := newConn(c, l.rec, sideServer, true, nil)
	t.open(cr, remote, c.LocalAddr().String())
	return t, nil
}

// Close closes the listener and forgets it.
func (l *tapListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.rec.mu.Lock()
		delete(l.rec.listeners, l)
		l.rec.mu.Unlock()
	})
	return l.Listener.Close()
}
