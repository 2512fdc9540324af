package pop3server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/wire"
)

// conn is one client's session. Only its own goroutine (Serve) touches its
// fields; Shutdown wakes an idle session through lc.
type conn struct {
	srv  *Server
	opts *Options
	lc   *netconn.Conn // nc as the Server's netconn.Loop serves it
	nc   net.Conn
	br   *bufio.Reader // commands, read through netReader
	bw   *bufio.Writer // responses, flushed when the client must wait for them
	tr   wire.Tracer
	// secure is the connection after a TLS handshake (STLS or
	// ImplicitTLS), as wire.AfterTLS returned it; nil before. Reads and
	// writes go through it from then on; tlsc is the TLS layer under it.
	secure net.Conn
	tlsc   *tls.Conn

	timestamp string // the APOP timestamp of the greeting

	state     pop3.State
	user      string // name from an accepted USER; only PASS may follow it
	drop      Maildrop
	msgs      []MessageInfo // the maildrop as it was at login
	deleted   []bool        // marked by DELE, indexed like msgs
	errors    int           // "-ERR" answers to mistakes so far
	authFails int           // failed logins so far
	quit      bool          // the session must end after the current command
}

func newConn(s *Server, lc *netconn.Conn) *conn {
	nc := lc.NetConn()
	c := &conn{srv: s, opts: &s.opts, lc: lc, nc: nc, tr: wire.TracerOf(nc)}
	c.br = bufio.NewReader(netReader{c})
	c.bw = bufio.NewWriter(netWriter{c})
	return c
}

// netReader is what the session reads the network through. Responses are
// flushed only when the server would otherwise wait for input, so the
// responses to pipelined commands (RFC 2449 section 6.6) leave together.
// Every read waits for a command: Shutdown may interrupt it.
type netReader struct{ c *conn }

func (r netReader) Read(p []byte) (int, error) {
	c := r.c
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	if c.secure != nil {
		return c.secure.Read(p) // deadlines: see tlsTransport
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

// Serve runs the session until QUIT, an error or Shutdown, and reports
// whether the server ended it (see netconn.Session). It is the connection
// boundary: a panic below is recovered here, answered with
// "-ERR [SYS/TEMP]" and logged; the maildrop is closed without UPDATE.
func (c *conn) Serve() bool {
	defer c.closeDrop()
	defer func() {
		if v := recover(); v != nil {
			c.opts.Logger.Error("pop3server: panic in session", "remote", c.nc.RemoteAddr(), "panic", v, "stack", string(debug.Stack()))
			c.closeWith("-ERR [SYS/TEMP] internal error, closing connection")
		}
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

// closeDrop releases the maildrop lock, if a login took one. Nothing is
// deleted here: only cmdQuit enters the UPDATE state (RFC 1939 section 6).
func (c *conn) closeDrop() {
	if c.drop == nil {
		return
	}
	if err := c.drop.Close(); err != nil {
		c.opts.Logger.Error("pop3server: closing maildrop", "remote", c.nc.RemoteAddr(), "err", err)
	}
	c.drop = nil
}

func (c *conn) run() {
	if c.opts.ImplicitTLS {
		// RFC 8314 section 3.1: on the POP3S port the TLS handshake comes
		// first; the greeting is the first thing sent inside TLS.
		if c.handshake() != nil { // Serve checked TLSConfig
			return
		}
	}
	c.timestamp = c.srv.timestamp()
	// RFC 1939 section 4: the greeting is a positive response; section 7:
	// a server that supports APOP puts its timestamp in it.
	c.ok(c.opts.Banner + " " + c.timestamp)
	for !c.quit {
		if c.srv.loop.ShuttingDown() {
			c.closeWith("-ERR [SYS/TEMP] server shutting down")
			return
		}
		line, err := wire.ReadLine(c.br, c.opts.MaxLineBytes)
		switch {
		case err == nil:
			c.execute(line)
		case errors.Is(err, wire.ErrLineTooLong):
			// RFC 2449 section 4: commands are at most 255 octets.
			// ReadLine consumed the line, so the session goes on.
			c.fail(&pop3.Error{Text: fmt.Sprintf("line too long (the limit is %d octets, RFC 2449 section 4)", c.opts.MaxLineBytes)})
		case c.srv.loop.Interrupted(err):
			c.closeWith("-ERR [SYS/TEMP] server shutting down")
			return
		case netconn.IsTimeout(err):
			// RFC 1939 section 3: an autologout timer closes the session
			// WITHOUT entering the UPDATE state: nothing is deleted.
			c.closeWith("-ERR autologout: idle for too long, no messages deleted")
			return
		default:
			return // the client went away: no UPDATE (RFC 1939 section 6)
		}
	}
	c.bw.Flush()
}

// command is one row of the command table.
type command struct {
	fn func(c *conn, cmd pop3.Command) error
	in pop3.State // the one state where it is allowed, unless any
	// any: allowed in AUTHORIZATION and TRANSACTION (CAPA, QUIT).
	any bool
}

// commands is the command table: RFC 1939 sections 4 to 7, CAPA (RFC
// 2449 section 5), AUTH (RFC 5034 section 4), STLS (RFC 2595 section 4).
var commands map[string]command

func init() {
	auth, trans := pop3.StateAuthorization, pop3.StateTransaction
	commands = map[string]command{
		"USER": {fn: (*conn).cmdUser, in: auth},
		"PASS": {fn: (*conn).cmdPass, in: auth},
		"APOP": {fn: (*conn).cmdAPOP, in: auth},
		"AUTH": {fn: (*conn).cmdAuth, in: auth},
		"STLS": {fn: (*conn).cmdStls, in: auth}, // RFC 2595 section 4
		"STAT": {fn: (*conn).cmdStat, in: trans},
		"LIST": {fn: (*conn).cmdList, in: trans},
		"RETR": {fn: (*conn).cmdRetr, in: trans},
		"DELE": {fn: (*conn).cmdDele, in: trans},
		"NOOP": {fn: (*conn).cmdNoop, in: trans},
		"RSET": {fn: (*conn).cmdRset, in: trans},
		"TOP":  {fn: (*conn).cmdTop, in: trans},
		"UIDL": {fn: (*conn).cmdUIDL, in: trans},
		"CAPA": {fn: (*conn).cmdCapa, any: true},
		"QUIT": {fn: (*conn).cmdQuit, any: true},
	}
}

// execute runs one command line.
func (c *conn) execute(line []byte) {
	user := c.user
	c.user = "" // RFC 1939 section 7: PASS must come right after USER
	if user != "" {
		c.tr.Mark(wire.ClientToServer, wire.MarkNone) // the line after USER was read
	}
	cmd, err := pop3.ParseCommand(line)
	if err != nil {
		c.fail(&pop3.Error{Text: strings.TrimPrefix(err.Error(), "pop3: ")})
		return
	}
	if cmd.Verb == "PASS" {
		c.user = user
	}
	row, ok := commands[cmd.Verb]
	if !ok {
		c.fail(&pop3.Error{Text: "unknown command " + cmd.Verb})
		return
	}
	if !row.any && row.in != c.state {
		c.fail(c.wrongState(cmd.Verb))
		return
	}
	if err := row.fn(c, cmd); err != nil {
		c.fail(err)
	}
}

// wrongState explains a command sent in the wrong state.
func (c *conn) wrongState(verb string) *pop3.Error {
	if c.state == pop3.StateAuthorization {
		return &pop3.Error{Text: verb + " is not allowed before login: log in with USER and PASS, APOP or AUTH first"}
	}
	return &pop3.Error{Text: verb + " is only allowed before login: you are already logged in"}
}

// asError is the one place where an error becomes a response: a
// *pop3.Error goes to the client as is; anything else is logged and
// answered "-ERR [SYS/TEMP]" (RFC 3206 section 4).
func (c *conn) asError(err error) *pop3.Error {
	var e *pop3.Error
	if errors.As(err, &e) {
		return e
	}
	c.opts.Logger.Error("pop3server: backend error", "remote", c.nc.RemoteAddr(), "err", err)
	return &pop3.Error{Code: pop3.CodeSysTemp, Text: "internal server error, try again later"}
}

// errHangUp ends a session without a response: the client is gone or a
// multi-line response could not be completed.
var errHangUp = errors.New("pop3server: connection lost")

// fail answers a command with "-ERR", or ends the session when the client
// has made too many mistakes.
func (c *conn) fail(err error) {
	if errors.Is(err, errHangUp) {
		c.quit = true
		return
	}
	e := c.asError(err)
	if e.Code == "" { // a mistake of the client's, not a refusal
		c.errors++
		if c.errors > c.opts.MaxErrors {
			c.closeWith("-ERR too many errors, closing connection")
			return
		}
	}
	c.err(e)
}

func (c *conn) closeWith(line string) {
	c.bw.WriteString(line + "\r\n")
	c.bw.Flush()
	c.quit = true
}

// ok queues "+OK text". Responses leave when the session next waits for
// input (see netReader) or closes.
func (c *conn) ok(text string) {
	c.bw.WriteString("+OK")
	if text != "" {
		c.bw.WriteString(" ")
		c.bw.WriteString(oneLine(text))
	}
	c.bw.WriteString("\r\n")
}

// err queues "-ERR [CODE] text".
func (c *conn) err(e *pop3.Error) {
	c.bw.WriteString("-ERR " + oneLine(e.Error()) + "\r\n")
}

// oneLine keeps a backend's text from breaking the framing.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// multiLine queues "+OK first", the lines (dot-stuffed) and ".".
// (RFC 1939 section 3).
func (c *conn) multiLine(first string, lines []string) error {
	c.ok(first)
	for _, l := range lines {
		if strings.HasPrefix(l, ".") {
			c.bw.WriteString(".")
		}
		c.bw.WriteString(l + "\r\n")
	}
	c.bw.WriteString(".\r\n")
	return nil
}

// setState moves the session and tells the transcript.
func (c *conn) setState(s pop3.State) {
	if s == c.state {
		return
	}
	c.tr.State(c.state.String(), s.String())
	c.state = s
}
