package transcripts

import (
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maillab/maillab/protocols/wire"
)

// maxPendingMarks bounds the marks waiting for their byte position; beyond
// it the oldest takes effect at once.
const maxPendingMarks = 64

type side int

const (
	sideServer side = iota + 1 // accepted the connection
	sideClient                 // dialed it
)

// Conn is a tapped connection, as returned by a listener from Recorder.Listen
// or a dial function from Recorder.Dialer. It is an ordinary net.Conn, and it
// implements wire.Tracer so protocol code can add meaning to the transcript.
//
// The recording side (see Recorder.Listen) records every line crossing it: a
// line written when Write is called, before the peer can read it; a line read
// when Read returns it. So the order of lines in the transcript is the order
// in which they really crossed.
//
// Besides the marks protocol code sets, the tap applies three rules of its
// own, because the recording side may read a line before the code that could
// mark it has seen it: a line "." ends a bulk mark (the end of dot-stuffed
// text; not for IMAP), a client's AUTH (or POP3 PASS, IMAP LOGIN) with its
// credentials on the command line is secret, and after a positive answer to
// STARTTLS (POP3 STLS) the encrypted bytes are no longer split into lines
// but recorded as TLS records (KindWire). A secret line recorded without TLS
// is followed by the note PlaintextPasswordWarning.
//
// Conn implements wire.TLSRecorder (see tls.go): after a handshake,
// StartedTLS returns another *Conn, over the *tls.Conn, that records the
// decrypted lines with the same rules.
type Conn struct {
	net.Conn
	rec       *Recorder
	side      side
	recording bool
	cr        *connRec // set by open on the recording side; immutable after
	reg       *dialReg // the non-recording side's way to cr
	layer     layer    // layerRaw: the socket; layerTLS: inside TLS
	raw       *Conn    // for layerTLS: the tapped socket under the TLS

	rmu, wmu     sync.Mutex // one per direction; held across the inner I/O
	rd, wr       splitter
	rrec, wrec   recordParser // TLS records of each direction (layerRaw)
	rcount       atomic.Int64 // bytes read, for the positions of marks
	wcount       atomic.Int64 // bytes written (recorded)
	peerClosed   atomic.Bool  // Read saw io.EOF
	orphan       atomic.Bool  // the listening side never claimed this dial
	closeOnce    sync.Once
	closeErr     error
	closedSignal chan struct{}
}

// connRec is what both tapped ends of one connection share.
type connRec struct {
	id             int
	client, server string
	proto          string
	mu             sync.Mutex // guards the fields below
	queueID        string
	marks          [2][3]markQueue // indexed by layer and wire.Direction
	tlsAsked       bool
	tlsTag         string // IMAP tag of STARTTLS
	secretWarned   bool   // the plaintext-password warning follows the current run of secret lines

	// labClient: the client is a lab dialer of the same Recorder, which
	// records the TLS handshake itself (it knows the certificate and
	// whether it verified it). Immutable after creation.
	labClient bool
	// tlsOn: the raw bytes are TLS records from here on (after a positive
	// STARTTLS answer, at once on an implicit-TLS connection).
	tlsOn      atomic.Bool
	wireEvents atomic.Int64 // KindWire events recorded, for MaxWireEvents
}

type markQueue struct {
	cur     wire.Mark
	pending []posMark // sorted by pos
}

type posMark struct {
	pos int64
	m   wire.Mark
}

// newConn returns c tapped for r.
func newConn(c net.Conn, r *Recorder, s side, recording bool, reg *dialReg) *Conn {
	return &Conn{Conn: c, rec: r, side: s, recording: recording, reg: reg, closedSignal: make(chan struct{})}
}

// open records the KindOpen event of the recording side.
func (c *Conn) open(cr *connRec, clientAddr, serverAddr string) {
	c.cr = cr
	c.rec.emit(c.event(KindOpen, clientAddr+" -> "+serverAddr))
}

// event returns an event of c's connection with the fields of cr filled.
func (c *Conn) event(k Kind, line string) Event {
	cr := c.cr
	cr.mu.Lock()
	q := cr.queueID
	cr.mu.Unlock()
	return Event{Conn: cr.id, Client: cr.client, Server: cr.server, Proto: cr.proto, Kind: k, Line: line, QueueID: q}
}

func (c *Conn) readDir() wire.Direction {
	if c.side == sideServer {
		return wire.ClientToServer
	}
	return wire.ServerToClient
}

func (c *Conn) writeDir() wire.Direction {
	if c.side == sideServer {
		return wire.ServerToClient
	}
	return wire.ClientToServer
}

// Unwrap returns the connection c taps.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Read implements net.Conn; on the recording side it records the complete
// lines it returns.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	n, err := c.Conn.Read(p)
	if n > 0 {
		if c.recording {
			c.tapBytes(c.readDir(), &c.rd, &c.rrec, p[:n])
		}
		c.rcount.Add(int64(n))
	}
	if errors.Is(err, io.EOF) {
		c.peerClosed.Store(true)
		if c.raw != nil {
			// A TLS close_notify ends the stream before the socket does.
			c.raw.peerClosed.Store(true)
		}
	}
	return n, err
}

// tapBytes records the bytes p of direction d: lines, or, on the socket once
// TLS is on, TLS records. An implicit-TLS connection (RFC 8314) is known by
// its first client byte: 0x16, a TLS handshake record (RFC 8446 section
// 5.1); no mail protocol line starts with that control character.
func (c *Conn) tapBytes(d wire.Direction, s *splitter, rp *recordParser, p []byte) {
	var stamp time.Time // shared by the events of one Read or Write
	if c.layer == layerRaw {
		cr := c.cr
		if d == wire.ClientToServer && s.pos == 0 && p[0] == recordTypeHandshake && !cr.tlsOn.Load() {
			cr.tlsOn.Store(true)
			c.rec.emitAt(c.event(KindNote, NoteImplicitTLS), &stamp)
		}
		if cr.tlsOn.Load() {
			s.pos += int64(len(p))
			c.wireRecords(d, rp, p, &stamp)
			return
		}
	}
	rest := s.feed(p, c.lineEmitter(d, &stamp))
	if len(rest) > 0 && c.layer == layerRaw {
		c.wireRecords(d, rp, rest, &stamp)
	}
}

// Write implements net.Conn; on the recording side it records the lines of p
// before writing them.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.recording {
		if len(p) > 0 {
			c.tapBytes(c.writeDir(), &c.wr, &c.wrec, p)
		}
		c.wcount.Add(int64(len(p)))
		return c.Conn.Write(p)
	}
	n, err := c.Conn.Write(p)
	c.wcount.Add(int64(n))
	return n, err
}

// Close implements net.Conn. It records the partial lines left and the close
// once; later calls do nothing and return nil.
func (c *Conn) Close() error {
	if c.layer == layerTLS {
		return c.closeTLS()
	}
	first := false
	c.closeOnce.Do(func() {
		first = true
		// Close first: it unblocks a Read or Write holding its lock.
		c.closeErr = c.Conn.Close()
		close(c.closedSignal)
		if !c.recording {
			c.rec.forgetDial(c.reg)
			return
		}
		c.rmu.Lock()
		c.flushPartial(c.readDir(), &c.rd)
		c.rmu.Unlock()
		c.wmu.Lock()
		c.flushPartial(c.writeDir(), &c.wr)
		c.wmu.Unlock()
		by := c.agent()
		if c.peerClosed.Load() {
			by = c.peer()
		}
		c.rec.emit(c.event(KindClose, "closed by "+by))
	})
	if !first {
		return nil
	}
	return c.closeErr
}

// flushPartial records the partial line of s, if any (at close). The
// direction's lock must be held.
func (c *Conn) flushPartial(d wire.Direction, s *splitter) {
	if s.pending() {
		s.flushLine(c.lineEmitter(d, nil))
	}
}

// agent names this side; peer the other.
func (c *Conn) agent() string {
	if c.cr == nil {
		return c.reg.agent
	}
	if c.side == sideServer {
		return c.cr.server
	}
	return c.cr.client
}

func (c *Conn) peer() string {
	if c.side == sideServer {
		return c.cr.client
	}
	return c.cr.server
}

// lineEmitter returns the splitter callback recording lines in direction d.
// stamp, when not nil, is shared by the events of one Read or Write.
func (c *Conn) lineEmitter(d wire.Direction, stamp *time.Time) func(line []byte, extra, start int64) bool {
	if stamp == nil {
		stamp = new(time.Time)
	}
	inTLS := c.layer == layerTLS
	return func(line []byte, extra, start int64) bool {
		cr := c.cr
		text := lineText(line, extra)
		cr.mu.Lock()
		if !inTLS && cr.tlsOn.Load() {
			cr.mu.Unlock()
			return false
		}
		m := cr.markAt(c.layer, d, start)
		bulk, secret := m == wire.MarkBulk, m == wire.MarkSecret
		if bulk && text == "." && cr.proto != "imap" {
			// RFC 5321 section 4.5.2: a line of a single dot ends the text.
			bulk = false
			cr.marks[c.layer][d].cur = wire.MarkNone
		}
		creds := d == wire.ClientToServer && credentialsInLine(cr.proto, text)
		secret = secret || creds
		tlsNow := false
		if !inTLS {
			tlsNow = cr.watchTLS(d, text)
		}
		// One warning per run of secret client lines (AUTH LOGIN sends
		// two, with server lines between); a command carrying credentials
		// starts a new run.
		warn := false
		switch {
		case secret && !inTLS:
			warn, cr.secretWarned = !cr.secretWarned || creds, true
		case d == wire.ClientToServer:
			cr.secretWarned = false
		}
		q := cr.queueID
		cr.mu.Unlock()
		c.rec.emitAt(Event{
			Conn: cr.id, Client: cr.client, Server: cr.server, Proto: cr.proto,
			Kind: KindLine, Dir: d, DirText: d.String(), Line: text,
			Bulk: bulk, Secret: secret, QueueID: q, TLS: inTLS,
		}, stamp)
		if warn {
			c.rec.emitAt(Event{
				Conn: cr.id, Client: cr.client, Server: cr.server, Proto: cr.proto,
				Kind: KindNote, QueueID: q, Line: PlaintextPasswordWarning,
			}, stamp)
		}
		if tlsNow {
			c.rec.emitAt(Event{
				Conn: cr.id, Client: cr.client, Server: cr.server, Proto: cr.proto,
				Kind: KindNote, QueueID: q, Line: NoteStartTLS,
			}, stamp)
			return false
		}
		return true
	}
}

// markAt applies the marks due at byte position pos of direction d of
// layer l and returns the mark in force there. cr.mu must be held.
func (cr *connRec) markAt(l layer, d wire.Direction, pos int64) wire.Mark {
	q := &cr.marks[l][d]
	i := 0
	for i < len(q.pending) && q.pending[i].pos <= pos {
		q.cur = q.pending[i].m
		i++
	}
	q.pending = append(q.pending[:0], q.pending[i:]...)
	return q.cur
}

// addMark queues m to take effect at byte position pos of direction d of
// layer l. Each layer counts its own bytes: inside TLS, the decrypted ones.
func (cr *connRec) addMark(l layer, d wire.Direction, pos int64, m wire.Mark) {
	if d != wire.ClientToServer && d != wire.ServerToClient {
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	q := &cr.marks[l][d]
	i := sort.Search(len(q.pending), func(i int) bool { return q.pending[i].pos > pos })
	q.pending = append(q.pending, posMark{})
	copy(q.pending[i+1:], q.pending[i:])
	q.pending[i] = posMark{pos: pos, m: m}
	if len(q.pending) > maxPendingMarks {
		q.cur = q.pending[0].m
		q.pending = append(q.pending[:0], q.pending[1:]...)
	}
}

// watchTLS follows STARTTLS (RFC 3207), STLS (RFC 2595 section 4) and IMAP
// STARTTLS, and reports whether line is the positive answer after which TLS
// starts (and then sets cr.tlsOn). cr.mu must be held. It is on every
// line's path: cheap tests first.
func (cr *connRec) watchTLS(d wire.Direction, line string) bool {
	if d == wire.ClientToServer {
		cr.tlsAsked = false
		if len(line) > 40 {
			return false
		}
		switch verb, rest := cutWord(line); {
		case cr.proto == "imap":
			cmd, _ := cutWord(rest)
			if strings.EqualFold(cmd, "STARTTLS") {
				cr.tlsAsked, cr.tlsTag = true, verb
			}
		case cr.proto == "pop3":
			cr.tlsAsked = strings.EqualFold(verb, "STLS") && rest == ""
		default:
			cr.tlsAsked = strings.EqualFold(verb, "STARTTLS") && rest == ""
		}
		return false
	}
	if !cr.tlsAsked {
		return false
	}
	first, rest := cutWord(line)
	ok := false
	switch {
	case cr.proto == "imap":
		if first == "*" {
			return false
		}
		status, _ := cutWord(rest)
		ok = first == cr.tlsTag && strings.EqualFold(status, "OK")
	case cr.proto == "pop3":
		ok = first == "+OK"
	default:
		if len(line) > 3 && line[3] == '-' {
			return false // a multi-line reply goes on
		}
		ok = strings.HasPrefix(line, "220")
	}
	if ok {
		cr.tlsOn.Store(true)
	}
	cr.tlsAsked = false
	return ok
}

// cutWord splits line at its first run of spaces.
func cutWord(line string) (word, rest string) {
	line = strings.TrimLeft(line, " ")
	word, rest, _ = strings.Cut(line, " ")
	return word, strings.TrimSpace(rest)
}

// credentialsInLine reports whether a client line carries credentials on
// the command line itself: SMTP/POP3 "AUTH mech initial-response" (RFC 4954
// section 4), POP3 "PASS secret" (RFC 1939 section 7), IMAP "tag LOGIN user
// pass" or "tag AUTHENTICATE mech initial-response" (RFC 9051 section 6.2).
func credentialsInLine(proto, line string) bool {
	verb, rest := cutWord(line)
	if proto == "imap" {
		cmd, args := cutWord(rest)
		switch {
		case strings.EqualFold(cmd, "LOGIN"):
			return args != ""
		case strings.EqualFold(cmd, "AUTHENTICATE"):
			_, ir := cutWord(args)
			return ir != ""
		}
		return false
	}
	switch {
	case strings.EqualFold(verb, "AUTH"):
		_, ir := cutWord(rest)
		return ir != ""
	case proto == "pop3" && strings.EqualFold(verb, "PASS"):
		return rest != ""
	}
	return false
}

// record returns the shared record of c's connection. On the non-recording
// side it waits, at most registrationWait and only once, for the listening
// side to accept the connection; nil means it never did.
func (c *Conn) record() *connRec {
	if c.cr != nil {
		return c.cr
	}
	select {
	case <-c.reg.ready:
		return c.reg.rec
	default:
	}
	if c.orphan.Load() {
		return nil
	}
	t := time.NewTimer(registrationWait)
	defer t.Stop()
	select {
	case <-c.reg.ready:
		return c.reg.rec
	case <-t.C:
		c.orphan.Store(true)
		return nil
	case <-c.closedSignal:
		return nil
	}
}

// countFor returns how many bytes this side has seen in direction d.
func (c *Conn) countFor(d wire.Direction) int64 {
	if d == c.writeDir() {
		return c.wcount.Load()
	}
	return c.rcount.Load()
}

// tracerEvent returns an event of kind k from this side's agent.
func (c *Conn) tracerEvent(k Kind, line string) Event {
	cr := c.record()
	if cr == nil {
		return Event{Kind: k, Agent: c.agent(), Line: line}
	}
	cr.mu.Lock()
	q := cr.queueID
	cr.mu.Unlock()
	agent := cr.server
	if c.side == sideClient {
		agent = cr.client
	}
	return Event{Conn: cr.id, Client: cr.client, Server: cr.server, Proto: cr.proto,
		Kind: k, Agent: agent, Line: line, QueueID: q, TLS: c.layer == layerTLS}
}

// State implements wire.Tracer: a KindState event "from -> to".
func (c *Conn) State(from, to string) {
	c.rec.emit(c.tracerEvent(KindState, escapeLine([]byte(from+" -> "+to))))
}

// Mark implements wire.Tracer: the lines of direction d from the current
// byte position of this side on get m. Because positions are counted in
// bytes, a mark set by the side that does not record still lands on the
// right line.
func (c *Conn) Mark(d wire.Direction, m wire.Mark) {
	if cr := c.record(); cr != nil {
		cr.addMark(c.layer, d, c.countFor(d), m)
	}
}

// MarkAhead is Mark for the lines from ahead bytes past the current byte
// position of direction d on this side: protocol code that buffers its
// output marks the data it has buffered and not yet written (the IMAP
// server marks its FETCH literals so, without flushing around each). At
// most maxPendingMarks marks may wait for their position.
func (c *Conn) MarkAhead(d wire.Direction, ahead int64, m wire.Mark) {
	if cr := c.record(); cr != nil {
		cr.addMark(c.layer, d, c.countFor(d)+ahead, m)
	}
}

// Note implements wire.Tracer: a KindNote event from this side's agent.
func (c *Conn) Note(text string) {
	c.rec.emit(c.tracerEvent(KindNote, escapeLine([]byte(text))))
}

// QueueID implements wire.Tracer: later events of the connection carry id
// ("" clears it).
func (c *Conn) QueueID(id string) {
	if cr := c.record(); cr != nil {
		cr.mu.Lock()
		cr.queueID = id
		cr.mu.Unlock()
	}
}

var (
	_ wire.Tracer      = (*Conn)(nil)
	_ wire.TLSRecorder = (*Conn)(nil)
)
