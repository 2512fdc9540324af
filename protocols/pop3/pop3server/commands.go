package pop3server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/wire"
)

// maxAuthLineBytes bounds a SASL response line after "+ ". RFC 5034
// section 4 lets it exceed the 255 octets of a command line.
const maxAuthLineBytes = 2048

// syntaxErr is the answer to a command with bad arguments.
func syntaxErr(format string, args ...any) error {
	return &pop3.Error{Text: fmt.Sprintf(format, args...)}
}

func noArg(cmd pop3.Command) error {
	if cmd.Arg != "" {
		return syntaxErr("%s takes no argument", cmd.Verb)
	}
	return nil
}

// cmdUser names the mailbox (RFC 1939 section 7). The answer does not say
// whether the user exists; PASS will.
//
//	C: USER bob
//	S: +OK send PASS
func (c *conn) cmdUser(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) != 1 {
		return syntaxErr("usage: USER name")
	}
	if c.authRefused() {
		// Refused at USER, so the client never sends the password.
		return c.refuseInClear("USER")
	}
	c.user = args[0]
	c.ok("send PASS")
	// The next line carries the password: tell the transcript. (The tap
	// also recognises "PASS ..." by itself.)
	c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
	return nil
}

// cmdPass checks the password given for the USER just before (RFC 1939
// section 7). The whole rest of the line is the password: it may hold
// spaces.
//
//	C: PASS secret
//	S: +OK bob's maildrop has 2 messages (320 octets)
func (c *conn) cmdPass(cmd pop3.Command) error {
	user := c.user
	c.user = ""
	if c.authRefused() {
		return c.refuseInClear("PASS")
	}
	if user == "" {
		return syntaxErr("send USER first")
	}
	if cmd.Arg == "" {
		return syntaxErr("usage: PASS password")
	}
	return c.login(user, func() (Maildrop, error) { return c.srv.backend.Login(user, cmd.Arg) })
}

// cmdAPOP logs in with an MD5 digest of the greeting's timestamp and a
// shared secret (RFC 1939 section 7). It is allowed before TLS even when
// USER and AUTH PLAIN are not: the password never crosses the wire, only
// a digest of it and a timestamp used once (weak, MD5, but not a password
// in clear).
//
//	C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
//	S: +OK mrose's maildrop has 1 messages (369 octets)
func (c *conn) cmdAPOP(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) != 2 {
		return syntaxErr("usage: APOP name digest")
	}
	digest := strings.ToLower(args[1])
	if len(digest) != 32 || strings.Trim(digest, "0123456789abcdef") != "" {
		return syntaxErr("APOP digest must be 32 hexadecimal digits (MD5)")
	}
	return c.login(args[0], func() (Maildrop, error) { return c.srv.backend.APOP(args[0], c.timestamp, digest) })
}

// cmdAuth runs SASL PLAIN (RFC 5034, RFC 4616). Without an argument it
// lists the mechanisms, as many clients expect.
//
//	C: AUTH PLAIN
//	S: +
//	C: AGJvYgBzZWNyZXQ=
//	S: +OK bob's maildrop has 2 messages (320 octets)
func (c *conn) cmdAuth(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) == 0 {
		if c.authRefused() {
			return c.multiLine("SASL mechanisms follow (none before STLS)", nil)
		}
		return c.multiLine("SASL mechanisms follow", []string{"PLAIN"})
	}
	if len(args) > 2 {
		return syntaxErr("usage: AUTH mechanism [initial-response]")
	}
	if !strings.EqualFold(args[0], "PLAIN") {
		return syntaxErr("unsupported SASL mechanism %s (this server offers PLAIN)", args[0])
	}
	if c.authRefused() {
		// Before the "+ ": a client waiting for it sends nothing. An
		// initial response already crossed in clear; it is not even
		// decoded.
		return c.refuseInClear("AUTH PLAIN")
	}
	var resp string
	if len(args) == 2 {
		// RFC 5034 section 4: "=" is an empty initial response.
		resp = args[1]
		if resp == "=" {
			resp = ""
		}
	} else {
		// RFC 5034 section 4: an empty challenge is "+ ".
		c.bw.WriteString("+ \r\n")
		if err := c.bw.Flush(); err != nil {
			return errHangUp
		}
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
		line, err := wire.ReadLine(c.br, maxAuthLineBytes)
		c.tr.Mark(wire.ClientToServer, wire.MarkNone)
		switch {
		case errors.Is(err, wire.ErrLineTooLong):
			return syntaxErr("SASL response too long (the limit is %d octets)", maxAuthLineBytes)
		case err != nil:
			return errHangUp
		}
		resp = string(line)
		if resp == "*" {
			// RFC 5034 section 4: "*" cancels; the server answers -ERR.
			return syntaxErr("authentication cancelled")
		}
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return syntaxErr("SASL response is not valid base64")
	}
	// RFC 4616 section 2: [authzid] NUL authcid NUL passwd.
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return syntaxErr("PLAIN response must be [authzid] NUL user NUL password")
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		// RFC 4616 section 2: acting as another user needs a policy this
		// server does not have.
		return c.loginFailed(pop3.ErrAuth)
	}
	return c.login(user, func() (Maildrop, error) { return c.srv.backend.Login(user, pass) })
}

// login opens the maildrop and enters the TRANSACTION state (RFC 1939
// section 4: the server acquires an exclusive-access lock first).
func (c *conn) login(user string, open func() (Maildrop, error)) error {
	drop, err := open()
	if err != nil {
		return c.loginFailed(err)
	}
	msgs, err := drop.Messages()
	if err != nil {
		drop.Close()
		return err
	}
	c.drop, c.msgs, c.deleted = drop, msgs, make([]bool, len(msgs))
	c.setState(pop3.StateTransaction)
	n, size := c.count()
	c.tr.Note(fmt.Sprintf("%s logged in, maildrop locked: %d messages (%d octets)", user, n, size))
	c.ok(fmt.Sprintf("%s's maildrop has %d messages (%d octets)", user, n, size))
	return nil
}

// loginFailed answers a refused login. Wrong credentials are answered
// after Options.AuthFailDelay, with [AUTH] (RFC 3206 section 5), and
// counted; after MaxAuthFailures the connection closes. Other refusals
// ([IN-USE], [SYS/TEMP]) go out as they are.
func (c *conn) loginFailed(err error) error {
	if !errors.Is(err, pop3.ErrAuth) {
		return err
	}
	c.authFails++
	c.tr.Note(fmt.Sprintf("login failed (%d of %d allowed), answered after %v", c.authFails, c.opts.MaxAuthFailures, max(c.opts.AuthFailDelay, 0)))
	if d := c.opts.AuthFailDelay; d > 0 {
		c.bw.Flush() // responses to earlier pipelined commands go out now
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.srv.loop.Stopping():
			t.Stop()
		}
	}
	e := c.asError(err)
	if c.authFails >= c.opts.MaxAuthFailures {
		c.closeWith("-ERR " + oneLine(e.Error()) + " (too many failures, closing connection)")
		return nil
	}
	c.err(e)
	return nil
}

// count returns the number and total size of the messages not marked
// deleted (RFC 1939 section 5, STAT).
func (c *conn) count() (n int, size int64) {
	for i, m := range c.msgs {
		if !c.deleted[i] {
			n++
			size += m.Size
		}
	}
	return n, size
}

// message finds the message a number names. RFC 1939 section 5: numbers
// stay the same during the session; a message marked deleted may not be
// referred to.
func (c *conn) message(arg string) (int, error) {
	n, err := pop3.ParseNumber(arg)
	if err != nil {
		return 0, syntaxErr("%s", strings.TrimPrefix(err.Error(), "pop3: "))
	}
	if n > len(c.msgs) {
		return 0, syntaxErr("no such message, only %d messages in maildrop", len(c.msgs))
	}
	if c.deleted[n-1] {
		return 0, syntaxErr("message %d already deleted", n)
	}
	return n - 1, nil
}

// cmdStat gives the drop listing (RFC 1939 section 5).
//
//	C: STAT
//	S: +OK 2 320
func (c *conn) cmdStat(cmd pop3.Command) error {
	if err := noArg(cmd); err != nil {
		return err
	}
	n, size := c.count()
	c.ok(fmt.Sprintf("%d %d", n, size))
	return nil
}

// cmdList gives scan listings: one message's, or all that are not
// deleted (RFC 1939 section 5).
//
//	C: LIST 2
//	S: +OK 2 200
func (c *conn) cmdList(cmd pop3.Command) error {
	args := cmd.Args()
	switch len(args) {
	case 0:
		n, size := c.count()
		lines := make([]string, 0, n)
		for i, m := range c.msgs {
			if !c.deleted[i] {
				lines = append(lines, strconv.Itoa(i+1)+" "+strconv.FormatInt(m.Size, 10))
			}
		}
		return c.multiLine(fmt.Sprintf("%d messages (%d octets)", n, size), lines)
	case 1:
		i, err := c.message(args[0])
		if err != nil {
			return err
		}
		c.ok(fmt.Sprintf("%d %d", i+1, c.msgs[i].Size))
		return nil
	}
	return syntaxErr("usage: LIST [message-number]")
}

// cmdUIDL gives unique-id listings (RFC 1939 section 7).
//
//	C: UIDL 1
//	S: +OK 1 whqtswO00WBw418f9t5JxYwZ
func (c *conn) cmdUIDL(cmd pop3.Command) error {
	args := cmd.Args()
	switch len(args) {
	case 0:
		var lines []string
		for i, m := range c.msgs {
			if !c.deleted[i] {
				lines = append(lines, strconv.Itoa(i+1)+" "+m.UID)
			}
		}
		return c.multiLine("unique-id listing follows", lines)
	case 1:
		i, err := c.message(args[0])
		if err != nil {
			return err
		}
		c.ok(fmt.Sprintf("%d %s", i+1, c.msgs[i].UID))
		return nil
	}
	return syntaxErr("usage: UIDL [message-number]")
}

// cmdRetr sends a message (RFC 1939 section 5).
//
//	C: RETR 1
//	S: +OK 120 octets
//	S: <the message, dot-stuffed>
//	S: .
func (c *conn) cmdRetr(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) != 1 {
		return syntaxErr("usage: RETR message-number")
	}
	i, err := c.message(args[0])
	if err != nil {
		return err
	}
	return c.sendMessage(i, fmt.Sprintf("%d octets", c.msgs[i].Size), -1)
}

// cmdTop sends a message's header, the blank line and its first n body
// lines (RFC 1939 section 7).
//
//	C: TOP 1 0
//	S: +OK top of message follows
//	S: <the header, dot-stuffed>
//	S:
//	S: .
func (c *conn) cmdTop(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) != 2 {
		return syntaxErr("usage: TOP message-number lines")
	}
	i, err := c.message(args[0])
	if err != nil {
		return err
	}
	n, err := pop3.ParseLineCount(args[1])
	if err != nil {
		return syntaxErr("%s", strings.TrimPrefix(err.Error(), "pop3: "))
	}
	return c.sendMessage(i, "top of message follows", n)
}

// sendMessage sends message i as a multi-line response: all of it when
// bodyLines < 0, else the header and bodyLines lines of the body. The text
// is marked bulk for the transcript. If the backend fails once "+OK" has
// gone out, the connection is closed without the final ".": a client must
// not take a truncated message for a whole one.
func (c *conn) sendMessage(i int, okText string, bodyLines int) error {
	rc, err := c.drop.Open(i)
	if err != nil {
		return err
	}
	defer rc.Close()
	c.ok(okText)
	if err := c.bw.Flush(); err != nil {
		return errHangUp
	}
	c.tr.Mark(wire.ServerToClient, wire.MarkBulk)
	defer c.tr.Mark(wire.ServerToClient, wire.MarkNone)
	dw := wire.NewDotWriter(c.bw)
	if bodyLines < 0 {
		_, err = io.Copy(dw, rc)
	} else {
		err = copyTop(dw, rc, bodyLines)
	}
	if err != nil {
		c.opts.Logger.Error("pop3server: sending a message", "remote", c.nc.RemoteAddr(), "message", i+1, "err", err)
		return errHangUp
	}
	if err := dw.Close(); err != nil {
		return errHangUp
	}
	return nil
}

// copyTop copies the header of the message in r, the empty line that ends
// it and then n lines of the body (RFC 1939 section 7, TOP).
func copyTop(w io.Writer, r io.Reader, n int) error {
	br := bufio.NewReaderSize(r, 32<<10)
	inHeader, lineStart, body := true, true, 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if lineStart && !inHeader && body >= n {
				return nil
			}
			if lineStart && inHeader && (string(frag) == "\n" || string(frag) == "\r\n") {
				inHeader = false
			} else if !inHeader && frag[len(frag)-1] == '\n' {
				body++
			}
			if _, werr := w.Write(frag); werr != nil {
				return werr
			}
			lineStart = frag[len(frag)-1] == '\n'
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}

// cmdDele marks a message deleted; it is removed only in the UPDATE state
// (RFC 1939 section 5).
//
//	C: DELE 1
//	S: +OK message 1 deleted
func (c *conn) cmdDele(cmd pop3.Command) error {
	args := cmd.Args()
	if len(args) != 1 {
		return syntaxErr("usage: DELE message-number")
	}
	i, err := c.message(args[0])
	if err != nil {
		return err
	}
	c.deleted[i] = true
	c.ok(fmt.Sprintf("message %d deleted", i+1))
	return nil
}

// cmdNoop does nothing (RFC 1939 section 5).
//
//	C: NOOP
//	S: +OK
func (c *conn) cmdNoop(cmd pop3.Command) error {
	if err := noArg(cmd); err != nil {
		return err
	}
	c.ok("")
	return nil
}

// cmdRset unmarks every message marked deleted (RFC 1939 section 5).
//
//	C: RSET
//	S: +OK maildrop has 2 messages (320 octets)
func (c *conn) cmdRset(cmd pop3.Command) error {
	if err := noArg(cmd); err != nil {
		return err
	}
	clear(c.deleted)
	n, size := c.count()
	c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
	return nil
}

// cmdCapa lists the capabilities (RFC 2449 section 5), in either state.
//
//	C: CAPA
//	S: +OK Capability list follows
//	S: TOP
//	S: ...
//	S: .
func (c *conn) cmdCapa(cmd pop3.Command) error {
	if err := noArg(cmd); err != nil {
		return err
	}
	caps := []string{"TOP"} // RFC 2449 section 6.1
	if !c.authRefused() {
		// RFC 2595 section 4: the capabilities may differ after STLS;
		// before it, what would send a password in clear is not listed.
		caps = append(caps,
			"USER",       // section 6.3
			"SASL PLAIN", // section 6.4, RFC 5034
		)
	}
	caps = append(caps,
		"RESP-CODES",     // section 6.5
		"AUTH-RESP-CODE", // RFC 3206 section 6
		"PIPELINING",     // section 6.6
		"UIDL",           // section 6.8
	)
	if c.opts.TLSConfig != nil && c.secure == nil && c.state == pop3.StateAuthorization && !c.opts.ImplicitTLS {
		caps = append(caps, "STLS") // RFC 2595 section 4
	}
	if c.opts.Expire != "" {
		caps = append(caps, "EXPIRE "+c.opts.Expire) // section 6.7
	}
	caps = append(caps, "IMPLEMENTATION maillab") // section 6.9
	return c.multiLine("Capability list follows", caps)
}

// cmdQuit ends the session. From the TRANSACTION state it first enters
// the UPDATE state and removes the messages marked deleted (RFC 1939
// section 6); from AUTHORIZATION it deletes nothing (section 4).
//
//	C: QUIT
//	S: +OK maillab POP3 server signing off (1 messages deleted)
func (c *conn) cmdQuit(cmd pop3.Command) error {
	if err := noArg(cmd); err != nil {
		return err
	}
	c.quit = true
	if c.state != pop3.StateTransaction {
		c.ok("maillab POP3 server signing off")
		return nil
	}
	c.setState(pop3.StateUpdate)
	var gone []int
	for i, d := range c.deleted {
		if d {
			gone = append(gone, i)
		}
	}
	err := c.drop.Update(gone)
	c.closeDrop() // release the lock before the client hears +OK
	if err != nil {
		// RFC 1939 section 6: if some deleted messages could not be
		// removed, the server returns a negative status indicator.
		e := c.asError(err)
		c.err(&pop3.Error{Code: e.Code, Text: "some deleted messages not removed: " + e.Text})
		return nil
	}
	c.tr.Note(fmt.Sprintf("UPDATE: %d messages removed, maildrop unlocked", len(gone)))
	c.ok(fmt.Sprintf("maillab POP3 server signing off (%d messages deleted)", len(gone)))
	return nil
}
