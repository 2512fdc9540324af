package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/testtool"
)

// The folders the LDA makes are real Maildir++ folders: Python's imaplib
// lists them and counts their messages.
func TestInteropImaplibSeesTheLDAFolders(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l := startLab(t, "lda-rules")
	host, port := splitHostPort(l.agentAddr(t, "mx.b.example", "smtp"))
	for i, tc := range []struct{ to, subject, extra string }{
		{"bob@b.example", "[students] exam", "List-Id: <students.b.example>\r\n"},
		{"bob+shop@b.example", "order", ""},
		{"bob@b.example", "hello", ""},
	} {
		msg := fmt.Sprintf("From: alice@b.example\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <lda-%d@b.example>\r\n%s\r\nhi\r\n", tc.to, tc.subject, i, tc.extra)
		if err := sendPlain(host+":"+port, "alice@b.example", tc.to, msg); err != nil {
			t.Fatalf("sending %q: %v\n%s", tc.subject, err, l.stderr)
		}
	}
	_, iport := splitHostPort(l.agentAddr(t, "mda.b.example", "imap"))
	script := `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login("bob@b.example", "bob")
typ, lines = m.list()
names = sorted(l.decode().rsplit(" ", 1)[1].strip('"') for l in lines)
print("folders", " ".join(names))
for f in ("Lists", "Shop", "INBOX"):
    typ, data = m.select(f, readonly=True)
    print(f, data[0].decode())
m.logout()
`
	out, err := exec.Command(py, "-c", script, host, iport).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	for _, want := range []string{"folders INBOX Lists Shop", "Lists 1", "Shop 1", "INBOX 1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("imaplib output lacks %q:\n%s", want, out)
		}
	}
}

// sendPlain submits one message over SMTP in clear, without AUTH.
func sendPlain(addr, from, to, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return sendRaw(ctx, addr, from, to, msg)
}

// kill -9 while mail is being delivered through the LDA loses nothing:
// every message the MTA answered 250 is in a Maildir after a restart.
func TestLDACrashLosesNothing(t *testing.T) {
	bin := maillabBinary(t)
	dir := t.TempDir()
	cmd, info, stderr := upProcess(t, bin, "lda-rules", dir)
	var mtaAddr string
	for _, a := range info.Agents {
		if a.Name == "mx.b.example" {
			mtaAddr = a.Listen["smtp"]
		}
	}
	const n = 400
	var mu sync.Mutex
	accepted := map[string]bool{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			id := fmt.Sprintf("<crash-lda-%d@b.example>", i)
			to := []string{"bob@b.example", "bob+shop@b.example", "team@b.example"}[i%3]
			msg := "From: alice@b.example\r\nTo: " + to + "\r\nSubject: crash " + id + "\r\nMessage-ID: " + id + "\r\n\r\nhi\r\n"
			if err := sendPlain(mtaAddr, "alice@b.example", to, msg); err != nil {
				return // the lab was killed
			}
			mu.Lock()
			accepted[id] = true
			mu.Unlock()
		}
	}()
	// Kill the lab in the middle of the deliveries.
	deadline := time.Now().Add(30 * time.Second)
	for count() < 30 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	<-done
	if c := count(); c == n {
		t.Logf("the kill came after all %d messages (the test still checks them)", n)
	} else {
		t.Logf("killed after %d of %d messages were accepted", c, n)
	}
	// Every accepted message is in some Maildir of the lab.
	found := map[string]bool{}
	idRE := regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)`)
	_ = filepath.WalkDir(info.Maildir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(path, string(filepath.Separator)+"cur"+string(filepath.Separator)) && !strings.Contains(path, string(filepath.Separator)+"new"+string(filepath.Separator)) {
			return nil
		}
		b, rerr := os.ReadFile(path)
		if rerr == nil {
			if m := idRE.FindSubmatch(b); m != nil {
				found[string(m[1])] = true
			}
		}
		return nil
	})
	for id := range accepted {
		if !found[id] {
			t.Errorf("%s was accepted (250) but is in no Maildir after kill -9\n%s", id, stderr)
		}
	}
	// The lab starts again on the same directory.
	cmd2, _, _ := upProcess(t, bin, "lda-rules", dir)
	_ = cmd2.Process.Signal(syscall.SIGINT)
	_ = cmd2.Wait()
}
