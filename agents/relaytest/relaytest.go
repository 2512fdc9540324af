// Package relaytest is the classic battery of open-relay probes: sixteen
// SMTP sessions, each trying one address trick (null and forged senders,
// the percent hack, quoted local parts, double '@', source routes, bang
// paths, address literals) to make a server accept mail from a stranger
// for a foreign domain. Run gives a verdict for each probe and for the
// server.
//
// A probe counts as RELAYED only when the message would really leave: RCPT
// TO accepted and the message accepted through the end of DATA (the 2yz
// after "."). A server that accepts RCPT but refuses the message at DATA
// is not an open relay, but the near-miss is reported: some MTAs accept
// first and bounce later (backscatter).
//
// Each probe runs in its own SMTP session (greeting, EHLO, MAIL, RCPT,
// DATA, QUIT), so each one is a self-contained block of the transcript, a
// refusal in one cannot change what the server answers to the next (error
// counters, tarpits and disconnects are per session), and every probe
// meets the server as a fresh spammer would. Before the probes a first
// session (greeting, EHLO, QUIT) learns the server's name and address.
//
// The foreign domain defaults to relay-test.invalid, a name reserved never
// to exist (RFC 2606 section 2, RFC 6761 section 6.4): even an open relay
// cannot deliver the probes anywhere.
//
// # Standards
//
// RFC 5321 section 3.6.2 (relaying is a policy decision; refuse with 550),
// sections 4.1.2 and 4.1.3 (paths and address literals), section 3.6.1 and
// appendix C (source routes); RFC 2505 (BCP 30: anti-spam recommendations
// for MTAs: no relaying by default, address tricks handled); RFC 5068 (BCP
// 134: operators should not run open relays); RFC 2606 and RFC 6761
// (.invalid).
//
// # Security
//
// The package talks to the server it is given, which it does not trust:
// every step is bounded by Options.Timeout and replies are bounded by
// package smtpclient. It sends sixteen small messages that say they are a
// relay test; run it only against servers you are allowed to test.
//
// # Limits
//
// One connection at a time, seventeen in all; each step (connect,
// greeting, each command, the message, the reply to ".") waits at most
// Options.Timeout (default 30 seconds).
package relaytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
)

// Defaults of Options.
const (
	// DefaultToDomain is reserved never to resolve (RFC 2606 section 2,
	// RFC 6761 section 6.4), so nothing a relay accepts can leave.
	DefaultToDomain = "relay-test.invalid"
	// DefaultFrom is the tester's sender, as in the Nmap battery.
	DefaultFrom = "antispam@" + DefaultToDomain
	// DefaultTimeout bounds each step of a probe.
	DefaultTimeout = 30 * time.Second
	// DefaultAgent names the tester in a transcript.
	DefaultAgent = "relaytest"
)

// Options configure Run. The zero value tests with the defaults.
type Options struct {
	// Domain is the server's own domain, forged into the probes'
	// addresses; "" means the first word of its greeting, or of its EHLO
	// reply, or its address literal when neither names a domain.
	Domain string
	// ToDomain is the foreign domain the probes try to reach; "" means
	// DefaultToDomain.
	ToDomain string
	// From is the tester's sender address; "" means DefaultFrom.
	From string
	// Helo is the name sent with EHLO; "" means the domain of From.
	Helo string
	// Timeout bounds each step: the connection, the greeting, each
	// command's reply, the message, the reply to "."; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Probes, when not empty, are the names of the probes to run (see
	// Names); the others are skipped.
	Probes []string
	// Dial opens the connections; nil means a net.Dialer. A
	// transcripts.Recorder's Dialer taps them for a transcript.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// BeforeCommand is passed to smtpclient.Options: it sees every command
	// line before it is sent (step mode).
	BeforeCommand func(line string) error
	// Now stamps the test messages' Date; nil means time.Now.
	Now func() time.Time
	// OnStart, when set, is called once the first session has learned the
	// server's name and address literal, before the probes: the Report
	// has no results yet.
	OnStart func(Report)
	// OnProbe, when set, is called before each probe's session starts.
	OnProbe func(Probe)
	// OnResult, when set, is called after each probe's session ended.
	OnResult func(Result)
}

func (o Options) withDefaults() Options {
	if o.ToDomain == "" {
		o.ToDomain = DefaultToDomain
	}
	if o.From == "" {
		o.From = DefaultFrom
	}
	if o.Helo == "" {
		o.Helo = o.From[strings.LastIndexByte(o.From, '@')+1:]
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// check refuses options that would put garbage on the wire.
func (o Options) check() error {
	if _, err := mail.ParseAddress(o.From); err != nil {
		return fmt.Errorf("relaytest: From: %w", err)
	}
	if _, err := mail.ParseAddress("x@" + o.ToDomain); err != nil || strings.HasPrefix(o.ToDomain, "[") {
		return fmt.Errorf("relaytest: ToDomain %q is not a domain name", o.ToDomain)
	}
	if o.Domain != "" {
		if _, err := mail.ParseAddress("x@" + o.Domain); err != nil {
			return fmt.Errorf("relaytest: Domain %q is not a domain name or address literal", o.Domain)
		}
	}
	if strings.ContainsAny(o.Helo, " \r\n") || o.Helo == "" {
		return fmt.Errorf("relaytest: Helo %q is not one word", o.Helo)
	}
	known := Names()
	for _, n := range o.Probes {
		if !slices.Contains(known, n) {
			return fmt.Errorf("relaytest: no probe named %q (there are %s)", n, strings.Join(known, ", "))
		}
	}
	return nil
}

// Verdict is what a probe showed.
type Verdict string

const (
	// Relayed: RCPT accepted and the message accepted after "." — the
	// server took responsibility for mail from a stranger to a foreign
	// domain. One relayed probe makes the server an open relay.
	Relayed Verdict = "relayed"
	// NearMiss: RCPT accepted, the message refused at DATA or after ".".
	// Nothing leaves, but the server only noticed late.
	NearMiss Verdict = "near-miss"
	// Refused: the server refused the probe before accepting the
	// recipient (at the greeting, EHLO, MAIL or RCPT).
	Refused Verdict = "refused"
	// Inconclusive: the probe could not finish — connection lost, a
	// timeout, a 421 "closing" — so it proves nothing either way.
	Inconclusive Verdict = "inconclusive"
)

// Stages of a probe session, as Result.Stage names them.
const (
	StageConnect   = "connect"
	StageGreeting  = "greeting"
	StageHello     = "EHLO"
	StageMail      = "MAIL"
	StageRcpt      = "RCPT"
	StageData      = "DATA"
	StageEndOfData = "end of DATA"
)

// Result is the outcome of one probe.
type Result struct {
	Probe
	Verdict Verdict `json:"verdict"`
	// Stage is the step that decided the verdict: where the server
	// refused, where the session broke, or "end of DATA" for a relayed
	// message.
	Stage string `json:"stage"`
	// Reply is the server's deciding reply as it crossed the wire ("550
	// 5.7.1 Relay access denied"), the lines of a multi-line reply
	// joined by " / "; "" when there was none (a broken connection).
	Reply string `json:"reply"`
	// Error says why an inconclusive probe could not finish.
	Error string `json:"error,omitempty"`
}

// String is the verdict line: "RELAYED: accepted through end of DATA: 250
// 2.0.0 Ok", "refused at RCPT: 550 5.7.1 Relay access denied", ...
func (r Result) String() string {
	switch r.Verdict {
	case Relayed:
		return "RELAYED: accepted through end of DATA: " + r.Reply
	case NearMiss:
		return "near-miss: RCPT accepted, refused at " + r.Stage + ": " + r.Reply
	case Refused:
		return "refused at " + r.Stage + ": " + r.Reply
	}
	s := "inconclusive at " + r.Stage + ": " + r.Error
	if r.Reply != "" {
		s += " (" + r.Reply + ")"
	}
	return s
}

// Report is what Run found.
type Report struct {
	Server string `json:"server"` // the address tested, as given
	// Greeting is the server's greeting in the first session.
	Greeting string `json:"greeting"`
	// Domain is the server's domain the probes forged, and DomainFrom
	// where it came from: "option", "greeting", "EHLO" or "address
	// literal".
	Domain     string `json:"domain"`
	DomainFrom string `json:"domain_from"`
	// Literal is the server's address literal, "[127.0.0.1]".
	Literal  string `json:"address_literal"`
	ToDomain string `json:"to_domain"`
	From     string `json:"from"`
	Helo     string `json:"helo"`
	// Open is true when at least one probe relayed.
	Open    bool     `json:"open"`
	Results []Result `json:"probes"`
}

// Count returns how many results have verdict v.
func (r Report) Count(v Verdict) int {
	n := 0
	for _, res := range r.Results {
		if res.Verdict == v {
			n++
		}
	}
	return n
}

// ErrUnreachable is wrapped by Run's error when the first session could
// not start: nothing was tested.
var ErrUnreachable = errors.New("relaytest: the server cannot be tested")

// Run tests the SMTP server at addr ("127.0.0.1:2525", "mx.example.test:25")
// with the battery. A first session (greeting, EHLO, QUIT) learns the
// server's name and address literal; then each probe runs in a session of
// its own.
//
// The error wraps ErrUnreachable when that first session fails (no
// connection, no 220 greeting, EHLO and HELO refused): then the Report has
// no results. When ctx ends Run stops and returns ctx's error with the
// results so far. A probe that breaks (a timeout, a dropped connection) is
// Inconclusive and Run goes on with the next one.
func Run(ctx context.Context, addr string, opts Options) (Report, error) {
	o := opts.withDefaults()
	rep := Report{Server: addr, ToDomain: o.ToDomain, From: o.From, Helo: o.Helo}
	if err := o.check(); err != nil {
		return rep, err
	}
	d, err := discover(ctx, addr, o)
	if err != nil {
		if ctx.Err() != nil {
			return rep, context.Cause(ctx)
		}
		return rep, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	rep.Greeting, rep.Literal = d.greeting, d.literal
	rep.Domain, rep.DomainFrom = o.Domain, "option"
	if o.Domain == "" {
		rep.Domain, rep.DomainFrom = d.domain, d.domainFrom
	}
	if o.OnStart != nil {
		o.OnStart(rep)
	}
	probes := Battery(Params{Domain: rep.Domain, Literal: rep.Literal, ToDomain: o.ToDomain, From: o.From})
	for _, p := range probes {
		if len(o.Probes) > 0 && !slices.Contains(o.Probes, p.Name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, context.Cause(ctx)
		}
		if o.OnProbe != nil {
			o.OnProbe(p)
		}
		res := runProbe(ctx, addr, o, p)
		if ctx.Err() != nil {
			// A probe cut short by ctx proves nothing: leave it out.
			return rep, context.Cause(ctx)
		}
		rep.Results = append(rep.Results, res)
		rep.Open = rep.Open || res.Verdict == Relayed
		if o.OnResult != nil {
			o.OnResult(res)
		}
	}
	return rep, nil
}

// discovery is what the first session learned.
type discovery struct {
	greeting           string
	domain, domainFrom string
	literal            string
}

// discover opens the first session: greeting, EHLO (HELO if refused),
// QUIT. The server's domain is the first word of its greeting (RFC 5321
// section 4.3.1: "220 domain ..."), else of the first line of its EHLO
// reply (section 4.1.1.1), else its address literal.
func discover(ctx context.Context, addr string, o Options) (discovery, error) {
	var d discovery
	c, remote, err := open(ctx, addr, o)
	if err != nil {
		return d, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	d.literal = literal(remote)
	g := c.Greeting()
	d.greeting = oneLine(g)
	d.domain, d.domainFrom = firstDomain(g), "greeting"
	r, err := c.Cmd("EHLO " + o.Helo)
	if err != nil {
		return d, err
	}
	if r.Code == 500 || r.Code == 502 {
		// RFC 5321 section 3.2: an old server knows HELO only.
		if r, err = c.Cmd("HELO " + o.Helo); err != nil {
			return d, err
		}
	}
	if r.Class() != 2 {
		return d, fmt.Errorf("EHLO and HELO refused: %s", oneLine(r))
	}
	if d.domain == "" {
		d.domain, d.domainFrom = firstDomain(r), "EHLO"
	}
	if d.domain == "" {
		d.domain, d.domainFrom = d.literal, "address literal"
	}
	_ = c.Quit()
	return d, nil
}

// open dials addr within o.Timeout and reads the greeting. It returns the
// server's address as seen on the connection.
func open(ctx context.Context, addr string, o Options) (*smtpclient.Client, net.Addr, error) {
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var remote net.Addr
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := o.Dial(ctx, network, addr)
		if err == nil {
			remote = c.RemoteAddr()
		}
		return c, err
	}
	c, err := smtpclient.Dial(dctx, dial, addr, smtpclient.Options{
		LocalName:      o.Helo,
		CommandTimeout: o.Timeout,
		DataTimeout:    o.Timeout,
		FinalTimeout:   o.Timeout,
		BeforeCommand:  o.BeforeCommand,
	})
	if err != nil {
		return nil, nil, err
	}
	return c, remote, nil
}

// literal returns the address literal of a (RFC 5321 section 4.1.3):
// "[192.0.2.1]", "[IPv6:2001:db8::1]".
func literal(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP == nil {
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return "[" + a.String() + "]"
		}
		return "[" + host + "]"
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ta.IP.String() + "]"
}

// firstDomain returns the first word of the reply's first line when it is
// a domain name with at least one letter (not a bare IP address), or "".
func firstDomain(r *smtpclient.Reply) string {
	if r == nil || len(r.Lines) == 0 {
		return ""
	}
	f := strings.Fields(r.Lines[0])
	if len(f) == 0 || strings.HasPrefix(f[0], "[") || !strings.ContainsFunc(f[0], isLetter) {
		return ""
	}
	name := strings.TrimSuffix(f[0], ".")
	if _, err := mail.ParseAddress("x@" + name); err != nil {
		return ""
	}
	return name
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// oneLine renders a reply on one line, lines joined by " / ".
func oneLine(r *smtpclient.Reply) string {
	if r == nil {
		return ""
	}
	return strings.ReplaceAll(r.String(), "\n", " / ")
}

// runProbe runs one probe in a session of its own.
func runProbe(ctx context.Context, addr string, o Options, p Probe) Result {
	res := Result{Probe: p}
	inconclusive := func(stage string, err error) Result {
		res.Verdict, res.Stage, res.Error = Inconclusive, stage, err.Error()
		return res
	}
	// judge records a 4yz/5yz reply; 421 means the server is closing the
	// session (RFC 5321 section 3.8), which says nothing about relaying.
	judge := func(v Verdict, stage string, r *smtpclient.Reply) Result {
		res.Verdict, res.Stage, res.Reply = v, stage, oneLine(r)
		if r.Code == int(smtp.C421Closing) {
			res.Verdict, res.Error = Inconclusive, "the server closed the session"
		}
		return res
	}

	c, _, err := open(ctx, addr, o)
	if err != nil {
		if se, ok := errors.AsType[*smtp.Error](err); ok {
			res.Verdict, res.Stage, res.Reply = Refused, StageGreeting, se.Error()
			if se.Temporary() {
				res.Verdict, res.Error = Inconclusive, "the server would not talk now"
			}
			return res
		}
		return inconclusive(StageConnect, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	done := func(r Result) Result {
		_ = c.Quit()
		return r
	}

	r, err := c.Cmd("EHLO " + o.Helo)
	if err == nil && (r.Code == 500 || r.Code == 502) {
		r, err = c.Cmd("HELO " + o.Helo) // RFC 5321 section 3.2
	}
	if err != nil {
		return inconclusive(StageHello, err)
	}
	if r.Class() != 2 {
		return done(judge(Refused, StageHello, r))
	}
	if r, err = c.Cmd("MAIL FROM:" + p.MailFrom); err != nil {
		return inconclusive(StageMail, err)
	}
	if r.Class() != 2 {
		return done(judge(Refused, StageMail, r))
	}
	if r, err = c.Cmd("RCPT TO:" + p.RcptTo); err != nil {
		return inconclusive(StageRcpt, err)
	}
	if r.Class() != 2 {
		return done(judge(Refused, StageRcpt, r))
	}
	// The recipient is accepted; only the reply to "." says whether the
	// message would leave (RFC 5321 section 4.2.5).
	if r, err = c.Cmd("DATA"); err != nil {
		return inconclusive(StageData, err)
	}
	if r.Code != 354 {
		return done(judge(NearMiss, StageData, r))
	}
	if r, err = c.SendData(strings.NewReader(message(addr, o, p))); err != nil {
		return inconclusive(StageEndOfData, err)
	}
	if r.Class() != 2 {
		return done(judge(NearMiss, StageEndOfData, r))
	}
	res.Verdict, res.Stage, res.Reply = Relayed, StageEndOfData, oneLine(r)
	return done(res)
}

// message is the tiny test message of probe p. Its To is an empty group
// (RFC 5322 section 3.4): the probes' recipients are not all valid header
// addresses.
func message(addr string, o Options, p Probe) string {
	now := o.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: maillab relay test %s\r\n", p.Name)
	fmt.Fprintf(&b, "From: <%s>\r\n", o.From)
	b.WriteString("To: undisclosed-recipients:;\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <relaytest.%d.%d@%s>\r\n", p.Number, now.UnixNano(), o.Helo)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "This is an open-relay test sent by \"maillab relaytest\" to %s\r\n", addr)
	fmt.Fprintf(&b, "(probe %d, %s: MAIL FROM:%s RCPT TO:%s).\r\n", p.Number, p.Name, p.MailFrom, p.RcptTo)
	b.WriteString("If this message reached anyone, that server relays mail from strangers\r\n")
	b.WriteString("to other domains: it is an open relay (RFC 5321 section 3.6.2, RFC 2505).\r\n")
	b.WriteString("Please delete this copy.\r\n")
	return b.String()
}
