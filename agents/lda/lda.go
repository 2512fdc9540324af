package lda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/lda/sieve"
	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// MaxAliasDepth bounds the nesting of aliases: an expansion deeper than
// this is a loop (RFC 5321 section 6.3: a delivery system must detect and
// break loops).
const MaxAliasDepth = 10

// Config configures an LDA.
type Config struct {
	// Store holds the Maildirs: the MDA's own Store. Required.
	Store *mailbox.Store
	// Hostname names the host in vacation replies' Message-ID; "" means
	// "localhost".
	Hostname string
	// Users are the mailbox owners, by lower-case address.
	Users map[string]User
	// Aliases map a lower-case alias address to its targets: local users,
	// other aliases, or external addresses (like /etc/aliases or Postfix's
	// virtual_alias_maps).
	Aliases map[string][]string
	// Submit hands a message to the domain's MTA, for redirect, forward,
	// external alias targets and vacation replies. from "" is the null
	// reverse-path <>. nil: those actions fail (the message is kept, with
	// a note).
	Submit func(ctx context.Context, from string, to []string, msg []byte) error
	// Now is the clock of vacation's once-per-period records and replies;
	// nil means time.Now.
	Now func() time.Time
	// StateDir is where vacation's records live, so that they survive a
	// restart; "" keeps them in memory only.
	StateDir string
}

// User is one mailbox owner's delivery settings.
type User struct {
	// Sieve is the user's script; nil keeps everything in INBOX.
	Sieve *sieve.Script
	// Forward are addresses the user's mail is forwarded to, with Submit
	// (the envelope sender stays the original one).
	Forward []string
	// KeepCopy stores a copy as well when Forward is set; the copy goes
	// through Sieve and the quota like any delivery.
	KeepCopy bool
	// Quota bounds the octets of all the user's folders; 0 means none.
	Quota int64
	// QuotaTemporary answers an over-quota delivery 452 4.2.2 (try later)
	// instead of 552 5.2.2.
	QuotaTemporary bool
	// Addresses are the user's other addresses, for vacation's check that
	// the message names the user (RFC 5230 section 4.5).
	Addresses []string
}

// LDA is the local delivery agent. It implements mda.Deliverer.
type LDA struct {
	cfg     Config
	users   map[string]*User    // lower-case address → settings
	aliases map[string][]string // lower-case alias → targets
	domains map[string]bool     // the domains of users and aliases: local
	quota   *quotas
	vac     *vacations

	lmu   sync.Mutex
	locks map[string]*sync.Mutex // per user: a quota check and its stores
}

var _ mda.Deliverer = (*LDA)(nil)

// New checks cfg and returns an LDA. It creates StateDir if needed.
func New(cfg Config) (*LDA, error) {
	if cfg.Store == nil {
		return nil, errors.New("lda: config: no Store")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &LDA{cfg: cfg, users: map[string]*User{}, aliases: map[string][]string{},
		domains: map[string]bool{}, locks: map[string]*sync.Mutex{}}
	for addr, u := range cfg.Users {
		p, err := mail.ParseAddress(addr)
		if err != nil {
			return nil, fmt.Errorf("lda: config: user %q: %w", addr, err)
		}
		if _, err := cfg.Store.Maildir(p.String()); err != nil {
			return nil, fmt.Errorf("lda: config: user %q: %w", addr, err)
		}
		for _, f := range u.Forward {
			if _, err := mail.ParseAddress(f); err != nil {
				return nil, fmt.Errorf("lda: config: user %q: forward: %w", addr, err)
			}
		}
		key := strings.ToLower(p.String())
		u := u
		l.users[key] = &u
		l.domains[p.DomainFold()] = true
	}
	for alias, targets := range cfg.Aliases {
		p, err := mail.ParseAddress(alias)
		if err != nil {
			return nil, fmt.Errorf("lda: config: alias %q: %w", alias, err)
		}
		key := strings.ToLower(p.String())
		if _, ok := l.users[key]; ok {
			return nil, fmt.Errorf("lda: config: %q is both a user and an alias", alias)
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("lda: config: alias %q has no targets", alias)
		}
		for _, t := range targets {
			if _, err := mail.ParseAddress(t); err != nil {
				return nil, fmt.Errorf("lda: config: alias %q: target: %w", alias, err)
			}
		}
		l.aliases[key] = slices.Clone(targets)
		l.domains[p.DomainFold()] = true
	}
	vac, err := newVacations(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	l.vac = vac
	l.quota = newQuotas(cfg.Store)
	return l, nil
}

// Accepts reports whether rcpt is a user, an alias, or user+detail of a
// user (RFC 5233).
func (l *LDA) Accepts(rcpt mail.Path) bool {
	key := strings.ToLower(rcpt.String())
	if _, ok := l.aliases[key]; ok {
		return true
	}
	_, ok := l.user(key)
	return ok
}

// user finds the owner of addr (lower case): the user itself, or the user
// of a sub-address "user+detail@domain" (RFC 5233 section 3: the detail
// follows the first "+" of the local part).
func (l *LDA) user(addr string) (string, bool) {
	if _, ok := l.users[addr]; ok {
		return addr, true
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", false
	}
	local, domain := addr[:at], addr[at:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		base := local[:i] + domain
		if _, ok := l.users[base]; ok {
			return base, true
		}
	}
	return "", false
}

// lock returns the mutex of user addr.
func (l *LDA) lock(addr string) *sync.Mutex {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	m := l.locks[addr]
	if m == nil {
		m = new(sync.Mutex)
		l.locks[addr] = m
	}
	return m
}

// job is one Deliver call: one message for one LMTP recipient.
type job struct {
	l    *LDA
	ctx  context.Context
	d    mda.Delivery
	tr   wire.Tracer
	hdr  mail.Header // the message's header, parsed once
	done map[string]bool
}

// note adds a line to the transcript.
func (j *job) note(format string, args ...any) { j.tr.Note(fmt.Sprintf(format, args...)) }

// Deliver delivers one message to one recipient (see the package doc) and
// returns the recipient's LMTP reply: a 2yz *smtp.Error once every copy
// is durable, else the refusal.
func (l *LDA) Deliver(ctx context.Context, d mda.Delivery) error {
	tr := d.Tracer
	if tr == nil {
		tr = wire.TracerOf(nil)
	}
	h, err := mail.ParseHeader(strings.NewReader(string(d.Msg)))
	if err != nil {
		// Rules and loop checks still see what can be read.
		h, _, _ = mail.SplitMessage(d.Msg)
	}
	j := &job{l: l, ctx: ctx, d: d, tr: tr, hdr: h, done: map[string]bool{}}
	rcpt := strings.ToLower(d.Rcpt.String())
	var out result
	if _, ok := l.aliases[rcpt]; ok {
		out = j.alias(rcpt, nil)
	} else if _, ok := l.user(rcpt); ok {
		out = j.local(d.Rcpt.String(), "")
	} else {
		out = result{err: noSuchUser(d.Rcpt.String())}
	}
	if out.err != nil {
		return out.err
	}
	text := strings.Join(out.done, "; ")
	if len(text) > 400 {
		// RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets.
		text = fmt.Sprintf("delivered: %d copies and submissions, listed in the transcript", len(out.done))
	}
	return smtp.Errorf(smtp.C250OK, "2.0.0", "%s %s", d.Rcpt.Bracketed(), text)
}

// result is what became of one recipient or one branch of an alias.
type result struct {
	done []string    // what was done, for the reply: "delivered to INBOX as new/..."
	err  *smtp.Error // nil when something was done
}

func failed(e *smtp.Error) result { return result{err: e} }

func noSuchUser(addr string) *smtp.Error {
	// RFC 3463: X.1.1 bad destination mailbox address.
	return smtp.Errorf(smtp.C550MailboxUnavailable, "5.1.1", "<%s>: no such user here", addr)
}

func loopError(addr, why string) *smtp.Error {
	// RFC 3463: X.4.6 routing loop detected.
	return smtp.Errorf(smtp.C554Failed, "5.4.6", "<%s>: %s", addr, why)
}

// alias expands the alias addr (lower case), reached through path, and
// delivers to each target. The branches fail or succeed on their own; the
// alias fails only when every branch did.
func (j *job) alias(addr string, path []string) result {
	l := j.l
	path = append(slices.Clone(path), addr)
	targets := l.aliases[addr]
	j.note("%s is an alias: %s", addr, strings.Join(targets, ", "))
	for _, dt := range j.hdr.Values("Delivered-To") {
		if strings.EqualFold(strings.TrimSpace(dt), addr) {
			// The message went through this alias before, on another
			// host: it has come back (RFC 5321 section 6.3).
			j.note("%s: the message already has Delivered-To: %s: a mail loop, not expanded again", addr, addr)
			return failed(loopError(addr, "mail loop: the message was already delivered to this alias"))
		}
	}
	var done []string
	var errs []*smtp.Error
	for _, t := range targets {
		r := j.target(t, addr, path)
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		done = append(done, r.done...)
	}
	if len(done) > 0 {
		return result{done: done}
	}
	return failed(pick(errs))
}

// target delivers to one target of the alias from, reached through path.
func (j *job) target(t, from string, path []string) result {
	l := j.l
	key := strings.ToLower(strings.TrimSpace(t))
	if _, ok := l.aliases[key]; ok {
		if slices.Contains(path, key) {
			j.note("alias loop: %s → %s, which is already on the way; that branch is not delivered (RFC 5321 section 6.3)",
				strings.Join(path, " → "), key)
			return failed(loopError(key, "alias loop: "+strings.Join(append(path, key), " → ")))
		}
		if len(path) >= MaxAliasDepth {
			j.note("aliases nested more than %d deep at %s: taken for a loop; that branch is not delivered", MaxAliasDepth, key)
			return failed(loopError(key, fmt.Sprintf("aliases nested more than %d deep", MaxAliasDepth)))
		}
		return j.alias(key, path)
	}
	if _, ok := l.user(key); ok {
		return j.local(key, from)
	}
	p, err := mail.ParseAddress(key)
	if err == nil && l.domains[p.DomainFold()] {
		j.note("%s (from alias %s): no such user here", key, from)
		return failed(noSuchUser(key))
	}
	// External: on to the MTA, with the original reverse-path (RFC 5321
	// section 3.9: an alias changes the recipient, not the sender).
	if j.done["send:"+key] {
		j.note("%s (from alias %s): already sent this message once", key, from)
		return result{done: []string{"sent on to <" + key + ">"}}
	}
	msg := j.sendable(from)
	if err := j.submit(j.d.From.String(), []string{key}, msg); err != nil {
		j.note("%s (from alias %s): could not hand the message to the MTA: %v", key, from, err)
		return failed(smtp.Errorf(smtp.C451LocalError, "4.4.0", "<%s>: could not send the message on, try again later", key))
	}
	j.done["send:"+key] = true
	j.note("%s (from alias %s): sent on to the MTA, MAIL FROM:%s", key, from, j.d.From.Bracketed())
	return result{done: []string{"sent on to <" + key + ">"}}
}

// pick chooses the reply of a recipient none of whose branches was
// delivered: a temporary failure first (trying again may help, and
// nothing was delivered that a retry would duplicate), else the first
// permanent one.
func pick(errs []*smtp.Error) *smtp.Error {
	for _, e := range errs {
		if e.Temporary() {
			return e
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return smtp.Errorf(smtp.C554Failed, "5.4.6", "nothing to deliver to")
}

// sendable is the message as it goes on to the MTA from the mailbox box:
// the MDA's Delivered-To and Received fields (loop protection, RFC 5321
// section 6.3), not its Return-Path (RFC 5321 section 4.4: only final
// delivery adds one).
func (j *job) sendable(box string) []byte {
	trace := dropField(j.d.Trace(box), "Return-Path")
	return append(trace, j.d.Msg...)
}

// submit calls Config.Submit, or fails when there is none.
func (j *job) submit(from string, to []string, msg []byte) error {
	if j.l.cfg.Submit == nil {
		return errors.New("no MTA to submit to (Config.Submit is nil)")
	}
	return j.l.cfg.Submit(j.ctx, from, to, msg)
}

// dropField removes the fields called name (with their continuation
// lines) from a header block.
func dropField(block []byte, name string) []byte {
	var out []byte
	skipping := false
	for rest := block; len(rest) > 0; {
		n := strings.IndexByte(string(rest), '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		line := rest[:n]
		rest = rest[n:]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		colon := strings.IndexByte(string(line), ':')
		skipping = colon > 0 && strings.EqualFold(strings.TrimSpace(string(line[:colon])), name)
		if !skipping {
			out = append(out, line...)
		}
	}
	return out
}
