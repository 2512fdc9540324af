package pop3server

// Interop tests: real clients (Python's poplib, curl) against the server
// with a MemoryBackend on loopback. A missing client skips the test on a
// laptop and fails it under CI (CI=true), where every client is installed.

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/internal/testtool"
)

const poplibScript = `
import poplib, sys
host, port = sys.argv[1], int(sys.argv[2])
p = poplib.POP3(host, port, timeout=60)
print("welcome", p.getwelcome().decode())
caps = p.capa()
print("capa", " ".join(sorted(caps)))
p.apop("bob", "secret")
print("stat", *p.stat())
print("list", [l.decode() for l in p.list()[1]])
print("uidl", [l.decode() for l in p.uidl()[1]])
print("retr", [l.decode() for l in p.retr(2)[1]])
print("top", [l.decode() for l in p.top(1, 0)[1]])
print("dele", p.dele(1).decode())
print("quit", p.quit().decode())
`

func TestInteropPythonPoplib(t *testing.T) {
	py := testtool.RequireWorkingTool(t, "python3", "-c", "import poplib")
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	host, port, _ := net.SplitHostPort(addr)
	got := strings.Split(strings.TrimSpace(testtool.Output(t, safety, py, "-c", poplibScript, host, port)), "\n")
	want := []string{
		"welcome +OK maillab POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
		"capa AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER",
		"stat 2 " + itoa(len(msg1)+len(msg2)),
		"list ['1 " + itoa(len(msg1)) + "', '2 " + itoa(len(msg2)) + "']",
		"uidl ['1 mem-1', '2 mem-2']",
		// poplib removes the dot-stuffing: ".dotted line" comes back whole.
		"retr ['From: carol@example.test', 'Subject: two', '', 'line 1', '.dotted line', 'line 3']",
		"top ['From: alice@example.test', 'Subject: one', '']",
		"dele +OK message 1 deleted",
		"quit +OK maillab POP3 server signing off (1 messages deleted)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("poplib session (-want +got):\n%s", diff)
	}
	if m := b.Messages("bob"); len(m) != 1 || string(m[0]) != msg2 {
		t.Errorf("after poplib's QUIT the maildrop holds %q, want message 2 only", m)
	}
}

func TestInteropCurl(t *testing.T) {
	curl := testtool.RequireWorkingTool(t, "curl", "--version")
	b := bobBackend()
	_, addr := startServer(t, testOptions(), b)
	// curl reads CAPA, logs in (AUTH PLAIN, as SASL PLAIN is offered),
	// sends LIST for "/" and RETR 2 for "/2".
	list := testtool.Output(t, safety, curl, "-sS", "--max-time", "60", "pop3://bob:secret@"+addr+"/")
	if want := "1 " + itoa(len(msg1)) + "\r\n2 " + itoa(len(msg2)) + "\r\n"; list != want {
		t.Errorf("curl LIST = %q, want %q", list, want)
	}
	// curl removes the dot-stuffing.
	if retr := testtool.Output(t, safety, curl, "-sS", "--max-time", "60", "pop3://bob:secret@"+addr+"/2"); retr != msg2 {
		t.Errorf("curl RETR 2 = %q, want %q", retr, msg2)
	}
	// curl closes the connection without QUIT: nothing is deleted.
	if n := len(b.Messages("bob")); n != 2 {
		t.Errorf("after curl: %d messages, want 2", n)
	}
}
