package relaytest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/transcripts"
)

const victim = "mx.victim.test"

// startServer runs an smtpserver named mx.victim.test on 127.0.0.1 port 0.
func startServer(t *testing.T, b smtpserver.Backend) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtpserver.New(smtpserver.Options{Hostname: victim}, b)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

// policy is a backend whose relay decision is a function, the way an MTA's
// is; accepted messages are counted.
type policy struct {
	rcpt func(to mail.Path) error
	data func() error // nil accepts the message
	mem  smtpserver.MemoryBackend
}

func (p *policy) NewSession(c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	s, err := p.mem.NewSession(c)
	return &policySession{Session: s, p: p}, err
}

type policySession struct {
	smtpserver.Session
	p *policy
}

func (s *policySession) Rcpt(to mail.Path) error {
	if err := s.p.rcpt(to); err != nil {
		return err
	}
	return s.Session.Rcpt(to)
}

func (s *policySession) Data(r io.Reader) error {
	if s.p.data != nil {
		_, _ = io.Copy(io.Discard, r)
		return s.p.data()
	}
	return s.Session.Data(r)
}

func relayDenied(to mail.Path) error {
	return smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "%s: Relay access denied", to.Bracketed())
}

// own reports whether domain is the server's: its name or its literal.
func own(domain string) bool {
	return strings.EqualFold(domain, victim) || domain == "[127.0.0.1]"
}

// closedBackend is a correct closed server: mail to its own users only.
func closedBackend() *policy {
	users := []string{"postmaster@" + victim, "bob@" + victim}
	return &policy{rcpt: func(to mail.Path) error {
		if slices.ContainsFunc(users, func(u string) bool { return strings.EqualFold(u, to.String()) }) {
			return nil
		}
		return relayDenied(to)
	}}
}

// naiveBackend checks only the text after the last '@', as mail.Path.Domain
// holds it: any local part in its own domain is "local".
func naiveBackend() *policy {
	return &policy{rcpt: func(to mail.Path) error {
		if own(to.Domain) {
			return nil
		}
		return relayDenied(to)
	}}
}

// parses reports whether the lab's RFC 5321 parser accepts the probe's
// recipient at all: the smtpserver answers 553 5.1.3 before any backend
// sees a path it cannot parse.
func parses(p Probe) bool {
	_, err := smtp.ParseRcptArg("TO:" + p.RcptTo)
	return err == nil
}

func run(t *testing.T, addr string, opts Options) Report {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	rep, err := Run(context.Background(), addr, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(opts.Probes) == 0 && len(rep.Results) != 16 {
		t.Fatalf("%d results, want 16", len(rep.Results))
	}
	return rep
}

func logReport(t *testing.T, rep Report) {
	t.Helper()
	for _, r := range rep.Results {
		t.Logf("%2d %-22s RCPT TO:%-45s %s", r.Number, r.Name, r.RcptTo, r)
	}
}

func TestRelayBatteryWireForms(t *testing.T) {
	got := Battery(Params{Domain: "srv.test", Literal: "[192.0.2.1]", ToDomain: "d.invalid", From: "antispam@d.invalid"})
	// FACTS.md 1.13, the Nmap smtp-open-relay.nse table.
	want := [][2]string{
		{"<>", "<relaytest@d.invalid>"},
		{"<antispam@d.invalid>", "<relaytest@d.invalid>"},
		{"<antispam@srv.test>", "<relaytest@d.invalid>"},
		{"<antispam@[192.0.2.1]>", "<relaytest@d.invalid>"},
		{"<antispam@[192.0.2.1]>", "<relaytest%d.invalid@[192.0.2.1]>"},
		{"<antispam@[192.0.2.1]>", "<relaytest%d.invalid@srv.test>"},
		{"<antispam@[192.0.2.1]>", `<"relaytest@d.invalid">`},
		{"<antispam@[192.0.2.1]>", `<"relaytest%d.invalid">`},
		{"<antispam@[192.0.2.1]>", "<relaytest@d.invalid@[192.0.2.1]>"},
		{"<antispam@[192.0.2.1]>", `<"relaytest@d.invalid"@[192.0.2.1]>`},
		{"<antispam@[192.0.2.1]>", "<relaytest@d.invalid@srv.test>"},
		{"<antispam@[192.0.2.1]>", "<@[192.0.2.1]:relaytest@d.invalid>"},
		{"<antispam@[192.0.2.1]>", "<@srv.test:relaytest@d.invalid>"},
		{"<antispam@[192.0.2.1]>", "<d.invalid!relaytest>"},
		{"<antispam@[192.0.2.1]>", "<d.invalid!relaytest@[192.0.2.1]>"},
		{"<antispam@[192.0.2.1]>", "<d.invalid!relaytest@srv.test>"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d probes, want %d", len(got), len(want))
	}
	names := map[string]bool{}
	for i, p := range got {
		if p.Number != i+1 || p.MailFrom != want[i][0] || p.RcptTo != want[i][1] {
			t.Errorf("probe %d %s: MAIL FROM:%s RCPT TO:%s, want #%d MAIL FROM:%s RCPT TO:%s",
				p.Number, p.Name, p.MailFrom, p.RcptTo, i+1, want[i][0], want[i][1])
		}
		if names[p.Name] || p.Name == "" {
			t.Errorf("probe %d: name %q empty or repeated", p.Number, p.Name)
		}
		names[p.Name] = true
		if p.Explain("en") == "" || p.Explain("es") == "" || p.Explain("es") == p.Explain("en") {
			t.Errorf("probe %s lacks an English or a Spanish explanation", p.Name)
		}
	}
}

// TestRelayOpenServer: a server that accepts everything is an open relay.
// Every probe its RFC 5321 parser lets through relays; the six whose
// recipient is not a valid path at all (a quoted local part without a
// domain, a double '@', a bang path without '@', a source route through an
// address literal, which the At-domain grammar of RFC 5321 section 4.1.2
// does not allow) are refused by the parser with 553 5.1.3 before any
// relay policy is asked.
func TestRelayOpenServer(t *testing.T) {
	b := &smtpserver.MemoryBackend{}
	addr := startServer(t, b)
	rep := run(t, addr, Options{})
	defer func() {
		if t.Failed() {
			logReport(t, rep)
		}
	}()
	if !rep.Open {
		t.Fatal("a server accepting everything was not judged open")
	}
	if rep.Domain != victim || rep.DomainFrom != "greeting" || rep.Literal != "[127.0.0.1]" {
		t.Errorf("domain %q from %q, literal %q; want %q from the greeting, [127.0.0.1]", rep.Domain, rep.DomainFrom, rep.Literal, victim)
	}
	relayed := 0
	for _, r := range rep.Results {
		switch {
		case parses(r.Probe):
			relayed++
			if r.Verdict != Relayed || r.Stage != StageEndOfData || !strings.HasPrefix(r.Reply, "250 ") {
				t.Errorf("probe %s: %s, want RELAYED with a 250", r.Name, r)
			}
		case r.Verdict != Refused || r.Stage != StageRcpt || !strings.HasPrefix(r.Reply, "553 5.1.3 "):
			t.Errorf("probe %s (%s, not a valid path): %s, want refused at RCPT with 553 5.1.3", r.Name, r.RcptTo, r)
		}
	}
	if relayed != 10 {
		t.Errorf("%d probes have a parseable recipient, want 10", relayed)
	}
	msgs := b.Messages()
	if len(msgs) != relayed {
		t.Fatalf("the server stored %d messages, want %d", len(msgs), relayed)
	}
	for _, m := range msgs {
		if !strings.HasPrefix(string(m.Data), "Subject: maillab relay test ") || !strings.Contains(string(m.Data), "open-relay test") {
			t.Errorf("test message does not say what it is:\n%s", m.Data)
		}
	}
	if got := rep.Count(Relayed) + rep.Count(Refused); got != 16 {
		t.Errorf("%d relayed or refused, want 16", got)
	}
}

// TestRelayClosedServer: a server that takes mail for its own users only
// refuses every probe at RCPT.
func TestRelayClosedServer(t *testing.T) {
	b := closedBackend()
	addr := startServer(t, b)
	rep := run(t, addr, Options{})
	if rep.Open {
		logReport(t, rep)
		t.Fatal("a closed server was judged open")
	}
	for _, r := range rep.Results {
		if r.Verdict != Refused || r.Stage != StageRcpt || !strings.HasPrefix(r.Reply, "55") {
			t.Errorf("probe %s: %s, want refused at RCPT with 55x", r.Name, r)
		}
		if parses(r.Probe) && !strings.HasPrefix(r.Reply, "550 5.7.1 ") {
			t.Errorf("probe %s: %s, want the policy's 550 5.7.1", r.Name, r)
		}
	}
	if n := len(b.mem.Messages()); n != 0 {
		t.Fatalf("a closed server stored %d messages", n)
	}
}

// TestRelayNearMissIsNotOpen: RCPT accepted but the message refused after
// "." leaves nothing: closed, and each such probe is a near-miss.
func TestRelayNearMissIsNotOpen(t *testing.T) {
	b := &policy{
		rcpt: func(mail.Path) error { return nil },
		data: func() error {
			return smtp.Errorf(smtp.C554Failed, "5.7.1", "Relaying denied: message refused")
		},
	}
	addr := startServer(t, b)
	rep := run(t, addr, Options{})
	if rep.Open {
		logReport(t, rep)
		t.Fatal("a server refusing every message at end of DATA was judged open")
	}
	for _, r := range rep.Results {
		if !parses(r.Probe) {
			continue
		}
		if r.Verdict != NearMiss || r.Stage != StageEndOfData || r.Reply != "554 5.7.1 Relaying denied: message refused" {
			t.Errorf("probe %s: %s, want a near-miss at end of DATA", r.Name, r)
		}
		if !strings.HasPrefix(r.String(), "near-miss: RCPT accepted, refused at end of DATA: 554 5.7.1 ") {
			t.Errorf("verdict line %q", r.String())
		}
	}
	if rep.Count(NearMiss) != 10 {
		t.Errorf("%d near-misses, want 10", rep.Count(NearMiss))
	}
}

// TestRelayNaiveCheckIsCaught: a server that looks only at the text after
// the last '@' thinks the percent hack, the quoted local part and the bang
// paths in front of its own name are local mail. The battery catches
// exactly those.
func TestRelayNaiveCheckIsCaught(t *testing.T) {
	b := naiveBackend()
	addr := startServer(t, b)
	rep := run(t, addr, Options{})
	wantRelayed := []string{"percent-literal", "percent-host", "quoted-at-literal", "bang-path-literal", "bang-path-host"}
	if !rep.Open {
		t.Error("a naive server was not judged open")
	}
	var got []string
	for _, r := range rep.Results {
		if r.Verdict == Relayed {
			got = append(got, r.Name)
			continue
		}
		if r.Verdict != Refused || r.Stage != StageRcpt {
			t.Errorf("probe %s: %s, want refused at RCPT", r.Name, r)
		}
	}
	if !slices.Equal(got, wantRelayed) {
		logReport(t, rep)
		t.Fatalf("relayed %v, want %v", got, wantRelayed)
	}
	for _, m := range b.mem.Messages() {
		if len(m.To) != 1 || !own(m.To[0].Domain) {
			t.Errorf("message for %v", m.To)
		}
	}
}

// TestRelayTranscriptAndCallbacks: the sessions go through Options.Dial,
// so a Recorder's dialer shows every probe line, and the callbacks frame
// each probe.
func TestRelayTranscriptAndCallbacks(t *testing.T) {
	addr := startServer(t, closedBackend())
	rec := transcripts.NewRecorder(transcripts.Options{})
	var order []string
	rep := run(t, addr, Options{
		Dial:     rec.Dialer(DefaultAgent, "smtp", nil),
		Probes:   []string{"percent-host", "null-sender"},
		Domain:   "forced.example",
		OnProbe:  func(p Probe) { order = append(order, "start "+p.Name) },
		OnResult: func(r Result) { order = append(order, "end "+r.Name+" "+string(r.Verdict)) },
	})
	wantOrder := []string{"start null-sender", "end null-sender refused", "start percent-host", "end percent-host refused"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("callbacks %v, want %v", order, wantOrder)
	}
	if rep.Domain != "forced.example" || rep.DomainFrom != "option" {
		t.Errorf("domain %q from %q, want forced.example from option", rep.Domain, rep.DomainFrom)
	}
	var lines []string
	conns := map[int]bool{}
	for _, e := range rec.Events() {
		if e.Kind == transcripts.KindLine {
			lines = append(lines, e.DirText+": "+e.Line)
			conns[e.Conn] = true
		}
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"S: 220 " + victim + " ESMTP",
		"C: EHLO relay-test.invalid",
		"C: MAIL FROM:<>",
		"C: RCPT TO:<relaytest%relay-test.invalid@forced.example>",
		"S: 550 5.7.1 <relaytest%relay-test.invalid@forced.example>: Relay access denied",
		"C: QUIT",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
	if len(conns) != 3 {
		t.Errorf("%d connections, want 3 (discovery and one per probe)", len(conns))
	}
}

func TestRelayUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rep, err := Run(context.Background(), addr, Options{Timeout: 5 * time.Second})
	if !errors.Is(err, ErrUnreachable) || len(rep.Results) != 0 {
		t.Fatalf("Run on a closed port: %v, %d results; want ErrUnreachable", err, len(rep.Results))
	}
}

// scripted serves raw SMTP: a greeting, 250 to EHLO and MAIL, 221 to QUIT,
// and to RCPT... nothing at all: a server that hangs. Each RCPT is signalled
// on the returned channel if the test is waiting for it.
func scripted(t *testing.T, greet bool) (string, <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	rcpt := make(chan struct{})
	t.Cleanup(func() { close(stop); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-stop; c.Close() }()
				if !greet {
					_, _ = io.Copy(io.Discard, c)
					return
				}
				_, _ = io.WriteString(c, "220 mx.stall.test ESMTP\r\n")
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					verb, _, _ := strings.Cut(strings.ToUpper(sc.Text()), " ")
					switch verb {
					case "EHLO", "MAIL":
						_, _ = io.WriteString(c, "250 OK\r\n")
					case "QUIT":
						_, _ = io.WriteString(c, "221 Bye\r\n")
						return
					case "RCPT":
						select { // never answer, but tell the test
						case rcpt <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}()
	return l.Addr().String(), rcpt
}

// TestRelayNeverHangs: every step is bounded by Options.Timeout.
func TestRelayNeverHangs(t *testing.T) {
	t.Run("silent server", func(t *testing.T) {
		start := time.Now()
		addr, _ := scripted(t, false)
		_, err := Run(context.Background(), addr, Options{Timeout: 200 * time.Millisecond})
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("stalls at RCPT", func(t *testing.T) {
		addr, _ := scripted(t, true)
		rep, err := Run(context.Background(), addr, Options{Timeout: 200 * time.Millisecond, Probes: []string{"third-party", "bang-path"}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Open || len(rep.Results) != 2 {
			t.Fatalf("open %v, %d results", rep.Open, len(rep.Results))
		}
		for _, r := range rep.Results {
			if r.Verdict != Inconclusive || r.Stage != StageRcpt || r.Error == "" {
				t.Errorf("probe %s: %s, want inconclusive at RCPT", r.Name, r)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		addr, rcpt := scripted(t, true)
		go func() { <-rcpt; cancel() }() // Ctrl-C while the server makes us wait
		start := time.Now()
		rep, err := Run(ctx, addr, Options{Timeout: time.Minute})
		if !errors.Is(err, context.Canceled) || len(rep.Results) != 0 {
			t.Fatalf("err %v, %d results; want context.Canceled and none", err, len(rep.Results))
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v to stop", d)
		}
	})
}

func TestRelayBadOptions(t *testing.T) {
	for _, o := range []Options{
		{From: "not an address"},
		{ToDomain: "[127.0.0.1]"},
		{ToDomain: "bad domain"},
		{Domain: "a b"},
		{Probes: []string{"no-such-probe"}},
		{Helo: "two words"},
	} {
		if _, err := Run(context.Background(), "127.0.0.1:1", o); err == nil || errors.Is(err, ErrUnreachable) {
			t.Errorf("Run(%+v): %v, want an options error", o, err)
		}
	}
}
