package main

// Interop tests of the reading side: real POP3 and IMAP clients (Python's
// poplib and imaplib, curl, and the independent Go IMAP client
// github.com/emersion/go-imap/v2) against a real "maillab up" process. Mail
// is delivered over SMTP to the lab's MTA first; what the clients read,
// flag, copy, move and delete is checked against the Maildir on disk. As in
// interop_test.go a missing client skips on a laptop and fails under CI, and
// a failed test logs the lab's transcript (startLab's cleanup does).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/maillab/maillab/internal/testtool"
)

// interopTimeout bounds every external client run and every wait.
const interopTimeout = 20 * time.Second

// listenAddr returns the host:port where an agent of the lab listens for
// proto ("imap", "pop3", "smtp", "lmtp").
func (l *lab) listenAddr(t *testing.T, proto string) string {
	t.Helper()
	for _, a := range l.info.Agents {
		if addr, ok := a.Listen[proto]; ok {
			return addr
		}
	}
	t.Fatalf("no agent listens for %s in %+v", proto, l.info)
	return ""
}

// deliverSMTP sends msg from -> to through the lab's MTA with Go's
// net/smtp. The MTA answers 250 only once the MDA has stored the message,
// so the file is in the Maildir when this returns.
func (l *lab) deliverSMTP(t *testing.T, from, to string, msg []byte) {
	t.Helper()
	if err := l.trySMTP(from, to, msg); err != nil {
		t.Fatalf("delivering a message to %s over SMTP: %v", to, err)
	}
}

// trySMTP is deliverSMTP for goroutines, where t.Fatal is not allowed.
func (l *lab) trySMTP(from, to string, msg []byte) error {
	var addr string
	for _, a := range l.info.Agents {
		if a.Kind == "mta" {
			addr = a.Listen["smtp"]
		}
	}
	conn, err := net.DialTimeout("tcp", addr, interopTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(interopTimeout)); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	if err := c.Hello("interop.example.test"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// mdFile is one message file of a Maildir folder.
type mdFile struct {
	Path  string
	Sub   string // "new" or "cur"
	Key   string // the file name before ":2,"
	Flags string // the letters after ":2,"
	Data  []byte
}

// folderDir is the directory of a user's folder: the Maildir itself for
// INBOX, ".Name" (levels joined with ".") for the others — the names the
// tests use are plain ASCII without dots, which Maildir++ keeps as they are.
func (l *lab) folderDir(addr, folder string) string {
	local, domain, _ := strings.Cut(strings.ToLower(addr), "@")
	dir := filepath.Join(l.info.Maildir, domain, local)
	if folder == "" || strings.EqualFold(folder, "INBOX") {
		return dir
	}
	return filepath.Join(dir, "."+strings.ReplaceAll(folder, "/", "."))
}

// maildirFiles reads every message of a folder (new/ and cur/).
func (l *lab) maildirFiles(t *testing.T, addr, folder string) []mdFile {
	t.Helper()
	dir := l.folderDir(addr, folder)
	var files []mdFile
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatalf("reading the Maildir of %s, folder %q: %v", addr, folder, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, sub, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			key, flags, _ := strings.Cut(e.Name(), ":2,")
			files = append(files, mdFile{Path: p, Sub: sub, Key: key, Flags: flags, Data: data})
		}
	}
	return files
}

// findFile returns the one message of a folder whose Subject is subject,
// and whether there is one; more than one fails the test.
func (l *lab) findFile(t *testing.T, addr, folder, subject string) (mdFile, bool) {
	t.Helper()
	var found []mdFile
	for _, f := range l.maildirFiles(t, addr, folder) {
		if bytes.Contains(mdHeader(f.Data), []byte("\r\nSubject: "+subject+"\r\n")) {
			found = append(found, f)
		}
	}
	if len(found) > 1 {
		t.Fatalf("%d messages with Subject %q in %s's folder %q: %+v", len(found), subject, addr, folder, found)
	}
	if len(found) == 0 {
		return mdFile{}, false
	}
	return found[0], true
}

// mustFile is findFile for a message that must be there.
func (l *lab) mustFile(t *testing.T, addr, folder, subject string) mdFile {
	t.Helper()
	f, ok := l.findFile(t, addr, folder, subject)
	if !ok {
		var names []string
		for _, f := range l.maildirFiles(t, addr, folder) {
			names = append(names, f.Sub+"/"+f.Key+":2,"+f.Flags)
		}
		t.Fatalf("no message with Subject %q in %s's folder %q; the folder holds %q", subject, addr, folder, names)
	}
	return f
}

// uidOf reads the UID the store gave a message key from the folder's
// maillab-uidlist ("uid :key" lines after a header).
func (l *lab) uidOf(t *testing.T, addr, folder, key string) uint32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.folderDir(addr, folder), "maillab-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		uid, k, ok := strings.Cut(line, " :")
		if ok && k == key {
			n, err := strconv.ParseUint(uid, 10, 32)
			if err != nil {
				t.Fatalf("bad UID list line %q", line)
			}
			return uint32(n)
		}
	}
	t.Fatalf("key %s is not in the UID list of %s's folder %q:\n%s", key, addr, folder, b)
	return 0
}

// mdHeader is the header of a message up to and including the empty line.
func mdHeader(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4]
	}
	return msg
}

// mdBody is what follows the empty line.
func mdBody(msg []byte) []byte { return msg[len(mdHeader(msg)):] }

// interopRun runs an external client with a bounded time and returns its
// standard output; a failure shows both outputs (and startLab's cleanup
// the lab's transcript).
func (l *lab) interopRun(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), clipArgs(args), err, out, stderr.String())
	}
	return out
}

// clipArgs shortens long arguments (inline Python scripts) for messages.
func clipArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 60 {
			a = a[:60] + "..."
		}
		out[i] = a
	}
	return out
}

// latin1 turns a Python str decoded as Latin-1 back into its bytes.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

// plainMessage is a small text message with a given From and Subject.
func plainMessage(from, subject, body string) []byte {
	return []byte("From: " + from + "\r\nTo: Bob <bob@example.test>\r\nSubject: " + subject +
		"\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.test>\r\n\r\n" + body)
}

// --- POP3: Python's poplib ------------------------------------------------

const poplibReadScript = `
import base64, json, poplib, re, sys, time
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
local = user.split("@")[0]
out = {}

def b64(b):
    return base64.b64encode(b).decode()

def text(resp):
    # poplib strips CRLF and the dot-stuffing: put the line ends back.
    return b"".join(l + b"\r\n" for l in resp[1])

def login(apop):
    # The maildrop lock of a session that just ended is released after its
    # last reply, so a new login may still see [IN-USE] for a moment:
    # retry that (only that) within a bounded time.
    deadline = time.monotonic() + 10
    while True:
        p = poplib.POP3(host, port, timeout=10)
        try:
            if apop:
                p.apop(local, password)
            else:
                p.user(user)
                p.pass_(password)
            return p
        except poplib.error_proto as e:
            p.quit()
            if not e.args[0].startswith(b"-ERR [IN-USE]") or time.monotonic() > deadline:
                raise
            time.sleep(0.005)

# Session A: USER with the full address, PASS.
a = poplib.POP3(host, port, timeout=10)
welcome = a.getwelcome()
out["welcome"] = welcome.decode()
a.user(user)
out["pass"] = a.pass_(password).decode()
out["stat"] = list(a.stat())
out["list"] = [l.decode() for l in a.list()[1]]
out["uidl"] = [l.decode() for l in a.uidl()[1]]
out["uidl2"] = a.uidl(2).decode()
out["retr"] = [b64(text(a.retr(i))) for i in (1, 2)]
out["top0"] = b64(text(a.top(1, 0)))
out["top2"] = b64(text(a.top(2, 2)))

# Session B, while A holds the maildrop: refused with [IN-USE].
b = poplib.POP3(host, port, timeout=10)
b.user(local)
try:
    out["second"] = b.pass_(password).decode()
except poplib.error_proto as e:
    out["second"] = e.args[0].decode()
b.quit()

# A deletes message 1 and quits: the UPDATE state removes it.
out["dele"] = a.dele(1).decode()
out["quit"] = a.quit().decode()

# Session C: APOP when the greeting has a timestamp; marks the remaining
# message deleted, then drops the connection without QUIT.
out["apop"] = re.search(rb"<[^<>@]+@[^<>]+>", welcome) is not None
c = login(out["apop"])
out["c_stat"] = list(c.stat())
out["c_uidl"] = [l.decode() for l in c.uidl()[1]]
out["c_dele"] = c.dele(1).decode()
c.file.close()
c.sock.close()

# Session D: the dropped session deleted nothing.
d = login(False)
out["d_stat"] = list(d.stat())
out["d_uidl"] = [l.decode() for l in d.uidl()[1]]
out["d_quit"] = d.quit().decode()
print(json.dumps(out))
`

func TestInteropPythonPoplibReads(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l := startLab(t, "first-message")
	const bob = "bob@example.test"
	l.deliverSMTP(t, "alice@example.test", bob, testMessage("alice@example.test", bob, "pop one"))
	l.deliverSMTP(t, "alice@example.test", bob, testMessage("alice@example.test", bob, "pop two"))
	one, two := l.mustFile(t, bob, "INBOX", "pop one"), l.mustFile(t, bob, "INBOX", "pop two")

	addr := l.listenAddr(t, "pop3")
	host, port, _ := net.SplitHostPort(addr)
	raw := l.interopRun(t, py, "-c", poplibReadScript, host, port, bob, "bob")
	var got struct {
		Welcome, Pass, Uidl2, Second, Dele, Quit, CDele, DQuit string
		Stat, CStat, DStat                                     []int
		List, Uidl, CUidl, DUidl                               []string
		Retr                                                   []string
		Top0, Top2                                             string
		Apop                                                   bool
	}
	// JSON keys are snake_case; map them by hand to keep the struct short.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("poplib script printed %q: %v", raw, err)
	}
	for k, dst := range map[string]any{
		"welcome": &got.Welcome, "pass": &got.Pass, "uidl2": &got.Uidl2, "second": &got.Second,
		"dele": &got.Dele, "quit": &got.Quit, "c_dele": &got.CDele, "d_quit": &got.DQuit,
		"stat": &got.Stat, "c_stat": &got.CStat, "d_stat": &got.DStat,
		"list": &got.List, "uidl": &got.Uidl, "c_uidl": &got.CUidl, "d_uidl": &got.DUidl,
		"retr": &got.Retr, "top0": &got.Top0, "top2": &got.Top2, "apop": &got.Apop,
	} {
		if err := json.Unmarshal(m[k], dst); err != nil {
			t.Fatalf("poplib result %q = %s: %v", k, m[k], err)
		}
	}
	dec := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	size1, size2 := len(one.Data), len(two.Data)
	if !strings.HasPrefix(got.Pass, "+OK") {
		t.Errorf("PASS answered %q", got.Pass)
	}
	if want := []int{2, size1 + size2}; !slices.Equal(got.Stat, want) {
		t.Errorf("STAT = %v, want %v", got.Stat, want)
	}
	if want := []string{"1 " + strconv.Itoa(size1), "2 " + strconv.Itoa(size2)}; !slices.Equal(got.List, want) {
		t.Errorf("LIST = %q, want %q (the Maildir file sizes)", got.List, want)
	}
	if want := []string{"1 " + one.Key, "2 " + two.Key}; !slices.Equal(got.Uidl, want) {
		t.Errorf("UIDL = %q, want %q (the Maildir keys)", got.Uidl, want)
	}
	if want := "+OK 2 " + two.Key; got.Uidl2 != want {
		t.Errorf("UIDL 2 = %q, want %q", got.Uidl2, want)
	}
	if len(got.Retr) != 2 || !bytes.Equal(dec(got.Retr[0]), one.Data) || !bytes.Equal(dec(got.Retr[1]), two.Data) {
		t.Errorf("RETR 1 and 2 differ from the Maildir files:\nRETR:  %q\nfiles: %q", got.Retr, [][]byte{one.Data, two.Data})
	}
	if top0 := dec(got.Top0); !bytes.Equal(top0, mdHeader(one.Data)) {
		t.Errorf("TOP 1 0 = %q, want the header of message 1 %q", top0, mdHeader(one.Data))
	}
	wantTop2 := append(append([]byte{}, mdHeader(two.Data)...), "Hola Bob,\r\n.a line that starts with a dot\r\n"...)
	if top2 := dec(got.Top2); !bytes.Equal(top2, wantTop2) {
		t.Errorf("TOP 2 2 = %q, want %q", top2, wantTop2)
	}
	if !strings.HasPrefix(got.Second, "-ERR [IN-USE]") {
		t.Errorf("a second login while the first session holds the maildrop got %q, want -ERR [IN-USE]", got.Second)
	}
	if !strings.HasPrefix(got.Dele, "+OK") || !strings.HasPrefix(got.Quit, "+OK") {
		t.Errorf("DELE 1 = %q, QUIT = %q", got.Dele, got.Quit)
	}
	if !got.Apop {
		t.Errorf("the greeting %q has no APOP timestamp, so APOP was not tried", got.Welcome)
	}
	if want := []int{1, size2}; !slices.Equal(got.CStat, want) {
		t.Errorf("after DELE 1 + QUIT, the next session's STAT = %v, want %v", got.CStat, want)
	}
	if want := []string{"1 " + two.Key}; !slices.Equal(got.CUidl, want) || !slices.Equal(got.DUidl, want) {
		t.Errorf("UIDL after DELE+QUIT = %q, after the dropped session = %q; want %q both times", got.CUidl, got.DUidl, want)
	}
	if want := []int{1, size2}; !slices.Equal(got.DStat, want) {
		t.Errorf("after a session marked message 1 deleted and dropped the connection, STAT = %v, want %v", got.DStat, want)
	}
	// On disk: QUIT removed message 1, the dropped session removed nothing.
	if f, ok := l.findFile(t, bob, "INBOX", "pop one"); ok {
		t.Errorf("after DELE 1 and QUIT the file is still there: %s", f.Path)
	}
	if f := l.mustFile(t, bob, "INBOX", "pop two"); !bytes.Equal(f.Data, two.Data) {
		t.Errorf("message 2 changed on disk")
	}
}

// --- IMAP: Python's imaplib -----------------------------------------------

const imaplibScript = `
import datetime, imaplib, json, smtplib, sys
host, port, smtp_host, smtp_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
appended, idle_msg = open(sys.argv[5], "rb").read(), open(sys.argv[6], "rb").read()
out = {}

def s(b):
    return b.decode("latin-1") if isinstance(b, bytes) else str(b)

def flat(data):
    r = []
    for d in data:
        if isinstance(d, tuple):
            r.append("".join(s(x) for x in d))
        elif d is not None:
            r.append(s(d))
    return r

def ok(name, res):
    typ, data = res
    if typ != "OK":
        raise SystemExit("%s: %s %r" % (name, typ, data))
    out[name] = flat(data)
    return data

M = imaplib.IMAP4(host, port, timeout=10)
ok("capability", M.capability())
ok("login", M.login("bob", "bob"))
ok("list", M.list())
ok("select", M.select("INBOX"))
out["peek_header"] = s(ok("fetch_peek_header", M.fetch("1", "(BODY.PEEK[HEADER])"))[0][1])
ok("fetch_flags", M.fetch("1:2", "(FLAGS)"))
ok("fetch_envelope", M.fetch("1", "(ENVELOPE)"))
ok("fetch_bodystructure", M.fetch("1", "(BODYSTRUCTURE)"))
out["rfc822"] = s(ok("fetch_rfc822", M.fetch("1", "(RFC822)"))[0][1])
out["rfc822_header"] = s(ok("fetch_rfc822_header", M.fetch("2", "(RFC822.HEADER)"))[0][1])
ok("fetch_all_macro", M.fetch("2", "ALL"))
ok("search_all", M.search(None, "ALL"))
ok("search_unseen", M.search(None, "UNSEEN"))
ok("search_from", M.search(None, "FROM", '"carol"'))
ok("search_subject", M.search(None, "SUBJECT", '"imap one"'))
ok("store", M.store("2", "+FLAGS", "(\\Seen)"))
ok("search_unseen_after_store", M.search(None, "UNSEEN"))
ok("create", M.create("Saved"))
ok("copy", M.copy("1", "Saved"))
ok("store_deleted", M.store("1", "+FLAGS", "(\\Deleted)"))
ok("expunge", M.expunge())
date = datetime.datetime(2024, 2, 29, 13, 14, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
ok("append", M.append("Saved", "(\\Flagged)", date, appended))
ok("status", M.status("Saved", "(MESSAGES UNSEEN)"))

# IDLE with raw commands: imaplib of Python < 3.14 has no idle().
tag = M._new_tag()
M.send(tag + b" IDLE\r\n")
out["idle_cont"] = s(M.readline())
with smtplib.SMTP(smtp_host, smtp_port, timeout=10) as sm:
    sm.sendmail("alice@example.test", ["bob@example.test"], idle_msg)
pushed = []
while True:
    line = M.readline()
    if not line:
        raise SystemExit("IDLE: the server closed the connection; got %r" % pushed)
    pushed.append(s(line))
    if b"EXISTS" in line:
        break
out["idle_pushed"] = pushed
M.send(b"DONE\r\n")
rest = []
while True:
    line = M.readline()
    if not line:
        raise SystemExit("DONE: the server closed the connection; got %r" % rest)
    rest.append(s(line))
    if line.startswith(tag + b" "):
        break
out["idle_done"] = rest
typ, data = M.logout()
out["logout"] = [typ] + flat(data)
print(json.dumps(out))
`

func TestInteropPythonImaplib(t *testing.T) {
	py := testtool.RequireTool(t, "python3")
	l := startLab(t, "first-message")
	const bob = "bob@example.test"
	l.deliverSMTP(t, "alice@example.test", bob, plainMessage("Alice <alice@example.test>", "imap one", "First.\r\n"))
	l.deliverSMTP(t, "alice@example.test", bob, plainMessage("Carol <carol@example.test>", "imap two", "Second.\r\n"))
	one, two := l.mustFile(t, bob, "INBOX", "imap one"), l.mustFile(t, bob, "INBOX", "imap two")

	dir := t.TempDir()
	appended := plainMessage("Bob <bob@example.test>", "imap appended", "Kept for later.\r\n")
	idleMsg := plainMessage("Alice <alice@example.test>", "imap idle", "Pushed while idling.\r\n")
	appendFile, idleFile := filepath.Join(dir, "appended.eml"), filepath.Join(dir, "idle.eml")
	if err := os.WriteFile(appendFile, appended, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idleFile, idleMsg, 0o600); err != nil {
		t.Fatal(err)
	}
	imapHost, imapPort, _ := net.SplitHostPort(l.listenAddr(t, "imap"))
	smtpHost, smtpPort := l.smtpAddr(t)
	raw := l.interopRun(t, py, "-c", imaplibScript, imapHost, imapPort, smtpHost, smtpPort, appendFile, idleFile)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("imaplib script printed %q: %v", raw, err)
	}
	str := func(k string) string {
		switch v := got[k].(type) {
		case string:
			return v
		case []any:
			var parts []string
			for _, p := range v {
				parts = append(parts, p.(string))
			}
			return strings.Join(parts, "\n")
		}
		t.Errorf("imaplib result %q missing: %v", k, got[k])
		return ""
	}
	contains := func(k string, want ...string) {
		t.Helper()
		s := str(k)
		for _, w := range want {
			if !strings.Contains(strings.ToUpper(s), strings.ToUpper(w)) {
				t.Errorf("imaplib %s = %q, want it to contain %q", k, s, w)
			}
		}
	}
	equal := func(k, want string) {
		t.Helper()
		if s := str(k); s != want {
			t.Errorf("imaplib %s = %q, want %q", k, s, want)
		}
	}

	contains("capability", "IMAP4rev1", "IDLE", "UIDPLUS")
	contains("list", `"/" INBOX`)
	equal("select", "2")
	if h := latin1(str("peek_header")); !bytes.Equal(h, mdHeader(one.Data)) {
		t.Errorf("BODY.PEEK[HEADER] = %q, want the header on disk %q", h, mdHeader(one.Data))
	}
	if s := str("fetch_flags"); strings.Contains(s, `\Seen`) {
		t.Errorf("FLAGS after BODY.PEEK = %q: PEEK must not set \\Seen", s)
	}
	contains("fetch_envelope", `"Mon, 01 Jan 2024 10:00:00 +0000" "imap one" (("Alice" NIL "alice" "example.test"))`,
		`(("Bob" NIL "bob" "example.test"))`, `"<imap.one@example.test>"`)
	contains("fetch_bodystructure", `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" `+strconv.Itoa(len(mdBody(one.Data)))+" 1")
	if b := latin1(str("rfc822")); !bytes.Equal(b, one.Data) {
		t.Errorf("FETCH RFC822 = %q, want the file on disk %q", b, one.Data)
	}
	if h := latin1(str("rfc822_header")); !bytes.Equal(h, mdHeader(two.Data)) {
		t.Errorf("FETCH RFC822.HEADER = %q, want the header on disk %q", h, mdHeader(two.Data))
	}
	contains("fetch_all_macro", "FLAGS (", "INTERNALDATE ", "RFC822.SIZE "+strconv.Itoa(len(two.Data)), `ENVELOPE ("Mon, 01 Jan 2024 10:00:00 +0000" "imap two" (("Carol" NIL "carol" "example.test"))`)
	equal("search_all", "1 2")
	equal("search_unseen", "2") // FETCH RFC822 set \Seen on message 1
	equal("search_from", "2")
	equal("search_subject", "1")
	contains("store", `2 (FLAGS (`, `\Seen`)
	equal("search_unseen_after_store", "")
	contains("copy", "[COPYUID ")
	equal("expunge", "1")
	contains("append", "[APPENDUID ")
	contains("status", "Saved (", "MESSAGES 2", "UNSEEN 1")
	if s := str("idle_cont"); !strings.HasPrefix(s, "+") {
		t.Errorf("IDLE got %q, want a continuation request", s)
	}
	// INBOX had one message left after EXPUNGE; the delivery makes two.
	contains("idle_pushed", "* 2 EXISTS")
	if lines := got["idle_done"].([]any); !strings.Contains(lines[len(lines)-1].(string), " OK") {
		t.Errorf("DONE was answered %q", lines)
	}
	contains("logout", "BYE")

	// On disk: message 2 is \Seen (":2,S"), message 1 is gone from INBOX
	// and its copy in .Saved/ is \Seen and byte for byte the same; the
	// appended message is \Flagged there; the IDLE delivery is in INBOX.
	if f := l.mustFile(t, bob, "INBOX", "imap two"); f.Sub != "cur" || f.Flags != "S" {
		t.Errorf("after STORE +FLAGS (\\Seen) message 2 is %s/%s:2,%s, want cur/ and :2,S", f.Sub, f.Key, f.Flags)
	}
	if f, ok := l.findFile(t, bob, "INBOX", "imap one"); ok {
		t.Errorf("after STORE \\Deleted and EXPUNGE message 1 is still in INBOX: %s", f.Path)
	}
	if _, err := os.Stat(filepath.Join(l.folderDir(bob, "Saved"), "maildirfolder")); err != nil {
		t.Errorf("CREATE Saved made no Maildir++ folder .Saved/: %v", err)
	}
	if f := l.mustFile(t, bob, "Saved", "imap one"); !bytes.Equal(f.Data, one.Data) || f.Flags != "S" {
		t.Errorf("the copy in .Saved/ has flags %q and bytes %q; want S and %q", f.Flags, f.Data, one.Data)
	}
	if f := l.mustFile(t, bob, "Saved", "imap appended"); !bytes.Equal(f.Data, appended) || f.Flags != "F" {
		t.Errorf("the appended message in .Saved/ has flags %q and bytes %q; want F and %q", f.Flags, f.Data, appended)
	}
	l.mustFile(t, bob, "INBOX", "imap idle")
}

// --- curl: pop3:// and imap:// --------------------------------------------

func TestInteropCurlReads(t *testing.T) {
	curl := testtool.RequireTool(t, "curl")
	l := startLab(t, "first-message")
	const bob = "bob@example.test"
	l.deliverSMTP(t, "alice@example.test", bob, testMessage("alice@example.test", bob, "curl one"))
	msg := l.mustFile(t, bob, "INBOX", "curl one")
	pop3 := "pop3://" + l.listenAddr(t, "pop3")
	imapURL := "imap://" + l.listenAddr(t, "imap")
	run := func(args ...string) []byte {
		t.Helper()
		return l.interopRun(t, curl, append([]string{"--silent", "--show-error", "--max-time", "15", "--user", bob + ":bob"}, args...)...)
	}

	// POP3: LIST, UIDL (a custom command), RETR 1.
	if got, want := string(run(pop3+"/")), "1 "+strconv.Itoa(len(msg.Data))+"\r\n"; got != want {
		t.Errorf("curl pop3:// LIST = %q, want %q", got, want)
	}
	if got, want := string(run(pop3+"/", "--request", "UIDL")), "1 "+msg.Key+"\r\n"; got != want {
		t.Errorf("curl pop3:// -X UIDL = %q, want %q", got, want)
	}
	if got := run(pop3 + "/1"); !bytes.Equal(got, msg.Data) {
		t.Errorf("curl pop3:///1 (RETR 1) = %q, want the file on disk %q", got, msg.Data)
	}

	// IMAP: SEARCH gives the UIDs their first scan; then fetch by the UID
	// the store wrote in maillab-uidlist.
	if got := string(run(imapURL + "/INBOX?ALL")); !strings.Contains(got, "* SEARCH 1") {
		t.Errorf("curl imap:///INBOX?ALL = %q, want * SEARCH 1", got)
	}
	msg = l.mustFile(t, bob, "INBOX", "curl one")
	uid := strconv.Itoa(int(l.uidOf(t, bob, "INBOX", msg.Key)))
	if got := run(imapURL + "/INBOX;UID=" + uid); !bytes.Equal(got, msg.Data) {
		t.Errorf("curl imap:///INBOX;UID=%s = %q, want the file on disk %q", uid, got, msg.Data)
	}
	if got := run(imapURL + "/INBOX;UID=" + uid + ";SECTION=TEXT"); !bytes.Equal(got, mdBody(msg.Data)) {
		t.Errorf("curl imap:///INBOX;UID=%s;SECTION=TEXT = %q, want %q", uid, got, mdBody(msg.Data))
	}
	run(imapURL+"/", "--request", "CREATE Archive")
	list := string(run(imapURL+"/", "--request", `LIST "" *`))
	for _, want := range []string{`"/" INBOX`, `"/" Archive`} {
		if !strings.Contains(list, want) {
			t.Errorf("curl imap:// -X 'LIST \"\" *' = %q, want it to contain %q", list, want)
		}
	}
	if _, err := os.Stat(filepath.Join(l.folderDir(bob, "Archive"), "cur")); err != nil {
		t.Errorf("CREATE Archive made no .Archive/ Maildir: %v", err)
	}
	// BODY[] fetches set \Seen: the file moved to cur/ with :2,S.
	if f := l.mustFile(t, bob, "INBOX", "curl one"); f.Sub != "cur" || f.Flags != "S" {
		t.Errorf("after curl's FETCH BODY[] the message is %s/%s:2,%s, want cur/ :2,S", f.Sub, f.Key, f.Flags)
	}
}

// --- IMAP: github.com/emersion/go-imap/v2 ---------------------------------

// multipartMessage has a text part and a base64 attachment.
var multipartMessage = []byte("From: Bob <bob@example.test>\r\n" +
	"To: Alice <alice@example.test>\r\n" +
	"Subject: go three, with an attachment\r\n" +
	"Date: Thu, 29 Feb 2024 13:14:15 +0100\r\n" +
	"Message-ID: <three@example.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"This is a multi-part message in MIME format.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	"The text part.\r\n" +
	"Second line.\r\n" +
	"--b1\r\n" +
	"Content-Type: application/octet-stream; name=\"data.bin\"\r\n" +
	"Content-Disposition: attachment; filename=\"data.bin\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAwQFBgcICQoLDA0ODw==\r\n" +
	"--b1--\r\n")

func TestInteropGoIMAP(t *testing.T) {
	l := startLab(t, "first-message")
	const bob = "bob@example.test"
	msg1 := testMessage("alice@example.test", bob, "go one")
	msg2 := plainMessage("Carol <carol@example.test>", "go two", "Second message.\r\n")
	l.deliverSMTP(t, "alice@example.test", bob, msg1)
	l.deliverSMTP(t, "alice@example.test", bob, msg2)

	// The client's side of the dialogue, logged on failure next to the
	// lab's transcript.
	var wire lockedBuffer // written by the client's reader and writer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("go-imap client wire log:\n%s", wire.String())
		}
	})
	exists := make(chan uint32, 64)
	expunged := make(chan uint32, 64)
	flagged := make(chan string, 64) // "seq FLAGS..." of unsolicited FETCH responses
	c, err := imapclient.DialInsecure(l.listenAddr(t, "imap"), &imapclient.Options{
		DebugWriter: &wire,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case exists <- *d.NumMessages:
					default:
					}
				}
			},
			Expunge: func(seq uint32) {
				select {
				case expunged <- seq:
				default:
				}
			},
			Fetch: func(msg *imapclient.FetchMessageData) {
				buf, err := msg.Collect()
				if err != nil {
					return
				}
				var fl []string
				for _, f := range buf.Flags {
					fl = append(fl, string(f))
				}
				select {
				case flagged <- strconv.Itoa(int(buf.SeqNum)) + " " + strings.Join(fl, " "):
				default:
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Login with the full address; the capabilities the test relies on.
	check("LOGIN", c.Login(bob, "bob").Wait())
	caps, err := c.Capability().Wait()
	check("CAPABILITY", err)
	for _, cp := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIdle, imap.CapUIDPlus, imap.CapMove} {
		if !caps.Has(cp) {
			t.Errorf("CAPABILITY lacks %s: %v", cp, caps)
		}
	}

	ns, err := c.Namespace().Wait()
	check("NAMESPACE", err)
	if len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Errorf("NAMESPACE personal = %+v, want one with delimiter /", ns.Personal)
	}

	// CREATE, LIST: folders are Maildir++ directories.
	for _, name := range []string{"Archive", "Old", "Work/Reports"} {
		check("CREATE "+name, c.Create(name, nil).Wait())
	}
	mboxes, err := c.List("", "*", nil).Collect()
	check("LIST", err)
	var names []string
	for _, mb := range mboxes {
		names = append(names, mb.Mailbox)
		if mb.Delim != '/' {
			t.Errorf("LIST %s has delimiter %q, want /", mb.Mailbox, mb.Delim)
		}
	}
	slices.Sort(names)
	if want := []string{"Archive", "INBOX", "Old", "Work", "Work/Reports"}; !slices.Equal(names, want) {
		t.Errorf("LIST \"\" * = %q, want %q", names, want)
	}
	for _, dir := range []string{".Archive", ".Old", ".Work.Reports"} {
		if _, err := os.Stat(filepath.Join(l.folderDir(bob, "INBOX"), dir, "maildirfolder")); err != nil {
			t.Errorf("CREATE made no Maildir++ folder %s/: %v", dir, err)
		}
	}

	// SELECT.
	sel, err := c.Select("INBOX", nil).Wait()
	check("SELECT INBOX", err)
	if sel.NumMessages != 2 || sel.UIDValidity == 0 || sel.UIDNext != 3 {
		t.Errorf("SELECT INBOX = %d messages, UIDVALIDITY %d, UIDNEXT %d; want 2, non-zero, 3", sel.NumMessages, sel.UIDValidity, sel.UIDNext)
	}
	if slices.Contains(sel.PermanentFlags, imap.FlagWildcard) {
		t.Errorf("PERMANENTFLAGS %v offers \\*, but the store keeps no keywords", sel.PermanentFlags)
	}

	// APPEND a multipart message with flags and a date into INBOX.
	date := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("", 3600))
	app := c.Append("INBOX", int64(len(multipartMessage)), &imap.AppendOptions{
		Flags: []imap.Flag{imap.FlagFlagged, imap.FlagDraft},
		Time:  date,
	})
	if _, err := app.Write(multipartMessage); err != nil {
		t.Fatal(err)
	}
	check("APPEND literal", app.Close())
	appData, err := app.Wait()
	check("APPEND", err)
	if appData.UID != 3 || appData.UIDValidity != sel.UIDValidity {
		t.Errorf("APPENDUID = %d %d, want %d 3", appData.UIDValidity, appData.UID, sel.UIDValidity)
	}
	// The server announces the appended message to the selected mailbox
	// (at the latest with the NOOP's answer).
	check("NOOP", c.Noop().Wait())
	if n := c.Mailbox().NumMessages; n != 3 {
		t.Errorf("after APPEND to the selected INBOX the client counts %d messages, want 3", n)
	}

	f1, f2 := l.mustFile(t, bob, "INBOX", "go one"), l.mustFile(t, bob, "INBOX", "go two")
	f3 := l.mustFile(t, bob, "INBOX", "go three, with an attachment")
	if !bytes.Equal(f3.Data, multipartMessage) || f3.Flags != "DF" || f3.Sub != "cur" {
		t.Errorf("the appended message is %s/%s:2,%s; want cur/, :2,DF and the bytes sent", f3.Sub, f3.Key, f3.Flags)
	}
	files := []mdFile{f1, f2, f3}

	// FETCH every data item; BODY.PEEK so that nothing becomes \Seen.
	whole := &imap.FetchItemBodySection{Peek: true}
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	fields := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "From"}, Peek: true}
	fieldsNot := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"Received", "Return-Path", "Delivered-To"}, Peek: true}
	textSec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	partial := &imap.FetchItemBodySection{Partial: &imap.SectionPartial{Offset: 10, Size: 20}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{
		Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, UID: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: false}, // BODY
		BodySection:   []*imap.FetchItemBodySection{whole, header, fields, fieldsNot, textSec, partial},
	}).Collect()
	check("FETCH 1:3 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID BODY BODY.PEEK[...])", err)
	if len(msgs) != 3 {
		t.Fatalf("FETCH 1:3 returned %d messages", len(msgs))
	}
	wantSubjects := []string{"go one", "go two", "go three, with an attachment"}
	for i, m := range msgs {
		f := files[i]
		if m.SeqNum != uint32(i+1) {
			t.Errorf("FETCH message %d has sequence number %d", i+1, m.SeqNum)
		}
		if want := imap.UID(l.uidOf(t, bob, "INBOX", f.Key)); m.UID != want {
			t.Errorf("message %d: UID %d, the UID list says %d", i+1, m.UID, want)
		}
		if m.RFC822Size != int64(len(f.Data)) {
			t.Errorf("message %d: RFC822.SIZE %d, the file has %d octets", i+1, m.RFC822Size, len(f.Data))
		}
		if m.Envelope == nil || m.Envelope.Subject != wantSubjects[i] {
			t.Errorf("message %d: ENVELOPE %+v, want Subject %q", i+1, m.Envelope, wantSubjects[i])
		}
		if slices.Contains(m.Flags, imap.FlagSeen) {
			t.Errorf("message %d: FLAGS %v after BODY.PEEK: \\Seen must not be set", i+1, m.Flags)
		}
		if got := m.FindBodySection(whole); !bytes.Equal(got, f.Data) {
			t.Errorf("message %d: BODY[] = %q, want the file %q", i+1, got, f.Data)
		}
		if got := m.FindBodySection(header); !bytes.Equal(got, mdHeader(f.Data)) {
			t.Errorf("message %d: BODY[HEADER] = %q, want %q", i+1, got, mdHeader(f.Data))
		}
		var wantFields, wantNot bytes.Buffer
		for _, line := range strings.SplitAfter(string(mdHeader(f.Data)), "\r\n") {
			if line == "\r\n" || line == "" || line[0] == ' ' || line[0] == '\t' {
				continue // the test messages fold only Received: fields
			}
			switch name, _, _ := strings.Cut(line, ":"); name {
			case "Subject", "From":
				wantFields.WriteString(line)
				wantNot.WriteString(line)
			case "Received", "Return-Path", "Delivered-To":
			default:
				wantNot.WriteString(line)
			}
		}
		wantFields.WriteString("\r\n")
		wantNot.WriteString("\r\n")
		if got := m.FindBodySection(fields); string(got) != wantFields.String() {
			t.Errorf("message %d: BODY[HEADER.FIELDS (Subject From)] = %q, want %q", i+1, got, wantFields.String())
		}
		if got := m.FindBodySection(fieldsNot); string(got) != wantNot.String() {
			t.Errorf("message %d: BODY[HEADER.FIELDS.NOT (Received Return-Path Delivered-To)] = %q, want %q", i+1, got, wantNot.String())
		}
		if got := m.FindBodySection(textSec); !bytes.Equal(got, mdBody(f.Data)) {
			t.Errorf("message %d: BODY[TEXT] = %q, want %q", i+1, got, mdBody(f.Data))
		}
		if got := m.FindBodySection(partial); !bytes.Equal(got, f.Data[10:30]) {
			t.Errorf("message %d: BODY[]<10.20> = %q, want %q", i+1, got, f.Data[10:30])
		}
		if m.BodyStructure == nil {
			t.Errorf("message %d: no BODY structure", i+1)
		}
	}
	if !msgs[2].InternalDate.Equal(date) {
		t.Errorf("INTERNALDATE of the appended message = %v, want the APPEND date %v", msgs[2].InternalDate, date)
	}
	if !slices.Contains(msgs[2].Flags, imap.FlagFlagged) || !slices.Contains(msgs[2].Flags, imap.FlagDraft) {
		t.Errorf("FLAGS of the appended message = %v, want \\Flagged \\Draft", msgs[2].Flags)
	}
	if d := msgs[0].InternalDate; d.IsZero() || time.Since(d) > time.Hour || time.Until(d) > time.Minute {
		t.Errorf("INTERNALDATE of a message delivered just now = %v", d)
	}
	if mp, ok := msgs[0].BodyStructure.(*imap.BodyStructureSinglePart); !ok || mp.MediaType() != "text/plain" || mp.Size != uint32(len(mdBody(f1.Data))) || mp.Encoding != "8BIT" && mp.Encoding != "8bit" {
		t.Errorf("BODY of message 1 = %#v, want text/plain 8bit of %d octets", msgs[0].BodyStructure, len(mdBody(f1.Data)))
	}

	// BODYSTRUCTURE and parts of the multipart message, by UID.
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	part2 := &imap.FetchItemBodySection{Part: []int{2}, Peek: true}
	part2MIME := &imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierMIME, Peek: true}
	part1Partial := &imap.FetchItemBodySection{Part: []int{1}, Partial: &imap.SectionPartial{Offset: 4, Size: 4}, Peek: true}
	mm, err := c.Fetch(imap.UIDSetNum(appData.UID), &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{part1, part2, part2MIME, part1Partial},
	}).Collect()
	check("UID FETCH (BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1]<4.4>)", err)
	if len(mm) != 1 {
		t.Fatalf("UID FETCH %d returned %d messages", appData.UID, len(mm))
	}
	if got, want := string(mm[0].FindBodySection(part1)), "The text part.\r\nSecond line."; got != want {
		t.Errorf("BODY[1] = %q, want %q", got, want)
	}
	if got, want := string(mm[0].FindBodySection(part2)), "AAECAwQFBgcICQoLDA0ODw=="; got != want {
		t.Errorf("BODY[2] = %q, want %q", got, want)
	}
	wantMIME := "Content-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	if got := string(mm[0].FindBodySection(part2MIME)); got != wantMIME {
		t.Errorf("BODY[2.MIME] = %q, want %q", got, wantMIME)
	}
	if got, want := string(mm[0].FindBodySection(part1Partial)), "text"; got != want {
		t.Errorf("BODY[1]<4.4> = %q, want %q", got, want)
	}
	bs, ok := mm[0].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || !strings.EqualFold(bs.Subtype, "mixed") || len(bs.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE = %#v, want multipart/mixed with 2 parts", mm[0].BodyStructure)
	}
	if bs.Extended == nil || !strings.EqualFold(bs.Extended.Params["boundary"], "b1") {
		t.Errorf("BODYSTRUCTURE multipart extension data = %#v, want boundary b1", bs.Extended)
	}
	if p, ok := bs.Children[0].(*imap.BodyStructureSinglePart); !ok || p.MediaType() != "text/plain" || p.Size != 28 || p.Text == nil {
		t.Errorf("BODYSTRUCTURE part 1 = %#v, want text/plain of 28 octets", bs.Children[0])
	}
	if p, ok := bs.Children[1].(*imap.BodyStructureSinglePart); !ok || p.MediaType() != "application/octet-stream" ||
		!strings.EqualFold(p.Encoding, "base64") || p.Size != 24 || p.Filename() != "data.bin" ||
		p.Disposition() == nil || !strings.EqualFold(p.Disposition().Value, "attachment") {
		t.Errorf("BODYSTRUCTURE part 2 = %#v (disposition %#v), want an application/octet-stream base64 attachment data.bin of 24 octets", bs.Children[1], bs.Children[1].(*imap.BodyStructureSinglePart).Disposition())
	}

	// A FETCH without PEEK sets \Seen: the file gets ":2,S".
	seen, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Flags:       true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}},
	}).Collect()
	check("FETCH 1 (FLAGS BODY[TEXT])", err)
	if len(seen) != 1 || !bytes.Equal(seen[0].FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}), mdBody(f1.Data)) {
		t.Errorf("FETCH 1 BODY[TEXT] = %+v", seen)
	}
	if f := l.mustFile(t, bob, "INBOX", "go one"); f.Flags != "S" {
		t.Errorf("after FETCH BODY[TEXT] message 1 is %s:2,%s, want :2,S", f.Key, f.Flags)
	}

	// SEARCH with several keys.
	search := func(what string, crit *imap.SearchCriteria, want ...uint32) {
		t.Helper()
		d, err := c.Search(crit, nil).Wait()
		check("SEARCH "+what, err)
		if got := d.AllSeqNums(); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("SEARCH %s = %v, want %v", what, got, want)
		}
	}
	search("ALL", &imap.SearchCriteria{}, 1, 2, 3)
	search("SEEN", &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, 1)
	search("UNSEEN", &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, 2, 3)
	search("FLAGGED DRAFT", &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged, imap.FlagDraft}}, 3)
	search("FROM carol", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "carol"}}}, 2)
	search("SUBJECT attachment", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "attachment"}}}, 3)
	search("HEADER Message-ID", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<three@example.test>"}}}, 3)
	search("BODY \"Second line\"", &imap.SearchCriteria{Body: []string{"Second line"}}, 3)
	search("TEXT carol", &imap.SearchCriteria{Text: []string{"carol"}}, 2)
	search("BEFORE 1-Mar-2024", &imap.SearchCriteria{Before: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}, 3)
	search("SINCE 1-Mar-2024", &imap.SearchCriteria{Since: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}, 1, 2)
	search("SENTBEFORE 2-Jan-2024", &imap.SearchCriteria{SentBefore: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, 2)
	search("LARGER", &imap.SearchCriteria{Larger: int64(len(f3.Data))}, 1, 2)
	search("SMALLER", &imap.SearchCriteria{Smaller: int64(len(f2.Data))}, 3)
	search("2:3 NOT FROM carol", &imap.SearchCriteria{
		SeqNum: []imap.SeqSet{imap.SeqSetNum(2, 3)},
		Not:    []imap.SearchCriteria{{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "carol"}}}},
	}, 3)
	search("OR SEEN FLAGGED", &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{
		{Flag: []imap.Flag{imap.FlagSeen}}, {Flag: []imap.Flag{imap.FlagFlagged}},
	}}}, 1, 3)
	search("CHARSET UTF-8 BODY Ñandú", &imap.SearchCriteria{Body: []string{"Ñandú"}}, 1)
	uids, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 3)}}, nil).Wait()
	check("UID SEARCH UID 2:3", err)
	if got := uids.AllUIDs(); !slices.Equal(got, []imap.UID{2, 3}) {
		t.Errorf("UID SEARCH UID 2:3 = %v", got)
	}

	// STORE: flags in the file names.
	stored, err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered}}, nil).Collect()
	check("STORE 2 +FLAGS (\\Flagged \\Answered)", err)
	if len(stored) != 1 || !slices.Contains(stored[0].Flags, imap.FlagFlagged) || !slices.Contains(stored[0].Flags, imap.FlagAnswered) {
		t.Errorf("STORE +FLAGS answered %+v", stored)
	}
	if f := l.mustFile(t, bob, "INBOX", "go two"); f.Flags != "FR" {
		t.Errorf("after STORE +FLAGS (\\Flagged \\Answered) message 2 is %s:2,%s, want :2,FR", f.Key, f.Flags)
	}
	_, err = c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Collect()
	check("STORE 2 -FLAGS.SILENT (\\Answered)", err)
	if f := l.mustFile(t, bob, "INBOX", "go two"); f.Flags != "F" {
		t.Errorf("after STORE -FLAGS.SILENT (\\Answered) message 2 is %s:2,%s, want :2,F", f.Key, f.Flags)
	}
	stored, err = c.Store(imap.UIDSetNum(appData.UID), &imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect()
	check("UID STORE FLAGS (\\Seen)", err)
	if len(stored) != 1 || !slices.Contains(stored[0].Flags, imap.FlagSeen) || slices.Contains(stored[0].Flags, imap.FlagDraft) {
		t.Errorf("UID STORE FLAGS (\\Seen) answered %+v", stored)
	}
	if f := l.mustFile(t, bob, "INBOX", "go three, with an attachment"); f.Flags != "S" {
		t.Errorf("after UID STORE FLAGS (\\Seen) message 3 is %s:2,%s, want :2,S", f.Key, f.Flags)
	}

	// COPY message 1 to Archive: same bytes, same flags, COPYUID.
	cp, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait()
	check("COPY 1 Archive", err)
	if cp.UIDValidity == 0 || cp.SourceUIDs.String() != "1" || cp.DestUIDs.String() != "1" {
		t.Errorf("COPYUID = %d %v %v, want a UIDVALIDITY, 1, 1", cp.UIDValidity, cp.SourceUIDs, cp.DestUIDs)
	}
	if f := l.mustFile(t, bob, "Archive", "go one"); !bytes.Equal(f.Data, f1.Data) || f.Flags != "S" {
		t.Errorf("the copy in .Archive/ is :2,%s with %q, want :2,S and the bytes of message 1", f.Flags, f.Data)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nonexistent").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		// Not every client exposes the code in the error text; go-imap does.
		t.Errorf("COPY to a missing mailbox: %v, want NO [TRYCREATE]", err)
	}

	// MOVE message 2 to Old: EXPUNGE 2 arrives, the file changes folder.
	drain(exists)
	drain(expunged)
	mv, err := c.Move(imap.SeqSetNum(2), "Old").Wait()
	check("MOVE 2 Old", err)
	if mv.UIDValidity == 0 {
		t.Errorf("MOVE gave no COPYUID: %+v", mv)
	}
	select {
	case seq := <-expunged:
		if seq != 2 {
			t.Errorf("MOVE 2 announced EXPUNGE %d", seq)
		}
	case <-time.After(interopTimeout):
		t.Errorf("MOVE 2: no EXPUNGE reached the client's handler")
	}
	if f, ok := l.findFile(t, bob, "INBOX", "go two"); ok {
		t.Errorf("after MOVE message 2 is still in INBOX: %s", f.Path)
	}
	if f := l.mustFile(t, bob, "Old", "go two"); !bytes.Equal(f.Data, f2.Data) || f.Flags != "F" {
		t.Errorf("the moved message in .Old/ is :2,%s with %q, want :2,F and the bytes of message 2", f.Flags, f.Data)
	}

	// STORE \Deleted + EXPUNGE message 1 (INBOX now holds messages 1 and 3).
	_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	check("STORE 1 +FLAGS.SILENT (\\Deleted)", err)
	if f := l.mustFile(t, bob, "INBOX", "go one"); f.Flags != "ST" {
		t.Errorf("after STORE +FLAGS (\\Deleted) message 1 is :2,%s, want :2,ST", f.Flags)
	}
	gone, err := c.Expunge().Collect()
	check("EXPUNGE", err)
	if !slices.Equal(gone, []uint32{1}) {
		t.Errorf("EXPUNGE removed %v, want [1]", gone)
	}
	if f, ok := l.findFile(t, bob, "INBOX", "go one"); ok {
		t.Errorf("after EXPUNGE message 1 is still on disk: %s", f.Path)
	}
	l.mustFile(t, bob, "Archive", "go one") // the copy stays

	// STATUS of the other folders.
	st, err := c.Status("Old", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true}).Wait()
	check("STATUS Old", err)
	if st.NumMessages == nil || *st.NumMessages != 1 || st.NumUnseen == nil || *st.NumUnseen != 1 || st.UIDNext != 2 || st.UIDValidity == 0 {
		t.Errorf("STATUS Old = %+v, want 1 message, 1 unseen, UIDNEXT 2", st)
	}
	st, err = c.Status("Archive", &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	check("STATUS Archive", err)
	if st.NumMessages == nil || *st.NumMessages != 1 || st.NumUnseen == nil || *st.NumUnseen != 0 {
		t.Errorf("STATUS Archive = %+v, want 1 message, 0 unseen", st)
	}

	// RENAME and DELETE.
	check("RENAME Old Older", c.Rename("Old", "Older", nil).Wait())
	check("DELETE Archive", c.Delete("Archive").Wait())
	root := l.folderDir(bob, "INBOX")
	for dir, want := range map[string]bool{".Old": false, ".Older": true, ".Archive": false, ".Work.Reports": true} {
		if _, err := os.Stat(filepath.Join(root, dir)); (err == nil) != want {
			t.Errorf("after RENAME Old Older and DELETE Archive: %s/ exists = %v, want %v", dir, err == nil, want)
		}
	}
	l.mustFile(t, bob, "Older", "go two")
	mboxes, err = c.List("", "*", nil).Collect()
	check("LIST", err)
	names = names[:0]
	for _, mb := range mboxes {
		names = append(names, mb.Mailbox)
	}
	slices.Sort(names)
	if want := []string{"INBOX", "Older", "Work", "Work/Reports"}; !slices.Equal(names, want) {
		t.Errorf("LIST after RENAME and DELETE = %q, want %q", names, want)
	}

	// IDLE: a delivery while idling reaches the client as * 2 EXISTS.
	drain(exists)
	drain(expunged)
	drain(flagged)
	idle, err := c.Idle()
	check("IDLE", err)
	delivered := make(chan error, 1)
	go func() {
		delivered <- l.trySMTP("alice@example.test", bob, plainMessage("Alice <alice@example.test>", "go four", "Delivered during IDLE.\r\n"))
	}()
	if err := <-delivered; err != nil {
		t.Fatalf("delivery during IDLE: %v", err)
	}
	deadline := time.After(interopTimeout)
wait:
	for {
		select {
		case n := <-exists:
			if n == 2 {
				break wait
			}
			t.Logf("EXISTS %d during IDLE", n)
		case <-deadline:
			t.Errorf("no * 2 EXISTS reached the client within %v of a delivery during IDLE", interopTimeout)
			break wait
		}
	}

	// Still idling: a second session (AUTHENTICATE PLAIN with the bare
	// local part) flags message UID 4 and expunges UID 3; the idling
	// client hears * 2 FETCH (FLAGS ...) and * 1 EXPUNGE at once.
	var wire2 lockedBuffer
	c2, err := imapclient.DialInsecure(l.listenAddr(t, "imap"), &imapclient.Options{DebugWriter: &wire2})
	check("second connection", err)
	defer c2.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("go-imap second client wire log:\n%s", wire2.String())
		}
	})
	check("AUTHENTICATE PLAIN", c2.Authenticate(sasl.NewPlainClient("", "bob", "bob")))
	_, err = c2.Select("INBOX", nil).Wait()
	check("second session: SELECT INBOX", err)
	_, err = c2.Store(imap.UIDSetNum(4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	check("second session: UID STORE 4 +FLAGS.SILENT (\\Flagged)", err)
	select {
	case got := <-flagged:
		if !strings.HasPrefix(got, "2 ") || !strings.Contains(got, `\Flagged`) {
			t.Errorf("during IDLE another session's STORE arrived as FETCH %q, want 2 with \\Flagged", got)
		}
	case <-time.After(interopTimeout):
		t.Errorf("no FETCH FLAGS reached the idling client within %v of another session's STORE", interopTimeout)
	}
	_, err = c2.Store(imap.UIDSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	check("second session: UID STORE 3 +FLAGS.SILENT (\\Deleted)", err)
	gone, err = c2.UIDExpunge(imap.UIDSetNum(3)).Collect()
	check("second session: UID EXPUNGE 3", err)
	if !slices.Equal(gone, []uint32{1}) {
		t.Errorf("UID EXPUNGE 3 removed %v, want [1]", gone)
	}
	select {
	case seq := <-expunged:
		if seq != 1 {
			t.Errorf("during IDLE another session's UID EXPUNGE arrived as EXPUNGE %d, want 1", seq)
		}
	case <-time.After(interopTimeout):
		t.Errorf("no EXPUNGE reached the idling client within %v of another session's UID EXPUNGE", interopTimeout)
	}
	if f, ok := l.findFile(t, bob, "INBOX", "go three, with an attachment"); ok {
		t.Errorf("after UID EXPUNGE the appended message is still on disk: %s", f.Path)
	}
	if f := l.mustFile(t, bob, "INBOX", "go four"); f.Flags != "F" {
		t.Errorf("after the second session's STORE the message is :2,%s, want :2,F", f.Flags)
	}
	check("second session: LOGOUT", c2.Logout().Wait())

	check("IDLE DONE", idle.Close())
	check("IDLE completion", idle.Wait())
	if n := c.Mailbox().NumMessages; n != 1 {
		t.Errorf("after IDLE the client counts %d messages, want 1", n)
	}
	four, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, UID: true, Flags: true}).Collect()
	check("FETCH 1 (ENVELOPE UID FLAGS)", err)
	if len(four) != 1 || four[0].Envelope == nil || four[0].Envelope.Subject != "go four" || four[0].UID != 4 || !slices.Contains(four[0].Flags, imap.FlagFlagged) {
		t.Errorf("the message delivered during IDLE: %+v, want Subject \"go four\", UID 4, \\Flagged", four)
	}

	check("UNSELECT", c.Unselect().Wait())
	check("LOGOUT", c.Logout().Wait())
}

// drain empties a channel of notifications that came before the step that
// waits on it.
func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
