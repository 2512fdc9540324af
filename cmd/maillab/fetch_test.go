package main

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/maillab/maillab/scenarios"
)

func endpoint(t *testing.T, lab *scenarios.Lab, proto string) string {
	t.Helper()
	for _, a := range lab.Info().Agents {
		if addr, ok := a.Listen[proto]; ok {
			return addr
		}
	}
	t.Fatalf("no %s listener in the lab", proto)
	return ""
}

// deliverTwo sends two messages to bob through the lab's MTA with "maillab send".
func deliverTwo(t *testing.T, lab *scenarios.Lab) {
	t.Helper()
	for _, subject := range []string{"First", "Second"} {
		var c cli
		if code := c.run(t, "send", "--server", endpoint(t, lab, "smtp"), "--from", "alice@example.test",
			"--to", "bob@example.test", "--subject", subject, "--body", "Hello Bob"); code != exitOK {
			t.Fatalf("send: exit %d: %s", code, c.stderr.String())
		}
	}
}

func TestFetchPOP3LeavesThenDeletes(t *testing.T) {
	lab := startInProcess(t, "first-message")
	deliverTwo(t, lab)
	pop := endpoint(t, lab, "pop3")

	var keep cli
	if code := keep.run(t, "fetch", "--pop3", pop, "--user", "bob@example.test", "--password", "bob"); code != exitOK {
		t.Fatalf("fetch: exit %d: %s", code, keep.stderr.String())
	}
	out := keep.stdout.String()
	for _, want := range []string{"C: RETR 1", "C: RETR 2", "First", "Second", "2 downloaded, 0 deleted, 2 left on the server", "Hello Bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("fetch output lacks %q", want)
		}
	}
	if strings.Contains(out, "C: DELE") {
		t.Errorf("fetch without --delete sent DELE")
	}
	if strings.Contains(out, "C: PASS bob") {
		t.Errorf("the password is shown in the transcript")
	}

	var del cli
	if code := del.run(t, "fetch", "--pop3", pop, "--user", "bob@example.test", "--password", "bob", "--delete", "--list-only"); code != exitOK {
		t.Fatalf("fetch --delete: exit %d: %s", code, del.stderr.String())
	}
	if !strings.Contains(del.stdout.String(), "C: DELE 2") || !strings.Contains(del.stdout.String(), "2 downloaded, 2 deleted, 0 left on the server") {
		t.Fatalf("fetch --delete did not delete:\n%s", del.stdout.String())
	}
	msgs, err := lab.Store().List("bob@example.test")
	if err != nil || len(msgs) != 0 {
		t.Fatalf("after POP3 DELE and QUIT bob's Maildir holds %d messages (%v), want 0", len(msgs), err)
	}
}

func TestFetchIMAPMarksSeenAndKeeps(t *testing.T) {
	lab := startInProcess(t, "first-message")
	deliverTwo(t, lab)
	var c cli
	if code := c.run(t, "fetch", "--imap", endpoint(t, lab, "imap"), "--user", "bob", "--password", "bob", "--json"); code != exitOK {
		t.Fatalf("fetch --imap: exit %d: %s", code, c.stderr.String())
	}
	var last string
	sc := bufio.NewScanner(&c.stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		last = sc.Text()
	}
	var res struct {
		Messages []fetched `json:"messages"`
		Summary  string    `json:"summary"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("the last JSON line is not the message list: %q: %v", last, err)
	}
	if len(res.Messages) != 2 || res.Messages[0].Subject != "First" || !strings.Contains(res.Messages[1].Text, "Hello Bob") {
		t.Fatalf("messages: %+v", res.Messages)
	}
	msgs, err := lab.Store().List("bob@example.test")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("IMAP must leave the messages on the server: %d (%v)", len(msgs), err)
	}
	for _, m := range msgs {
		if !strings.Contains(m.Flags, "S") {
			t.Errorf("%s is not marked seen (:2,S) after FETCH BODY[]", m.Name)
		}
	}
}

func TestFetchRefusals(t *testing.T) {
	lab := startInProcess(t, "first-message")
	var bad cli
	if code := bad.run(t, "fetch", "--imap", endpoint(t, lab, "imap"), "--user", "bob", "--password", "wrong"); code != exitFailed {
		t.Fatalf("wrong password: exit %d, want %d: %s", code, exitFailed, bad.stderr.String())
	}
	if strings.Contains(bad.stderr.String(), "wrong") {
		t.Errorf("the error repeats the password: %q", bad.stderr.String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	var gone cli
	if code := gone.run(t, "fetch", "--pop3", closed, "--user", "bob", "--password", "bob"); code != exitRuntime {
		t.Fatalf("unreachable server: exit %d, want %d: %s", code, exitRuntime, gone.stderr.String())
	}
	var both cli
	if code := both.run(t, "fetch", "--imap", "127.0.0.1:1", "--pop3", "127.0.0.1:1", "--user", "u", "--password", "p"); code != exitUsage {
		t.Fatalf("--imap with --pop3: exit %d, want %d", code, exitUsage)
	}
	var none cli
	if code := none.run(t, "fetch", "--user", "u", "--password", "p"); code != exitUsage {
		t.Fatalf("neither --imap nor --pop3: exit %d, want %d", code, exitUsage)
	}
}

// --list-only over IMAP reads no message, so no \Seen is set.
func TestFetchIMAPListOnlyLeavesUnseen(t *testing.T) {
	lab := startInProcess(t, "first-message")
	deliverTwo(t, lab)
	var c cli
	if code := c.run(t, "fetch", "--imap", endpoint(t, lab, "imap"), "--user", "bob", "--password", "bob", "--list-only"); code != exitOK {
		t.Fatalf("fetch --imap --list-only: exit %d: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "First") || strings.Contains(c.stdout.String(), "BODY[]") {
		t.Errorf("list-only output:\n%s", c.stdout.String())
	}
	msgs, err := lab.Store().List("bob@example.test")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages (%v)", len(msgs), err)
	}
	for _, m := range msgs {
		if strings.Contains(m.Flags, "S") {
			t.Errorf("%s was marked seen by --list-only", m.Name)
		}
	}
}
