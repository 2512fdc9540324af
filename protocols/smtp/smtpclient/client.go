package smtpclient

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

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// Default timeouts, from RFC 5321 section 4.5.3.2.
const (
	DefaultCommandTimeout = 5 * time.Minute  // greeting, MAIL, RCPT (section 4.5.3.2.1-3)
	DefaultDataTimeout    = 3 * time.Minute  // each data block (section 4.5.3.2.5)
	DefaultFinalTimeout   = 10 * time.Minute // reply to the final "." (section 4.5.3.2.6)
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// LMTP speaks LMTP (RFC 2033): LHLO instead of EHLO, no HELO fallback,
	// one reply per accepted recipient after the final ".".
	LMTP bool
	// LocalName is the name sent with EHLO, LHLO and HELO; "" means
	// "localhost".
	LocalName string
	// CommandTimeout bounds the wait for the greeting and for each command's
	// reply, and each command write; 0 means 5 minutes. The 354 reply to
	// DATA uses it too (RFC 5321 asks for 2 minutes there, a smaller bound).
	CommandTimeout time.Duration
	// DataTimeout bounds each write of message data; 0 means 3 minutes.
	DataTimeout time.Duration
	// FinalTimeout bounds the wait for the reply (LMTP: each reply) to the
	// final "."; 0 means 10 minutes.
	FinalTimeout time.Duration
	// MaxReplyLines bounds the lines of one reply; 0 means 100.
	MaxReplyLines int
	// BeforeCommand, when set, is called with each command line (never a
	// message body line) before it is written. A non-nil error aborts the
	// operation before the line is sent; the error returned wraps it. This
	// is how step mode pauses a class before each line. In a pipelined
	// group it is called for every line of the group before the group is
	// written.
	BeforeCommand func(line string) error

	// TLSConfig is the TLS configuration for ImplicitTLS, and for
	// StartTLS when it is given nil. An empty ServerName is filled in
	// with the host Dial was given (NewClient: the peer's IP address).
	TLSConfig *tls.Config
	// ImplicitTLS makes NewClient (and Dial) run the TLS handshake before
	// reading the greeting, as on port 465 ("submissions", RFC 8314
	// section 3.3). It needs TLSConfig. The handshake is bounded by
	// CommandTimeout.
	ImplicitTLS bool

	host string // set by Dial: the host part of its addr, for ServerName
}

func (o Options) withDefaults() Options {
	if o.LocalName == "" {
		o.LocalName = "localhost"
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = DefaultDataTimeout
	}
	if o.FinalTimeout <= 0 {
		o.FinalTimeout = DefaultFinalTimeout
	}
	if o.MaxReplyLines <= 0 {
		o.MaxReplyLines = DefaultMaxReplyLines
	}
	return o
}

// Client is one SMTP or LMTP session on a connection.
type Client struct {
	conn net.Conn // the connection in use: raw, or the TLS layer over it
	raw  net.Conn // the connection NewClient was given
	opts Options
	tr   wire.Tracer
	br   *bufio.Reader
	bw   *bufio.Writer

	writeTimeout time.Duration // for the next conn.Write: command or data

	greeting *Reply
	hello    bool              // EHLO, LHLO or HELO succeeded
	ext      map[string]string // EHLO keywords, upper case
	rcpts    []string          // recipients accepted since MAIL, for LMTP replies
	err      error             // sticky: the connection is out of sync or gone

	helloName string               // the name the last Hello sent
	tlsState  *tls.ConnectionState // after a TLS handshake; nil in clear
}

// NewClient starts a session on conn: it reads the greeting, which must be a
// 220 (RFC 5321 section 3.1). Any other greeting (554 "no SMTP service here",
// 421) is returned as an error wrapping *smtp.Error, after a polite QUIT.
// With Options.ImplicitTLS the TLS handshake comes first. On error conn is
// closed.
func NewClient(conn net.Conn, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{conn: conn, raw: conn, opts: opts, tr: wire.TracerOf(conn), br: bufio.NewReader(conn)}
	c.bw = bufio.NewWriter(deadlineWriter{c})
	c.writeTimeout = opts.CommandTimeout
	if opts.ImplicitTLS {
		// RFC 8314 section 3.3: TLS from the first byte; the greeting
		// is the first line under TLS.
		if opts.TLSConfig == nil {
			conn.Close()
			return nil, errors.New("smtpclient: ImplicitTLS needs Options.TLSConfig")
		}
		if err := c.handshake(opts.TLSConfig); err != nil {
			return nil, fmt.Errorf("smtpclient: implicit TLS: %w", unwrapPrefix(err))
		}
	}
	r, err := c.readReply(opts.CommandTimeout)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtpclient: greeting: %w", unwrapPrefix(err))
	}
	c.greeting = r
	if r.Code != 220 {
		// RFC 5321 section 3.1: after a 554 greeting the server waits for
		// QUIT; say goodbye before closing.
		if r.Class() != 2 {
			if c.send("QUIT") == nil {
				_, _ = c.readReply(opts.CommandTimeout)
			}
		}
		conn.Close()
		if e := r.Err(); e != nil {
			return nil, fmt.Errorf("smtpclient: greeting: %w", e)
		}
		return nil, fmt.Errorf("smtpclient: greeting: unexpected reply %q", r.String())
	}
	return c, nil
}

// Dial connects to addr with dial (nil means a net.Dialer) and starts a
// session with NewClient. ctx bounds the connection, the greeting and,
// with Options.ImplicitTLS, the TLS handshake.
func Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, opts Options) (*Client, error) {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		opts.host = host
	}
	return netconn.Dial(ctx, dial, addr, "smtpclient", func(conn net.Conn) (*Client, error) { return NewClient(conn, opts) })
}

// Greeting returns the server's greeting reply.
func (c *Client) Greeting() *Reply { return c.greeting }

// Hello identifies the client with EHLO (LHLO in LMTP mode) and records the
// extensions the server lists. name "" means Options.LocalName.
//
//	C: EHLO client.a.test
//	S: 250-mx.b.test
//	S: 250-PIPELINING
//	S: 250 SIZE 10240000
func (c *Client) Hello(name string) error {
	if name == "" {
		name = c.opts.LocalName
	}
	verb := "EHLO"
	if c.opts.LMTP {
		verb = "LHLO" // RFC 2033 section 4.1
	}
	line := verb + " " + name
	c.helloName = name
	r, err := c.roundTrip(line)
	if err != nil {
		return err
	}
	// RFC 5321 section 3.2: a server that does not know EHLO answers 500
	// or 502, and the client falls back to HELO. LMTP has no HELO.
	if !c.opts.LMTP && (r.Code == 500 || r.Code == 502) {
		c.tr.Note("EHLO refused: falling back to HELO, no extensions (RFC 5321 section 3.2)")
		line = "HELO " + name
		if r, err = c.roundTrip(line); err != nil {
			return err
		}
		if r.Class() != 2 {
			return replyError(line, r)
		}
		c.setHello(nil)
		return nil
	}
	if r.Class() != 2 {
		return replyError(line, r)
	}
	c.setHello(r)
	return nil
}

// setHello records a successful greeting exchange; r is the EHLO/LHLO reply,
// nil after HELO.
func (c *Client) setHello(r *Reply) {
	c.hello = true
	c.rcpts = nil // RFC 5321 section 4.1.4: EHLO resets the transaction like RSET
	c.ext = map[string]string{}
	if r == nil {
		return
	}
	// RFC 5321 section 4.1.1.1: the first line is the domain, each other
	// line is ehlo-keyword *(SP ehlo-param).
	for _, l := range r.Lines[1:] {
		kw, param, _ := strings.Cut(strings.TrimSpace(l), " ")
		// Old servers also send "AUTH=LOGIN PLAIN"; keep the first spelling.
		if k, p, ok := strings.Cut(kw, "="); ok {
			kw, param = k, strings.TrimSpace(p+" "+param)
		}
		if !validKeyword(kw) {
			continue
		}
		kw = strings.ToUpper(kw)
		if _, dup := c.ext[kw]; !dup {
			c.ext[kw] = strings.TrimSpace(param)
		}
	}
}

// validKeyword: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func validKeyword(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// Extensions returns a copy of the EHLO keywords (upper case) and their
// parameters; it is empty before Hello and after a HELO fallback.
func (c *Client) Extensions() map[string]string {
	m := make(map[string]string, len(c.ext))
	for k, v := range c.ext {
		m[k] = v
	}
	return m
}

// HasExtension reports whether the server listed the EHLO keyword name
// (case-insensitive).
func (c *Client) HasExtension(name string) bool {
	_, ok := c.ext[strings.ToUpper(name)]
	return ok
}

// MaxSize returns the message size limit the server advertised with SIZE
// (RFC 1870 section 4), or 0 when it advertised none or no fixed limit.
func (c *Client) MaxSize() int64 {
	n, err := strconv.ParseInt(c.ext["SIZE"], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ensureHello sends EHLO (or LHLO) if Hello has not succeeded yet (or not
// since StartTLS): RFC 5321 section 4.1.4 wants it before any
// transaction. The name is the one the last Hello sent, else
// Options.LocalName.
func (c *Client) ensureHello() error {
	if c.hello {
		return nil
	}
	return c.Hello(c.helloName)
}

// mailLine builds MAIL FROM with the parameters the server advertised.
func (c *Client) mailLine(from mail.Path, p smtp.MailParams) string {
	line := "MAIL FROM:" + from.Bracketed()
	// RFC 1870 section 6: SIZE= only to a server that listed SIZE. The
	// client does not refuse locally a size over MaxSize: the lab shows
	// the server's 552.
	if p.Size > 0 && c.HasExtension("SIZE") {
		line += " SIZE=" + strconv.FormatInt(p.Size, 10)
	}
	// RFC 6152 section 3: BODY= only to a server that listed 8BITMIME.
	if p.Body != "" && c.HasExtension("8BITMIME") {
		line += " BODY=" + strings.ToUpper(p.Body)
	}
	return line
}

// Mail starts a transaction (RFC 5321 section 4.1.1.2), sending EHLO first if
// Hello was not called.
//
//	C: MAIL FROM:<alice@a.test> SIZE=1200
//	S: 250 2.1.0 Sender OK
func (c *Client) Mail(from mail.Path, p smtp.MailParams) error {
	if err := c.ensureHello(); err != nil {
		return err
	}
	if _, err := c.expect2(c.mailLine(from, p)); err != nil {
		return err
	}
	c.rcpts = c.rcpts[:0]
	return nil
}

// Rcpt adds a recipient (RFC 5321 section 4.1.1.3); a refusal is returned as
// an error wrapping *smtp.Error.
//
//	C: RCPT TO:<bob@b.test>
//	S: 550 5.1.1 No such user
func (c *Client) Rcpt(to mail.Path) error {
	if _, err := c.expect2("RCPT TO:" + to.Bracketed()); err != nil {
		return err
	}
	c.rcpts = append(c.rcpts, to.String())
	return nil
}

// Reset aborts the transaction (RFC 5321 section 4.1.1.5).
func (c *Client) Reset() error {
	if _, err := c.expect2("RSET"); err != nil {
		return err
	}
	c.rcpts = nil
	return nil
}

// Noop asks for a 250 and nothing else (RFC 5321 section 4.1.1.9).
func (c *Client) Noop() error {
	_, err := c.expect2("NOOP")
	return err
}

// Verify asks the server about addr (RFC 5321 section 4.1.1.6). 250, 251 and
// 252 ("cannot verify, will accept") are successes; the reply is returned
// with the error for 4yz and 5yz too.
func (c *Client) Verify(addr string) (*Reply, error) {
	return c.expect2("VRFY " + addr)
}

// Quit sends QUIT, reads the 221 (RFC 5321 section 4.1.1.10) and closes the
// connection, whatever the reply.
func (c *Client) Quit() error {
	_, err := c.expect2("QUIT")
	if cerr := c.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = fmt.Errorf("smtpclient: close: %w", cerr)
	}
	if c.err == nil {
		c.err = errors.New("smtpclient: session ended with QUIT")
	}
	return err
}

// Close closes the connection without QUIT. It may be called from another
// goroutine to abort an operation.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("smtpclient: close: %w", err)
	}
	return nil
}

// Cmd sends line as it is and returns the server's reply whatever its code:
// a 4yz or 5yz is not an error here, so a lesson can show what a server
// answers to a mistake. line must not hold CR or LF. The client follows
// the transaction the raw commands build (MAIL, RCPT, RSET, EHLO) so that
// SendDataLMTP knows how many replies to read, and an EHLO or LHLO sent
// this way updates Extensions.
func (c *Client) Cmd(line string) (*Reply, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("smtpclient: Cmd %q: a command line may not hold CR or LF", line)
	}
	r, err := c.roundTrip(line)
	if err != nil {
		return nil, err
	}
	if r.Class() != 2 {
		return r, nil
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO", "LHLO":
		c.setHello(r)
	case "HELO":
		c.setHello(nil)
	case "MAIL", "RSET":
		c.rcpts = nil
	case "RCPT":
		if len(arg) >= 3 && strings.EqualFold(arg[:3], "TO:") {
			arg = arg[3:]
		}
		if f := strings.Fields(arg); len(f) > 0 {
			c.rcpts = append(c.rcpts, strings.Trim(f[0], "<>"))
		}
	}
	return r, nil
}

// send writes command lines as one group and flushes them. BeforeCommand
// sees every line before any is written.
func (c *Client) send(lines ...string) error {
	if c.err != nil {
		return c.err
	}
	if c.opts.BeforeCommand != nil {
		for _, l := range lines {
			if err := c.opts.BeforeCommand(l); err != nil {
				return fmt.Errorf("smtpclient: before %s: %w", l, err)
			}
		}
	}
	c.writeTimeout = c.opts.CommandTimeout
	for _, l := range lines {
		c.bw.WriteString(l)
		c.bw.WriteString("\r\n")
	}
	if err := c.bw.Flush(); err != nil {
		return c.fail(fmt.Errorf("smtpclient: writing %s: %w", lines[0], err))
	}
	return nil
}

// readReply sets the read deadline and reads one reply.
func (c *Client) readReply(timeout time.Duration) (*Reply, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, c.fail(fmt.Errorf("smtpclient: set read deadline: %w", err))
	}
	r, err := readReply(c.br, c.opts.MaxReplyLines)
	if err != nil {
		return nil, c.fail(err)
	}
	return r, nil
}

// roundTrip sends one command and reads its reply, whatever its code.
func (c *Client) roundTrip(line string) (*Reply, error) {
	if err := c.send(line); err != nil {
		return nil, err
	}
	r, err := c.readReply(c.opts.CommandTimeout)
	if err != nil {
		return nil, fmt.Errorf("smtpclient: %s: %w", line, unwrapPrefix(err))
	}
	return r, nil
}

// expect2 sends one command and wants a 2yz reply.
func (c *Client) expect2(line string) (*Reply, error) {
	r, err := c.roundTrip(line)
	if err != nil {
		return nil, err
	}
	if r.Class() != 2 {
		return r, replyError(line, r)
	}
	return r, nil
}

// replyError reports an unwanted reply to line: an error wrapping
// *smtp.Error for 4yz and 5yz ("smtpclient: RCPT TO:<b@b.test>: 550 5.1.1
// No such user"), a protocol error for anything else.
func replyError(line string, r *Reply) error {
	if e := r.Err(); e != nil {
		return fmt.Errorf("smtpclient: %s: %w", line, e)
	}
	return fmt.Errorf("smtpclient: %s: unexpected reply %q", line, r.String())
}

// fail records err as the reason the connection can no longer be used.
func (c *Client) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// prefixless hides the leading "smtpclient: " of a wrapped error, so that
// messages read "smtpclient: MAIL FROM:<a@a.test>: reading reply: EOF";
// errors.Is and errors.As still see the wrapped error.
type prefixless struct{ error }

func (p prefixless) Error() string { return strings.TrimPrefix(p.error.Error(), "smtpclient: ") }
func (p prefixless) Unwrap() error { return p.error }

// unwrapPrefix wraps err in a prefixless.
func unwrapPrefix(err error) error { return prefixless{err} }

// deadlineWriter sets the write deadline before every write to the
// connection: CommandTimeout for command lines, DataTimeout per data block.
type deadlineWriter struct{ c *Client }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.c.conn.SetWriteDeadline(time.Now().Add(w.c.writeTimeout)); err != nil {
		return 0, err
	}
	return w.c.conn.Write(p)
}
