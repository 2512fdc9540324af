package imapserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/wire"
)

// bufferBytes sizes each connection's read and write buffers. Longer lines
// are assembled from several reads (wire.ReadLine), so a small buffer costs
// only extra copies, and keeps an idle connection small (see the package
// doc, "# Limits").
const bufferBytes = 4 << 10

// firstBytes sizes the array a session waiting for its client reads into
// (conn.first): the buffers go back to their pools meanwhile, and the
// first bytes of the next command (most commands whole) land here.
const firstBytes = 64

// The buffers of the sessions that are not waiting for their client. A
// session waiting for a command or in IDLE holds none: 8 KiB less per idle
// connection, 16 KiB less RSS with the garbage collector's headroom (1,000
// IDLE connections under "maillab up": see bench/README.md).
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferBytes) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferBytes) }}
)

// conn is one client's session. Only its own goroutine (Serve) touches its
// fields, except first while waitClient's reader goroutine reads into it;
// Shutdown wakes a session blocked reading through lc.
//
// br and bw never change (rd reads br), but their buffers come from
// readerPool and writerPool while the session works and go back while it
// waits for its client (waitClient, readClient): rbuf and wbuf are the pooled
// Reader and Writer whose state br and bw hold then, nil meanwhile; br and
// bw are zero values then, and must not be used.
type conn struct {
	srv     *Server
	opts    *Options
	lc      *netconn.Conn // nc as the Server's netconn.Loop serves it
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer // responses, flushed when the client must wait
	rbuf    *bufio.Reader
	wbuf    *bufio.Writer
	first   [firstBytes]byte // what the wait for the client read
	pending []byte           // of first, not yet read through br
	rd      *imap.Reader
	tr      wire.Tracer
	traced  bool // tr records a transcript: marks need exact positions
	// secure is the connection after a TLS handshake (STARTTLS or
	// ImplicitTLS), as wire.AfterTLS returned it; nil before. Reads and
	// writes go through it from then on; tlsc is the TLS layer under it.
	secure net.Conn
	tlsc   *tls.Conn
	// ahead is tr when it can place marks ahead of the bytes written
	// (see writeLiteral); marksAhead counts those placed since the last
	// flush markAhead made.
	ahead      aheadMarker
	marksAhead int
	num        [20]byte // writeInt's digits

	state  imap.State
	user   User
	sel    *selected // the selected mailbox, in StateSelected
	errors int       // BAD responses and failed logins so far
	quit   bool      // the session ends after the current command

	// reading is set while waitClient's goroutine reads into first; it
	// receives the result.
	reading chan readResult
	idleTag string // the tag of the IDLE in progress (see cmdIdle)
}

func newConn(s *Server, lc *netconn.Conn) *conn {
	nc := lc.NetConn()
	tr := wire.TracerOf(nc)
	c := &conn{srv: s, opts: &s.opts, lc: lc, nc: nc, tr: tr, traced: tr != wire.TracerOf(nil)}
	c.ahead, _ = tr.(aheadMarker)
	c.br, c.bw = new(bufio.Reader), new(bufio.Writer)
	c.getBuffers()
	c.rd = imap.NewReader(c.br, imap.ReaderOptions{
		MaxLineBytes:    s.opts.MaxLineBytes,
		MaxLiteralBytes: s.opts.MaxLiteralBytes,
		MaxDepth:        s.opts.MaxDepth,
	})
	c.rd.Continue = c.continueLiteral
	c.rd.LiteralDone = func(*imap.Command) { c.tr.Mark(wire.ClientToServer, wire.MarkNone) }
	return c
}

// aheadMarker is a wire.Tracer that can also mark the lines from a byte
// position ahead of what was written in direction d, ahead bytes further:
// those of data still in the write buffer (transcripts.Conn.MarkAhead).
type aheadMarker interface {
	MarkAhead(d wire.Direction, ahead int64, m wire.Mark)
}

// continueLiteral asks for a synchronizing literal's data (RFC 3501
// section 7.5) after marking what it will carry: a password is secret, a
// message is bulk.
func (c *conn) continueLiteral(cmd *imap.Command, size int64) error {
	switch cmd.Name {
	case "LOGIN", "AUTHENTICATE":
		if c.loginDisabled() {
			// Refused before "+": the client keeps its password.
			return c.refuseInClear(cmd.Name)
		}
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
	case "APPEND":
		c.tr.Mark(wire.ClientToServer, wire.MarkBulk)
	}
	c.writeString("+ Ready for literal data\r\n")
	return c.bw.Flush()
}

// getBuffers gives br and bw their buffers from the pools, unless they
// have them.
func (c *conn) getBuffers() {
	if c.rbuf == nil {
		c.rbuf = readerPool.Get().(*bufio.Reader)
		c.rbuf.Reset(netReader{c})
		*c.br = *c.rbuf // the same buffer
	}
	if c.wbuf == nil {
		c.wbuf = writerPool.Get().(*bufio.Writer)
		c.wbuf.Reset(netWriter{c})
		*c.bw = *c.wbuf
	}
}

// putBuffers gives the buffers back to the pools, when they hold nothing:
// br nothing unread, bw nothing unflushed.
func (c *conn) putBuffers() {
	if c.rbuf != nil && c.br.Buffered() == 0 {
		*c.br = bufio.Reader{}
		readerPool.Put(c.rbuf)
		c.rbuf = nil
	}
	if c.wbuf != nil && c.bw.Buffered() == 0 {
		*c.bw = bufio.Writer{}
		writerPool.Put(c.wbuf)
		c.wbuf = nil
	}
}

// readResult is what the read of waitClient's goroutine gave.
type readResult struct {
	n   int
	err error
}

// errNotified ends a waitClient whose notify channel fired first.
var errNotified = errors.New("imapserver: mailbox changed")

// waitClient waits until the client sends something, the session holding
// no buffer meanwhile: the responses are flushed, the buffers go back to
// their pools (unless br holds part of a line), and the bytes read land in
// first (pending), where br reads them from before the network. The
// buffers are back when it returns, whatever happened.
//
// The read runs on a goroutine of its own, started by readClient, while
// the session's goroutine waits for it on a channel, and in IDLE for the
// mailbox's notify channel too. Why not read on the session's goroutine:
// its stack grew to 8 KiB executing commands (and rendering their
// transcript), and the Go runtime halves a stack at a collection only when
// less than a quarter of it is in use, which a read (the net package's
// frames, the transcript tap's) blocked under the session's frames
// exceeds; blocked on a channel a few frames under Serve it does not, so
// its stack shrinks to 4 KiB, and the reader's stays at the 2 KiB it
// started with. (So the wait must stay shallow: run calls it directly,
// for IDLE too.) 1,000 IDLE sessions on the real store
// (BenchmarkIdleMDASessionMemory) took 12.3 KB of stacks each with a
// second goroutine reading DONE, 10.4 KB with the session's own goroutine
// reading and one waiting on notify, 6 KB this way. The reader exits once
// it has read; release waits for it.
func (c *conn) waitClient() error {
	if c.br.Buffered() > 0 || len(c.pending) > 0 {
		return nil // what the client sent ahead
	}
	return c.readClient(nil)
}

// readClient is waitClient for more than br holds: it reads whatever br
// holds. With notify, it returns errNotified when notify fires before the
// client sends anything, the read going on (reading) for the next call.
func (c *conn) readClient(notify <-chan struct{}) error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	c.putBuffers()
	defer c.getBuffers()
	for {
		if c.reading == nil {
			c.reading = make(chan readResult, 1)
			go func(ch chan<- readResult) {
				n, err := c.readNet(c.first[:])
				ch <- readResult{n, err}
			}(c.reading)
		}
		var r readResult
		select {
		case r = <-c.reading:
		case <-notify:
			return errNotified
		}
		c.reading = nil
		switch {
		case r.n > 0:
			c.pending = c.first[:r.n]
			return nil
		case r.err != nil:
			return r.err
		}
		// A read of nothing: read again.
	}
}

// stopReading ends the read of waitClient's goroutine, if one is under way,
// by closing the connection (the session is over), and waits for it.
func (c *conn) stopReading() {
	if c.reading != nil {
		c.nc.Close()
		<-c.reading
		c.reading = nil
	}
}

// netReader is what the session reads the network through: what
// waitClient read first, then the network, after flushing pending
// responses (the client may be waiting for them) and with the read
// deadline set. Every read may wait long (a command, a literal, IDLE's
// DONE): Shutdown may interrupt it.
type netReader struct{ c *conn }

func (r netReader) Read(p []byte) (int, error) {
	c := r.c
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return c.readNet(p)
}

// readNet reads from the client: through TLS once it is active (whose
// reads of the network have the same deadline and are as idle, see
// tlsTransport), else from the connection itself.
func (c *conn) readNet(p []byte) (int, error) {
	if c.secure != nil {
		return c.secure.Read(p)
	}
	return c.lc.Read(p, c.opts.IdleTimeout, true)
}

// netWriter sets the write deadline before each write.
type netWriter struct{ c *conn }

func (w netWriter) Write(p []byte) (int, error) {
	if w.c.secure != nil {
		return w.c.secure.Write(p)
	}
	return w.c.lc.Write(p, w.c.opts.WriteTimeout)
}

// Serve runs the session until LOGOUT, an error or Shutdown, and reports
// whether the server ended it (see netconn.Session). It is the connection
// boundary: a panic below is recovered here, answered with "* BYE" and
// logged.
func (c *conn) Serve() bool {
	defer c.release()
	defer func() {
		if v := recover(); v != nil {
			c.opts.Logger.Error("imapserver: panic in session", "remote", c.nc.RemoteAddr(), "panic", v, "stack", string(debug.Stack()))
			c.bye("", "Internal server error, closing connection")
		}
		c.setState(imap.StateLogout)
	}()
	c.run()
	if c.quit && c.tlsc != nil {
		// The server ends the session: close_notify first, so that the
		// client sees a clean TLS end, not a truncation (RFC 8446
		// section 6.1).
		c.tlsc.CloseWrite()
	}
	return c.quit
}

// release closes the mailbox and the user session, whatever ended the
// connection.
func (c *conn) release() {
	c.stopReading()
	// The buffers go back to the pools; what is in them goes with the
	// connection.
	c.pending = nil
	if c.rbuf != nil {
		*c.br = bufio.Reader{}
		readerPool.Put(c.rbuf)
		c.rbuf = nil
	}
	if c.wbuf != nil {
		*c.bw = bufio.Writer{}
		writerPool.Put(c.wbuf)
		c.wbuf = nil
	}
	if c.sel != nil {
		if err := c.sel.mbox.Close(); err != nil {
			c.opts.Logger.Error("imapserver: closing mailbox", "err", err)
		}
		c.sel = nil
	}
	if c.user != nil {
		if err := c.user.Logout(); err != nil {
			c.opts.Logger.Error("imapserver: logout", "err", err)
		}
		c.user = nil
	}
}

func (c *conn) run() {
	if c.opts.ImplicitTLS {
		// RFC 8314 section 3.2: on the IMAPS port the TLS handshake comes
		// first; the greeting is the first thing sent inside TLS.
		if c.opts.TLSConfig == nil {
			c.opts.Logger.Error(errImplicitTLS.Error(), "remote", c.nc.RemoteAddr())
			return
		}
		if c.handshake() != nil {
			return
		}
	}
	// RFC 3501 section 7.1.1: the greeting may carry the capabilities.
	c.writeString("* OK [CAPABILITY " + c.capabilities() + "] " + c.opts.Greeting + "\r\n")
	for !c.quit {
		if c.srv.loop.ShuttingDown() {
			c.bye("", "Server shutting down")
			return
		}
		if c.idleTag != "" {
			// In IDLE (see cmdIdle).
			line, err := c.idleLine(c.idleNotify())
			c.endIdle(line, err)
			continue
		}
		if err := c.waitClient(); err != nil {
			c.readFailed(err)
			continue
		}
		cmd, err := c.rd.ReadCommand()
		if err != nil {
			var pe *imap.ParseError
			switch {
			case errors.As(err, &pe):
				if pe.Close {
					// RFC 7888 section 4: a LITERAL+ too big to take.
					c.bye(pe.Err.Code, pe.Err.Text)
					return
				}
				c.fail(pe.Tag, pe.Err)
			case c.readFailed(err):
				return
			}
			continue
		}
		c.execute(cmd)
	}
	c.bw.Flush()
}

// readFailed ends the session after a failed read: Shutdown, autologout,
// or a client gone (a command cut short, in a literal or not, is dropped
// whole: nothing of it was executed). It reports whether the session ended.
func (c *conn) readFailed(err error) bool {
	switch {
	case c.srv.loop.Interrupted(err):
		c.bye("", "Server shutting down")
	case netconn.IsTimeout(err):
		// RFC 3501 section 5.4: autologout after at least 30 minutes.
		c.bye("", "Autologout; idle for too long")
	}
	c.quit = true
	return true
}

// command is one row of the command table.
type command struct {
	fn func(c *conn, cmd *imap.Command) error
	in []imap.State // states where it is allowed; nil: any
	// expunge: untagged EXPUNGE may be sent at its end (RFC 3501 section
	// 7.4.1: not after FETCH, STORE or SEARCH, whose sequence numbers the
	// client may still be using; the UID variants allow it).
	expunge bool
}

var (
	notAuth    = []imap.State{imap.StateNotAuthenticated}
	authed     = []imap.State{imap.StateAuthenticated, imap.StateSelected}
	authOnly   = []imap.State{imap.StateAuthenticated}
	inSelected = []imap.State{imap.StateSelected}
)

// commands is the command table (RFC 3501 section 6 and the extensions).
var commands map[string]command

func init() {
	commands = map[string]command{
		// RFC 3501 section 6.1: any state.
		"CAPABILITY": {fn: (*conn).cmdCapability, expunge: true},
		"NOOP":       {fn: (*conn).cmdNoop, expunge: true},
		"LOGOUT":     {fn: (*conn).cmdLogout},
		"ID":         {fn: (*conn).cmdID, expunge: true}, // RFC 2971
		// Section 6.2: not authenticated.
		"LOGIN":        {fn: (*conn).cmdLogin, in: notAuth},
		"AUTHENTICATE": {fn: (*conn).cmdAuthenticate, in: notAuth},
		"STARTTLS":     {fn: (*conn).cmdStarttls, in: notAuth}, // and RFC 2595 section 3
		// Section 6.3: authenticated (and selected).
		"SELECT":      {fn: (*conn).cmdSelect, in: authed},
		"EXAMINE":     {fn: (*conn).cmdSelect, in: authed},
		"CREATE":      {fn: (*conn).cmdCreate, in: authed, expunge: true},
		"DELETE":      {fn: (*conn).cmdDelete, in: authed, expunge: true},
		"RENAME":      {fn: (*conn).cmdRename, in: authed, expunge: true},
		"SUBSCRIBE":   {fn: (*conn).cmdSubscribe, in: authed, expunge: true},
		"UNSUBSCRIBE": {fn: (*conn).cmdUnsubscribe, in: authed, expunge: true},
		"LIST":        {fn: (*conn).cmdList, in: authed, expunge: true},
		"LSUB":        {fn: (*conn).cmdList, in: authed, expunge: true},
		"STATUS":      {fn: (*conn).cmdStatus, in: authed, expunge: true},
		"APPEND":      {fn: (*conn).cmdAppend, in: authed, expunge: true},
		"NAMESPACE":   {fn: (*conn).cmdNamespace, in: authed, expunge: true}, // RFC 2342
		"ENABLE":      {fn: (*conn).cmdEnable, in: authOnly},                 // RFC 5161 section 3.1
		"IDLE":        {fn: (*conn).cmdIdle, in: authed},                     // RFC 2177
		// Section 6.4: selected.
		"CHECK":       {fn: (*conn).cmdCheck, in: inSelected, expunge: true},
		"CLOSE":       {fn: (*conn).cmdClose, in: inSelected},
		"UNSELECT":    {fn: (*conn).cmdUnselect, in: inSelected}, // RFC 3691
		"EXPUNGE":     {fn: (*conn).cmdExpunge, in: inSelected, expunge: true},
		"SEARCH":      {fn: (*conn).cmdSearch, in: inSelected},
		"FETCH":       {fn: (*conn).cmdFetch, in: inSelected},
		"STORE":       {fn: (*conn).cmdStore, in: inSelected},
		"COPY":        {fn: (*conn).cmdCopy, in: inSelected},
		"MOVE":        {fn: (*conn).cmdMove, in: inSelected}, // RFC 6851
		"UID SEARCH":  {fn: (*conn).cmdSearch, in: inSelected, expunge: true},
		"UID FETCH":   {fn: (*conn).cmdFetch, in: inSelected, expunge: true},
		"UID STORE":   {fn: (*conn).cmdStore, in: inSelected, expunge: true},
		"UID COPY":    {fn: (*conn).cmdCopy, in: inSelected, expunge: true},
		"UID MOVE":    {fn: (*conn).cmdMove, in: inSelected, expunge: true},
		"UID EXPUNGE": {fn: (*conn).cmdExpunge, in: inSelected, expunge: true}, // RFC 4315 section 2.1
	}
}

// execute runs one command and sends its tagged response.
func (c *conn) execute(cmd *imap.Command) {
	def, ok := commands[cmd.Name]
	if !ok {
		c.fail(cmd.Tag, imap.Bad("Unknown command %s", cmd.Name))
		return
	}
	if def.in != nil && !hasState(def.in, c.state) {
		c.fail(cmd.Tag, c.wrongState(cmd.Name))
		return
	}
	err := def.fn(c, cmd)
	if c.quit || err == errIdling || err == errAnswered {
		return
	}
	// Changes by other sessions are reported before the tagged response
	// (RFC 3501 section 7: untagged data may come with any response).
	c.reportUpdates(def.expunge)
	if err != nil {
		c.fail(cmd.Tag, err)
		return
	}
	c.respond(cmd.Tag, &imap.Error{Status: imap.OK, Text: cmd.Name + " completed"})
}

func hasState(list []imap.State, s imap.State) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// wrongState explains a command sent in the wrong state.
func (c *conn) wrongState(name string) *imap.Error {
	switch {
	case c.state == imap.StateNotAuthenticated:
		return imap.Bad("%s needs LOGIN or AUTHENTICATE first", name)
	case name == "LOGIN" || name == "AUTHENTICATE":
		return imap.Bad("Already logged in")
	case name == "STARTTLS":
		// RFC 3501 section 6.2.1: not authenticated state only.
		return imap.Bad("STARTTLS is only allowed before logging in")
	case name == "ENABLE":
		return imap.Bad("ENABLE is only allowed before SELECT (RFC 5161 section 3.1)")
	}
	return imap.Bad("%s needs a selected mailbox: SELECT or EXAMINE one first", name)
}

// ok returns a tagged OK with a response code, for handlers to return.
func ok(code, format string, args ...any) *imap.Error {
	return &imap.Error{Status: imap.OK, Code: code, Text: fmt.Sprintf(format, args...)}
}

// asResponse is the one place where an error becomes a response: an
// *imap.Error goes to the client as is; the backend's sentinels get their
// codes; anything else is logged and answered with "NO [SERVERBUG]".
func (c *conn) asResponse(err error) *imap.Error {
	var e *imap.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNoSuchMailbox):
		return imap.Errorf(imap.NO, imap.CodeNonExistent, "No such mailbox")
	case errors.Is(err, ErrMailboxExists):
		return imap.Errorf(imap.NO, imap.CodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, ErrAuthFailed):
		return imap.Errorf(imap.NO, imap.CodeAuthenticationFailed, "Invalid credentials")
	case errors.Is(err, ErrCannot):
		return imap.Errorf(imap.NO, imap.CodeCannot, "%s", strings.TrimPrefix(err.Error(), "imapserver: "))
	}
	c.opts.Logger.Error("imapserver: backend error", "remote", c.nc.RemoteAddr(), "err", err)
	return imap.Errorf(imap.NO, imap.CodeServerBug, "Internal error, try again later")
}

// fail answers a command with err, counting BADs and failed logins towards
// MaxErrors.
func (c *conn) fail(tag string, err error) {
	e := c.asResponse(err)
	if e.Status == imap.BYE {
		c.bye(e.Code, e.Text)
		return
	}
	if e.Status == imap.BAD || e.Code == imap.CodeAuthenticationFailed {
		c.errors++
		if c.errors > c.opts.MaxErrors {
			c.respond(tag, e)
			c.bye("", "Too many errors, closing connection")
			return
		}
	}
	c.respond(tag, e)
}

// respond writes a status response, tagged or (tag "") untagged.
func (c *conn) respond(tag string, e *imap.Error) {
	if tag == "" {
		tag = "*"
	}
	var b strings.Builder
	b.WriteString(tag)
	b.WriteByte(' ')
	b.WriteString(string(e.Status))
	b.WriteByte(' ')
	if e.Code != "" {
		b.WriteString("[" + e.Code + "] ")
	}
	b.WriteString(oneLine(e.Text))
	b.WriteString("\r\n")
	c.writeString(b.String())
}

// oneLine keeps a response text on its line.
func oneLine(s string) string {
	if s == "" {
		return "done"
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// bye sends "* BYE" and ends the session (RFC 3501 section 7.1.5).
func (c *conn) bye(code, text string) {
	c.respond("", &imap.Error{Status: imap.BYE, Code: code, Text: text})
	c.bw.Flush()
	c.quit = true
}

// writeString queues response text; errors surface at the next flush or
// read, which ends the session.
func (c *conn) writeString(s string) { c.bw.WriteString(s) }

// untagged writes "* " + text + CRLF.
func (c *conn) untagged(format string, args ...any) {
	c.bw.WriteString("* ")
	fmt.Fprintf(c.bw, format, args...)
	c.bw.WriteString("\r\n")
}

// setState moves the session and tells the transcript.
func (c *conn) setState(s imap.State) {
	if s == c.state {
		return
	}
	c.tr.State(c.state.String(), s.String())
	c.state = s
}
