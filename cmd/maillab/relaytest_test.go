package main

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
)

// relayServer runs an smtpserver named mx.victim.test on 127.0.0.1 port 0.
func relayServer(t *testing.T, b smtpserver.Backend) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtpserver.New(smtpserver.Options{Hostname: "mx.victim.test"}, b)
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

// closedRelay takes mail for bob@mx.victim.test only and refuses every
// other recipient as a relay attempt.
type closedRelay struct{ smtpserver.MemoryBackend }

func (b *closedRelay) NewSession(c *smtpserver.ConnInfo) (smtpserver.Session, error) {
	s, err := b.MemoryBackend.NewSession(c)
	return closedSession{s}, err
}

type closedSession struct{ smtpserver.Session }

func (s closedSession) Rcpt(to mail.Path) error {
	if !strings.EqualFold(to.String(), "bob@mx.victim.test") {
		return smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "%s: Relay access denied", to.Bracketed())
	}
	return s.Session.Rcpt(to)
}

// relayReport is the JSON report as a script reads it.
type relayReport struct {
	Server string `json:"server"`
	Domain string `json:"domain"`
	Open   bool   `json:"open"`
	Probes []struct {
		Name     string `json:"name"`
		MailFrom string `json:"mail_from"`
		RcptTo   string `json:"rcpt_to"`
		Verdict  string `json:"verdict"`
		Reply    string `json:"reply"`
	} `json:"probes"`
}

func TestRelaytestOpenServerExitsOne(t *testing.T) {
	addr := relayServer(t, &smtpserver.MemoryBackend{})
	var c cli
	if code := c.run(t, "relaytest", addr); code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, c.stdout.String(), c.stderr.String())
	}
	out := c.stdout.String()
	for _, want := range []string{
		"S: 220 mx.victim.test ESMTP",
		"The server's domain: mx.victim.test (from its greeting); its address literal: [127.0.0.1].",
		"Probe 6/16 percent-host: MAIL FROM:<antispam@[127.0.0.1]> RCPT TO:<relaytest%relay-test.invalid@mx.victim.test>",
		"The percent hack with the server's host name",
		"C: RCPT TO:<relaytest%relay-test.invalid@mx.victim.test>",
		"C: Subject: maillab relay test percent-host",
		"=> 6 percent-host: RELAYED: accepted through end of DATA: 250 2.0.0 ",
		"=> 14 bang-path: refused at RCPT: 553 5.1.3 ",
		"#   PROBE",
		"6   percent-host",
		"is an OPEN RELAY: 10 of 16 probes relayed (null-sender, third-party, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, ansi) {
		t.Errorf("colors written to a non-terminal")
	}
	if !strings.Contains(c.stderr.String(), "is an open relay: 10 of 16 probes relayed") {
		t.Errorf("stderr: %q", c.stderr.String())
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", out)
	}
}

func TestRelaytestClosedServerExitsZero(t *testing.T) {
	addr := relayServer(t, &closedRelay{})
	var c cli
	if code := c.run(t, "relaytest", addr); code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	out := c.stdout.String()
	if n := strings.Count(out, "S: 220 mx.victim.test"); n != 17 {
		t.Errorf("%d sessions in the transcript, want 17 (one to ask the server's name, one per probe)", n)
	}
	if n := strings.Count(out, ": refused at RCPT: 55"); n != 16 {
		t.Errorf("%d probes refused at RCPT, want 16:\n%s", n, out)
	}
	if !strings.Contains(out, "(mx.victim.test) is not an open relay: 16 of 16 probes refused.") {
		t.Errorf("no conclusion:\n%s", out)
	}
}

func TestRelaytestJSON(t *testing.T) {
	addr := relayServer(t, &closedRelay{})
	var c cli
	if code := c.run(t, "relaytest", addr, "--json"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	var rep relayReport
	if err := json.Unmarshal(c.stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", c.stdout.String(), err)
	}
	if rep.Open || rep.Server != addr || rep.Domain != "mx.victim.test" || len(rep.Probes) != 16 {
		t.Fatalf("report %+v", rep)
	}
	p := rep.Probes[5]
	if p.Name != "percent-host" || p.MailFrom != "<antispam@[127.0.0.1]>" || p.RcptTo != "<relaytest%relay-test.invalid@mx.victim.test>" ||
		p.Verdict != "refused" || !strings.HasPrefix(p.Reply, "550 5.7.1 ") {
		t.Errorf("probe 6: %+v", p)
	}

	open := relayServer(t, &smtpserver.MemoryBackend{})
	var o cli
	if code := o.run(t, "relaytest", open, "--json", "--probe", "null-sender,bang-path"); code != exitFailed {
		t.Fatalf("open server, --json: exit %d, want %d", code, exitFailed)
	}
	rep = relayReport{}
	if err := json.Unmarshal(o.stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", o.stdout.String(), err)
	}
	if !rep.Open || len(rep.Probes) != 2 || rep.Probes[0].Verdict != "relayed" || rep.Probes[1].Verdict != "refused" {
		t.Fatalf("report %+v", rep)
	}
}

func TestRelaytestQuietPrintsOnlyVerdicts(t *testing.T) {
	addr := relayServer(t, &closedRelay{})
	var c cli
	if code := c.run(t, "relaytest", addr, "--quiet"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(c.stdout.String()), "\n")
	if len(lines) != 17 {
		t.Fatalf("%d lines, want 16 verdicts and a conclusion:\n%s", len(lines), c.stdout.String())
	}
	for _, l := range lines[:16] {
		if !strings.HasPrefix(l, "=> ") {
			t.Errorf("not a verdict line: %q", l)
		}
	}
}

func TestRelaytestColorAndExplain(t *testing.T) {
	addr := relayServer(t, &closedRelay{})
	for _, tc := range []struct {
		name  string
		env   map[string]string
		flags []string
		color bool
	}{
		{"terminal", nil, nil, true},
		{"NO_COLOR", map[string]string{"NO_COLOR": "1"}, nil, false},
		{"--no-color", nil, []string{"--no-color"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cli{tty: true, env: tc.env}
			args := append([]string{"relaytest", addr, "--probe", "quoted-at"}, tc.flags...)
			if code := c.run(t, args...); code != exitOK {
				t.Fatalf("exit %d: %s", code, c.stderr.String())
			}
			if got := strings.Contains(c.stdout.String(), ansi); got != tc.color {
				t.Fatalf("ANSI colors present = %v, want %v", got, tc.color)
			}
		})
	}
	var es cli
	if code := es.run(t, "relaytest", addr, "--probe", "bang-path", "--explain", "--lang", "es"); code != exitOK {
		t.Fatalf("exit %d: %s", code, es.stderr.String())
	}
	for _, want := range []string{"Una ruta UUCP", "El cliente se presenta"} {
		if !strings.Contains(es.stdout.String(), want) {
			t.Errorf("--explain --lang es lacks %q:\n%s", want, es.stdout.String())
		}
	}
}

func TestRelaytestUnreachableExitsFour(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var c cli
	if code := c.run(t, "relaytest", addr, "--timeout", "5s"); code != exitRuntime {
		t.Fatalf("exit %d, want %d: %s", code, exitRuntime, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "cannot be tested") {
		t.Errorf("stderr: %q", c.stderr.String())
	}
}

func TestRelaytestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"relaytest"},
		{"relaytest", "127.0.0.1"},
		{"relaytest", "127.0.0.1:25", "127.0.0.1:26"},
		{"relaytest", "127.0.0.1:25", "--from", "not an address"},
		{"relaytest", "127.0.0.1:25", "--to-domain", "[192.0.2.1]"},
		{"relaytest", "127.0.0.1:25", "--probe", "no-such-probe"},
		{"relaytest", "127.0.0.1:25", "--lang", "fr"},
		{"relaytest", "127.0.0.1:25", "--timeout", "0s"},
		{"relaytest", "127.0.0.1:25", "--json", "--quiet"},
	} {
		var c cli
		if code := c.run(t, args...); code != exitUsage {
			t.Errorf("maillab %s: exit %d, want %d; stderr %q", strings.Join(args, " "), code, exitUsage, c.stderr.String())
		}
	}
}

func TestRelaytestHelp(t *testing.T) {
	var c cli
	if code := c.run(t, "relaytest", "--help"); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage:", "open relay", "RFC 5321 section 3.6.2", "RFC 2505", "RFC 5068",
		"relay-test.invalid", "percent-host", "RCPT TO:<relaytest%D@SRV>", "RCPT TO:<@[IP]:relaytest@D>"} {
		if !strings.Contains(c.stdout.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
