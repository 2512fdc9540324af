// Package mua is the lab's mail user agent: the program a user writes mail
// with and reads it with. It composes RFC 5322 messages (Compose) and
// submits them to an MTA over SMTP (Send), or opens a raw SMTP session
// (Dial) for scenarios that show mistakes, typed line by line. It reads mail
// from an MDA over POP3 (FetchPOP3: download, and delete or leave on the
// server) or IMAP (IMAP: a session that stays open, like a phone's; or
// FetchIMAP, one shot).
//
// It is not a server: Start does nothing, Stop ends the IMAP sessions still
// open, and it has no endpoints.
//
// In a scenario:
//
//	agents:
//	  - {name: alice-laptop, kind: mua}
//	steps:
//	  - send: {from: "Alice Ruiz <alice@a.test>", to: bob@b.test, subject: "Reunión", via: mx.a.test}
//
// What to watch in the transcript: EHLO and the extensions the MTA lists;
// MAIL FROM carries only the address of From (the envelope), with
// BODY=8BITMIME when the text is not ASCII; one RCPT per To, Cc and Bcc
// recipient — the Bcc ones appear nowhere in the message itself; then the
// header block after DATA, where a non-ASCII Subject travels as an encoded
// word (=?UTF-8?q?...?=); and the final "250 ... queued as" that hands the
// message to the MTA.
//
// When it reads over POP3: USER and PASS (the PASS line is masked), STAT,
// UIDL (the unique-ids a leave-on-server client compares with what it has,
// RFC 1939 section 8), one RETR per message it has not got yet, a DELE per
// message when it deletes after download, and QUIT, after which the server
// really removes them (the UPDATE state). A second device then finds an
// empty maildrop. Over IMAP: LOGIN, SELECT and its EXISTS, one UID FETCH
// for the list and one per message read (BODY[], which sets \Seen on the
// server), UID STORE, UID MOVE, and the untagged "* n FETCH (FLAGS ...)",
// "* n EXPUNGE" and "* n EXISTS" lines another device's actions cause;
// during IDLE these arrive at once, before any DONE.
//
// # Standards
//
// RFC 5322 (message format: section 3.3 date, 3.4 addresses, 3.6 fields),
// RFC 2045 (MIME-Version, Content-Type, Content-Transfer-Encoding, section
// 6.7 quoted-printable), RFC 2047 (encoded words), RFC 5321 (SMTP), RFC
// 6152 (8BITMIME), RFC 6409 (submission).
//
// # Security
//
// Draft fields are checked so that no value can add a header field (CR and
// LF in a Subject or extra field are encoded, addresses are parsed).
// There is no SMTP authentication yet (SMTP AUTH comes with submission on
// 587). POP3 and IMAP passwords cross in clear on loopback: the clients mark
// PASS and LOGIN secret for the transcript, step mode sees "PASS ***" and
// "LOGIN user ***", and errors never hold a password. Everything a server
// sends is bounded by the clients' limits; a downloaded message is kept in
// memory as it came.
//
// # Limits
//
// Body lines longer than 998 octets switch the body to quoted-printable.
// Timeouts are smtpclient's defaults (RFC 5321 section 4.5.3.2), bounded
// further by the ctx given to Send and Dial. Reading uses the defaults of
// pop3client (1 minute per command, 64 MiB per message) and imapclient (5
// minutes per response, none while idling, 64 MiB of literals); ctx bounds
// FetchPOP3 and FetchIMAP whole, but only the login of IMAP. The local
// store is in memory and lasts as long as the MUA.
package mua

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/transcripts"
)

// Config configures a MUA.
type Config struct {
	// Name is the agent's name in transcripts, e.g. "alice-laptop".
	Name string
	// Hostname is sent with EHLO and ends generated Message-IDs; "" means
	// Name.
	Hostname string
	// Recorder taps the SMTP, POP3 and IMAP connections; nil means no
	// transcript.
	Recorder *transcripts.Recorder
	// BeforeCommand is called with each command line before it is sent
	// (step mode), with the protocol it belongs to ("smtp", "pop3" or
	// "imap"); an error stops the session before the line is sent. See
	// smtpclient.Options.BeforeCommand.
	BeforeCommand func(proto, line string) error
	// Now is the clock for the Date field; nil means time.Now.
	Now func() time.Time
	// LocalAddr is the device's own address, the source of its
	// connections (in a lab with a dns agent each host has one); the zero
	// value lets the system choose.
	LocalAddr netip.Addr
	// TLS is the device's TLS client configuration (its trusted roots: the
	// lab CA), used when a step asks for STARTTLS or implicit TLS; the
	// server name is the address dialed.
	TLS *tls.Config
}

// TLSMode says how a session protects itself.
type TLSMode string

const (
	TLSNone     TLSMode = ""         // in clear
	TLSStartTLS TLSMode = "starttls" // STARTTLS (SMTP, IMAP) or STLS (POP3) before logging in
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (ports 465, 993, 995; RFC 8314)
)

// tlsFor returns the client TLS configuration for server ("ip:port").
func (m *MUA) tlsFor(server string) (*tls.Config, error) {
	if m.cfg.TLS == nil {
		return nil, fmt.Errorf("mua %s: no TLS configuration (the lab has no CA)", m.cfg.Name)
	}
	cfg := m.cfg.TLS.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(server)
		if err != nil {
			return nil, fmt.Errorf("mua: %w", err)
		}
		cfg.ServerName = host
	}
	return cfg, nil
}

// MUA is a mail user agent.
type MUA struct {
	cfg Config

	mu       sync.Mutex // guards the fields below
	local    []LocalMessage
	sessions map[*IMAPSession]struct{} // IMAP sessions open, for Stop
}

// New checks cfg and returns a MUA. It opens nothing.
func New(cfg Config) (*MUA, error) {
	if cfg.Name == "" {
		return nil, errors.New("mua: config: empty Name")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &MUA{cfg: cfg}, nil
}

// Name returns the agent's name.
func (m *MUA) Name() string { return m.cfg.Name }

// Kind returns "mua".
func (m *MUA) Kind() string { return "mua" }

// Start does nothing: a MUA listens on no socket.
func (m *MUA) Start(ctx context.Context) error { return nil }

// Stop ends the IMAP sessions still open: LOGOUT for a session that is
// not busy, bounded by ctx, and closing the connection for one that is
// (an IDLE in progress). The local store stays.
func (m *MUA) Stop(ctx context.Context) error {
	m.mu.Lock()
	open := make([]*IMAPSession, 0, len(m.sessions))
	for s := range m.sessions {
		open = append(open, s)
	}
	m.mu.Unlock()
	for _, s := range open {
		s.stop(ctx)
	}
	return nil
}

// Endpoints returns an empty map: a MUA serves nothing.
func (m *MUA) Endpoints() map[string]string { return map[string]string{} }

// dialer dials SMTP through dialerFor.
func (m *MUA) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return m.dialerFor("smtp")
}

// dialerFor is the one place that knows the Recorder may be nil; proto
// ("smtp", "pop3", "imap") names the connections in the transcript.
func (m *MUA) dialerFor(proto string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var base func(ctx context.Context, network, addr string) (net.Conn, error)
	if m.cfg.LocalAddr.IsValid() {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: m.cfg.LocalAddr.AsSlice()}}
		base = d.DialContext
	}
	if m.cfg.Recorder == nil {
		return base
	}
	return m.cfg.Recorder.Dialer(m.cfg.Name, proto, base)
}

// hook is Config.BeforeCommand for one protocol's client; nil when there is
// no hook.
func (m *MUA) hook(proto string) func(line string) error {
	before := m.cfg.BeforeCommand
	if before == nil {
		return nil
	}
	return func(line string) error { return before(proto, line) }
}

// Dial opens an SMTP session with server ("127.0.0.1:2525") and returns it
// after the greeting, before EHLO: the caller types the dialogue.
func (m *MUA) Dial(ctx context.Context, server string) (*smtpclient.Client, error) {
	c, err := smtpclient.Dial(ctx, m.dialer(), server, smtpclient.Options{
		LocalName:     m.cfg.Hostname,
		BeforeCommand: m.hook("smtp"),
	})
	if err != nil {
		return nil, fmt.Errorf("mua: %w", err)
	}
	return c, nil
}

// Send composes d and submits it to server: EHLO, MAIL FROM with the From
// address (BODY=8BITMIME when the text is 8-bit and the server offers it),
// one RCPT per To, Cc and Bcc recipient, DATA, QUIT. When the server does
// not offer 8BITMIME a non-ASCII body goes as quoted-printable instead (RFC
// 6152 section 3 forbids sending 8-bit data to it).
//
// The result tells recipient by recipient what the server did; it is nil
// only when the session could not start. ctx bounds the whole exchange.
func (m *MUA) Send(ctx context.Context, server string, d Draft) (*smtpclient.SendResult, error) {
	return m.SendWith(ctx, server, d, SendOptions{})
}

// SendOptions choose how Send protects and identifies the session.
type SendOptions struct {
	// TLS: STARTTLS after EHLO (RFC 3207; then EHLO again), or TLS from
	// the first byte (port 465, RFC 8314).
	TLS TLSMode
	// User and Password, when User is set, log in with AUTH PLAIN (RFC
	// 4954, RFC 4616) before MAIL; the password is marked secret.
	User, Password string
}

// SendWith is Send with TLS and SMTP AUTH, as a mail program submitting on
// port 587 or 465 does.
func (m *MUA) SendWith(ctx context.Context, server string, d Draft, o SendOptions) (*smtpclient.SendResult, error) {
	now := m.cfg.Now()
	// Compose once before connecting, so a bad draft never opens a socket.
	if _, err := compose(d, m.cfg.Hostname, now, composeOptions{}); err != nil {
		return nil, err
	}
	_, from, _ := ParseMailbox(d.From)
	var rcpts []mail.Path
	for _, list := range [][]string{d.To, d.Cc, d.Bcc} {
		for _, s := range list {
			_, p, err := ParseMailbox(s)
			if err != nil {
				return nil, fmt.Errorf("mua: recipient: %w", err)
			}
			rcpts = append(rcpts, p)
		}
	}
	copts := smtpclient.Options{LocalName: m.cfg.Hostname, BeforeCommand: m.hook("smtp")}
	var tcfg *tls.Config
	if o.TLS != TLSNone {
		var err error
		if tcfg, err = m.tlsFor(server); err != nil {
			return nil, err
		}
		copts.TLSConfig = tcfg
		copts.ImplicitTLS = o.TLS == TLSImplicit
	}
	c, err := smtpclient.Dial(ctx, m.dialer(), server, copts)
	if err != nil {
		return nil, fmt.Errorf("mua: %w", err)
	}
	defer c.Close()
	// Close the connection when ctx ends: that unblocks any read.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Hello(""); err != nil {
		return nil, fmt.Errorf("mua: %w", err)
	}
	if o.TLS == TLSStartTLS {
		if err := c.StartTLS(tcfg); err != nil {
			return nil, fmt.Errorf("mua: %w", err)
		}
		if err := c.Hello(""); err != nil {
			return nil, fmt.Errorf("mua: %w", err)
		}
	}
	if o.User != "" {
		if err := c.Auth("PLAIN", o.User, o.Password); err != nil {
			_ = c.Quit()
			return nil, fmt.Errorf("mua: %w", err)
		}
	}
	eight := c.HasExtension("8BITMIME")
	msg, err := compose(d, m.cfg.Hostname, now, composeOptions{sevenBit: !eight})
	if err != nil {
		return nil, err
	}
	params := smtp.MailParams{Size: int64(len(msg))}
	if is8bit(msg) {
		params.Body = "8BITMIME" // RFC 6152 section 3
	}
	res, err := c.SendMail(from, rcpts, bytes.NewReader(msg), params)
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("mua: %w", context.Cause(ctx))
		}
		_ = c.Quit()
		return res, fmt.Errorf("mua: %w", err)
	}
	// The message was accepted: a failed QUIT changes nothing.
	_ = c.Quit()
	return res, nil
}

func is8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
