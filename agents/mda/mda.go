// Package mda is the lab's mail delivery agent: it keeps the users'
// mailboxes (a Maildir each, see package mailbox), receives mail for them
// from the MTA over LMTP, and serves them to mail readers over POP3 and
// IMAP, each on a real socket, as Dovecot does behind Postfix.
//
// # Delivery: LMTP
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
// # Reading: POP3 and IMAP
//
// With Config.POP3Listen and Config.IMAPListen set, the same Store is
// served to mail readers. The LMTP side and both servers share that one
// *mailbox.Store, so a delivery reaches an IMAP session in IDLE at once.
//
// Users log in with the password of Config.Passwords (a user without one
// cannot log in). The login name is the full address, "bob@b.test", or
// the bare local part, "bob", when no other user of this MDA has that
// local part: mail programs are configured either way, and with
// bob@a.test and bob@b.test on one MDA "bob" names neither and fails like
// a wrong password.
//
// POP3 (RFC 1939) serves the INBOX: login takes the maildrop lock (a second
// session gets "-ERR [IN-USE]", RFC 2449 section 8.1.1) and sees the
// messages as they are at that moment, in delivery (UID) order. UIDL is the
// file name before ":2," (it does not change with flags), or a hash of it
// when that is not a valid unique-id (RFC 1939 section 7: 1 to 70
// printable characters). DELE only marks; the files are removed after QUIT
// (the UPDATE state), and a session that drops the connection removes
// nothing. APOP's shared secret is the password.
//
// IMAP (RFC 3501) serves every folder of the Maildir++ layout. The five
// system flags live in the file names: \Seen is ":2,S", \Answered R,
// \Flagged F, \Deleted T, \Draft D; \Recent is the session's own (RFC
// 3501 section 2.3.2). There are no keywords, so PERMANENTFLAGS has no
// "\*" and a STORE of a keyword changes nothing (section 7.1). UIDs and
// UIDVALIDITY are kept in each folder's maillab-uidlist and survive
// restarts. Folder names that could leave the Maildir ("../x") are refused
// with "NO [CANNOT]".
//
// In a scenario:
//
//	users:
//	  - {address: bob@b.test, password: bob}
//	agents:
//	  - {name: mda.b.test, kind: mda, domains: [b.test], listen: {pop3: "127.0.0.1:1110"}}
//
// The MDA keeps mail for the scenario's users in its domains, with their
// passwords; it listens on LMTP, POP3 and IMAP (listen: fixes an address,
// else a free port or the --port-base numbering), and `maillab up`
// shows where.
//
// What to watch in the transcript:
//
//   - LMTP: LHLO instead of EHLO; RCPT for a user the MDA does not know
//     gets "550 5.1.1 ... no such user here" at once; after the final "."
//     come as many replies as accepted recipients, in RCPT order, each
//     preceded by the note "stored in bob@b.test's Maildir as new/...".
//   - POP3: the timestamp in the greeting that APOP hashes; the note
//     "... logged in, maildrop locked"; UIDL naming the Maildir files;
//     DELE answered at once but "UPDATE: n messages removed" only after
//     QUIT.
//   - IMAP: SELECT's "* n EXISTS", "* n RECENT" and [UIDVALIDITY]; a STORE
//     answered with the new FLAGS (the file was renamed to ":2,S"); an
//     IDLE session receiving "* n EXISTS" right after another agent's
//     LMTP "250"; one session's STORE showing up in another as
//     "* n FETCH (UID u FLAGS (...))"; MOVE's [COPYUID] and "* n EXPUNGE".
//
// # Standards
//
// RFC 2033 (LMTP), RFC 5321 section 4.4 (Received and Return-Path), RFC
// 5322 section 3.3 (date-time) and 3.6.7 (trace fields), RFC 3463
// (enhanced codes), the Maildir specification; RFC 1939 (POP3), RFC 2449
// section 8.1.1 (IN-USE), RFC 3206 (AUTH); RFC 3501 (IMAP4rev1), RFC 3348
// (child mailbox attributes), RFC 4315 (UIDPLUS), RFC 6851 (MOVE), RFC 2177
// (IDLE), RFC 5530 (response codes); see the servers' packages for the
// rest.
//
// # Security
//
// The LMTP socket is meant for the MTA only and has no authentication: in
// the lab it listens on loopback. Recipients are checked against the
// configured user list before any path is built; the store refuses
// addresses that could leave its root. Messages are bounded by
// MaxMessageBytes.
//
// POP3 and IMAP take passwords in clear text (no TLS yet: loopback only);
// the transcript masks them. Passwords are compared in constant time, and
// the servers slow down and limit failed logins. A login name is looked
// up in the configured users before any path is built. Folder names come
// from the network: the store refuses "..", absolute and control-character
// names and encodes the rest into one directory inside the user's
// Maildir.
//
// # Limits
//
// Each message is held in memory while its copies are written (bounded by
// MaxMessageBytes, default 25 MiB); MaxRecipients (default 100) per
// transaction. IMAP FETCH reads a message whole (up to 64 MiB); APPEND is
// bounded by the IMAP server's MaxLiteralBytes (25 MiB). An IMAP session
// rereads its folder's new/ and cur/ after every command (about 10 ms for
// 10,000 messages) to see what other programs changed; during IDLE only
// deliveries and other sessions' changes are reported. POP3 never changes
// flags, so a message read over POP3 stays unseen for IMAP; a POP3 login
// moves new/ files to cur/ and takes their \Recent. Quotas, aliases and
// filtering are the LDA's (Config.Deliverer, package lda).
package mda

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/imap/imapserver"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
)

// Deliverer decides where a message goes for one recipient: the local
// delivery agent (package lda) implements it. The MDA declares it, as the
// consumer, and lda imports this package for Delivery; mda never imports
// lda, so there is no cycle.
type Deliverer interface {
	// Accepts reports whether RCPT TO:<rcpt> names someone the Deliverer
	// delivers for: a user, an alias, or user+detail of a user (RFC 5233).
	Accepts(rcpt mail.Path) bool
	// Deliver carries out the delivery of one message to one recipient
	// and returns that recipient's LMTP reply (RFC 2033 section 4.2): nil
	// or a 2yz *smtp.Error means delivered, and promises that every copy
	// the Deliverer stored is durable; a 4yz or 5yz *smtp.Error refuses
	// (reject 550 5.7.1, over quota 552 5.2.2 or 452 4.2.2); any other
	// error is answered 451 4.3.0.
	Deliver(ctx context.Context, d Delivery) error
}

// Delivery is one message for one recipient, as the MDA hands it to its
// Deliverer.
type Delivery struct {
	// From is the reverse-path (the zero Path for <>); Rcpt the recipient
	// as the client gave it in RCPT.
	From, Rcpt mail.Path
	// Trace returns the fields the MDA prepends to a copy stored in (or
	// sent on for) the mailbox of box: Return-Path, "Delivered-To: box"
	// and the Received field of this LMTP hop, "for <Rcpt>". Every call
	// for one Delivery shares the Received id.
	Trace func(box string) []byte
	// Msg is the message as received (CRLF line endings). The Deliverer
	// must not change it.
	Msg []byte
	// Tracer takes the Deliverer's notes for the transcript; never nil.
	Tracer wire.Tracer
}

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

	// Passwords maps a user's address (one of Users, any case) to the
	// password of POP3 and IMAP logins, and the APOP shared secret. A user
	// without one, or with "", cannot log in.
	Passwords map[string]string
	// POP3Listen and IMAPListen are the addresses of the POP3 and IMAP
	// servers: "" means that protocol is not served, "127.0.0.1:0" a free
	// port (see Endpoints).
	POP3Listen string
	IMAPListen string
	// POP3SListen and IMAPSListen are the implicit-TLS ports (995 and
	// 993, RFC 8314 sections 3.1 and 3.2), served with POP3.TLSConfig and
	// IMAP.TLSConfig; "" means not served.
	POP3SListen string
	IMAPSListen string
	// POP3 and IMAP are passed to the servers. POP3.Hostname (the APOP
	// timestamp's host) defaults to Hostname; the other zero fields mean
	// the servers' defaults (see pop3server.Options and imapserver.Options).
	POP3 pop3server.Options
	IMAP imapserver.Options

	// Deliverer, when set, decides for each recipient: RCPT accepts
	// whatever its Accepts accepts (Users no longer decide), and after the
	// final "." each recipient's reply is what its Deliver returns. nil
	// means every recipient is one of Users and gets one copy in its
	// INBOX.
	Deliverer Deliverer
}

// MDA is a mail delivery agent. Build it with New.
type MDA struct {
	cfg   Config
	users map[string]bool // lower case

	// logins maps a login name (lower case) to its address: every user's
	// address, and its local part when no other user has the same one.
	logins  map[string]string
	secrets map[string]string // lower-case address → password

	mu        sync.Mutex
	started   bool
	services  []*service        // in start order; nil once stopped
	endpoints map[string]string // protocol → address, kept after Stop
}

// service is one listening server of the MDA.
type service struct {
	proto string // "lmtp", "pop3", "imap"
	addr  string
	l     net.Listener
	serve func(net.Listener) error
	stop  func(context.Context) error
	done  chan struct{} // closed when serve returns
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
	m := &MDA{cfg: cfg, users: users}
	if err := m.setLogins(); err != nil {
		return nil, fmt.Errorf("mda: config %s: %w", cfg.Name, err)
	}
	return m, nil
}

// setLogins checks the passwords and makes the login table: the full
// address always, the bare local part when it names one user only.
func (m *MDA) setLogins() error {
	m.secrets = make(map[string]string, len(m.cfg.Passwords))
	for addr, pw := range m.cfg.Passwords {
		key := strings.ToLower(addr)
		if !m.users[key] {
			return fmt.Errorf("password for %q, which is not one of Users", addr)
		}
		if pw != "" {
			m.secrets[key] = pw
		}
	}
	m.logins = make(map[string]string, 2*len(m.users))
	taken := make(map[string]int)
	for addr := range m.users {
		m.logins[addr] = addr
		taken[addr[:strings.LastIndexByte(addr, '@')]]++
	}
	for addr := range m.users {
		// bob@a.test and bob@b.test on one MDA: "bob" names neither.
		if local := addr[:strings.LastIndexByte(addr, '@')]; taken[local] == 1 {
			m.logins[local] = addr
		}
	}
	return nil
}

// authenticate resolves a login name to an address and checks its secret
// with ok; it returns the address, or false for an unknown name, a user
// without a password, or a wrong one.
func (m *MDA) authenticate(name string, ok func(secret string) bool) (string, bool) {
	addr, known := m.logins[strings.ToLower(name)]
	if !known {
		return "", false
	}
	secret, has := m.secrets[addr]
	if !has || !ok(secret) {
		return "", false
	}
	return addr, true
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

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

// Start listens on Config.Listen (LMTP) and on POP3Listen and IMAPListen
// when set, and serves until Stop. It returns once every socket is
// listening; if one cannot listen, none is left open.
func (m *MDA) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fmt.Errorf("mda %s: already started", m.cfg.Name)
	}
	lmtp := smtpserver.New(smtpserver.Options{
		Hostname:        m.cfg.Hostname,
		LMTP:            true,
		MaxMessageBytes: m.cfg.MaxMessageBytes,
		MaxRecipients:   m.cfg.MaxRecipients,
	}, backend{m})
	svcs := []*service{{proto: "lmtp", addr: m.cfg.Listen, serve: lmtp.Serve, stop: lmtp.Shutdown}}
	if m.cfg.POP3Listen != "" {
		opts := m.cfg.POP3
		if opts.Hostname == "" {
			opts.Hostname = m.cfg.Hostname
		}
		srv := pop3server.New(opts, pop3Backend{m})
		svcs = append(svcs, &service{proto: "pop3", addr: m.cfg.POP3Listen, serve: srv.Serve, stop: srv.Shutdown})
	}
	if m.cfg.POP3SListen != "" {
		opts := m.cfg.POP3
		if opts.Hostname == "" {
			opts.Hostname = m.cfg.Hostname
		}
		opts.ImplicitTLS = true
		srv := pop3server.New(opts, pop3Backend{m})
		svcs = append(svcs, &service{proto: "pop3s", addr: m.cfg.POP3SListen, serve: srv.Serve, stop: srv.Shutdown})
	}
	if m.cfg.IMAPListen != "" {
		srv := imapserver.New(m.cfg.IMAP, imapBackend{m})
		svcs = append(svcs, &service{proto: "imap", addr: m.cfg.IMAPListen, serve: srv.Serve, stop: srv.Shutdown})
	}
	if m.cfg.IMAPSListen != "" {
		opts := m.cfg.IMAP
		opts.ImplicitTLS = true
		srv := imapserver.New(opts, imapBackend{m})
		svcs = append(svcs, &service{proto: "imaps", addr: m.cfg.IMAPSListen, serve: srv.Serve, stop: srv.Shutdown})
	}
	var lc net.ListenConfig
	for i, s := range svcs {
		l, err := lc.Listen(ctx, "tcp", s.addr)
		if err != nil {
			for _, o := range svcs[:i] {
				o.l.Close()
			}
			return fmt.Errorf("mda %s: listen %s: %w", m.cfg.Name, strings.ToUpper(s.proto), err)
		}
		s.addr = l.Addr().String()
		if m.cfg.Recorder != nil {
			// POP3S and IMAPS speak POP3 and IMAP inside TLS.
			proto := s.proto
			if proto == "pop3s" || proto == "imaps" {
				proto = proto[:len(proto)-1]
			}
			l = m.cfg.Recorder.Listen(l, m.cfg.Name, proto)
		}
		s.l = l
	}
	for _, s := range svcs {
		s.done = make(chan struct{})
		go func() {
			defer close(s.done)
			_ = s.serve(s.l) // returns nil after Shutdown; closes l
		}()
	}
	m.services = svcs
	m.endpoints = make(map[string]string, len(svcs))
	for _, s := range svcs {
		m.endpoints[s.proto] = s.addr
	}
	m.started = true
	return nil
}

// Stop ends every session of every protocol (a delivery in progress
// finishes; a POP3 session ends without its UPDATE state, so nothing is
// deleted; an IMAP session gets "* BYE") and waits for them until ctx is
// done. It is safe to call twice, or without Start.
func (m *MDA) Stop(ctx context.Context) error {
	m.mu.Lock()
	svcs := m.services
	m.services = nil
	m.mu.Unlock()
	var errs []error
	for i := len(svcs) - 1; i >= 0; i-- {
		s := svcs[i]
		err := s.stop(ctx)
		select {
		case <-s.done:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mda %s: stop %s: %w", m.cfg.Name, strings.ToUpper(s.proto), err))
		}
	}
	if svcs != nil {
		// Release the descriptor the store keeps for its syncfs. The Store
		// may be shared (a lab opens one for all its MDAs): Close leaves it
		// usable, its later flushes opening the root each time.
		if err := m.cfg.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("mda %s: closing the store: %w", m.cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Endpoints returns where the MDA listens once started:
// {"lmtp": "127.0.0.1:port", "pop3": ..., "imap": ...}, the last two only
// when served.
func (m *MDA) Endpoints() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.endpoints))
	for k, v := range m.endpoints {
		out[k] = v
	}
	return out
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
	known := s.m.users[strings.ToLower(to.String())]
	if d := s.m.cfg.Deliverer; d != nil {
		known = d.Accepts(to)
	}
	if !known {
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
	if s.m.cfg.Deliverer != nil {
		return s.deliverEach(msg)
	}
	for i, rcpt := range s.rcpts {
		addr := rcpt.String()
		// One writev of the trace fields and the message, from memory
		// (Store.DeliverBytes; it lets concurrent deliveries share their
		// syncfs more closely than a reader would).
		id := s.m.cfg.IDs()
		d, err := s.m.cfg.Store.DeliverBytes(addr, []byte(s.traceFields(s.from, s.info.Helo, rcpt, addr, id, s.m.cfg.Now())), msg)
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

// deliverEach hands the message to the Deliverer once per recipient, in
// RCPT order, and turns each answer into that recipient's reply.
//
//	C: .
//	S: 250 2.0.0 <team@b.test> delivered to bob@b.test, carol@b.test
//	S: 550 5.7.1 <dave@b.test> I do not accept messages from you
func (s *session) deliverEach(msg []byte) []error {
	tr := s.info.Tracer
	results := make([]error, len(s.rcpts))
	for i, rcpt := range s.rcpts {
		id := s.m.cfg.IDs() // one Received id per recipient, as without a Deliverer
		from, helo, date := s.from, s.info.Helo, s.m.cfg.Now()
		d := Delivery{
			From: from, Rcpt: rcpt, Msg: msg, Tracer: tr,
			// The values of this transaction, whenever Trace is called.
			Trace: func(box string) []byte { return []byte(s.traceFields(from, helo, rcpt, box, id, date)) },
		}
		// The LMTP session has no context of its own: a delivery, once
		// the final "." has come, runs to its end (RFC 5321 section 6.1).
		err := s.m.cfg.Deliverer.Deliver(context.Background(), d)
		var se *smtp.Error
		switch {
		case err == nil:
			results[i] = smtp.Errorf(smtp.C250OK, "2.0.0", "%s delivered", rcpt.Bracketed())
		case errors.As(err, &se):
			results[i] = se
		default:
			tr.Note(fmt.Sprintf("could not deliver to %s: %v", rcpt, err))
			results[i] = smtp.Errorf(smtp.C451LocalError, "4.3.0", "%s: could not deliver the message, try again later", rcpt.Bracketed())
		}
	}
	return results
}

// traceFields returns the fields the MDA prepends for rcpt, stored in the
// mailbox of box: Return-Path with from, Delivered-To, and the Received
// field with the client's helo, the id and the date.
func (s *session) traceFields(from mail.Path, helo string, rcpt mail.Path, box, id string, date time.Time) string {
	var b strings.Builder
	// RFC 5321 section 4.4: the final delivery adds Return-Path with the
	// reverse-path ("<>" for a bounce).
	b.WriteString("Return-Path: " + from.Bracketed() + "\r\n")
	b.WriteString("Delivered-To: " + box + "\r\n")
	b.WriteString(mail.Received{
		From:   helo,
		FromIP: peerIP(s.info.RemoteAddr),
		By:     s.m.cfg.Hostname,
		With:   "LMTP",
		ID:     id,
		For:    rcpt,
		Date:   date,
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
