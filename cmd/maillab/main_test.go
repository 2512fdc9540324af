package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/maillab/maillab/scenarios"
	"github.com/maillab/maillab/transcripts"
)

// cli runs maillab in-process with the given standard input and
// environment, and returns the exit code and what it printed.
type cli struct {
	in     string
	env    map[string]string
	tty    bool
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func (c *cli) run(t *testing.T, args ...string) int {
	t.Helper()
	s := streams{
		in:       strings.NewReader(c.in),
		out:      &c.stdout,
		err:      &c.stderr,
		outIsTTY: c.tty,
		errIsTTY: c.tty,
		getenv:   func(k string) string { return c.env[k] },
	}
	return execute(context.Background(), args, s)
}

const ansi = "\x1b["

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"run", "--help"}, {"up", "--help"}, {"send", "--help"},
		{"scenarios", "--help"}, {"completion", "--help"}, {"help", "run"},
	} {
		var c cli
		if code := c.run(t, args...); code != exitOK {
			t.Errorf("maillab %s: exit %d, want 0; stderr: %s", strings.Join(args, " "), code, c.stderr.String())
		}
		if !strings.Contains(c.stdout.String(), "Usage:") {
			t.Errorf("maillab %s printed no usage:\n%s", strings.Join(args, " "), c.stdout.String())
		}
	}
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	var c cli
	if code := c.run(t, "run", "--no-such-flag"); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(c.stderr.String(), "unknown flag: --no-such-flag") {
		t.Fatalf("stderr does not name the bad flag: %q", c.stderr.String())
	}
}

func TestScenariosListsTheEmbeddedOnes(t *testing.T) {
	var c cli
	if code := c.run(t, "scenarios"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	out := c.stdout.String()
	for _, want := range []string{"* first-message ", "  smtp-mistakes "} {
		if !strings.Contains(out, want) {
			t.Errorf("scenarios output lacks %q:\n%s", want, out)
		}
	}
	var j cli
	if code := j.run(t, "scenarios", "--json"); code != exitOK {
		t.Fatalf("scenarios --json: exit %d", code)
	}
	var list []scenarios.Info
	if err := json.Unmarshal(j.stdout.Bytes(), &list); err != nil || len(list) < 2 {
		t.Fatalf("scenarios --json printed %q (%v)", j.stdout.String(), err)
	}
}

func TestRunDefaultScenario(t *testing.T) {
	var c cli
	if code := c.run(t, "run"); code != exitOK {
		t.Fatalf("maillab run: exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	out := c.stdout.String()
	for _, want := range []string{
		"alice-laptop     C: EHLO alice-laptop.example.test",
		"mda.example.test  S: 220 mda.example.test LMTP",
		"S: 250 2.0.0 Ok: queued as ",
		"first-message: 7 steps, 7 passed, 0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the transcript lacks %q", want)
		}
	}
	if strings.Contains(out, ansi) {
		t.Errorf("colors written to a non-terminal")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", out)
	}
}

func TestColorOnlyOnATerminalWithoutNoColor(t *testing.T) {
	cases := []struct {
		name  string
		tty   bool
		env   map[string]string
		flags []string
		color bool
	}{
		{"terminal", true, nil, nil, true},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil, false},
		{"--no-color", true, nil, []string{"--no-color"}, false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, nil, false},
		{"pipe", false, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cli{tty: tc.tty, env: tc.env}
			if code := c.run(t, append([]string{"run"}, tc.flags...)...); code != exitOK {
				t.Fatalf("exit %d: %s", code, c.stderr.String())
			}
			if got := strings.Contains(c.stdout.String(), ansi); got != tc.color {
				t.Fatalf("ANSI colors present = %v, want %v", got, tc.color)
			}
		})
	}
}

func TestRunExplainInSpanish(t *testing.T) {
	var c cli
	if code := c.run(t, "run", "--explain", "--lang", "es"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "El cliente se presenta y pregunta qué extensiones") {
		t.Fatalf("no Spanish explanation of EHLO under its line:\n%s", c.stdout.String())
	}
	var bad cli
	if code := bad.run(t, "run", "--lang", "fr"); code != exitUsage {
		t.Fatalf("--lang fr: exit %d, want %d", code, exitUsage)
	}
}

func TestRunJSONLines(t *testing.T) {
	var c cli
	if code := c.run(t, "run", "--json"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	sc := bufio.NewScanner(&c.stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lines, ehlo := 0, false
	for sc.Scan() {
		var e transcripts.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not a JSON event: %q: %v", lines+1, sc.Text(), err)
		}
		lines++
		if e.Kind == transcripts.KindLine && e.Line == "EHLO alice-laptop.example.test" && e.Client == "alice-laptop" && e.Server == "mx.example.test" && e.Proto == "smtp" {
			ehlo = true
		}
	}
	if lines < 20 || !ehlo {
		t.Fatalf("%d JSON events, EHLO event found: %v", lines, ehlo)
	}
	if !strings.Contains(c.stderr.String(), "7 passed, 0 failed") {
		t.Fatalf("the summary should go to stderr with --json, got %q", c.stderr.String())
	}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunScenarioWithMistakesReportsPositions(t *testing.T) {
	p := writeFile(t, "bad.yaml", `name: bad
description: a scenario with mistakes
users:
  - {address: bob@example.test, password: bob}
agents:
  - {name: mx.example.test, kind: mtaa, domains: [example.test]}
steps:
  - say: hello
`)
	var c cli
	if code := c.run(t, "run", p); code != exitBadScenario {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitBadScenario, c.stderr.String())
	}
	if !regexp.MustCompile(regexp.QuoteMeta(p) + `:6:\d+: .*mtaa`).MatchString(c.stderr.String()) {
		t.Fatalf("stderr does not point at the bad kind as file:6:col: %q", c.stderr.String())
	}
}

func TestRunUnknownScenarioIsAUsageError(t *testing.T) {
	var c cli
	if code := c.run(t, "run", "no-such-scenario"); code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "first-message") {
		t.Fatalf("the error should list the scenarios there are: %q", c.stderr.String())
	}
}

func TestRunFailedExpectationExitsOne(t *testing.T) {
	p := writeFile(t, "fails.yaml", `name: fails
description: expects a message that never comes
users:
  - {address: alice@example.test, password: alice}
  - {address: bob@example.test, password: bob}
agents:
  - {name: mx.example.test, kind: mta, domains: [example.test], deliver_to: mda.example.test}
  - {name: mda.example.test, kind: mda, domains: [example.test]}
steps:
  - expect: {mailbox: bob@example.test, count: 3}
`)
	var c cli
	if code := c.run(t, "run", p); code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailed, c.stderr.String())
	}
	if !regexp.MustCompile(`FAIL .*fails\.yaml:10:\d+: step 1 \(expect\)`).MatchString(c.stdout.String()) {
		t.Fatalf("no FAIL line with the step's position:\n%s", c.stdout.String())
	}
}

func TestRunStepQuitStops(t *testing.T) {
	c := cli{in: "q\n"}
	if code := c.run(t, "run", "--step"); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitInterrupted, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "next  alice-laptop  smtp  C: EHLO alice-laptop.example.test") {
		t.Fatalf("step mode did not show the next line before sending it:\n%s", c.stderr.String())
	}
	if strings.Contains(c.stdout.String(), "C: EHLO") {
		t.Fatalf("EHLO was sent although the class pressed q:\n%s", c.stdout.String())
	}
}

func TestRunStepThroughEveryLine(t *testing.T) {
	c := cli{in: strings.Repeat("\n", 200)}
	if code := c.run(t, "run", "--step", "--explain"); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, c.stderr.String())
	}
	prompts := strings.Count(c.stderr.String(), "[Enter] send it, q stop")
	if prompts < 5 {
		t.Fatalf("only %d step prompts:\n%s", prompts, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "# The client introduces itself") {
		t.Errorf("the step prompt should carry the explanation of the line:\n%s", c.stderr.String())
	}
}

// startInProcess starts a scenario's agents in-process for the send tests.
func startInProcess(t *testing.T, name string) *scenarios.Lab {
	t.Helper()
	sc, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := scenarios.Start(context.Background(), sc, scenarios.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Stop(context.Background()) })
	return lab
}

func mtaAddr(t *testing.T, lab *scenarios.Lab) string {
	t.Helper()
	for _, a := range lab.Info().Agents {
		if addr, ok := a.Listen["smtp"]; ok {
			return addr
		}
	}
	t.Fatal("no SMTP listener in the lab")
	return ""
}

func TestSendDeliversAndShowsTheDialogue(t *testing.T) {
	lab := startInProcess(t, "first-message")
	var c cli
	code := c.run(t, "send", "--server", mtaAddr(t, lab), "--from", "Alice <alice@example.test>",
		"--to", "bob@example.test", "--subject", "Über alles", "--body", ".dot line\nsecond line")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "C: RCPT TO:<bob@example.test>") {
		t.Fatalf("the dialogue was not printed:\n%s", c.stdout.String())
	}
	msgs, err := lab.Store().List("bob@example.test")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("bob has %d messages (%v), want 1", len(msgs), err)
	}
	b, err := lab.Store().Read(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("\r\n\r\n.dot line\r\nsecond line\r\n")) {
		t.Fatalf("stored body is not what was sent:\n%q", b)
	}
}

func TestSendRefusedRecipientExitsOne(t *testing.T) {
	lab := startInProcess(t, "first-message")
	var c cli
	code := c.run(t, "send", "--server", mtaAddr(t, lab), "--from", "alice@example.test", "--to", "nobody@example.test")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "550 5.1.1") {
		t.Fatalf("stderr does not say why: %q", c.stderr.String())
	}
}

func TestSendUnreachableServerExitsFour(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	var c cli
	if code := c.run(t, "send", "--server", addr, "--from", "alice@example.test", "--to", "bob@example.test"); code != exitRuntime {
		t.Fatalf("exit %d, want %d: %s", code, exitRuntime, c.stderr.String())
	}
}

func TestSendNeedsItsFlags(t *testing.T) {
	var c cli
	if code := c.run(t, "send", "--from", "alice@example.test"); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(c.stderr.String(), `required flag(s) "server", "to" not set`) {
		t.Fatalf("stderr: %q", c.stderr.String())
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "bash completion", "zsh": "#compdef maillab", "fish": "complete -c maillab"} {
		var c cli
		if code := c.run(t, "completion", shell); code != exitOK {
			t.Fatalf("completion %s: exit %d", shell, code)
		}
		if !strings.Contains(c.stdout.String(), want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
}

// TestUpJSON drives "maillab up --json" in-process: one JSON object once
// everything listens, a working MTA at the address it gives, and a clean
// stop when the context ends (Ctrl-C).
func TestUpJSON(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	s := streams{in: strings.NewReader(""), out: pw, err: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"up", "--json", "--dir", t.TempDir()}, s)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading up --json: %v", err)
	}
	var info scenarios.LabInfo
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatalf("up --json printed %q: %v", line, err)
	}
	if len(info.Users) == 0 || info.Maildir == "" {
		t.Fatalf("incomplete lab description: %s", line)
	}
	var smtpAddr string
	for _, a := range info.Agents {
		if a.Kind == "mta" {
			smtpAddr = a.Listen["smtp"]
		}
	}
	conn, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatalf("the MTA at %q from up --json does not answer: %v", smtpAddr, err)
	}
	greeting, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(greeting, "220 ") {
		t.Fatalf("greeting %q", greeting)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != exitOK {
		t.Fatalf("up stopped with exit %d: %s", code, stderr.String())
	}
}

// Step mode covers reading too: the class sees each POP3 and IMAP line of
// the devices, explained for its own protocol, before it is sent.
func TestRunStepThroughPOPAndIMAP(t *testing.T) {
	c := cli{in: strings.Repeat("\n", 400)}
	if code := c.run(t, "run", "pop-vs-imap", "--step", "--explain"); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, c.stderr.String())
	}
	steps := c.stderr.String()
	for _, want := range []string{
		"next  bob-laptop  pop3  C: USER bob@example.test",
		"next  bob-laptop  pop3  C: PASS ***",
		"next  bob-phone  imap  C: a001 LOGIN bob@example.test ***",
		"next  bob-phone  imap  C: DONE",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("step mode did not show %q", want)
		}
	}
	if strings.Contains(steps, "PASS bob\n") || strings.Contains(steps, "LOGIN bob@example.test bob") {
		t.Errorf("step mode shows a password")
	}
	if !strings.Contains(steps, "RFC 1939") || !strings.Contains(steps, "RFC 3501") {
		t.Errorf("POP3 and IMAP lines are not explained for their protocol")
	}
}
