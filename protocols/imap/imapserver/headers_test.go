package imapserver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/maillab/maillab/protocols/imap/imapmsg"
	"github.com/maillab/maillab/protocols/mail"
)

// countBackend is a MemoryBackend that counts the Read and ReadHeader
// calls of its mailboxes.
type countBackend struct {
	*MemoryBackend
	reads, headerReads atomic.Int64
}

func (b *countBackend) Login(user, pass string) (User, error) {
	u, err := b.MemoryBackend.Login(user, pass)
	if err != nil {
		return nil, err
	}
	return countUser{u, b}, nil
}

type countUser struct {
	User
	b *countBackend
}

func (u countUser) Open(name string, readOnly bool) (Mailbox, error) {
	m, err := u.User.Open(name, readOnly)
	if err != nil {
		return nil, err
	}
	return countMailbox{m, u.b}, nil
}

type countMailbox struct {
	Mailbox
	b *countBackend
}

func (m countMailbox) Read(uid uint32) ([]byte, error) {
	m.b.reads.Add(1)
	return m.Mailbox.Read(uid)
}

func (m countMailbox) ReadHeader(uid uint32) ([]byte, error) {
	m.b.headerReads.Add(1)
	return m.Mailbox.(HeaderReader).ReadHeader(uid)
}

// mixedMessages are messages of every shape FETCH and SEARCH meet.
var mixedMessages = []string{
	testMessage,
	"From: carol@example.test\r\nSubject: =?UTF-8?q?Reuni=C3=B3n?=\r\nDate: Wed, 14 Jan 2026 23:59:00 -0800\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.test\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
	"Subject: no body, no empty line",
	"\r\nA message without a header.\r\n",
	"From: lf@example.test\nSubject: bare LF\n\nbody\n",
	"From: Dave\r\n <dave@example.test>\r\nTo: a@example.test,\r\n\tb@example.test\r\nX-Empty:\r\n\r\nfolded\r\n",
}

func mixedBackends(t *testing.T) map[string]Backend {
	msgs := make([][]byte, len(mixedMessages))
	for i, m := range mixedMessages {
		msgs[i] = []byte(m)
	}
	mem := NewMemoryBackend()
	mem.AddUser("bob", "secret")
	for _, m := range msgs {
		mem.Deliver("bob", "INBOX", m)
	}
	return map[string]Backend{
		"memory":          mem,
		"disk Read":       newDiskBackend(t, false, msgs...),
		"disk ReadHeader": newDiskBackend(t, true, msgs...),
	}
}

// TestHeaderPathsAnswerAlike checks that FETCH and SEARCH answer the same
// octets whether the server reads the full text (Read) or the header only
// (ReadHeader), and that SEARCH answers the same from its cache.
func TestHeaderPathsAnswerAlike(t *testing.T) {
	cmds := []string{
		"FETCH 1:* (BODY.PEEK[HEADER])",
		"FETCH 1:* (ENVELOPE)",
		"FETCH 1:* (UID RFC822.HEADER BODY.PEEK[HEADER.FIELDS (From subject)] BODY.PEEK[HEADER.FIELDS.NOT (From)]<2.10>)",
		"FETCH 1:* (ENVELOPE BODY.PEEK[TEXT] RFC822.TEXT)",
		"FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[HEADER])",
		"FETCH 1:* (RFC822.SIZE BODY.PEEK[])",
		`SEARCH FROM "example"`,
		`SEARCH FROM "example"`, // from the cache
		`SEARCH OR SUBJECT "reunión" TO "b@" NOT HEADER X-Empty ""`,
		`SEARCH HEADER X-Empty ""`,
		`SEARCH SENTSINCE 1-Jan-2000 FROM "carol"`,
		`SEARCH OR SENTSINCE 1-Jan-2000 FROM "carol"`,
		`SEARCH TEXT "body"`,
		`SEARCH BODY "inner" SUBJECT "r"`,
		`SEARCH LARGER 40 UNSEEN`,
	}
	answers := map[string][]string{}
	for name, b := range mixedBackends(t) {
		_, addr := startServer(t, Options{}, b)
		tc := selectedInbox(t, addr)
		for _, cmd := range cmds {
			tc.send("t " + cmd)
			answers[name] = append(answers[name], strings.Join(tc.until("t OK"), "\n"))
		}
	}
	for i, cmd := range cmds {
		want := answers["memory"][i]
		for _, name := range []string{"disk Read", "disk ReadHeader"} {
			if got := answers[name][i]; got != want {
				t.Errorf("%s with %s:\n%s\nwant (memory):\n%s", cmd, name, got, want)
			}
		}
	}
	if got := answers["memory"][7]; got != "* SEARCH 1 2 5 6\nt OK SEARCH completed" {
		t.Errorf(`SEARCH FROM "example" = %q`, got)
	}
}

// TestHeaderOnlyReadsHeaders checks which of Read and ReadHeader each
// command calls, and that a repeated SEARCH reads nothing.
func TestHeaderOnlyReadsHeaders(t *testing.T) {
	b := &countBackend{MemoryBackend: newBackend(t, 3)}
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	steps := []struct {
		cmd                string
		reads, headerReads int64
	}{
		{"FETCH 1:3 (FLAGS UID RFC822.SIZE INTERNALDATE)", 0, 0},
		{"FETCH 1:3 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.HEADER)", 0, 3},
		{"FETCH 1:3 (ENVELOPE BODY.PEEK[TEXT])", 3, 0},
		{"FETCH 1:3 (BODYSTRUCTURE BODY.PEEK[HEADER])", 3, 0},
		{"SEARCH UNSEEN LARGER 10", 0, 0},
		{`SEARCH FROM "alice"`, 0, 3},
		{`SEARCH FROM "bob"`, 0, 0},
		{`SEARCH OR FROM "bob" SUBJECT "lunch"`, 0, 3},
		{`SEARCH SUBJECT "x" FROM "y"`, 0, 0},
		{`SEARCH BODY "lunch"`, 3, 0},
	}
	for _, s := range steps {
		r0, h0 := b.reads.Load(), b.headerReads.Load()
		tc.send("t " + s.cmd)
		tc.until("t OK")
		if r, h := b.reads.Load()-r0, b.headerReads.Load()-h0; r != s.reads || h != s.headerReads {
			t.Errorf("%s: %d Read, %d ReadHeader; want %d, %d", s.cmd, r, h, s.reads, s.headerReads)
		}
	}
	// A new SELECT starts with an empty cache.
	tc.send("s2 SELECT INBOX", `t SEARCH FROM "alice"`)
	tc.until("t OK")
	if h := b.headerReads.Load(); h != 12 {
		t.Errorf("%d ReadHeader after a new SELECT, want 12", h)
	}
}

// TestSearchCacheForgetsExpunged checks that SEARCH answers right after
// messages left, by this session or another.
func TestSearchCacheForgetsExpunged(t *testing.T) {
	b := newBackend(t, 4)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	other := selectedInbox(t, addr)
	tc.send(`t SEARCH FROM "alice"`)
	tc.expectLines("* SEARCH 1 2 3 4", "t OK SEARCH completed")
	tc.send(`t1 STORE 1 +FLAGS.SILENT (\Deleted)`, "t2 EXPUNGE")
	tc.until("t2 OK")
	other.send("o0 NOOP", `o1 STORE 1 +FLAGS.SILENT (\Deleted)`, "o2 EXPUNGE")
	other.until("o2 OK")
	tc.send("t0 NOOP", `t UID SEARCH FROM "alice"`) // NOOP: the other's EXPUNGE
	tc.until("t0 OK")
	lines := tc.until("t OK")
	if got := lines[len(lines)-2]; got != "* SEARCH 3 4" {
		t.Errorf("UID SEARCH after the expunges: %q, want \"* SEARCH 3 4\"", lines)
	}
}

// TestHeaderCacheBound checks the accounting of headerCache: it stops
// keeping entries at headerCacheBytes and gives the room back on forget.
func TestHeaderCacheBound(t *testing.T) {
	var hc headerCache
	cols := hc.columns([]string{"From", "Subject"})
	value := strings.Repeat("x", 100)
	h := mail.Header{Fields: []mail.Field{{Name: "FROM", Value: value}, {Name: "Received", Value: "y"}}}
	per := fieldCost([]string{value}) + fieldCost(nil)
	n := uint32(0)
	for ; hc.bytes+per <= headerCacheBytes; n++ {
		hc.put(n+1, h, cols)
	}
	hc.put(n+1, h, cols) // no room: kept in part or not at all
	if hc.bytes > headerCacheBytes {
		t.Fatalf("%d bytes used, bound %d", hc.bytes, headerCacheBytes)
	}
	if _, ok := hc.get(n+1, cols, nil); ok {
		t.Errorf("an entry past the bound was kept")
	}
	got, ok := hc.get(1, cols, nil)
	if !ok || len(got.Fields) != 1 || got.Fields[0].Value != value || !strings.EqualFold(got.Fields[0].Name, "From") {
		t.Errorf("get(1) = %v, %v; want the From field only", got, ok)
	}
	used := hc.bytes
	hc.forget(1)
	if hc.bytes != used-per {
		t.Errorf("forget gave back %d bytes, want %d", used-hc.bytes, per)
	}
	hc.put(n+1, h, cols)
	if _, ok := hc.get(n+1, cols, nil); !ok {
		t.Errorf("no room made by forget")
	}
	if cols := hc.columns([]string{"From", "Subj\u00e9ct"}); cols != nil {
		t.Errorf("a name that is not ASCII got a column")
	}
	// Columns count: a full cache makes no new ones.
	for i := 0; hc.columns([]string{"X-" + strings.Repeat("n", 100) + itoa(uint32(i))}) != nil; i++ {
	}
	if hc.bytes > headerCacheBytes || hc.bytes < headerCacheBytes-columnCost-200 {
		t.Errorf("%d bytes used after making columns, bound %d", hc.bytes, headerCacheBytes)
	}
}

// TestReadHeaderBlock checks that ReadHeaderBlock returns the header block
// SplitHeader cuts, whatever the reads return.
func TestReadHeaderBlock(t *testing.T) {
	long := "X-Long: " + strings.Repeat("y", 10000) + "\r\n\r\nbody"
	for _, raw := range append(mixedMessages, "", "\n", long, "a\r", "a\r\n\r") {
		want, _ := imapmsg.SplitHeader([]byte(raw))
		for _, r := range []io.Reader{strings.NewReader(raw), iotest.OneByteReader(strings.NewReader(raw)),
			iotest.DataErrReader(strings.NewReader(raw)), iotest.HalfReader(strings.NewReader(raw))} {
			got, err := ReadHeaderBlock(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%.40q: %q, %v; want %.40q", raw, got, err, want)
			}
		}
	}
	boom := errors.New("boom")
	if _, err := ReadHeaderBlock(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
}
