// Package mta is the lab's mail transfer agent: an SMTP server that accepts
// mail for its own domains and hands it to the MDA over LMTP, the way
// Postfix hands mail to Dovecot.
//
// Mail for other domains is relayed only for trusted networks and users
// who log in (Policy; otherwise "550 5.7.1 ... Relay access denied", RFC
// 5321 section 3.6.2): it goes into the on-disk queue (agents/queue) and is
// delivered by MX lookup, retried, or bounced (outbound.go). Open relay and
// smarthost are policies of the same MTA (relay.go); submission ports and
// TLS are in Config.
//
// A message moves like this:
//
//	MUA --SMTP--> MTA: MAIL, RCPT (checked against Users), DATA
//	MTA: prepends "Received: from <helo> ([ip]) by <hostname> (maillab) with ESMTP id <qid> ..."
//	MTA --LMTP--> MDA: LHLO, MAIL, RCPT..., DATA; one reply per recipient
//	MTA --SMTP--> MUA: "250 2.0.0 Ok: queued as <qid>" only after the MDA said every copy is stored
//
// The 250 at the end of DATA makes the MTA responsible for the message (RFC
// 5321 section 4.2.5, section 6.1). For its own domains this MTA keeps that
// promise by answering only after the MDA has stored the message: if the
// MDA cannot be reached the client gets "451 4.4.1" and keeps the message;
// if the MDA refuses every recipient its reply is passed on (same class);
// if it refuses some, the client still gets 250 (RFC 5321 section 4.4: the
// others have the message) and the refused copies go into the queue, which
// tries once more and then bounces them to the sender. Mail for other
// domains is written to the queue, fsynced, before the 250.
//
// The postmaster mailbox must exist in every domain (RFC 5321 section
// 4.5.1). RCPT TO:<postmaster@domain> (any case) and the bare
// RCPT TO:<Postmaster> go to the user postmaster@domain when it is listed in
// Users, else to the domain's first listed user (for the bare form: the
// first domain's).
//
// In a scenario:
//
//	agents:
//	  - {name: mx.b.test, kind: mta, domains: [b.test], users: [bob@b.test], lmtp: mda.b.test}
//
// What to watch in the transcript: the queue id the MTA gives at MAIL
// follows the message onto the LMTP connection; the MTA's LMTP dialogue
// with the MDA happens between the client's final "." and the MTA's 250;
// RCPT for a stranger (550 5.1.1) and for another domain (550 5.7.1).
//
// # Standards
//
// RFC 5321 (SMTP; section 4.4 trace fields, 4.5.1 postmaster, 3.6.2 relay),
// RFC 2033 (LMTP), RFC 3463 (enhanced codes), RFC 3848 (the "ESMTP" and
// "SMTP" protocol names in Received).
//
// # Security
//
// The SMTP socket takes network input: the smtpserver package bounds
// lines, messages (MaxMessageBytes), recipients (MaxRecipients) and time.
// Relaying is refused to strangers (PolicyOpen aside, on purpose). The recipient list
// decides who exists; the MTA never builds paths from addresses.
//
// # Limits
//
// A message is held in memory while it is handed to the MDA (bounded by
// MaxMessageBytes, default 25 MiB). At most LMTPIdleConns idle LMTP
// connections are kept for reuse (default 16, with RSET before each
// transaction, closed by Stop). LMTPTimeout (default 2 minutes) bounds
// each LMTP step.
package mta

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/agents/queue"
	"github.com/maillab/maillab/protocols/dns/dnsclient"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
)

// Config configures an MTA.
type Config struct {
	// Name is the agent's name in transcripts, e.g. "mx.b.test".
	Name string
	// Hostname goes into the greeting and the Received field; "" means Name.
	Hostname string
	// Domains are the domains the MTA receives mail for. At least one.
	Domains []string
	// Listen is the SMTP address; "" means "127.0.0.1:0" (a free port).
	Listen string
	// Users are the valid local addresses; each must be in Domains.
	Users []string
	// Aliases are more local addresses the MTA accepts, expanded further
	// down by the MDA's LDA. A Users address with a +detail (RFC 5233
	// sub-addressing, "bob+shop@b.example") is accepted too when
	// SubAddressing is set, and handed on as it was written.
	Aliases       []string
	SubAddressing bool
	// LMTP is the MDA's LMTP address. Required; it must be known before
	// Start (start the MDA first).
	LMTP string
	// Recorder taps the SMTP listener and the LMTP dialer; nil means no
	// transcript.
	Recorder *transcripts.Recorder
	// Now is the clock for Received dates; nil means time.Now.
	Now func() time.Time
	// MaxMessageBytes and MaxRecipients are passed to the SMTP server; 0
	// means its defaults (25 MiB, 100).
	MaxMessageBytes int64
	MaxRecipients   int
	// IDs makes queue ids; nil means 12 random hex digits.
	IDs func() string
	// LMTPTimeout bounds each step of a hand-off to the MDA; 0 means 2
	// minutes.
	LMTPTimeout time.Duration
	// LMTPIdleConns is how many idle LMTP connections are kept for the next
	// message; 0 means 16 (with 4, ten concurrent clients made a new LMTP
	// connection for about one message in five), a negative number means a
	// new connection for every message.
	LMTPIdleConns int

	// Policy says for whom the MTA relays, that is, accepts mail for a
	// domain that is not its own: PolicyClosed (the default: trusted
	// networks and authenticated users only), PolicyOpen (anyone: an open
	// relay) or PolicySmarthost (listed client hosts and users only).
	Policy Policy
	// TrustedNets are the client networks that may relay, like Postfix's
	// mynetworks. nil means none.
	TrustedNets []netip.Prefix
	// Passwords, when set, turns on SMTP AUTH (RFC 4954): address to
	// password. A client that authenticates may relay (with
	// PolicySmarthost: when listed in RelayUsers, or any if it is nil).
	Passwords map[string]string
	// RelayUsers are the authenticated users a smarthost relays for; nil
	// means every user that authenticates.
	RelayUsers []string
	// RelayRefusal is the code of the reply that refuses relaying: 550 (the
	// default, RFC 5321 section 3.6.2), 554 or 454 (what Postfix sends, by
	// its smtpd_relay_restrictions and defer_unauth_destination).
	RelayRefusal int

	// QueueDir is the on-disk queue for mail that leaves the MTA. "" means
	// no outbound delivery: mail for other domains is always refused.
	QueueDir string
	// Retry is the wait before each new attempt of a deferred message (the
	// last one repeats); nil means the queue's RFC-like default. MaxAge is
	// how long a message may wait before it is bounced; 0 means 5 days.
	Retry  []time.Duration
	MaxAge time.Duration
	// Resolver finds the mail exchangers of a domain (MX, then A). nil
	// means no DNS: only Smarthost given as an address can be reached.
	Resolver *dnsclient.Resolver
	// Smarthost, when set, receives all outbound mail instead of the
	// recipients' MX hosts: a host name (resolved with A/AAAA, never MX,
	// like Postfix's relayhost = [name]) or "host:port".
	Smarthost string
	// SMTPPort is the port of other MTAs; 0 means 25.
	SMTPPort int
	// LocalIP is the source address of outbound connections (each lab host
	// has its own loopback address); the zero value lets the system pick.
	LocalIP netip.Addr
	// OutboundTimeout bounds each step of an outbound SMTP session; 0
	// means 5 minutes (RFC 5321 section 4.5.3.2).
	OutboundTimeout time.Duration
	// MaxHops is the number of Received fields after which a message is
	// refused as looping (554 5.4.6, RFC 5321 section 6.3); 0 means 50,
	// Postfix's hopcount_limit.
	MaxHops int
	// Faults make the MTA misbehave on purpose, to show retries in class.
	Faults []Fault

	// TLS is the server side of TLS (the lab CA's certificate for
	// Hostname); nil means no TLS anywhere. With it, port 25 offers
	// STARTTLS (RFC 3207), and SMTP AUTH is offered only after it unless
	// PlaintextAuth.
	TLS *tls.Config
	// ClientTLS verifies other MTAs when this one delivers: it uses
	// STARTTLS when the peer offers it (opportunistic, RFC 3207 section
	// 4; RFC 7435); nil means deliver in clear.
	ClientTLS *tls.Config
	// SubmissionListen and SubmissionsListen are the message submission
	// ports: 587 (RFC 6409: STARTTLS, then AUTH before MAIL) and 465 (RFC
	// 8314 section 3.3: TLS from the first byte, then AUTH). "" means not
	// served. Both need TLS and Passwords.
	SubmissionListen  string
	SubmissionsListen string
	// LocalOnly, with a QueueDir, keeps the queue for the MTA's own
	// domains only: for bounces owed to senders and second tries of
	// refused local copies. Mail for other domains is refused as without
	// a queue.
	LocalOnly bool
	// PlaintextAuth allows AUTH before TLS on port 25, to show a class why
	// it is dangerous: the transcript then warns when the password
	// crosses. The submission ports never allow it.
	PlaintextAuth bool
	// Gate, when set, is called before each delivery attempt from the
	// queue and may hold it back; the function it returns is called when
	// the attempt is over (see queue.Options.Hold). A scenario uses it so
	// that a transcript renders the same twice.
	Gate func(ctx context.Context) (release func(), err error)
}

// MTA is a mail transfer agent. Build it with New.
type MTA struct {
	cfg     Config
	domains map[string]bool   // lower case
	users   map[string]bool   // lower case addresses
	aliases map[string]bool   // lower case addresses
	first   map[string]string // domain -> first listed user

	mu        sync.Mutex
	started   bool
	ports     []*port
	endpoints map[string]string
	ctx       context.Context // ends when Stop gives up waiting
	cancel    context.CancelFunc
	idle      []*lmtpConn
	closed    bool // Stop has begun: no more pooling
	q         *queue.Queue
	trusted   []netip.Prefix
	relayTo   map[string]bool // lower-case users a smarthost relays for
	faults    *faults
}

// New checks cfg and returns an MTA. It opens nothing.
func New(cfg Config) (*MTA, error) {
	if cfg.Name == "" {
		return nil, errors.New("mta: config: empty Name")
	}
	fail := func(format string, args ...any) (*MTA, error) {
		return nil, fmt.Errorf("mta: config %s: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if len(cfg.Domains) > 0 && cfg.LMTP == "" {
		return fail("no LMTP address for the MDA")
	}
	if cfg.LMTP != "" {
		if _, _, err := net.SplitHostPort(cfg.LMTP); err != nil {
			return fail("LMTP address %q: %v", cfg.LMTP, err)
		}
	}
	if len(cfg.Domains) == 0 && cfg.QueueDir == "" {
		return fail("no Domains and no QueueDir: it would take no mail at all")
	}
	switch cfg.Policy {
	case "":
		cfg.Policy = PolicyClosed
	case PolicyClosed, PolicyOpen, PolicySmarthost:
	default:
		return fail("unknown Policy %q", cfg.Policy)
	}
	switch cfg.RelayRefusal {
	case 0:
		cfg.RelayRefusal = 550
	case 550, 554, 454:
	default:
		return fail("RelayRefusal %d: must be 550, 554 or 454", cfg.RelayRefusal)
	}
	if cfg.SMTPPort == 0 {
		cfg.SMTPPort = 25
	}
	if cfg.OutboundTimeout <= 0 {
		cfg.OutboundTimeout = 5 * time.Minute
	}
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = 50
	}
	if (cfg.SubmissionListen != "" || cfg.SubmissionsListen != "") && (cfg.TLS == nil || len(cfg.Passwords) == 0) {
		return fail("the submission ports need TLS and Passwords")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IDs == nil {
		cfg.IDs = randomID
	}
	if cfg.LMTPTimeout <= 0 {
		cfg.LMTPTimeout = 2 * time.Minute
	}
	if cfg.LMTPIdleConns == 0 {
		cfg.LMTPIdleConns = 16
	}
	m := &MTA{cfg: cfg, domains: map[string]bool{}, users: map[string]bool{}, first: map[string]string{}, trusted: cfg.TrustedNets, aliases: map[string]bool{}}
	for _, a := range cfg.Aliases {
		m.aliases[strings.ToLower(a)] = true
	}
	if cfg.RelayUsers != nil {
		m.relayTo = map[string]bool{}
		for _, u := range cfg.RelayUsers {
			m.relayTo[strings.ToLower(u)] = true
		}
	}
	f, err := newFaults(cfg.Faults)
	if err != nil {
		return fail("%v", err)
	}
	m.faults = f
	for _, d := range cfg.Domains {
		p, err := mail.ParseAddress("postmaster@" + d)
		if err != nil {
			return fail("domain %q: %v", d, err)
		}
		m.domains[p.DomainFold()] = true
	}
	for _, u := range cfg.Users {
		p, err := mail.ParseAddress(u)
		if err != nil {
			return fail("user: %v", err)
		}
		if !m.domains[p.DomainFold()] {
			return fail("user %s is not in Domains", u)
		}
		addr := strings.ToLower(p.String())
		m.users[addr] = true
		if _, ok := m.first[p.DomainFold()]; !ok {
			m.first[p.DomainFold()] = addr
		}
	}
	return m, nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// Name returns the agent's name.
func (m *MTA) Name() string { return m.cfg.Name }

// Kind returns the agent kind its policy makes: "mta", "open-relay" or
// "smarthost".
func (m *MTA) Kind() string {
	switch m.cfg.Policy {
	case PolicyOpen:
		return "open-relay"
	case PolicySmarthost:
		return "smarthost"
	}
	return "mta"
}

// Start listens on Config.Listen (and the submission ports when set) and
// serves SMTP until Stop. It returns once every socket is listening; if
// one cannot listen, none is left open.
func (m *MTA) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fmt.Errorf("mta %s: already started", m.cfg.Name)
	}
	ports := []*port{{name: "smtp", addr: m.cfg.Listen, mode: modeRelay}}
	if m.cfg.SubmissionListen != "" {
		ports = append(ports, &port{name: "submission", addr: m.cfg.SubmissionListen, mode: modeSubmission})
	}
	if m.cfg.SubmissionsListen != "" {
		ports = append(ports, &port{name: "submissions", addr: m.cfg.SubmissionsListen, mode: modeSubmissions})
	}
	var lc net.ListenConfig
	for i, p := range ports {
		l, err := lc.Listen(ctx, "tcp", p.addr)
		if err != nil {
			for _, o := range ports[:i] {
				o.l.Close()
			}
			return fmt.Errorf("mta %s: listen %s: %w", m.cfg.Name, p.name, err)
		}
		p.addr = l.Addr().String()
		if m.cfg.Recorder != nil {
			l = m.cfg.Recorder.Listen(l, m.cfg.Name, "smtp")
		}
		p.l = l
	}
	if m.cfg.QueueDir != "" {
		q, err := m.openQueue()
		if err != nil {
			for _, p := range ports {
				p.l.Close()
			}
			return err
		}
		m.q = q
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, p := range ports {
		p.srv = smtpserver.New(m.serverOptions(p.mode), backend{m: m, mode: p.mode})
		p.done = make(chan struct{})
		go func() {
			defer close(p.done)
			_ = p.srv.Serve(p.l) // returns nil after Shutdown; closes l
		}()
	}
	m.ports = ports
	m.endpoints = map[string]string{}
	for _, p := range ports {
		m.endpoints[p.name] = p.addr
	}
	m.started = true
	if m.q != nil {
		m.q.Start() // what a previous run left in the queue goes now
	}
	return nil
}

// port is one listening SMTP server of the MTA.
type port struct {
	name string // "smtp", "submission", "submissions"
	addr string
	mode mode
	l    net.Listener
	srv  *smtpserver.Server
	done chan struct{}
}

// mode is what a port is for.
type mode int

const (
	modeRelay       mode = iota // port 25: mail from anyone for the MTA's domains; relaying by policy
	modeSubmission              // port 587 (RFC 6409): STARTTLS, then AUTH, then mail
	modeSubmissions             // port 465 (RFC 8314 section 3.3): TLS from the first byte, then AUTH
)

// Stop ends every session — a hand-off in progress may finish until ctx is
// done, then it is cut — closes the idle LMTP connections and waits for
// everything it started. It is safe to call twice, or without Start.
func (m *MTA) Stop(ctx context.Context) error {
	m.mu.Lock()
	ports, cancel := m.ports, m.cancel
	m.ports = nil
	m.closed = true
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, c := range idle {
		_ = c.c.Quit()
	}
	if ports == nil {
		return nil
	}
	var errs []error
	for _, p := range ports {
		errs = append(errs, p.srv.Shutdown(ctx))
	}
	if m.q != nil {
		errs = append(errs, m.q.Stop(ctx)) // cuts outbound sessions still running
	}
	cancel() // cuts LMTP hand-offs still running
	for _, p := range ports {
		<-p.done
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mta %s: stop: %w", m.cfg.Name, err)
	}
	return nil
}

// Queue returns the MTA's outbound queue, or nil when it has none or is
// not started.
func (m *MTA) Queue() *queue.Queue {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.q
}

// Endpoints returns {"smtp": "127.0.0.1:port"} once started, with
// "submission" and "submissions" when served. They stay known after Stop.
func (m *MTA) Endpoints() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, v := range m.endpoints {
		out[k] = v
	}
	return out
}

// isLocal says whether to is in one of the MTA's domains (the bare
// <Postmaster> is).
func (m *MTA) isLocal(to mail.Path) bool {
	return to.Domain == "" || m.domains[to.DomainFold()]
}

// route returns the local mailbox that receives mail for to, or the reply
// that refuses it.
func (m *MTA) route(to mail.Path) (string, error) {
	domain := to.DomainFold()
	if domain == "" {
		// RFC 5321 section 4.5.1: the bare <Postmaster> means this
		// server's postmaster.
		domain = strings.ToLower(m.cfg.Domains[0])
		if p, err := mail.ParseAddress("postmaster@" + domain); err == nil {
			domain = p.DomainFold()
		}
	}
	if !m.domains[domain] {
		// RFC 5321 section 3.6.2: relaying is refused with 550 (RFC 3463
		// 5.7.1: delivery not authorised).
		return "", smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "%s: Relay access denied", to.Bracketed())
	}
	local := strings.ToLower(to.Local)
	addr := local + "@" + domain
	if m.users[addr] || m.aliases[addr] {
		return addr, nil
	}
	if base, _, ok := strings.Cut(local, "+"); ok && m.cfg.SubAddressing && base != "" && m.users[base+"@"+domain] {
		// RFC 5233: user+detail is the user's; the LDA reads the detail.
		return addr, nil
	}
	if local == "postmaster" {
		// RFC 5321 section 4.5.1: every domain has a postmaster; without
		// one listed, the domain's first user reads its mail.
		if first, ok := m.first[domain]; ok {
			return first, nil
		}
	}
	return "", smtp.Errorf(smtp.C550MailboxUnavailable, "5.1.1", "%s: Recipient address rejected: User unknown", to.Bracketed())
}

type backend struct {
	m    *MTA
	mode mode
}

func (b backend) NewSession(c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	return &session{m: b.m, info: c, mode: b.mode}, nil
}

// session is one SMTP connection.
type session struct {
	m      *MTA
	mode   mode
	info   *smtpserver.ConnInfo
	qid    string
	from   mail.Path
	params smtp.MailParams
	rcpts  []mail.Path // as the client wrote them
	boxes  []string    // local mailboxes, without duplicates
	remote []string    // recipients in other domains, to relay
}

// Mail starts a transaction and gives it a queue id, which the transcript
// shows from now on.
//
//	C: MAIL FROM:<alice@a.test>
//	S: 250 2.1.0 Sender OK
func (s *session) Mail(from mail.Path, p smtp.MailParams) error {
	if err := s.m.faults.hit("MAIL", s.info.Tracer); err != nil {
		return err
	}
	if user := s.info.User; user != "" && !from.IsNull() && !strings.EqualFold(from.String(), user) {
		// RFC 6409 section 6.1: a submission server may check that the
		// sender is the authenticated user; Postfix's
		// reject_sender_login_mismatch answers this way.
		s.info.Tracer.Note(fmt.Sprintf("%s logged in as %s and may send only as %s, not as %s", peerIP(s.info.RemoteAddr), user, user, from.Bracketed()))
		return smtp.Errorf(smtp.C553MailboxName, "5.7.1", "%s: Sender address rejected: not owned by user %s", from.Bracketed(), user)
	}
	s.reset()
	s.qid = s.m.cfg.IDs()
	s.from, s.params = from, p
	s.info.Tracer.QueueID(s.qid)
	return nil
}

// Rcpt accepts the MTA's users (and postmaster) and refuses the rest.
//
//	C: RCPT TO:<bob@elsewhere.test>
//	S: 550 5.7.1 <bob@elsewhere.test>: Relay access denied
func (s *session) Rcpt(to mail.Path) error {
	if err := s.m.faults.hit("RCPT", s.info.Tracer); err != nil {
		return err
	}
	if !s.m.isLocal(to) {
		if err := s.m.mayRelay(s.info, to); err != nil {
			return err
		}
		s.rcpts = append(s.rcpts, to)
		addr := to.String()
		for _, r := range s.remote {
			if strings.EqualFold(r, addr) {
				return nil
			}
		}
		s.remote = append(s.remote, addr)
		return nil
	}
	box, err := s.m.route(to)
	if err != nil {
		return err
	}
	if box != strings.ToLower(to.String()) {
		s.info.Tracer.Note(fmt.Sprintf("%s goes to the mailbox of %s", to.Bracketed(), box))
	}
	s.rcpts = append(s.rcpts, to)
	for _, b := range s.boxes {
		if b == box {
			return nil
		}
	}
	s.boxes = append(s.boxes, box)
	return nil
}

// Data reads the message, adds the MTA's Received field and hands the
// message to the MDA; the client's 250 waits for the MDA's replies.
//
//	C: .
//	(MTA to MDA over LMTP: LHLO, MAIL, RCPT, DATA, one 250 per recipient)
//	(note: stored by the MDA: queued as 4F2A9C31B0D7)
//	S: 250 2.0.0 Ok: queued as 4F2A9C31B0D7
func (s *session) Data(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		// Too big, a line too long, or the client gone: nothing is
		// handed on.
		return err
	}
	if err := s.m.faults.hit("DATA", s.info.Tracer); err != nil {
		return err
	}
	if hops := countReceived(msg); hops >= s.m.cfg.MaxHops {
		// RFC 5321 section 6.3: a message with too many trace fields is
		// looping between servers; RFC 3463 5.4.6 is "routing loop".
		s.info.Tracer.Note(fmt.Sprintf("the message already has %d Received fields (limit %d): it is going round in a loop", hops, s.m.cfg.MaxHops))
		return smtp.Errorf(smtp.C554Failed, "5.4.6", "Too many hops (%d Received fields): mail loop?", hops)
	}
	with := "SMTP"
	if s.info.ESMTP {
		// RFC 3848 section 2: ESMTP, plus S under TLS, plus A after AUTH.
		with = "ESMTP"
		if s.info.TLS != nil {
			with += "S"
		}
		if s.info.User != "" {
			with += "A"
		}
	}
	rec := mail.Received{
		From:   s.info.Helo,
		FromIP: peerIP(s.info.RemoteAddr),
		By:     s.m.cfg.Hostname,
		With:   with,
		ID:     s.qid,
		Date:   s.m.cfg.Now(),
	}
	if len(s.rcpts) == 1 {
		rec.For = s.rcpts[0] // RFC 5321 section 4.4: FOR names one path at most
	}
	if s.mode != modeRelay {
		msg = s.completeHeader(msg)
	}
	full := make([]byte, 0, len(msg)+256)
	full = append(append(full, rec.String()...), msg...)

	if len(s.remote) > 0 {
		return s.enqueue(full)
	}
	refused, err := s.m.handOff(s.qid, s.from, s.params, s.boxes, full)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		s.requeue(full, refused)
	}
	// The queue id in the reply, as Postfix gives it, lets a class follow
	// the message from this reply to the Received field and the LMTP hop.
	s.info.Tracer.Note(fmt.Sprintf("stored by the MDA: queued as %s", s.qid))
	return smtp.Errorf(smtp.C250OK, "2.0.0", "Ok: queued as %s", s.qid)
}

// Reset aborts the transaction.
func (s *session) Reset() { s.reset() }

func (s *session) reset() {
	s.qid, s.from, s.params = "", mail.Path{}, smtp.MailParams{}
	s.rcpts, s.boxes, s.remote = s.rcpts[:0], s.boxes[:0], s.remote[:0]
}

// Close ends the session.
func (s *session) Close() error { return nil }

// peerIP returns the client's IP as an address literal wants it (RFC 5321
// section 4.1.3: "IPv6:" before an IPv6 address).
func peerIP(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	if ta.IP.To4() == nil {
		return "IPv6:" + ta.IP.String()
	}
	return ta.IP.String()
}

// lmtpConn is an LMTP session with the MDA, and its tap (to tag the queue
// id).
type lmtpConn struct {
	c  *smtpclient.Client
	tr wire.Tracer
}

// dial opens a new LMTP session with the MDA.
func (m *MTA) dial(ctx context.Context) (*lmtpConn, error) {
	d := &net.Dialer{}
	if m.cfg.LocalIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: m.cfg.LocalIP.AsSlice()}
	}
	dial := d.DialContext
	if m.cfg.Recorder != nil {
		dial = m.cfg.Recorder.Dialer(m.cfg.Name, "lmtp", d.DialContext)
	}
	lc := &lmtpConn{}
	c, err := smtpclient.Dial(ctx, func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err == nil {
			lc.tr = wire.TracerOf(conn)
		}
		return conn, err
	}, m.cfg.LMTP, smtpclient.Options{
		LMTP:           true,
		LocalName:      m.cfg.Hostname,
		CommandTimeout: m.cfg.LMTPTimeout,
		DataTimeout:    m.cfg.LMTPTimeout,
		FinalTimeout:   m.cfg.LMTPTimeout,
	})
	if err != nil {
		return nil, err
	}
	lc.c = c
	if err := c.Hello(""); err != nil {
		c.Close()
		return nil, err
	}
	return lc, nil
}

// get returns an idle LMTP session that still answers RSET (RFC 5321
// section 4.1.1.5: a clean start for the next transaction), or a new one.
func (m *MTA) get(ctx context.Context) (*lmtpConn, error) {
	for {
		m.mu.Lock()
		n := len(m.idle)
		if n == 0 {
			m.mu.Unlock()
			return m.dial(ctx)
		}
		lc := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		if err := lc.c.Reset(); err == nil {
			return lc, nil
		}
		lc.c.Close() // the MDA closed it meanwhile: try the next one
	}
}

// put keeps lc for the next message, or closes it.
func (m *MTA) put(lc *lmtpConn) {
	m.mu.Lock()
	if !m.closed && len(m.idle) < m.cfg.LMTPIdleConns {
		m.idle = append(m.idle, lc)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	_ = lc.c.Quit()
}

// handOff delivers msg to boxes through the MDA. It returns the boxes the
// MDA refused while others got the message, or the reply for the SMTP
// client when no box got it.
func (m *MTA) handOff(qid string, from mail.Path, p smtp.MailParams, boxes []string, msg []byte) (map[string]error, error) {
	m.mu.Lock()
	base := m.ctx
	m.mu.Unlock()
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithTimeout(base, m.cfg.LMTPTimeout)
	defer cancel()

	lc, err := m.get(ctx)
	if err != nil {
		// RFC 3463 4.4.1: no answer from host. A 4yz leaves the message
		// with the client, who will try again (RFC 5321 section 4.2.5).
		return nil, smtp.Errorf(smtp.C451LocalError, "4.4.1", "Mailbox server %s unreachable, try again later", m.cfg.LMTP)
	}
	// Cut the session if the MTA is stopped in the middle.
	stop := context.AfterFunc(ctx, func() { lc.c.Close() })
	defer stop()
	if lc.tr != nil {
		lc.tr.QueueID(qid)
	}
	reusable := false
	defer func() {
		if reusable && stop() {
			m.put(lc)
		} else {
			lc.c.Close()
		}
	}()
	lost := func(err error) error {
		// The session with the MDA broke: nothing is known to be stored.
		return smtp.Errorf(smtp.C451LocalError, "4.4.2", "Connection to mailbox server %s lost, try again later", m.cfg.LMTP)
	}
	if err := lc.c.Mail(from, smtp.MailParams{Size: int64(len(msg)), Body: p.Body}); err != nil {
		if e := asReply(err); e != nil {
			reusable = true
			return nil, passOn(e, m.cfg.LMTP)
		}
		return nil, lost(err)
	}
	var accepted []string
	refused := map[string]error{}
	var firstRefusal *smtp.Error
	for _, box := range boxes {
		to, err := mail.ParseAddress(box)
		if err != nil {
			return nil, fmt.Errorf("mta: routing to %q: %w", box, err) // cannot happen: New checked it
		}
		if err := lc.c.Rcpt(to); err != nil {
			e := asReply(err)
			if e == nil {
				return nil, lost(err)
			}
			refused[box] = e
			firstRefusal = pick(firstRefusal, e)
			continue
		}
		accepted = append(accepted, box)
	}
	if len(accepted) == 0 {
		if err := lc.c.Reset(); err == nil {
			reusable = true
		}
		return nil, passOn(firstRefusal, m.cfg.LMTP)
	}
	w, err := lc.c.DataLMTP()
	if err != nil {
		if e := asReply(err); e != nil {
			reusable = true
			return nil, passOn(e, m.cfg.LMTP)
		}
		return nil, lost(err)
	}
	if _, err := w.Write(msg); err != nil {
		return nil, lost(err)
	}
	results, err := w.Close()
	if err != nil || len(results) != len(accepted) {
		return nil, lost(err)
	}
	reusable = true
	stored := 0
	for i, res := range results {
		if res == nil {
			stored++
			continue
		}
		e := asReply(res)
		if e == nil {
			e = smtp.Errorf(smtp.C451LocalError, "4.3.0", "%v", res)
		}
		refused[accepted[i]] = e
		firstRefusal = pick(firstRefusal, e)
	}
	if stored == 0 {
		return nil, passOn(firstRefusal, m.cfg.LMTP)
	}
	return refused, nil
}

// asReply finds the server reply inside a client error, or nil when the
// error is not a reply (the connection failed).
func asReply(err error) *smtp.Error {
	var e *smtp.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// pick keeps the refusal to pass on: a temporary one wins, since the client
// may then try again and nobody has the message yet.
func pick(cur, e *smtp.Error) *smtp.Error {
	if cur == nil || (!cur.Temporary() && e.Temporary()) {
		return e
	}
	return cur
}

// passOn turns the MDA's refusal into the reply for the SMTP client, with
// the same code and enhanced code.
func passOn(e *smtp.Error, mda string) error {
	if e == nil {
		return smtp.Errorf(smtp.C451LocalError, "4.3.0", "Mailbox server %s refused the message", mda)
	}
	code := e.Code
	if code < 400 || code > 599 {
		code = smtp.C451LocalError
	}
	return smtp.Errorf(code, e.Enhanced, "Mailbox server %s said: %s", mda, e.Message)
}

// completeHeader adds the Date and Message-ID fields a submitted message
// lacks, as a submission server may (RFC 6409 sections 8.2 and 8.3; RFC
// 5322 section 3.6 makes Date mandatory), and notes it.
func (s *session) completeHeader(msg []byte) []byte {
	h := mail.ParseHeaderFields(msg[:max(mail.HeaderEnd(msg), 0)], "Date", "Message-ID")
	var add []byte
	if h.Get("Date") == "" {
		add = append(add, "Date: "+s.m.cfg.Now().Format(mail.DateLayout)+"\r\n"...)
		s.info.Tracer.Note("the message had no Date field: the submission server added one (RFC 6409 section 8.2)")
	}
	if h.Get("Message-ID") == "" {
		add = append(add, "Message-ID: <"+s.qid+"@"+s.m.cfg.Hostname+">\r\n"...)
		s.info.Tracer.Note("the message had no Message-ID field: the submission server added one (RFC 6409 section 8.3)")
	}
	if add == nil {
		return msg
	}
	return append(add, msg...)
}

// requeue deals with the recipients the MDA refused while others got the
// message: RFC 5321 section 4.4 (end) and 6.1 say the answer is still 250,
// and that the MTA now owes their sender a bounce. The message goes into
// the queue for them: the queue tries the MDA once more and, when it
// refuses again for good (or until the give-up time, for a temporary
// refusal), sends the delivery status notification.
func (s *session) requeue(full []byte, refused map[string]error) {
	boxes := make([]string, 0, len(refused))
	for box := range refused {
		boxes = append(boxes, box)
	}
	slices.Sort(boxes)
	for _, box := range boxes {
		s.info.Tracer.Note(fmt.Sprintf("the MDA refused %s (%v) while the others got the message: the answer is still 250, and %s is owed a bounce if it cannot be delivered (RFC 5321 section 4.4)", box, refused[box], s.from.Bracketed()))
	}
	if s.m.q == nil {
		s.info.Tracer.Note("this MTA has no queue to send the bounce from")
		return
	}
	from := ""
	if !s.from.IsNull() {
		from = s.from.String()
	}
	id := s.qid + "-R"
	if err := s.m.q.Put(id, from, boxes, full); err != nil {
		s.info.Tracer.Note(fmt.Sprintf("could not queue the refused copies: %v", err))
		return
	}
	s.info.Tracer.Note(fmt.Sprintf("queued as %s for %s: the queue tries once more, then bounces", id, strings.Join(bracketAll(boxes), ", ")))
}
