package main

// Interop tests: real clients (Python's smtplib, curl, swaks) against a real
// "maillab up" process, checking that what they send lands byte for byte in
// the right Maildir. A missing client skips the test on a laptop and fails it
// under CI (CI=true), where .ci/run installs every client.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/scenarios"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// maillabBinary builds the maillab command once per test run.
func maillabBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "maillab-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "maillab")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// lab is a running "maillab up --json" process.
type lab struct {
	info   scenarios.LabInfo
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLab runs "maillab up --json" on a scenario and reads its description.
// The process is stopped with SIGINT when the test ends, as Ctrl-C would.
func startLab(t *testing.T, scenario string) *lab {
	t.Helper()
	bin := maillabBinary(t)
	cmd := exec.Command(bin, "up", "--json", "--no-color", "--dir", t.TempDir(), scenario)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{stderr: &lockedBuffer{}}
	cmd.Stderr = l.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("maillab up did not stop cleanly on SIGINT: %v\nstderr:\n%s", err, l.stderr)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("maillab up did not stop within 30s of SIGINT")
		}
		if t.Failed() {
			t.Logf("maillab up transcript:\n%s", l.stderr)
		}
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading maillab up --json: %v\nstderr:\n%s", err, l.stderr)
	}
	if err := json.Unmarshal(line, &l.info); err != nil {
		t.Fatalf("maillab up --json printed %q: %v", line, err)
	}
	return l
}

// smtpAddr returns the host and port of the first agent listening for SMTP.
func (l *lab) smtpAddr(t *testing.T) (string, string) {
	t.Helper()
	for _, a := range l.info.Agents {
		if addr, ok := a.Listen["smtp"]; ok {
			host, port := splitHostPort(addr)
			return host, port
		}
	}
	t.Fatalf("no agent listens for SMTP in %+v", l.info)
	return "", ""
}

// storedMessage returns the one message in a user's Maildir new/. No
// waiting: the MTA answers 250 only once the message is durable in the
// Maildir, so by the time a client has its 250 the file must be there.
func (l *lab) storedMessage(t *testing.T, addr string) []byte {
	t.Helper()
	local, domain, _ := strings.Cut(strings.ToLower(addr), "@")
	dir := filepath.Join(l.info.Maildir, domain, local, "new")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("want exactly one message in %s, got %d (%v)\ntranscript:\n%s", dir, len(entries), err, l.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testMessage is a message with the things clients get wrong: lines that
// start with a dot (dot-stuffing), a lone dot, 8-bit UTF-8 text.
func testMessage(from, to, subject string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Hola Bob,\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\n" +
		"¡Ñandú! Grüße, 8-bit text.\r\nBye.\r\n")
}

func checkDelivered(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.HasSuffix(got, want) {
		t.Fatalf("the stored message does not end with the bytes sent.\nsent:\n%q\nstored:\n%q", want, got)
	}
	head := string(got[:len(got)-len(want)])
	for _, field := range []string{"Return-Path: <alice@example.test>", "Delivered-To: bob@example.test", "Received: "} {
		if !strings.Contains(head, field) {
			t.Errorf("the stored message lacks %q in the fields added on delivery:\n%s", field, head)
		}
	}
}

func TestInteropPythonSmtplib(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l := startLab(t, "first-message")
	host, port := l.smtpAddr(t)
	msg := testMessage("alice@example.test", "bob@example.test", "from smtplib")
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import smtplib, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
with smtplib.SMTP(host, port, timeout=30) as s:
    s.ehlo("python.example.test")
    assert s.has_extn("8bitmime"), "8BITMIME not advertised"
    assert s.has_extn("pipelining"), "PIPELINING not advertised"
    refused = s.sendmail("alice@example.test", ["bob@example.test"], data, mail_options=["BODY=8BITMIME"])
    assert refused == {}, refused
print("sent")
`
	out, err := exec.Command(py, "-c", script, host, port, msgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("python smtplib: %v\n%s\ntranscript:\n%s", err, out, l.stderr)
	}
	checkDelivered(t, l.storedMessage(t, "bob@example.test"), msg)
}

func TestInteropPythonTenMiB(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l := startLab(t, "first-message")
	host, port := l.smtpAddr(t)
	var b bytes.Buffer
	b.Write(testMessage("alice@example.test", "bob@example.test", "ten MiB"))
	for i := 0; b.Len() < 10<<20; i++ {
		fmt.Fprintf(&b, "%07d .line of a big message, with a dot after the number and 8-bit ñ text\r\n", i)
		if i%1000 == 0 {
			b.WriteString(".starts with a dot\r\n")
		}
	}
	msg := b.Bytes()
	msgFile := filepath.Join(t.TempDir(), "big.eml")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import smtplib, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
with smtplib.SMTP(host, port, timeout=120) as s:
    s.ehlo("python.example.test")
    s.sendmail("alice@example.test", ["bob@example.test"], data, mail_options=["BODY=8BITMIME"])
print("sent")
`
	out, err := exec.Command(py, "-c", script, host, port, msgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("python smtplib (10 MiB): %v\n%s", err, out)
	}
	checkDelivered(t, l.storedMessage(t, "bob@example.test"), msg)
}

func TestInteropCurl(t *testing.T) {
	curl := testtool.RequireTool(t, "curl")
	l := startLab(t, "first-message")
	host, port := l.smtpAddr(t)
	msg := testMessage("alice@example.test", "bob@example.test", "from curl")
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(curl, "--silent", "--show-error", "--max-time", "60",
		"--url", "smtp://"+host+":"+port+"/curl.example.test",
		"--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
		"--upload-file", msgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("curl smtp://: %v\n%s\ntranscript:\n%s", err, out, l.stderr)
	}
	checkDelivered(t, l.storedMessage(t, "bob@example.test"), msg)
}

func TestInteropSwaks(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	l := startLab(t, "first-message")
	host, port := l.smtpAddr(t)
	msg := testMessage("alice@example.test", "bob@example.test", "from swaks")
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	// swaks ends the data it is given with its own CRLF "." CRLF, so the
	// file leaves out the last CRLF of the message.
	if err := os.WriteFile(msgFile, bytes.TrimSuffix(msg, []byte("\r\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--helo", "swaks.example.test",
		"--from", "alice@example.test", "--to", "bob@example.test",
		"--data", "@"+msgFile, "--pipeline", "--timeout", "60").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s\ntranscript:\n%s", err, out, l.stderr)
	}
	checkDelivered(t, l.storedMessage(t, "bob@example.test"), msg)
}

func TestInteropSwaksUnknownUserIsRefused(t *testing.T) {
	swaks := testtool.RequireTool(t, "swaks")
	l := startLab(t, "first-message")
	host, port := l.smtpAddr(t)
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@example.test",
		"--to", "nobody@example.test", "--timeout", "30").CombinedOutput()
	if err == nil {
		t.Fatalf("swaks to an unknown user succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "550 5.1.1") {
		t.Fatalf("swaks output lacks the 550 5.1.1 refusal:\n%s", out)
	}
}
