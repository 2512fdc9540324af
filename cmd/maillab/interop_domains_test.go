package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/scenarios"
)

// agentAddr returns where a lab agent listens for proto.
func (l *lab) agentAddr(t *testing.T, agent, proto string) string {
	t.Helper()
	for _, a := range l.info.Agents {
		if a.Name == agent {
			if addr, ok := a.Listen[proto]; ok {
				return addr
			}
		}
	}
	t.Fatalf("%s has no %s endpoint in %+v", agent, proto, l.info)
	return ""
}

// waitMessages waits until a user's INBOX (Maildir new/ and cur/) holds n
// messages, and returns their files.
func waitMessages(t *testing.T, maildir, addr string, n int, why func() string) []string {
	t.Helper()
	local, domain, _ := strings.Cut(strings.ToLower(addr), "@")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var files []string
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(maildir, domain, local, sub)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
		if len(files) >= n {
			return files
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d messages after 60s, want %d\n%s", addr, len(files), n, why())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The lab's DNS answers dig as a real authoritative server does.
func TestInteropDigAgainstTheLabDNS(t *testing.T) {
	dig := testtool.RequireTool(t, "dig")
	l := startLab(t, "two-domains")
	host, port := splitHostPort(l.agentAddr(t, "ns", "dns"))
	out, err := exec.Command(dig, "@"+host, "-p", port, "+norec", "MX", "b.example").CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"status: NOERROR", "flags: qr aa", "b.example.\t\t300\tIN\tMX\t10 mx.b.example.", "mx.b.example.\t\t300\tIN\tA\t127.0.2.1"} {
		if !strings.Contains(s, want) {
			t.Errorf("dig output lacks %q:\n%s", want, s)
		}
	}
	out, _ = exec.Command(dig, "@"+host, "-p", port, "+tcp", "MX", "nowhere.b.example").CombinedOutput()
	if !strings.Contains(string(out), "status: NXDOMAIN") {
		t.Errorf("dig +tcp for a name that does not exist:\n%s", out)
	}
}

// A closed MTA relays for a user who authenticates, and refuses a stranger
// at RCPT with 550 5.7.1; the relayed message reaches the other domain.
func TestInteropSwaksRelayPolicy(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	l := startLab(t, "two-domains")
	host, port := splitHostPort(l.agentAddr(t, "mx.a.example", "smtp"))
	// The test runs from 127.0.0.1, outside a.example's network.
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@a.example",
		"--to", "bob@b.example", "--timeout", "30").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "550 5.7.1") || !strings.Contains(string(out), "Relay access denied") {
		t.Fatalf("swaks without AUTH: err %v, want a 550 5.7.1 relay refusal:\n%s", err, out)
	}
	out, err = exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@a.example",
		"--to", "bob@b.example", "--auth", "PLAIN", "--auth-user", "alice@a.example", "--auth-password", "wrong",
		"--timeout", "30").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "535 5.7.8") {
		t.Fatalf("swaks with a wrong password: err %v, want 535 5.7.8:\n%s", err, out)
	}
	out, err = exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@a.example",
		"--to", "bob@b.example", "--auth", "LOGIN", "--auth-user", "alice@a.example", "--auth-password", "alice",
		"--header", "Subject: relayed after AUTH", "--timeout", "30").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "235 2.7.0") {
		t.Fatalf("swaks with AUTH LOGIN: %v\n%s", err, out)
	}
	files := waitMessages(t, l.info.Maildir, "bob@b.example", 1, l.stderr.String)
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Subject: relayed after AUTH") || strings.Count(string(b), "Received: ") != 3 {
		t.Errorf("bob's copy:\n%s", b)
	}
	if strings.Contains(l.stderr.String(), "alice\x00") {
		t.Errorf("the password appears in the transcript")
	}
}

// relaytest finds the lab's open relay open and its other MTAs closed.
func TestInteropRelaytestOnTheLab(t *testing.T) {
	bin := maillabBinary(t)
	l := startLab(t, "open-relay-spam")
	for _, tc := range []struct {
		agent string
		code  int
		open  bool
	}{
		{"mx.old.example", 1, true},
		{"mx.good.example", 0, false},
		{"mx.v.example", 0, false},
	} {
		cmd := exec.Command(bin, "relaytest", "--json", "--timeout", "20s", l.agentAddr(t, tc.agent, "smtp"))
		out, _ := cmd.Output()
		if got := cmd.ProcessState.ExitCode(); got != tc.code {
			t.Errorf("relaytest %s exited %d, want %d:\n%s", tc.agent, got, tc.code, out)
		}
		var rep struct {
			Open bool `json:"open"`
		}
		if err := json.Unmarshal(out, &rep); err != nil || rep.Open != tc.open {
			t.Errorf("relaytest %s: open = %v (%v), want %v", tc.agent, rep.Open, err, tc.open)
		}
	}
}

// crashLab is the scenario of the crash test: mx.b.example answers 451
// to every RCPT when broken is true, so mail piles up in mx.a.example's
// queue.
func crashLab(broken bool) string {
	faults := ""
	if broken {
		faults = `, faults: [{command: RCPT, reply: "451 4.3.0 Not now"}]`
	}
	return `name: crash
users:
  - {address: alice@a.example, password: alice}
  - {address: bob@b.example, password: bob}
agents:
  - {name: ns, kind: dns}
  - {name: mx.a.example, kind: mta, domains: [a.example], deliver_to: mda.a.example, relay_for: [127.0.0.1], retry: [300ms]}
  - {name: mda.a.example, kind: mda, domains: [a.example]}
  - {name: mx.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example` + faults + `}
  - {name: mda.b.example, kind: mda, domains: [b.example]}
`
}

// upProcess starts "maillab up FILE --dir DIR --json" and returns the
// process and its description.
func upProcess(t *testing.T, bin, file, dir string) (*exec.Cmd, scenarios.LabInfo, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "up", "--json", "--no-color", "--dir", dir, file)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("maillab up: %v\n%s", err, stderr)
	}
	var info scenarios.LabInfo
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatal(err)
	}
	return cmd, info, stderr
}

// The queue survives kill -9: messages accepted (250) while the peer
// refuses them for now are all delivered after a restart on the same
// directory, each exactly once.
func TestCrashRecoveryDeliversEveryAcceptedMessageOnce(t *testing.T) {
	bin := maillabBinary(t)
	dir := t.TempDir()
	broken := writeFile(t, "crash-broken.yaml", crashLab(true))
	fixed := writeFile(t, "crash-fixed.yaml", crashLab(false))

	cmd, info, stderr := upProcess(t, bin, broken, dir)
	var mtaA string
	for _, a := range info.Agents {
		if a.Name == "mx.a.example" {
			mtaA = a.Listen["smtp"]
		}
	}
	const n = 20
	accepted := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	killed := false
	for i := range n {
		if i == n/2 {
			// The first half waits in the queue (attempts keep getting
			// 451); kill the lab in the middle of the sending.
			time.Sleep(700 * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			killed = true
			cmd, info, stderr = upProcess(t, bin, broken, dir)
			for _, a := range info.Agents {
				if a.Name == "mx.a.example" {
					mtaA = a.Listen["smtp"]
				}
			}
		}
		id := fmt.Sprintf("<crash-%d@a.example>", i)
		if err := sendOne(ctx, mtaA, id); err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, stderr)
		}
		accepted[id] = true
	}
	if !killed {
		t.Fatal("the lab was never killed")
	}
	time.Sleep(700 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	// The queue on disk holds everything, as maillab queue shows.
	out, err := exec.Command(bin, "queue", "--dir", dir, "--json", "mx.a.example").Output()
	if err != nil {
		t.Fatalf("maillab queue: %v", err)
	}
	var q []queueReport
	if err := json.Unmarshal(out, &q); err != nil || len(q) != 1 || len(q[0].Messages) != n {
		t.Fatalf("maillab queue --json after the crash: %v, %d reports, want %d messages:\n%s", err, len(q), n, out)
	}

	// Start again, the peer working: every message arrives once.
	cmd, info, stderr = upProcess(t, bin, fixed, dir)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	files := waitMessages(t, info.Maildir, "bob@b.example", n, stderr.String)
	time.Sleep(500 * time.Millisecond) // a duplicate would show up now
	files = waitMessages(t, info.Maildir, "bob@b.example", n, stderr.String)
	seen := map[string]int{}
	idRE := regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := idRE.FindSubmatch(b)
		if m == nil {
			t.Fatalf("no Message-ID in %s", f)
		}
		seen[string(m[1])]++
	}
	for id := range accepted {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times, want once", id, seen[id])
		}
	}
	if len(files) != n {
		t.Errorf("%d messages delivered, want %d", len(files), n)
	}
}

// sendOne submits one message from 127.0.0.1 (mx.a.example relays for it).
func sendOne(ctx context.Context, addr, msgID string) error {
	msg := "From: alice@a.example\r\nTo: bob@b.example\r\nSubject: crash test\r\nMessage-ID: " + msgID + "\r\n\r\nhello\r\n"
	return sendRaw(ctx, addr, "alice@a.example", "bob@b.example", msg)
}

// sendRaw submits msg from 127.0.0.1 over SMTP in clear, without AUTH,
// and returns nil only on a 250 for the message.
func sendRaw(ctx context.Context, addr, from, to, msg string) error {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: netip.MustParseAddr("127.0.0.1").AsSlice()}}
	c, err := smtpclient.Dial(ctx, d.DialContext, addr, smtpclient.Options{LocalName: "test.example", CommandTimeout: 20 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	fromPath, err := mail.ParseAddress(from)
	if err != nil {
		return err
	}
	toPath, err := mail.ParseAddress(to)
	if err != nil {
		return err
	}
	res, err := c.SendMail(fromPath, []mail.Path{toPath}, strings.NewReader(msg), smtp.MailParams{})
	if err != nil {
		return err
	}
	for _, e := range res.Refused {
		return e
	}
	return c.Quit()
}

// The swaks lines "maillab up" prints under "Try it" work as printed: the
// one that logs in relays to the other domain, the one with TLS verifies
// the lab CA.
func TestUpTryItLinesWork(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	for _, tc := range []struct{ scenario, marker, mailbox string }{
		{"two-domains", "--auth PLAIN", "bob@b.example"},
		{"tls-and-auth", "--tls-verify", "bob@a.example"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			l := startLab(t, tc.scenario)
			sc, err := loadScenario(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			printLab(&b, sc, l.info)
			var line string
			for _, s := range strings.Split(b.String(), "\n") {
				if strings.Contains(s, "swaks ") && strings.Contains(s, tc.marker) {
					line = strings.TrimSpace(s)
					break
				}
			}
			if line == "" {
				t.Fatalf("no swaks line with %s in:\n%s", tc.marker, b.String())
			}
			args := strings.Fields(line)[1:]
			if out, err := exec.Command(swaks, append(args, "--timeout", "30")...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
			waitMessages(t, l.info.Maildir, tc.mailbox, 1, l.stderr.String)
		})
	}
}
