package smtpserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// conn is one client's session. Only its own goroutine (Serve) touches its
// fields; Shutdown wakes an idle session through lc.
type conn struct {
	srv  *Server
	opts *Options
	lc   *netconn.Conn // nc as the Server's netconn.Loop serves it
	nc   net.Conn
	br   *bufio.Reader // commands and message text, read through netReader
	bw   *bufio.Writer // replies, flushed when the client must wait for them
	tr   wire.Tracer
	info ConnInfo
	sess Session

	state  smtp.State
	rcpts  []mail.Path // accepted recipients of the open transaction
	errors int         // error replies sent so far
	quit   bool        // the session must end after the current command
	inData bool        // reading message text: DataTimeout applies

	dataBR *bufio.Reader // under the DotReader, reused for each DATA

	// After a TLS handshake (see starttls.go): tc is the TLS layer over
	// nc, sec what the session reads and writes from then on (tc, or the
	// transcript's wrapper of it, wire.AfterTLS).
	tc                *tls.Conn
	sec               net.Conn
	handshaking       bool      // in a TLS handshake: handshakeDeadline applies
	handshakeDeadline time.Time // the end of TLSHandshakeTimeout
}

func newConn(s *Server, lc *netconn.Conn) *conn {
	nc := lc.NetConn()
	c := &conn{srv: s, opts: &s.opts, lc: lc, nc: nc, tr: wire.TracerOf(nc)}
	c.br = bufio.NewReader(netReader{c})
	c.bw = bufio.NewWriter(netWriter{c})
	c.info = ConnInfo{RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Tracer: c.tr}
	return c
}

// netReader is what the session reads the network through. RFC 2920
// section 3.2: replies are flushed only when the server would otherwise
// wait for input, so the replies to a pipelined group leave in one write.
// A read for a command is idle: Shutdown may interrupt it; message text is
// read to its end.
type netReader struct{ c *conn }

func (r netReader) Read(p []byte) (int, error) {
	c := r.c
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	if c.sec != nil {
		return c.sec.Read(p) // through tlsTransport, with the same deadlines
	}
	return c.readRaw(p)
}

// readRaw reads from the network with the deadline that applies now. A
// read for a command is idle: Shutdown may interrupt it.
func (c *conn) readRaw(p []byte) (int, error) {
	if c.handshaking {
		return c.lc.Read(p, untilDeadline(c.handshakeDeadline), false)
	}
	if c.inData {
		return c.lc.Read(p, c.opts.DataTimeout, false)
	}
	return c.lc.Read(p, c.opts.ReadTimeout, true)
}

// netWriter sets the write deadline before each write.
type netWriter struct{ c *conn }

func (w netWriter) Write(p []byte) (int, error) {
	if w.c.sec != nil {
		return w.c.sec.Write(p) // through tlsTransport
	}
	return w.c.writeRaw(p)
}

// writeRaw writes to the network with the deadline that applies now.
func (c *conn) writeRaw(p []byte) (int, error) {
	if c.handshaking {
		return c.lc.Write(p, untilDeadline(c.handshakeDeadline))
	}
	return c.lc.Write(p, c.opts.WriteTimeout)
}

// Serve runs the session until QUIT, an error or Shutdown, and reports
// whether the server ended it (see netconn.Session). It is the connection
// boundary: a panic below is recovered here, answered with 421 and logged.
func (c *conn) Serve() bool {
	defer func() {
		if v := recover(); v != nil {
			c.opts.Logger.Error("smtpserver: panic in session", "remote", c.info.RemoteAddr, "panic", v, "stack", string(debug.Stack()))
			c.closeWith(smtp.C421Closing, "4.3.0", "Internal error, closing connection")
		}
		c.setState(smtp.StateClosed)
		if c.tc != nil && c.quit {
			// RFC 8446 section 6.1: close_notify before the end, so the
			// client knows the 221 (or 421) was the whole story.
			c.tc.CloseWrite()
		}
	}()
	c.run()
	return c.quit
}

func (c *conn) run() {
	if c.opts.ImplicitTLS {
		// RFC 8314 section 3.3: on a submissions port the TLS handshake
		// comes first; the greeting is the first line under TLS.
		if c.startTLS() != nil {
			c.quit = true
			return
		}
	}
	sess, err := c.srv.backend.NewSession(&c.info)
	if err != nil {
		// The backend refuses the client: its reply replaces the greeting
		// (RFC 5321 section 3.1 allows 554 there).
		e := c.asReply(err)
		if e.Code/100 != 4 && e.Code/100 != 5 {
			e = smtp.Errorf(smtp.C421Closing, "4.3.0", "Service not available")
		}
		c.closeWith(e.Code, e.Enhanced, e.Message)
		return
	}
	c.sess = sess
	defer func() {
		if err := sess.Close(); err != nil {
			c.opts.Logger.Error("smtpserver: closing session", "remote", c.info.RemoteAddr, "err", err)
		}
	}()

	// RFC 5321 section 3.1 and RFC 2034 section 3: the greeting has no
	// enhanced status code.
	c.reply(smtp.C220Ready, "", c.opts.Hostname+" "+c.opts.Greeting)
	for !c.quit {
		if c.srv.loop.ShuttingDown() {
			c.closeWith(smtp.C421Closing, "4.3.2", "Service shutting down")
			return
		}
		line, err := wire.ReadLine(c.br, c.opts.MaxCommandBytes)
		switch {
		case err == nil:
			c.execute(line)
		case errors.Is(err, wire.ErrLineTooLong):
			// RFC 5321 section 4.5.3.1.4: 500 for an overlong command
			// line. ReadLine consumed it, so the session goes on.
			c.fail(smtp.Errorf(smtp.C500SyntaxError, "5.5.2", "Line too long (the limit is %d octets)", c.opts.MaxCommandBytes))
		case c.srv.loop.Interrupted(err):
			c.closeWith(smtp.C421Closing, "4.3.2", "Service shutting down")
			return
		case netconn.IsTimeout(err):
			// RFC 5321 section 4.5.3.2.7: the server may close an idle
			// connection; 421 says why.
			c.closeWith(smtp.C421Closing, "4.4.2", "Idle timeout, closing connection")
			return
		default:
			return // the client went away
		}
	}
	c.bw.Flush()
}

// command is one row of the command table.
type command struct {
	fn    func(c *conn, arg string) error
	in    []smtp.State // states where it is allowed; nil: any
	proto proto        // SMTP, LMTP or both
	help  string       // HELP <verb> text
	// offered, for an extension's command, reports whether this server
	// offers it at all (AUTH needs an Authenticator); nil: always.
	offered func(c *conn) bool
}

type proto int

const (
	protoSMTP proto = 1 << iota
	protoLMTP
	protoBoth = protoSMTP | protoLMTP
)

func states(s ...smtp.State) []smtp.State { return s }

// commands is the command table (RFC 5321 section 4.1.1; RFC 2033 section
// 4.1 for LHLO). RFC 5321 section 4.1.4: RSET, NOOP, QUIT, VRFY, EXPN and
// HELP are allowed at any time.
var commands map[string]command

func init() {
	commands = map[string]command{
		"HELO":     {fn: (*conn).cmdHelo, proto: protoSMTP, help: "HELO <your host name>: introduce yourself (old style, no extensions)"},
		"EHLO":     {fn: (*conn).cmdEhlo, proto: protoSMTP, help: "EHLO <your host name>: introduce yourself and list the extensions"},
		"LHLO":     {fn: (*conn).cmdLhlo, proto: protoLMTP, help: "LHLO <your host name>: introduce yourself to an LMTP server"},
		"MAIL":     {fn: (*conn).cmdMail, in: states(smtp.StateReady), proto: protoBoth, help: "MAIL FROM:<address> [SIZE=octets] [BODY=7BIT|8BITMIME]: start a transaction"},
		"RCPT":     {fn: (*conn).cmdRcpt, in: states(smtp.StateMail, smtp.StateRcpt), proto: protoBoth, help: "RCPT TO:<address>: add a recipient (repeat for more)"},
		"DATA":     {fn: (*conn).cmdData, in: states(smtp.StateRcpt), proto: protoBoth, help: "DATA: send the message, end it with a line holding only \".\""},
		"RSET":     {fn: (*conn).cmdRset, proto: protoBoth, help: "RSET: abort the transaction"},
		"NOOP":     {fn: (*conn).cmdNoop, proto: protoBoth, help: "NOOP: do nothing, get 250"},
		"QUIT":     {fn: (*conn).cmdQuit, proto: protoBoth, help: "QUIT: end the session"},
		"VRFY":     {fn: (*conn).cmdVrfy, proto: protoBoth, help: "VRFY <user>: ask whether a mailbox exists (this server will not say)"},
		"EXPN":     {fn: (*conn).cmdExpn, proto: protoBoth, help: "EXPN <list>: expand a mailing list (not implemented)"},
		"HELP":     {fn: (*conn).cmdHelp, proto: protoBoth, help: "HELP [command]: this text"},
		"STARTTLS": {fn: (*conn).cmdStarttls, in: states(smtp.StateConnected, smtp.StateReady), proto: protoBoth, offered: (*conn).tlsConfigured, help: "STARTTLS: start TLS (RFC 3207); after the handshake say EHLO again"},
		"AUTH":     {fn: (*conn).cmdAuth, in: states(smtp.StateReady), proto: protoSMTP, offered: (*conn).authConfigured, help: "AUTH PLAIN|LOGIN [initial-response]: log in (RFC 4954); answer each 334 with one base64 line, or * to give up"},
	}
}

func (c *conn) proto() proto {
	if c.opts.LMTP {
		return protoLMTP
	}
	return protoSMTP
}

func (c *conn) hello() string {
	if c.opts.LMTP {
		return "LHLO"
	}
	return "EHLO or HELO"
}

// execute runs one command line.
func (c *conn) execute(line []byte) {
	verb, arg, err := smtp.ParseCommand(line)
	if err != nil {
		c.fail(err)
		return
	}
	cmd, ok := commands[verb]
	if ok && cmd.proto&c.proto() == 0 {
		if verb == "HELO" || verb == "EHLO" {
			// RFC 2033 section 4.1: LMTP has LHLO instead.
			c.fail(smtp.Errorf(smtp.C500SyntaxError, "5.5.1", "This is an LMTP server: use LHLO (RFC 2033)"))
			return
		}
		ok = false
	}
	if !ok {
		// RFC 5321 section 4.2.4: 500 for a command not recognised.
		c.fail(smtp.Errorf(smtp.C500SyntaxError, "5.5.2", "Command %s not recognized", verb))
		return
	}
	if !c.offers(cmd) {
		// RFC 5321 section 4.2.4: 502 for a command known but not
		// implemented, here an extension this server does not offer.
		c.fail(smtp.Errorf(smtp.C502NotImplemented, "5.5.1", "%s not available on this server (the EHLO reply does not list it)", verb))
		return
	}
	if c.opts.RequireTLS && c.info.TLS == nil && !allowedBeforeTLS[verb] {
		// RFC 3207 section 4: a server that requires TLS answers every
		// other command with 530 until the client has issued STARTTLS.
		c.fail(smtp.Errorf(smtp.C530AuthRequired, "5.7.0", "Must issue a STARTTLS command first"))
		return
	}
	if cmd.in != nil && !contains(cmd.in, c.state) {
		c.fail(c.badSequence(verb))
		return
	}
	if err := cmd.fn(c, arg); err != nil {
		c.fail(err)
	}
}

// offers reports whether this server offers cmd (see command.offered).
func (c *conn) offers(cmd command) bool { return cmd.offered == nil || cmd.offered(c) }

func contains(list []smtp.State, s smtp.State) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// badSequence explains a command sent out of order (RFC 5321 section 4.1.4:
// 503 bad sequence of commands).
func (c *conn) badSequence(verb string) *smtp.Error {
	const code, enh = smtp.C503BadSequence, "5.5.1"
	switch {
	case c.state == smtp.StateConnected:
		return smtp.Errorf(code, enh, "Send %s first", c.hello())
	case verb == "MAIL":
		return smtp.Errorf(code, enh, "Nested MAIL command: a transaction is open (RSET aborts it)")
	case verb == "AUTH":
		// RFC 4954 section 4: AUTH is not permitted during a transaction.
		return smtp.Errorf(code, enh, "AUTH is not allowed during a mail transaction (RSET aborts it)")
	case verb == "STARTTLS":
		// RFC 3207 section 4.2: TLS makes the server forget the
		// transaction, so it is not started in the middle of one.
		return smtp.Errorf(code, enh, "STARTTLS is not allowed during a mail transaction (RSET aborts it)")
	case verb == "RCPT":
		return smtp.Errorf(code, enh, "Need MAIL before RCPT")
	case verb == "DATA" && c.state == smtp.StateMail:
		return smtp.Errorf(code, enh, "Need RCPT before DATA: no recipient was accepted")
	case verb == "DATA":
		return smtp.Errorf(code, enh, "Need MAIL and RCPT before DATA")
	}
	return smtp.Errorf(code, enh, "Bad sequence of commands")
}

// asReply is the one place where an error becomes a reply: an *smtp.Error
// goes to the client as is; anything else is logged and answered with
// 451 4.3.0 (RFC 5321 section 4.2.3: local error in processing).
func (c *conn) asReply(err error) *smtp.Error {
	var e *smtp.Error
	if errors.As(err, &e) {
		return e
	}
	c.opts.Logger.Error("smtpserver: backend error", "remote", c.info.RemoteAddr, "err", err)
	return smtp.Errorf(smtp.C451LocalError, "4.3.0", "Local error in processing")
}

// fail answers a command with an error reply, or ends the session when
// the reply is a 421 or the client has made too many errors.
func (c *conn) fail(err error) {
	if errors.Is(err, errHangUp) {
		c.quit = true
		return
	}
	e := c.asReply(err)
	if e.Code < 400 {
		c.replyErr(e) // a success in the backend's words: not an error
		return
	}
	if e.Code == smtp.C421Closing {
		c.closeWith(e.Code, e.Enhanced, e.Message)
		return
	}
	c.errors++
	if c.errors > c.opts.MaxErrors {
		c.closeWith(smtp.C421Closing, "4.7.0", "Too many errors, closing connection")
		return
	}
	c.replyErr(e)
}

// failed reports whether a backend's result is a failure: nil and a 2yz
// *smtp.Error (a success in the backend's own words) are not.
func failed(err error) bool {
	if err == nil {
		return false
	}
	e, ok := errors.AsType[*smtp.Error](err)
	return !ok || e.Code/100 != 2
}

// succeed sends the success reply for a backend result that did not fail:
// the backend's own 2yz reply when it gave one, else the default.
func (c *conn) succeed(result error, code smtp.Code, enhanced, text string) {
	if e, ok := errors.AsType[*smtp.Error](result); ok {
		c.replyErr(e)
		return
	}
	c.reply(code, enhanced, text)
}

// errHangUp ends a session without a reply: the client is gone.
var errHangUp = errors.New("smtpserver: connection lost")

func (c *conn) closeWith(code smtp.Code, enhanced, text string) {
	c.reply(code, enhanced, strings.Split(text, "\n")...)
	c.bw.Flush()
	c.quit = true
}

func (c *conn) replyErr(e *smtp.Error) {
	c.reply(e.Code, e.Enhanced, strings.Split(e.Message, "\n")...)
}

// reply queues a reply: "250-first", ..., "250 last" (RFC 5321 section
// 4.2.1), each line with the enhanced code when one is given. Replies leave
// when the session next waits for input (see netReader) or closes.
func (c *conn) reply(code smtp.Code, enhanced string, lines ...string) {
	if len(lines) == 0 {
		lines = []string{""}
	}
	for i, text := range lines {
		sep := '-'
		if i == len(lines)-1 {
			sep = ' '
		}
		text = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, text)
		if enhanced != "" {
			fmt.Fprintf(c.bw, "%d%c%s %s\r\n", code, sep, enhanced, text)
		} else {
			fmt.Fprintf(c.bw, "%d%c%s\r\n", code, sep, text)
		}
	}
}

// setState moves the session and tells the transcript.
func (c *conn) setState(s smtp.State) {
	if s == c.state {
		return
	}
	c.tr.State(c.state.String(), s.String())
	c.state = s
}

// resetTransaction forgets the open transaction, if any.
func (c *conn) resetTransaction() {
	if c.sess != nil {
		c.sess.Reset()
	}
	c.rcpts = nil
	if c.state == smtp.StateMail || c.state == smtp.StateRcpt || c.state == smtp.StateData {
		c.setState(smtp.StateReady)
	}
}
