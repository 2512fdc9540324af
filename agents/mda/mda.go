// Package mda is the lab's mail delivery agent: it keeps the users'
// mailboxes (a Maildir each, see package mailbox) and receives mail for them
// from the MTA over LMTP, on a real socket, as Dovecot does behind Postfix.
//
// For every recipient the MDA stores its own copy, with three fields
// prepended to the message:
//
//	Return-Path: <alice@a.test>          the envelope sender (RFC 5321 section 4.4)
//	Delivered-To: bob@b.test             the envelope recipient (qmail, Postfix, Dovecot)
//	Received: from mx.b.test ([127.0.0.1])
//		by mda.b.test (maillab) with LMTP id 1a2b3c4d5e6f
//		for <bob@b.test>; Thu, 15 Jan 2026 10:30:00 +0100
//
// and answers each recipient after the final "." separately (RFC 2033
// section 4.2), only once that recipient's file is on disk:
//
//	S: 250 2.0.0 <bob@b.test> delivered to new/1768469400.M0P42Q1.mda.b.test,S=512
//
// In a scenario:
//
//	agents:
//	  - {name: mda.b.test, kind: mda, users: [bob@b.test, carol@b.test]}
//
// What to watch in the transcript: LHLO instead of EHLO; RCPT for a user
// the MDA does not know gets "550 5.1.1 ... no such user here" at once; after
// the final "." come as many replies as accepted recipients, in RCPT order,
// each preceded by the note "stored in bob@b.test's Maildir as new/...".
//
// # Standards
//
// RFC 2033 (LMTP), RFC 5321 section 4.4 (Received and Return-Path), RFC
// 5322 section 3.3 (date-time) and 3.6.7 (trace fields), RFC 3463
// (enhanced codes), the Maildir specification.
//
// # Security
//
// The LMTP socket is meant for the MTA only and has no authentication: in
// the lab it listens on loopback. Recipients are checked against the
// configured user list before any path is built; the store refuses
// addresses that could leave its root. Messages are bounded by
// MaxMessageBytes.
//
// # Limits
//
// Each message is held in memory while its copies are written (bounded by
// MaxMessageBytes, default 25 MiB); MaxRecipients (default 100) per
// transaction. There is no quota and no filtering (that is the LDA's job,
// later).
package mda

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/transcripts"
)

// Config configures an MDA.
type Config struct {
	// Name is the agent's name in transcripts, e.g. "mda.b.test".
	Name string
	// Hostname goes into the greeting and the Received field; "" means Name.
	Hostname string
	// Listen is the LMTP address; "" means "127.0.0.1:0" (a free port).
	Listen string
	// Store holds the Maildirs. Required.
	Store *mailbox.Store
	// Users are the addresses the MDA keeps mail for (case-insensitive).
	Users []string
	// Recorder taps the LMTP listener; nil means no transcript.
	Recorder *transcripts.Recorder
	// Now is the clock for Received dates; nil means time.Now.
	Now func() time.Time
	// IDs makes the delivery id of the Received field; nil means 12 random
	// hex digits.
	IDs func() string
	// MaxMessageBytes and MaxRecipients are passed to the LMTP server;
	// 0 means its defaults (25 MiB, 100).
	MaxMessageBytes int64
	MaxRecipients   int
}

// MDA is a mail delivery agent. Build it with New.
type MDA struct {
	cfg   Config
	users map[string]bool // lower case

	mu      sync.Mutex
	started bool
	addr    string
	srv     *smtpserver.Server
	done    chan struct{} // closed when Serve returns
}

// New checks cfg and returns an MDA. It opens nothing.
func New(cfg Config) (*MDA, error) {
	if cfg.Name == "" {
		return nil, errors.New("mda: config: empty Name")
	}
	if cfg.Store == nil {
		return nil, fmt.Errorf("mda: config %s: no Store", cfg.Name)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IDs == nil {
		cfg.IDs = RandomID
	}
	users := make(map[string]bool, len(cfg.Users))
	for _, u := range cfg.Users {
		p, err := mail.ParseAddress(u)
		if err != nil {
			return nil, fmt.Errorf("mda: config %s: user: %w", cfg.Name, err)
		}
		if _, err := cfg.Store.Maildir(p.String()); err != nil {
			return nil, fmt.Errorf("mda: config %s: user %q: %w", cfg.Name, u, err)
		}
		users[strings.ToLower(p.String())] = true
	}
	return &MDA{cfg: cfg, users: users}, nil
}

// RandomID returns 12 random hex digits, the default id source.
func RandomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// Name returns the agent's name.
func (m *MDA) Name() string { return m.cfg.Name }

// Kind returns "mda".
func (m *MDA) Kind() string { return "mda" }

// Start listens on Config.Listen and serves LMTP until Stop. It returns once
// the socket is listening.
func (m *MDA) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fmt.Errorf("mda %s: already started", m.cfg.Name)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("mda %s: listen: %w", m.cfg.Name, err)
	}
	m.addr = l.Addr().String()
	if m.cfg.Recorder != nil {
		l = m.cfg.Recorder.Listen(l, m.cfg.Name, "lmtp")
	}
	m.srv = smtpserver.New(smtpserver.Options{
		Hostname:        m.cfg.Hostname,
		LMTP:            true,
		MaxMessageBytes: m.cfg.MaxMessageBytes,
		MaxRecipients:   m.cfg.MaxRecipients,
	}, backend{m})
	m.done = make(chan struct{})
	m.started = true
	srv, done := m.srv, m.done
	go func() {
		defer close(done)
		_ = srv.Serve(l) // returns nil after Shutdown; closes l
	}()
	return nil
}

// Stop ends every session (a delivery in progress finishes) and waits for
// them until ctx is done. It is safe to call twice, or without Start.
func (m *MDA) Stop(ctx context.Context) error {
	m.mu.Lock()
	srv, done := m.srv, m.done
	m.srv = nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("mda %s: stop: %w", m.cfg.Name, err)
	}
	return nil
}

// Endpoints returns {"lmtp": "127.0.0.1:port"} once started.
func (m *MDA) Endpoints() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.addr == "" {
		return map[string]string{}
	}
	return map[string]string{"lmtp": m.addr}
}

type backend struct{ m *MDA }

func (b backend) NewSession(c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &session{m: b.m, info: c}, nil
}

// session is one LMTP connection.
type session struct {
	m     *MDA
	info  *smtpserver.ConnInfo
	from  mail.Path
	rcpts []mail.Path
}

// Mail starts a transaction.
//
//	C: MAIL FROM:<alice@a.test>
//	S: 250 2.1.0 Sender OK
func (s *session) Mail(from mail.Path, _ smtp.MailParams) error {
	s.from = from
	s.rcpts = s.rcpts[:0]
	return nil
}

// Rcpt accepts the MDA's users only.
//
//	C: RCPT TO:<nobody@b.test>
//	S: 550 5.1.1 <nobody@b.test>: no such user here
func (s *session) Rcpt(to mail.Path) error {
	if !s.m.users[strings.ToLower(to.String())] {
		// RFC 3463: X.1.1 bad destination mailbox address.
		return smtp.Errorf(smtp.C550MailboxUnavailable, "5.1.1", "%s: no such user here", to.Bracketed())
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data is for SMTP; an LMTP server calls LMTPData. It delivers and reports
// the first failure.
func (s *session) Data(r io.Reader) error {
	for _, err := range s.LMTPData(r) {
		if err != nil {
			return err
		}
	}
	return nil
}

// LMTPData stores one copy per recipient and returns one reply each (RFC
// 2033 section 4.2), in RCPT order:
//
//	C: .
//	S: 250 2.0.0 <bob@b.test> delivered to new/1768469400.M0P42Q1.mda.b.test,S=512
//	S: 250 2.0.0 <carol@b.test> delivered to new/1768469400.M0P42Q2.mda.b.test,S=516
func (s *session) LMTPData(r io.Reader) []error {
	results := make([]error, len(s.rcpts))
	msg, err := io.ReadAll(r)
	if err != nil {
		// The client is gone or sent too much: nothing is stored.
		for i := range results {
			results[i] = fmt.Errorf("mda: reading message: %w", err)
		}
		return results
	}
	tr := s.info.Tracer
	for i, rcpt := range s.rcpts {
		addr := rcpt.String()
		d, err := s.m.cfg.Store.Deliver(addr, io.MultiReader(
			strings.NewReader(s.trace(rcpt)), bytes.NewReader(msg)))
		if err != nil {
			tr.Note(fmt.Sprintf("could not store for %s: %v", addr, err))
			results[i] = smtp.Errorf(smtp.C451LocalError, "4.3.0", "%s: could not store the message, try again later", rcpt.Bracketed())
			continue
		}
		tr.Note(fmt.Sprintf("stored in %s's Maildir as new/%s", addr, d.Name))
		// RFC 2033 section 4.2: the reply for this recipient, sent only
		// now that the file is durable.
		results[i] = smtp.Errorf(smtp.C250OK, "2.0.0", "%s delivered to new/%s", rcpt.Bracketed(), d.Name)
	}
	return results
}

// trace returns the fields the MDA prepends for rcpt.
func (s *session) trace(rcpt mail.Path) string {
	var b strings.Builder
	// RFC 5321 section 4.4: the final delivery adds Return-Path with the
	// reverse-path ("<>" for a bounce).
	b.WriteString("Return-Path: " + s.from.Bracketed() + "\r\n")
	b.WriteString("Delivered-To: " + rcpt.String() + "\r\n")
	b.WriteString(mail.Received{
		From:   s.info.Helo,
		FromIP: peerIP(s.info.RemoteAddr),
		By:     s.m.cfg.Hostname,
		With:   "LMTP",
		ID:     s.m.cfg.IDs(),
		For:    rcpt,
		Date:   s.m.cfg.Now(),
	}.String())
	return b.String()
}

// peerIP returns the client's IP as an address literal wants it (RFC 5321
// section 4.1.3: "IPv6:" before an IPv6 address).
func peerIP(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		if ta.IP.To4() == nil {
			return "IPv6:" + ta.IP.String() // RFC 5321 section 4.1.3
		}
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return host
}

// Reset aborts the transaction.
func (s *session) Reset() {
	s.from = mail.Path{}
	s.rcpts = s.rcpts[:0]
}

// Close ends the session.
func (s *session) Close() error { return nil }

var _ smtpserver.LMTPSession = (*session)(nil)
