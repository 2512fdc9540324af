package imapclient_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/imap/imapserver"
)

// TestAgainstMemoryServer runs a mail user's session against the lab's own
// IMAP server on a loopback socket.
func TestAgainstMemoryServer(t *testing.T) {
	be := imapserver.NewMemoryBackend()
	be.AddUser("bob", "pw")
	srv := imapserver.New(imapserver.Options{}, be)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	deliver := false
	opts := imapclient.Options{Timeout: 10 * time.Second, BeforeCommand: func(line string) error {
		if deliver && strings.HasSuffix(line, " IDLE") {
			// A message arrives while the phone idles.
			if _, err := be.Deliver("bob", "INBOX", []byte("Subject: new\r\n\r\nnews\r\n")); err != nil {
				t.Errorf("Deliver: %v", err)
			}
		}
		return nil
	}}
	c, err := imapclient.Dial(t.Context(), nil, ln.Addr().String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Login("bob", "pw"))
	if ok, err := c.HasCap("IDLE"); err != nil || !ok {
		t.Fatalf("HasCap(IDLE) = %v, %v", ok, err)
	}
	must(c.Create("Archive"))
	msg := []byte("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: Lunch?\r\n\r\nAt noon?\r\n")
	if _, err := c.Append("INBOX", []string{`\Flagged`}, time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), msg); err != nil {
		t.Fatalf("Append: %v", err)
	}
	mb, err := c.Select("INBOX")
	must(err)
	if mb.Exists != 1 || mb.UIDValidity == 0 {
		t.Errorf("Select = %+v", mb)
	}
	got, err := c.Fetch("1:*", "(UID FLAGS ENVELOPE BODY.PEEK[])")
	must(err)
	if len(got) != 1 || got[0].Envelope == nil || got[0].Envelope.Subject != "Lunch?" || string(got[0].Body["BODY[]"]) != string(msg) {
		t.Fatalf("Fetch = %+v", got)
	}
	ids, err := c.Search("FLAGGED")
	must(err)
	if len(ids) != 1 || ids[0] != 1 {
		t.Errorf("Search = %v", ids)
	}
	if _, err := c.Store("1", "+FLAGS", []string{`\Seen`}); err != nil {
		t.Errorf("Store: %v", err)
	}

	deliver = true
	var news []imapclient.Update
	must(c.Idle(t.Context(), func(u imapclient.Update) bool {
		news = append(news, u)
		return u.Kind != imapclient.UpdateExists
	}))
	deliver = false
	if len(news) == 0 || news[len(news)-1].String() != "2 EXISTS" || c.Mailbox().Exists != 2 {
		t.Errorf("IDLE news = %v, Exists = %d", news, c.Mailbox().Exists)
	}

	if _, err := c.UIDMove(itoa(got[0].UID), "Archive"); err != nil {
		t.Errorf("UIDMove: %v", err)
	}
	st, err := c.Status("Archive")
	must(err)
	if st.Exists != 1 {
		t.Errorf("Status Archive = %+v", st)
	}
	list, err := c.List("", "*")
	must(err)
	if len(list) != 2 {
		t.Errorf("List = %+v", list)
	}
	_, err = c.Select("Nowhere")
	if err == nil || !strings.HasPrefix(err.Error(), "imapclient: SELECT Nowhere: NO ") {
		t.Errorf("Select Nowhere = %v", err)
	}
	must(c.Logout())
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
