package mda

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/imap/imapserver"
)

// countingBackend serves one user's folders without passwords and counts
// the adapter's Read and ReadHeader calls.
type countingBackend struct {
	u                  *mailbox.User
	reads, headerReads int // only the session's goroutine counts
}

func (b *countingBackend) Login(user, pass string) (imapserver.User, error) {
	return &countingUser{imapUser: &imapUser{u: b.u, addr: "bob@b.test"}, b: b}, nil
}

type countingUser struct {
	*imapUser
	b *countingBackend
}

func (u *countingUser) Open(name string, readOnly bool) (imapserver.Mailbox, error) {
	mb, err := u.imapUser.Open(name, readOnly)
	if err != nil {
		return nil, err
	}
	return &countingMailbox{imapMailbox: mb.(*imapMailbox), b: u.b}, nil
}

type countingMailbox struct {
	*imapMailbox
	b *countingBackend
}

func (mb *countingMailbox) Read(uid uint32) ([]byte, error) {
	mb.b.reads++
	return mb.imapMailbox.Read(uid)
}

func (mb *countingMailbox) ReadHeader(uid uint32) ([]byte, error) {
	mb.b.headerReads++
	return mb.imapMailbox.ReadHeader(uid)
}

// TestIMAPHeaderReader checks that FETCH BODY.PEEK[HEADER] and SEARCH FROM
// read only the headers through ReadHeader, never the whole file, and that
// the octets are the start of the file up to its empty line.
func TestIMAPHeaderReader(t *testing.T) {
	s, err := mailbox.OpenWith(t.TempDir(), mailbox.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.User("bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Folder("INBOX"); err != nil {
		t.Fatal(err)
	}
	long := "X-Long: " + strings.Repeat("y", 9000) + "\r\n" // past ReadHeaderBlock's first 4 KiB
	files := []string{
		"From: alice@a.test\r\nSubject: one\r\n\r\nbody one\r\n\r\nmore\r\n",
		"From: carol@c.test\r\n" + long + "Subject: two\r\n\r\n" + strings.Repeat("body\r\n", 2000),
		"From: alice@a.test\nSubject: three, LF only\n\nbody\n",
		"From: dave@d.test\r\nSubject: no body\r\n", // no empty line: all of it
	}
	want := []string{
		"From: alice@a.test\r\nSubject: one\r\n\r\n",
		"From: carol@c.test\r\n" + long + "Subject: two\r\n\r\n",
		"From: alice@a.test\nSubject: three, LF only\n\n",
		files[3],
	}
	for i, f := range files {
		name := fmt.Sprintf("1767225600.M%dP1Q%d.mda.b.test,S=%d:2,", i, i, len(f))
		if err := os.WriteFile(filepath.Join(u.Dir(), "cur", name), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	be := &countingBackend{u: u}
	srv := imapserver.New(imapserver.Options{}, be)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	// cmd sends a command and returns the untagged lines, each literal
	// appended to its line, and fails unless the tagged answer is OK.
	cmd := func(tag, text string) []string {
		t.Helper()
		fmt.Fprintf(nc, "%s %s\r\n", tag, text)
		var out []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					t.Fatalf("%s: %s", text, line)
				}
				return out
			}
			if i := strings.LastIndexByte(line, '{'); i >= 0 && strings.HasSuffix(line, "}\r\n") {
				n, _ := strconv.Atoi(line[i+1 : len(line)-3])
				lit := make([]byte, n)
				if _, err := io.ReadFull(br, lit); err != nil {
					t.Fatal(err)
				}
				rest, err := br.ReadString('\n') // the line goes on after the literal
				if err != nil {
					t.Fatal(err)
				}
				line += string(lit) + rest
			}
			out = append(out, line)
		}
	}
	if _, err := br.ReadString('\n'); err != nil { // greeting
		t.Fatal(err)
	}
	cmd("a", "LOGIN bob x")
	cmd("b", "SELECT INBOX")

	got := cmd("c", "FETCH 1:* (BODY.PEEK[HEADER])")
	if len(got) != len(want) {
		t.Fatalf("FETCH: %d responses, want %d", len(got), len(want))
	}
	for i, line := range got {
		_, lit, _ := strings.Cut(line, "}\r\n")
		lit = strings.TrimSuffix(lit, ")\r\n")
		if lit != want[i] {
			t.Errorf("message %d: BODY[HEADER] is %q, want %q", i+1, lit, want[i])
		}
	}
	if be.reads != 0 || be.headerReads != len(files) {
		t.Errorf("FETCH BODY.PEEK[HEADER]: %d Read, %d ReadHeader; want 0 and %d", be.reads, be.headerReads, len(files))
	}

	be.headerReads = 0
	got = cmd("d", `SEARCH FROM "alice"`)
	if len(got) != 1 || got[0] != "* SEARCH 1 3\r\n" {
		t.Errorf("SEARCH FROM alice: %q, want * SEARCH 1 3", got)
	}
	if be.reads != 0 || be.headerReads == 0 {
		t.Errorf("SEARCH FROM: %d Read, %d ReadHeader; want 0 and more", be.reads, be.headerReads)
	}

	// The contract: the first octets of what Read returns.
	mb, err := (&imapUser{u: u}).Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	for i := range files {
		h, err := mb.(imapserver.HeaderReader).ReadHeader(uint32(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		full, err := mb.Read(uint32(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(full, h) || string(h) != want[i] {
			t.Errorf("UID %d: ReadHeader %q is not the start of the file up to its empty line", i+1, h)
		}
	}
	if _, err := mb.(imapserver.HeaderReader).ReadHeader(99); err == nil {
		t.Error("ReadHeader of a UID that does not exist: no error")
	}
}
