package pop3client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/wire"
)

// Defaults of Options.
const (
	DefaultTimeout          = time.Minute
	DefaultMaxLineBytes     = 64 << 10
	DefaultMaxResponseBytes = 64 << 20
)

// ErrResponseTooLarge is wrapped by the error of a command whose
// multi-line response went over Options.MaxLineBytes or MaxResponseBytes.
// The response was read to its end: the session can go on.
var ErrResponseTooLarge = errors.New("pop3client: response too large")

// Options configure a Client. The zero value is usable.
type Options struct {
	// Timeout bounds each command write and each read of its response
	// (per network read, so a long RETR that keeps flowing is not cut).
	// Default 1 minute.
	Timeout time.Duration
	// MaxLineBytes bounds one line of a response, CRLF included. Default
	// 64 KiB.
	MaxLineBytes int
	// MaxResponseBytes bounds a whole multi-line response (RETR, TOP,
	// LIST, UIDL, CAPA) after dot-unstuffing. Default 64 MiB.
	MaxResponseBytes int64
	// BeforeCommand, when set, is called with each command line as it will
	// be sent (a PASS line holds the password) before it is written. A
	// non-nil error aborts the command before anything is sent; the error
	// returned wraps it. This is how step mode pauses a class before each
	// line.
	BeforeCommand func(line string) error
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return o
}

// Client is one POP3 session on a connection. Its methods must be called
// from one goroutine at a time; Close may be called from any.
type Client struct {
	conn net.Conn
	opts Options
	tr   wire.Tracer
	br   *bufio.Reader
	bw   *bufio.Writer
	tlsc *tls.Conn // the TLS layer under conn, once TLS is active

	greeting string
	err      error // sticky: the connection is out of step or gone
}

// Response is a server response as Cmd returns it.
type Response struct {
	// OK is true for "+OK", false for "-ERR".
	OK bool
	// Continue is true for a SASL continuation "+ ..." (RFC 5034); Text
	// then holds what follows "+ ".
	Continue bool
	// Text is the rest of the status line.
	Text string
	// Lines of a multi-line response, dot-stuffing removed, without the
	// final ".".
	Lines []string
}

// NewClient starts a session on conn: it reads the greeting, which must be
// "+OK" (RFC 1939 section 4). A "-ERR" greeting (a full server says
// "-ERR [SYS/TEMP] ...") is returned as an error wrapping *pop3.Error. On
// error conn is closed.
func NewClient(conn net.Conn, opts Options) (*Client, error) {
	return newClient(conn, nil, opts)
}

func newClient(conn net.Conn, tlsc *tls.Conn, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{conn: conn, opts: opts, tr: wire.TracerOf(conn), tlsc: tlsc}
	c.br = bufio.NewReader(deadlineReader{c})
	c.bw = bufio.NewWriter(deadlineWriter{c})
	r, err := c.readStatus()
	if err == nil && !r.OK {
		err = pop3.ParseError(r.Text)
		if r.Continue {
			err = fmt.Errorf("unexpected continuation %q", "+ "+r.Text)
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("pop3client: greeting: %w", err)
	}
	c.greeting = r.Text
	return c, nil
}

// Dial connects to addr with dial (nil means a net.Dialer) and starts a
// session with NewClient. ctx bounds the connection and the greeting.
func Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, opts Options) (*Client, error) {
	return netconn.Dial(ctx, dial, addr, "pop3client", func(conn net.Conn) (*Client, error) { return NewClient(conn, opts) })
}

// Greeting returns the text of the server's greeting, after "+OK ".
func (c *Client) Greeting() string { return c.greeting }

// Capa asks for the capability list (RFC 2449 section 5), one capability
// per line as sent, e.g. "TOP", "SASL PLAIN", "IMPLEMENTATION maillab".
func (c *Client) Capa() ([]string, error) {
	r, err := c.command("CAPA", "CAPA", true)
	if err != nil {
		return nil, err
	}
	return r.Lines, nil
}

// Login logs in with USER and PASS (RFC 1939 section 7). A wrong password
// gives an error matching pop3.ErrAuth when the server sends [AUTH]; a
// locked maildrop one matching pop3.ErrInUse.
func (c *Client) Login(user, pass string) error {
	if _, err := c.command("USER "+user, "USER "+user, false); err != nil {
		return err
	}
	_, err := c.command("PASS "+pass, "PASS", false)
	return err
}

// AuthPlain logs in with SASL PLAIN (RFC 5034, RFC 4616): the initial
// response on the AUTH line when it fits in 255 octets (RFC 5034 section
// 4), else after the server's "+ ". The credentials cross base64-encoded,
// which is not encryption: use it after StartTLS or over DialTLS. The
// lines are marked secret for the transcript; errors never hold them.
//
//	C: AUTH PLAIN AGJvYgBzZWNyZXQ=
//	S: +OK bob's maildrop has 2 messages (320 octets)
func (c *Client) AuthPlain(user, pass string) error {
	if strings.ContainsRune(user+pass, 0) {
		return fmt.Errorf("pop3client: AUTH PLAIN: user name and password may not hold NUL")
	}
	// RFC 4616 section 2: [authzid] NUL authcid NUL passwd.
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if line := "AUTH PLAIN " + ir; len(line)+2 <= pop3.MaxCommandBytes {
		_, err := c.command(line, "AUTH", false)
		return err
	}
	r, err := c.roundTrip("AUTH PLAIN", "AUTH", false)
	if err != nil {
		return err
	}
	if !r.Continue {
		if !r.OK {
			return fmt.Errorf("pop3client: AUTH: %w", pop3.ParseError(r.Text))
		}
		return c.fail(fmt.Errorf("pop3client: AUTH: +OK before the credentials were sent"))
	}
	_, err = c.command(ir, "AUTH", false)
	return err
}

// APOP logs in with the MD5 digest of the greeting's timestamp and secret
// (RFC 1939 section 7). It fails without sending anything when the
// greeting has no timestamp.
func (c *Client) APOP(user, secret string) error {
	ts, ok := pop3.GreetingTimestamp(c.greeting)
	if !ok {
		return fmt.Errorf("pop3client: APOP: the server's greeting has no timestamp, so it offers no APOP")
	}
	line := "APOP " + user + " " + pop3.APOPDigest(ts, secret)
	_, err := c.command(line, line, false)
	return err
}

// Stat returns the number of messages and their total size in octets
// (RFC 1939 section 5), not counting those marked deleted.
func (c *Client) Stat() (count int, size int64, err error) {
	r, err := c.command("STAT", "STAT", false)
	if err != nil {
		return 0, 0, err
	}
	count, size, err = pop3.ParseDropListing(r.Text)
	if err != nil {
		return 0, 0, fmt.Errorf("pop3client: STAT: %w", err)
	}
	return count, size, nil
}

// Listing is one line of LIST: a message number and its size.
type Listing struct {
	Number int
	Size   int64
}

// List returns the scan listing of every message not marked deleted
// (RFC 1939 section 5).
func (c *Client) List() ([]Listing, error) {
	r, err := c.command("LIST", "LIST", true)
	if err != nil {
		return nil, err
	}
	out := make([]Listing, 0, len(r.Lines))
	for _, l := range r.Lines {
		n, size, err := pop3.ParseScanListing(l)
		if err != nil {
			return nil, fmt.Errorf("pop3client: LIST: %w", err)
		}
		out = append(out, Listing{Number: n, Size: size})
	}
	return out, nil
}

// UIDListing is one line of UIDL: a message number and its unique-id.
type UIDListing struct {
	Number int
	UID    string
}

// UIDL returns the unique-id of every message not marked deleted (RFC 1939
// section 7).
func (c *Client) UIDL() ([]UIDListing, error) {
	r, err := c.command("UIDL", "UIDL", true)
	if err != nil {
		return nil, err
	}
	out := make([]UIDListing, 0, len(r.Lines))
	for _, l := range r.Lines {
		n, uid, err := pop3.ParseUIDListing(l)
		if err != nil {
			return nil, fmt.Errorf("pop3client: UIDL: %w", err)
		}
		out = append(out, UIDListing{Number: n, UID: uid})
	}
	return out, nil
}

// Retr returns message n (RFC 1939 section 5), dot-stuffing removed, each
// line ending in CRLF.
func (c *Client) Retr(n int) ([]byte, error) {
	line := "RETR " + strconv.Itoa(n)
	r, err := c.command(line, line, true)
	if err != nil {
		return nil, err
	}
	return joinLines(r.Lines), nil
}

// Top returns the header of message n, the blank line and its first lines
// lines of body (RFC 1939 section 7).
func (c *Client) Top(n, lines int) ([]byte, error) {
	line := "TOP " + strconv.Itoa(n) + " " + strconv.Itoa(lines)
	r, err := c.command(line, line, true)
	if err != nil {
		return nil, err
	}
	return joinLines(r.Lines), nil
}

func joinLines(lines []string) []byte {
	size := 0
	for _, l := range lines {
		size += len(l) + 2
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// Dele marks message n deleted; the server removes it only after Quit
// (RFC 1939 section 5).
func (c *Client) Dele(n int) error {
	line := "DELE " + strconv.Itoa(n)
	_, err := c.command(line, line, false)
	return err
}

// Noop does nothing; it keeps the session alive (RFC 1939 section 5).
func (c *Client) Noop() error {
	_, err := c.command("NOOP", "NOOP", false)
	return err
}

// Rset unmarks the messages marked deleted (RFC 1939 section 5).
func (c *Client) Rset() error {
	_, err := c.command("RSET", "RSET", false)
	return err
}

// Quit sends QUIT, reads the response and closes the connection, whatever
// the response. After a login, QUIT is what makes the server remove the
// messages marked deleted (RFC 1939 section 6); a "-ERR" means some were
// not removed.
func (c *Client) Quit() error {
	_, err := c.command("QUIT", "QUIT", false)
	if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = fmt.Errorf("pop3client: close: %w", cerr)
	}
	c.fail(errors.New("pop3client: session ended with QUIT"))
	return err
}

// Close closes the connection without QUIT: the server deletes nothing
// (RFC 1939 section 6). It may be called from another goroutine to abort
// an operation.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("pop3client: close: %w", err)
	}
	return nil
}

// Cmd sends line as it is and returns the response, "-ERR" included: a
// refusal is not an error here, so a lesson can show what a server answers
// to a mistake. With multiline, a "+OK" is followed by lines up to ".";
// the caller must know, as POP3 does not say (RFC 1939 section 3). line
// must not hold CR or LF.
func (c *Client) Cmd(line string, multiline bool) (*Response, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("pop3client: Cmd %q: a command line may not hold CR or LF", line)
	}
	label := line
	if verb, _, _ := strings.Cut(line, " "); strings.EqualFold(verb, "PASS") || strings.EqualFold(verb, "AUTH") {
		label = strings.ToUpper(verb)
	}
	return c.roundTrip(line, label, multiline)
}

// command sends line and wants "+OK"; label names it in errors (PASS
// without its password).
func (c *Client) command(line, label string, multiline bool) (*Response, error) {
	r, err := c.roundTrip(line, label, multiline)
	if err != nil {
		return nil, err
	}
	if r.Continue {
		return nil, c.fail(fmt.Errorf("pop3client: %s: unexpected continuation %q", label, "+ "+r.Text))
	}
	if !r.OK {
		return r, fmt.Errorf("pop3client: %s: %w", label, pop3.ParseError(r.Text))
	}
	return r, nil
}

func (c *Client) roundTrip(line, label string, multiline bool) (*Response, error) {
	if err := c.send(line, label); err != nil {
		return nil, err
	}
	r, err := c.readStatus()
	if err != nil {
		return nil, fmt.Errorf("pop3client: %s: %w", label, err)
	}
	if r.OK && multiline {
		if r.Lines, err = c.readMulti(); err != nil {
			return r, fmt.Errorf("pop3client: %s: %w", label, err)
		}
	}
	return r, nil
}

// send writes one command line. A PASS line is marked secret for the
// transcript (RFC 1939 section 7: the password crosses in clear).
func (c *Client) send(line, label string) error {
	if c.err != nil {
		return c.err
	}
	if c.opts.BeforeCommand != nil {
		if err := c.opts.BeforeCommand(line); err != nil {
			return fmt.Errorf("pop3client: before %s: %w", label, err)
		}
	}
	secret := label == "PASS" || label == "AUTH"
	if secret {
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
		defer c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return c.fail(fmt.Errorf("pop3client: writing %s: %w", label, err))
	}
	return nil
}

// readStatus reads a status line: "+OK", "-ERR" or a SASL continuation
// "+ text" (RFC 5034 section 4).
func (c *Client) readStatus() (*Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	b, err := wire.ReadLine(c.br, c.opts.MaxLineBytes)
	if err != nil {
		return nil, c.fail(fmt.Errorf("reading response: %w", err))
	}
	line := string(b)
	if line == "+" || strings.HasPrefix(line, "+ ") {
		return &Response{Continue: true, Text: strings.TrimPrefix(line[1:], " ")}, nil
	}
	ok, text, err := pop3.ParseResponse(line)
	if err != nil {
		return nil, c.fail(err)
	}
	return &Response{OK: ok, Text: text}, nil
}

// readMulti reads the lines of a multi-line response up to ".", removing
// the dot-stuffing (RFC 1939 section 3). Over a limit, it reads on to "."
// and returns ErrResponseTooLarge.
func (c *Client) readMulti() ([]string, error) {
	var lines []string
	var total int64
	tooLarge := false
	for {
		b, err := wire.ReadLine(c.br, c.opts.MaxLineBytes)
		switch {
		case errors.Is(err, wire.ErrLineTooLong):
			tooLarge, lines = true, nil
			continue
		case err != nil:
			return nil, c.fail(fmt.Errorf("reading response: %w", err))
		}
		if len(b) == 1 && b[0] == '.' {
			break
		}
		if len(b) > 0 && b[0] == '.' {
			b = b[1:]
		}
		total += int64(len(b)) + 2
		if total > c.opts.MaxResponseBytes {
			tooLarge, lines = true, nil
		}
		if !tooLarge {
			lines = append(lines, string(b))
		}
	}
	if tooLarge {
		return nil, fmt.Errorf("%w (limits: %d octets a line, %d in all)", ErrResponseTooLarge, c.opts.MaxLineBytes, c.opts.MaxResponseBytes)
	}
	return lines, nil
}

// fail records err as the reason the connection can no longer be used.
func (c *Client) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// deadlineReader sets the read deadline before every network read.
type deadlineReader struct{ c *Client }

func (r deadlineReader) Read(p []byte) (int, error) {
	if err := r.c.conn.SetReadDeadline(time.Now().Add(r.c.opts.Timeout)); err != nil {
		return 0, err
	}
	return r.c.conn.Read(p)
}

// deadlineWriter sets the write deadline before every write.
type deadlineWriter struct{ c *Client }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.c.conn.SetWriteDeadline(time.Now().Add(w.c.opts.Timeout)); err != nil {
		return 0, err
	}
	return w.c.conn.Write(p)
}
