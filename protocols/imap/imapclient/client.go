package imapclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/wire"
)

// DefaultTimeout bounds the greeting, each write and the wait for each
// response when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Minute

// DefaultIdleInterval is how long one IDLE lasts before the client ends it
// and issues a new one: RFC 2177 section 3 asks clients to re-issue IDLE at
// least every 29 minutes, because servers may log out a client idle for 30.
const DefaultIdleInterval = 29 * time.Minute

// Options configure a Client. The zero value is usable.
type Options struct {
	// BeforeCommand, when set, is called with each command line before it
	// is written: the tagged line (up to a literal's "{n}"), the line that
	// continues a command after a literal, DONE ending an IDLE. Message
	// bytes are never passed; secrets are replaced by "***". A non-nil
	// error aborts the command before the line is sent (a command whose
	// first line was sent is then in an unknown state, and the Client
	// unusable). This is how step mode pauses a class before each line.
	BeforeCommand func(line string) error
	// Timeout bounds the greeting, every write and the wait for every
	// response (not the wait for news during IDLE); 0 means 5 minutes.
	Timeout time.Duration
	// MaxLiteral bounds the octets of the literals in one response (each
	// and their sum); 0 means DefaultMaxLiteral (64 MiB).
	MaxLiteral int64
	// MaxLineBytes bounds one response line, CRLF included; 0 means
	// DefaultMaxLineBytes (64 KiB).
	MaxLineBytes int
	// OnUnilateral, when set, is called with the news the server sends
	// unasked (RFC 3501 section 7: new messages, expunges, flag changes,
	// alerts, BYE) while a command other than IDLE runs. It runs on the
	// goroutine of the command and must not call the Client.
	OnUnilateral func(Update)
	// IdleInterval is how long one IDLE lasts before Idle re-issues it;
	// 0 means 29 minutes (RFC 2177 section 3).
	IdleInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxLiteral <= 0 {
		o.MaxLiteral = DefaultMaxLiteral
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.IdleInterval <= 0 {
		o.IdleInterval = DefaultIdleInterval
	}
	return o
}

// State is the client's view of the session state (RFC 3501 section 3).
type State int

const (
	// StateNotAuthenticated: after an OK greeting, before LOGIN.
	StateNotAuthenticated State = iota + 1
	// StateAuthenticated: logged in, no mailbox selected.
	StateAuthenticated
	// StateSelected: a mailbox is selected (SELECT or EXAMINE).
	StateSelected
	// StateLogout: LOGOUT sent or BYE received; the connection is ending.
	StateLogout
)

// String names the state as RFC 3501 section 3 does.
func (s State) String() string {
	switch s {
	case StateNotAuthenticated:
		return "Not Authenticated"
	case StateAuthenticated:
		return "Authenticated"
	case StateSelected:
		return "Selected"
	case StateLogout:
		return "Logout"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Client is one IMAP session on a connection. It is used by one goroutine
// at a time; Close may be called from another one to abort a blocked call.
type Client struct {
	conn net.Conn
	opts Options
	tr   wire.Tracer
	br   *bufio.Reader
	bw   *bufio.Writer
	lim  limits
	tlsc *tls.Conn // the TLS layer under conn, once TLS is active

	tagNum   int
	state    State
	greeting *Error          // the greeting as a status: Status is OK, PREAUTH or BYE
	caps     map[string]bool // nil when unknown
	capOrder []string        // the capabilities in the order sent
	mbox     *MailboxStatus  // selected mailbox; nil in other states
	bye      *Error          // the server's untagged BYE, once seen
	pending  string          // tag of a raw command waiting for Continue
	rawCmd   *command        // that command
	early    *response       // a tagged answer that came instead of "+"
	err      error           // sticky: the connection is out of sync or gone

	// idleTimer makes the IDLE re-issue timer; tests replace it.
	idleTimer func(time.Duration) (<-chan time.Time, func() bool)
}

// NewClient starts a session on conn by reading the greeting (RFC 3501
// section 7.1): "* OK" leaves it not authenticated, "* PREAUTH"
// authenticated, "* BYE" is returned as an error wrapping *Error. A
// CAPABILITY response code in the greeting is remembered. On error conn is
// closed.
func NewClient(conn net.Conn, opts Options) (*Client, error) {
	return newClient(conn, nil, opts)
}

func newClient(conn net.Conn, tlsc *tls.Conn, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{
		conn: conn, opts: opts, tr: wire.TracerOf(conn), br: bufio.NewReader(conn), tlsc: tlsc,
		lim: limits{maxLine: opts.MaxLineBytes, maxLiteral: opts.MaxLiteral},
		idleTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	c.bw = bufio.NewWriter(deadlineWriter{c})
	r, err := c.read()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("imapclient: greeting: %w", prefixless(err))
	}
	if r.kind != respStatus || (r.status != "OK" && r.status != "PREAUTH" && r.status != "BYE") {
		conn.Close()
		return nil, fmt.Errorf("%w: greeting %q is not OK, PREAUTH or BYE", ErrMalformed, clip(r.raw))
	}
	c.greeting = r.err()
	switch r.status {
	case "BYE":
		// RFC 3501 section 7.1.5: the server is not willing to talk.
		conn.Close()
		c.err = fmt.Errorf("imapclient: greeting: %w", c.greeting)
		return nil, c.err
	case "PREAUTH":
		// RFC 3501 section 7.1.4: already authenticated by external means.
		c.state = StateAuthenticated
	default:
		c.state = StateNotAuthenticated
	}
	c.codeCaps(r)
	return c, nil
}

// Dial connects to addr with dial (nil means a net.Dialer) and starts a
// session with NewClient. ctx bounds the connection and the greeting.
func Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, opts Options) (*Client, error) {
	return netconn.Dial(ctx, dial, addr, "imapclient", func(conn net.Conn) (*Client, error) { return NewClient(conn, opts) })
}

// Greeting returns the server's greeting: Status "OK" or "PREAUTH", with its
// code and text.
func (c *Client) Greeting() Error { return *c.greeting }

// State returns the session state as the client sees it.
func (c *Client) State() State { return c.state }

// Mailbox returns a copy of the selected mailbox's status, kept up to date
// with the EXISTS, EXPUNGE, RECENT and FLAGS responses the server sends; nil
// when no mailbox is selected.
func (c *Client) Mailbox() *MailboxStatus {
	if c.mbox == nil {
		return nil
	}
	m := *c.mbox
	m.Flags = append([]string(nil), m.Flags...)
	m.PermanentFlags = append([]string(nil), m.PermanentFlags...)
	return &m
}

// Close closes the connection without LOGOUT. It may be called from another
// goroutine to abort an operation. (The IMAP CLOSE command is CloseMailbox.)
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("imapclient: close: %w", err)
	}
	return nil
}

// Response is what the server answered to a raw command (Cmd, Continue).
type Response struct {
	// Untagged holds each untagged response as it crossed the wire,
	// without its final CRLF; a literal's "{n}" CRLF and octets are inline.
	Untagged []string
	// Continuation is true when the server sent "+ Text" and waits for
	// more: send it with Continue. Status is then "".
	Continuation bool
	// Tagged is the final status line as it crossed the wire, e.g.
	// "a003 NO [TRYCREATE] No such mailbox".
	Tagged string
	// Status is "OK", "NO" or "BAD"; Code, Arg and Text as in Error.
	Status, Code, Arg, Text string
}

// Cmd sends line with the next tag ("a004 " + line) and returns what the
// server answers, whatever it says: a NO or BAD is not an error here, so a
// lesson can show what a server answers to a mistake. line must not hold CR
// or LF. When the server asks for a continuation (a literal announced by
// line, AUTHENTICATE, IDLE) Cmd returns with Continuation set; call
// Continue to send the next line. The mailbox model follows the responses,
// and a SELECT, EXAMINE, LOGIN or LOGOUT sent this way changes State.
func (c *Client) Cmd(line string) (*Response, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("imapclient: Cmd %q: a command line may not hold CR or LF", line)
	}
	if c.pending != "" {
		return nil, fmt.Errorf("imapclient: Cmd %q: command %s waits for Continue", line, c.pending)
	}
	verb, arg, _ := strings.Cut(line, " ")
	cmd := &command{name: line, parts: []part{{text: line}}, raw: true}
	cmd.verb = strings.ToUpper(verb)
	if cmd.verb == "LOGIN" {
		cmd.name, cmd.secret = "LOGIN", true
		u, _, _ := strings.Cut(arg, " ")
		cmd.display = "LOGIN " + u + " ***"
	}
	if cmd.verb == "SELECT" || cmd.verb == "EXAMINE" {
		c.mbox = &MailboxStatus{Name: strings.Trim(arg, `"`)}
	}
	if err := c.start(cmd); err != nil {
		return nil, err
	}
	return c.rawFinish(cmd)
}

// Continue sends line, without a tag, to the raw command that is waiting
// for a continuation, and returns what the server answers next, as Cmd.
func (c *Client) Continue(line string) (*Response, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("imapclient: Continue %q: a line may not hold CR or LF", line)
	}
	if c.pending == "" {
		return nil, fmt.Errorf("imapclient: Continue %q: no command waits for a continuation", line)
	}
	cmd := c.rawCmd
	if err := c.writeLine(line, cmd.secret); err != nil {
		return nil, err
	}
	return c.rawFinish(cmd)
}

func (c *Client) rawFinish(cmd *command) (*Response, error) {
	resp := &Response{}
	cmd.onData = func(r *response) (bool, error) {
		resp.Untagged = append(resp.Untagged, string(r.raw))
		return true, nil
	}
	r, err := c.readUntil(cmd, true)
	if err != nil {
		c.pending, c.rawCmd = "", nil
		return nil, err
	}
	if r.kind == respContinuation {
		c.pending, c.rawCmd = cmd.tag, cmd
		resp.Continuation, resp.Text = true, r.text
		return resp, nil
	}
	c.pending, c.rawCmd = "", nil
	resp.Tagged = string(r.raw)
	resp.Status, resp.Code, resp.Arg, resp.Text = r.status, r.code, r.codeArg, r.text
	c.finished(cmd, r)
	return resp, nil
}

// part is a piece of a command: text, or a literal's octets.
type part struct {
	text string
	lit  []byte
	bulk bool // mark the literal as message content in the transcript
}

// command is one command in flight.
type command struct {
	verb    string // upper case, e.g. "SELECT", "UID FETCH"
	name    string // for errors: "SELECT Archive"
	display string // for BeforeCommand when it differs from the line
	parts   []part
	secret  bool // mark the command's lines secret
	raw     bool // sent by Cmd: every response goes to onData
	tag     string
	// onData sees each untagged response after the mailbox model; true
	// means it was the command's own, not news for OnUnilateral.
	onData func(r *response) (bool, error)
	// onCont answers a continuation request that is not for a literal
	// (AUTHENTICATE); nil means such a request is an error.
	onCont func(r *response) error
	// onUpdate, when set, gets the news instead of OnUnilateral (IDLE).
	onUpdate func(Update)
}

// exec runs cmd and returns its tagged OK. A NO or BAD is returned as an
// error wrapping *Error, with the response.
func (c *Client) exec(cmd *command) (*response, error) {
	if c.pending != "" {
		return nil, fmt.Errorf("imapclient: %s: raw command %s waits for Continue", cmd.name, c.pending)
	}
	if err := c.start(cmd); err != nil {
		return nil, err
	}
	r, err := c.readUntil(cmd, false)
	if err != nil {
		return nil, err
	}
	c.finished(cmd, r)
	if r.status != "OK" {
		return r, fmt.Errorf("imapclient: %s: %w", cmd.name, r.err())
	}
	return r, nil
}

// start writes the command: its tag, its text, its literals. For a
// synchronizing literal it waits for the server's "+" (RFC 3501 section
// 4.3); a tagged answer instead ends the command early: start then returns
// nil and readUntil finds that answer.
func (c *Client) start(cmd *command) error {
	if c.err != nil {
		return c.err
	}
	if c.bye != nil && !cmd.raw {
		return fmt.Errorf("imapclient: %s: server said %w", cmd.name, c.bye)
	}
	c.tagNum++
	cmd.tag = fmt.Sprintf("a%03d", c.tagNum)
	line := cmd.tag + " "
	display := cmd.display
	sent := false
	for _, p := range cmd.parts {
		if p.lit == nil {
			line += p.text
			continue
		}
		// RFC 7888 section 4: with LITERAL+ any literal may be
		// non-synchronizing; with LITERAL- only those up to 4096 octets.
		sync := !(c.caps["LITERAL+"] || c.caps["LITERAL-"] && len(p.lit) <= 4096)
		if sync {
			line += fmt.Sprintf("{%d}", len(p.lit))
		} else {
			line += fmt.Sprintf("{%d+}", len(p.lit))
		}
		if err := c.before(line, display, cmd.tag, !sent); err != nil {
			return err
		}
		display = ""
		if err := c.writeLine(line, cmd.secret); err != nil {
			return err
		}
		sent = true
		if sync {
			r, err := c.readUntil(cmd, true)
			if err != nil {
				return err
			}
			if r.kind == respTagged {
				c.early = r
				return nil
			}
		}
		mark := wire.MarkNone
		switch {
		case cmd.secret:
			mark = wire.MarkSecret
		case p.bulk:
			mark = wire.MarkBulk
		}
		if err := c.writeRaw(p.lit, mark); err != nil {
			return err
		}
		line = ""
	}
	// The rest of the command line after the last literal, "" when the
	// command ends with one.
	if err := c.before(line, display, cmd.tag, !sent); err != nil {
		return err
	}
	return c.writeLine(line, cmd.secret)
}

// before calls BeforeCommand with line, or with display (prefixed by the
// tag) when the command has one.
func (c *Client) before(line, display, tag string, first bool) error {
	if c.opts.BeforeCommand == nil || line == "" {
		return nil
	}
	show := line
	if display != "" {
		show = tag + " " + display
	}
	if err := c.opts.BeforeCommand(show); err != nil {
		if !first {
			c.fail(fmt.Errorf("imapclient: command %s aborted half-way: %w", tag, err))
		}
		return fmt.Errorf("imapclient: before %s: %w", show, err)
	}
	return nil
}

// writeLine writes line and CRLF and flushes, marked secret if asked.
func (c *Client) writeLine(line string, secret bool) error {
	if secret {
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
		defer c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return c.fail(fmt.Errorf("imapclient: writing %s: %w", firstWords(line), err))
	}
	return nil
}

// writeRaw writes a literal's octets under mark.
func (c *Client) writeRaw(b []byte, mark wire.Mark) error {
	if mark != wire.MarkNone {
		c.tr.Mark(wire.ClientToServer, mark)
		defer c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	}
	c.bw.Write(b)
	if err := c.bw.Flush(); err != nil {
		return c.fail(fmt.Errorf("imapclient: writing literal: %w", err))
	}
	return nil
}

// firstWords returns the tag and verb of a command line, for errors that
// must not repeat arguments (passwords).
func firstWords(line string) string {
	f := strings.SplitN(line, " ", 3)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// readUntil reads responses until the command's tagged status, or until a
// continuation request when wantCont is set. Untagged responses update the
// model and go to the command or OnUnilateral.
func (c *Client) readUntil(cmd *command, wantCont bool) (*response, error) {
	if r := c.early; r != nil {
		c.early = nil
		return r, nil
	}
	var dataErr error
	for {
		r, err := c.read()
		if err != nil {
			if c.bye != nil {
				// RFC 3501 section 7.1.5: BYE, then the server closes;
				// whatever the end looks like, the BYE is the news.
				err = c.bye
			}
			return nil, fmt.Errorf("imapclient: %s: %w", cmd.name, prefixless(err))
		}
		switch r.kind {
		case respTagged:
			if r.tag != cmd.tag {
				return nil, c.fail(fmt.Errorf("imapclient: %s: %w: tagged response for %s, expected %s", cmd.name, ErrMalformed, r.tag, cmd.tag))
			}
			if dataErr != nil && r.status == "OK" {
				return nil, fmt.Errorf("imapclient: %s: %w", cmd.name, dataErr)
			}
			return r, nil
		case respContinuation:
			if wantCont {
				return r, nil
			}
			if cmd.onCont != nil {
				if err := cmd.onCont(r); err != nil {
					return nil, err
				}
				continue
			}
			return nil, c.fail(fmt.Errorf("imapclient: %s: %w: unexpected continuation request %q", cmd.name, ErrMalformed, clip(r.raw)))
		default:
			if err := c.untagged(cmd, r); err != nil && dataErr == nil {
				dataErr = err
			}
		}
	}
}

// read sets the deadline and reads one response.
func (c *Client) read() (*response, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(c.opts.Timeout)); err != nil {
		return nil, c.fail(fmt.Errorf("imapclient: set read deadline: %w", err))
	}
	return c.readNoDeadline()
}

func (c *Client) readNoDeadline() (*response, error) {
	r, err := readResponse(c.br, c.lim)
	if err != nil {
		return nil, c.fail(err)
	}
	return r, nil
}

// untagged applies one untagged response: the model first, then the
// command, then OnUnilateral for news the command did not claim.
func (c *Client) untagged(cmd *command, r *response) error {
	u, isNews := c.model(r)
	handled := false
	var err error
	if cmd != nil && cmd.onData != nil {
		handled, err = cmd.onData(r)
	}
	switch {
	case handled || !isNews:
	case cmd != nil && cmd.onUpdate != nil:
		cmd.onUpdate(u)
	case c.opts.OnUnilateral != nil:
		c.opts.OnUnilateral(u)
	}
	return err
}

// model keeps the client's picture of the session up to date with one
// untagged response and returns it as an Update when it is news.
func (c *Client) model(r *response) (Update, bool) {
	if r.kind == respStatus {
		c.codeCaps(r)
		if c.mbox != nil {
			c.mboxCode(c.mbox, r)
		}
		switch {
		case r.status == "BYE":
			// RFC 3501 section 7.1.5: the server is about to close.
			c.bye = r.err()
			c.setMailbox(nil, StateLogout)
			return Update{Kind: UpdateBye, Text: r.text}, true
		case r.code == "ALERT":
			// RFC 3501 section 7.1: the text MUST be shown to the user.
			return Update{Kind: UpdateAlert, Text: r.text}, true
		}
		return Update{}, false
	}
	switch r.name {
	case "CAPABILITY":
		c.setCaps(r.fields)
	case "EXISTS":
		// RFC 3501 section 7.3.1: the mailbox now has n messages.
		if c.mbox != nil {
			c.mbox.Exists = r.num
		}
		return Update{Kind: UpdateExists, Num: r.num}, r.hasNum
	case "RECENT":
		if c.mbox != nil {
			c.mbox.Recent = r.num
		}
		return Update{Kind: UpdateRecent, Num: r.num}, r.hasNum
	case "EXPUNGE":
		// RFC 3501 section 7.4.1: message n is gone; the ones after it
		// move down, and EXISTS goes down by one.
		if c.mbox != nil && c.mbox.Exists > 0 {
			c.mbox.Exists--
		}
		return Update{Kind: UpdateExpunge, Num: r.num}, r.hasNum
	case "FLAGS":
		if c.mbox != nil && len(r.fields) == 1 {
			c.mbox.Flags = atoms(r.fields[0])
		}
	case "FETCH":
		if !r.hasNum {
			return Update{}, false
		}
		f, err := parseFetch(r)
		if err != nil {
			return Update{}, false
		}
		return Update{Kind: UpdateFetch, Num: r.num, Fetch: f}, true
	}
	return Update{}, false
}

// finished updates the session state after a command's tagged status.
func (c *Client) finished(cmd *command, r *response) {
	c.codeCaps(r)
	ok := r.status == "OK"
	switch cmd.verb {
	case "LOGIN", "AUTHENTICATE":
		if ok {
			c.state = StateAuthenticated
			// RFC 3501 section 6.2.2: capabilities may change after
			// authentication; ask again unless the OK listed them.
			if r.code != "CAPABILITY" {
				c.caps = nil
			}
		}
	case "SELECT", "EXAMINE":
		if c.mbox != nil {
			c.mboxCode(c.mbox, r)
		}
		if ok && c.mbox != nil {
			c.mbox.ReadOnly = r.code == "READ-ONLY" || cmd.verb == "EXAMINE" && r.code != "READ-WRITE"
			c.setMailbox(c.mbox, StateSelected)
		} else {
			// RFC 3501 section 6.3.1: a failed SELECT leaves no mailbox
			// selected.
			c.setMailbox(nil, StateAuthenticated)
		}
	case "CLOSE", "UNSELECT":
		if ok {
			c.setMailbox(nil, StateAuthenticated)
		}
	case "LOGOUT":
		c.setMailbox(nil, StateLogout)
	}
}

func (c *Client) setMailbox(m *MailboxStatus, s State) {
	c.mbox = m
	if c.state != StateLogout {
		c.state = s
	}
}

// fail records err as the reason the connection can no longer be used.
func (c *Client) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// prefixless hides the leading "imapclient: " of a wrapped error, so that
// messages read "imapclient: NOOP: malformed response: ..."; errors.Is and
// errors.As still see the wrapped error.
func prefixless(err error) error { return prefixlessErr{err} }

type prefixlessErr struct{ error }

func (p prefixlessErr) Error() string { return strings.TrimPrefix(p.error.Error(), "imapclient: ") }
func (p prefixlessErr) Unwrap() error { return p.error }

// deadlineWriter sets the write deadline before every write.
type deadlineWriter struct{ c *Client }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.c.conn.SetWriteDeadline(time.Now().Add(w.c.opts.Timeout)); err != nil {
		return 0, err
	}
	return w.c.conn.Write(p)
}
