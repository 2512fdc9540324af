package imapserver

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// diskBackend is a MemoryBackend whose INBOX messages are read from files,
// one per UID, as a Maildir backend reads them: it shows the cost of
// reading that the MemoryBackend hides. With headers, its mailboxes
// implement HeaderReader by reading each file up to its blank line.
type diskBackend struct {
	*MemoryBackend
	dir     string
	headers bool
}

// newDiskBackend returns bob/secret with msgs in his INBOX, kept in files
// under a temporary directory.
func newDiskBackend(t testing.TB, headers bool, msgs ...[]byte) *diskBackend {
	t.Helper()
	b := &diskBackend{MemoryBackend: NewMemoryBackend(), dir: t.TempDir(), headers: headers}
	b.AddUser("bob", "secret")
	for _, m := range msgs {
		uid, err := b.Deliver("bob", "INBOX", m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(b.path(uid), m, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *diskBackend) path(uid uint32) string {
	return filepath.Join(b.dir, strconv.FormatUint(uint64(uid), 10))
}

func (b *diskBackend) Login(user, pass string) (User, error) {
	u, err := b.MemoryBackend.Login(user, pass)
	if err != nil {
		return nil, err
	}
	return diskUser{u, b}, nil
}

type diskUser struct {
	User
	b *diskBackend
}

func (u diskUser) Open(name string, readOnly bool) (Mailbox, error) {
	m, err := u.User.Open(name, readOnly)
	if err != nil || name != "INBOX" {
		return m, err
	}
	// Hide the MemoryBackend's ReadHeader: only the embedded Mailbox's
	// methods are promoted.
	dm := diskMailbox{Mailbox: m, b: u.b}
	if u.b.headers {
		return diskHeaderMailbox{dm}, nil
	}
	return dm, nil
}

type diskMailbox struct {
	Mailbox
	b *diskBackend
}

func (m diskMailbox) Read(uid uint32) ([]byte, error) { return os.ReadFile(m.b.path(uid)) }

type diskHeaderMailbox struct{ diskMailbox }

func (m diskHeaderMailbox) ReadHeader(uid uint32) ([]byte, error) {
	f, err := os.Open(m.b.path(uid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadHeaderBlock(f)
}

// largeMessage is a message of about 20 KiB, a header as real mail has
// it and a multipart body with an attachment: the part FETCH of headers
// need not read or parse.
func largeMessage(i int) []byte {
	var b bytes.Buffer
	for h := range 5 {
		b.WriteString("Received: from relay" + strconv.Itoa(h) + ".example.test (relay" + strconv.Itoa(h) +
			".example.test [192.0.2." + strconv.Itoa(h) + "])\r\n\tby mx.example.test with ESMTPS id " +
			strconv.Itoa(i*10+h) + "\r\n\tfor <bob@example.test>; Tue, 1 Feb 1994 10:00:00 +0000\r\n")
	}
	from := "Carol <carol@example.test>"
	if i%100 == 0 {
		from = "Alice <alice@example.test>"
	}
	b.WriteString("From: " + from + "\r\nTo: bob@example.test\r\nSubject: Report " + strconv.Itoa(i) +
		"\r\nDate: Tue, 1 Feb 1994 10:00:00 +0000\r\nMessage-ID: <" + strconv.Itoa(i) + "@example.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nThe report is attached.\r\n" +
		"--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for range 260 {
		b.WriteString(strings.Repeat("QUJD", 19) + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

func largeMessages(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = largeMessage(i)
	}
	return msgs
}

// BenchmarkDisk measures FETCH of 1,000 headers and SEARCH FROM of 10,000
// messages of about 20 KiB read from files, with and without HeaderReader.
// Search10000 repeats the search in one session, as a client does;
// SearchCold10000 SELECTs again before each, which empties the session's
// cache of header fields.
func BenchmarkDisk(b *testing.B) {
	fetchMsgs, searchMsgs := largeMessages(1000), largeMessages(10000)
	for _, headers := range []bool{false, true} {
		name := "Read"
		if headers {
			name = "ReadHeader"
		}
		b.Run("FetchHeaders1000/"+name, func(b *testing.B) {
			_, addr := startServer(b, Options{}, newDiskBackend(b, headers, fetchMsgs...))
			tc := selectedInbox(b, addr)
			for b.Loop() {
				tc.send("f FETCH 1:1000 (BODY.PEEK[HEADER])")
				tc.until("f OK")
			}
		})
		b.Run("FetchEnvelope1000/"+name, func(b *testing.B) {
			_, addr := startServer(b, Options{}, newDiskBackend(b, headers, fetchMsgs...))
			tc := selectedInbox(b, addr)
			for b.Loop() {
				tc.send("f FETCH 1:1000 (UID FLAGS ENVELOPE RFC822.SIZE)")
				tc.until("f OK")
			}
		})
		b.Run("SearchCold10000/"+name, func(b *testing.B) {
			// A new SELECT before each search: no header cached.
			_, addr := startServer(b, Options{}, newDiskBackend(b, headers, searchMsgs...))
			tc := selectedInbox(b, addr)
			for b.Loop() {
				tc.send("s1 SELECT INBOX", `s SEARCH FROM "carol"`)
				tc.until("s OK")
			}
		})
		b.Run("Search10000/"+name, func(b *testing.B) {
			_, addr := startServer(b, Options{}, newDiskBackend(b, headers, searchMsgs...))
			tc := selectedInbox(b, addr)
			for b.Loop() {
				tc.send(`s SEARCH FROM "carol"`)
				tc.until("s OK")
			}
		})
	}
}
