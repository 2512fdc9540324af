package mda_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/imap/imapserver"
)

// The sessions of one mailbox share what they know of it while it is the
// same for all (mailbox.View's snapshot, the UIDs through UIDLister) and
// copy it to change it; the buffers of a session waiting for its client go
// back to pools, and IDLE waits on the session's own goroutine. These tests
// run the real store and MDA to check that none of this mixes sessions up:
// each sees the others' changes, at once in IDLE, with its own numbering.

type lineClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialMDA(t *testing.T, addr string) *lineClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &lineClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.expect("* OK")
	return c
}

func (c *lineClient) sendRaw(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads one line and checks its prefix.
func (c *lineClient) expect(prefix string) string {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, prefix) {
		c.t.Fatalf("read %q, %v; want %q...", line, err, prefix)
	}
	return strings.TrimRight(line, "\r\n")
}

// run sends a tagged command and returns the untagged lines before its OK.
func (c *lineClient) run(tag, cmd string) []string {
	c.t.Helper()
	c.sendRaw(tag + " " + cmd + "\r\n")
	var out []string
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%s: %v after %q", cmd, err, out)
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line, tag+" OK") {
				c.t.Fatalf("%s: %q", cmd, line)
			}
			return out
		}
		out = append(out, line)
	}
}

// uidFlags answers FETCH 1:* (UID FLAGS) as "seq:uid:flags" items, the
// last FETCH of each number (unsolicited ones come first), and returns the
// other untagged lines too.
func (c *lineClient) uidFlags(tag string) (string, []string) {
	c.t.Helper()
	byNum := map[int]string{}
	var other []string
	n := 0
	for _, l := range c.run(tag, "FETCH 1:* (UID FLAGS)") {
		var seq, uid int
		if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d FLAGS", &seq, &uid); err != nil {
			other = append(other, l)
			continue
		}
		fl := l[strings.Index(l, "FLAGS (")+7 : strings.LastIndex(l, "))")]
		fl = strings.TrimSpace(strings.ReplaceAll(fl, `\Recent`, ""))
		byNum[seq] = fmt.Sprintf("%d:%d:%s", seq, uid, fl)
		n = max(n, seq)
	}
	items := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		items = append(items, byNum[i])
	}
	return strings.Join(items, " "), other
}

func startSharedMDA(t *testing.T) (string, *mailbox.Folder) {
	t.Helper()
	store, err := mailbox.OpenWith(t.TempDir(), mailbox.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mda.New(mda.Config{
		Name: "mda.b.test", Store: store, Users: []string{"bob@b.test"},
		Passwords:  map[string]string{"bob@b.test": "secret"},
		Listen:     "127.0.0.1:0",
		IMAPListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(context.Background()) })
	u, err := store.User("bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := u.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return m.Endpoints()["imap"], inbox
}

func deliver(t *testing.T, inbox *mailbox.Folder, subject string) {
	t.Helper()
	if _, err := inbox.Append(strings.NewReader("Subject: "+subject+"\r\n\r\nhi\r\n"), 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func TestSharedMailboxSessionsSeeEachOther(t *testing.T) {
	addr, inbox := startSharedMDA(t)
	for i := range 5 {
		deliver(t, inbox, fmt.Sprint("m", i+1))
	}
	sessions := make([]*lineClient, 4)
	for i := range sessions {
		c := dialMDA(t, addr)
		c.run("l", "LOGIN bob@b.test secret")
		if got := strings.Join(c.run("s", "SELECT INBOX"), "\n"); !strings.Contains(got, "* 5 EXISTS") {
			t.Fatalf("session %d SELECT: %s", i, got)
		}
		sessions[i] = c
	}
	a, b, c, d := sessions[0], sessions[1], sessions[2], sessions[3]

	a.sendRaw("i1 IDLE\r\n")
	a.expect("+ ")
	// Another session's STORE reaches the one in IDLE at once, and only
	// the storing session's view and the folder change.
	if got := b.run("b1", `STORE 2 +FLAGS (\Flagged)`); len(got) != 1 || !strings.Contains(got[0], `\Flagged`) {
		t.Fatalf("b's STORE: %q", got)
	}
	if got := a.expect("* 2 FETCH (UID 2 FLAGS ("); !strings.Contains(got, `\Flagged`) {
		t.Errorf("a in IDLE: %q", got)
	}
	// An EXPUNGE.
	c.run("c1", `STORE 3 +FLAGS.SILENT (\Deleted)`)
	a.expect("* 3 FETCH (UID 3 FLAGS (")
	if got := c.run("c2", "EXPUNGE"); len(got) != 1 || got[0] != "* 3 EXPUNGE" {
		t.Fatalf("c's EXPUNGE: %q", got)
	}
	a.expect("* 3 EXPUNGE")
	// A delivery.
	deliver(t, inbox, "m6")
	a.expect("* 5 EXISTS")
	a.expect("* ")          // RECENT
	a.sendRaw("DO")         // half of DONE: the session keeps it
	deliver(t, inbox, "m7") // and is woken meanwhile
	a.expect("* 6 EXISTS")
	a.expect("* ")
	a.sendRaw("NE\r\n")
	a.expect("i1 OK IDLE")

	want := `1:1: 2:2:\Flagged 3:4: 4:5: 5:6: 6:7:`
	if got, _ := a.uidFlags("a2"); got != want {
		t.Errorf("a: %s, want %s", got, want)
	}
	// d, which did nothing, still numbers the messages as at SELECT until
	// it is told (FETCH may not report an EXPUNGE, RFC 3501 section 7.4.1).
	// The expunged message stays (as 3) until then; the new ones come
	// after the FETCH's own lines.
	if got, other := d.uidFlags("d1"); got != `1:1: 2:2:\Flagged 3:3:\Deleted 4:4: 5:5:` || !slices.Contains(other, "* 7 EXISTS") {
		t.Errorf("d before NOOP: %s %q", got, other)
	}
	if got := d.run("d2", "NOOP"); !slices.Equal(got, []string{"* 3 EXPUNGE"}) {
		t.Errorf("d's NOOP: %q, want * 3 EXPUNGE", got)
	}
	for i, s := range []*lineClient{b, c, d} {
		s.run("n", "NOOP")
		if got, _ := s.uidFlags("f"); got != want {
			t.Errorf("session %d: %s, want %s", i+1, got, want)
		}
	}
	// A new session shares the folder as it is now.
	e := dialMDA(t, addr)
	e.run("l", "LOGIN bob@b.test secret")
	e.run("s", "SELECT INBOX")
	if got, _ := e.uidFlags("f"); got != want {
		t.Errorf("new session: %s, want %s", got, want)
	}
	// Changes after the sessions converged again are still their own.
	if got := e.run("e1", `STORE 1 FLAGS (\Seen)`); len(got) != 1 {
		t.Fatalf("e's STORE: %q", got)
	}
	want = `1:1:\Seen 2:2:\Flagged 3:4: 4:5: 5:6: 6:7:`
	for i, s := range []*lineClient{a, b, e} {
		s.run("n", "NOOP")
		if got, _ := s.uidFlags("f"); got != want {
			t.Errorf("session %d after e's STORE: %s, want %s", i, got, want)
		}
	}
}

// BenchmarkIdleMDASessionMemory is bench/imap.sh's idle stage in process,
// on the real store and MDA (no transcript): n sessions log in, SELECT a
// 1,000-message INBOX and IDLE; it reports the live heap and the goroutine
// stacks each one adds, after collecting garbage (so without the
// collector's headroom, which RSS has). The client ends of the
// connections, in the same process, are counted too (about 1 KB each).
func BenchmarkIdleMDASessionMemory(b *testing.B) {
	const n, msgs = 500, 1000
	store, err := mailbox.OpenWith(b.TempDir(), mailbox.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	m, err := mda.New(mda.Config{
		Name: "mda.b.test", Store: store, Users: []string{"bob@b.test"},
		Passwords:  map[string]string{"bob@b.test": "secret"},
		Listen:     "127.0.0.1:0",
		IMAPListen: "127.0.0.1:0",
		IMAP:       imapserver.Options{MaxConns: n + 10},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Stop(context.Background())
	u, err := store.User("bob@b.test")
	if err != nil {
		b.Fatal(err)
	}
	inbox, err := u.Folder("INBOX")
	if err != nil {
		b.Fatal(err)
	}
	for i := range msgs {
		body := fmt.Sprintf("From: alice@a.test\r\nSubject: m%d\r\n\r\nhello\r\n", i)
		if _, err := inbox.Append(strings.NewReader(body), 0, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	addr := m.Endpoints()["imap"]
	var heap, stack float64
	defer func() {
		b.ReportMetric(heap, "heap-B/session")
		b.ReportMetric(stack, "stack-B/session")
	}()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := io.WriteString(c, "a LOGIN bob@b.test secret\r\nb SELECT INBOX\r\nc IDLE\r\n"); err != nil {
				b.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 4096)
			for !strings.Contains(string(got), "+ idling\r\n") {
				k, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:k]...)
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = max(heap, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n)
		stack = max(stack, float64(int64(after.StackInuse)-int64(before.StackInuse))/n)
		for _, c := range conns {
			c.Close()
		}
	}
}
