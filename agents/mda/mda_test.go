package mda_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/transcripts"
)

func startMDA(t *testing.T) (*mda.MDA, *mailbox.Store, *transcripts.Recorder) {
	t.Helper()
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := transcripts.NewRecorder(transcripts.Options{})
	m, err := mda.New(mda.Config{
		Name: "mda.b.test", Store: store, Users: []string{"bob@b.test", "Carol@B.test"}, Recorder: rec,
		Now: func() time.Time { return time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Endpoints()) != 0 {
		t.Error("endpoints before Start")
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 2 { // idempotent
			if err := m.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	return m, store, rec
}

func TestLMTPDeliversEachRecipient(t *testing.T) {
	m, store, rec := startMDA(t)
	dial := rec.Dialer("mx.b.test", "lmtp", nil)
	c, err := smtpclient.Dial(context.Background(), dial, m.Endpoints()["lmtp"], smtpclient.Options{LMTP: true, LocalName: "mx.b.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(""); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(mail.Path{}, smtp.MailParams{}); err != nil { // a bounce: MAIL FROM:<>
		t.Fatal(err)
	}
	err = c.Rcpt(mail.Path{Local: "nobody", Domain: "b.test"})
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 550 || e.Enhanced != "5.1.1" || e.Message != "<nobody@b.test>: no such user here" {
		t.Errorf("unknown user: %v", err)
	}
	for _, to := range []mail.Path{{Local: "bob", Domain: "b.test"}, {Local: "carol", Domain: "b.test"}} {
		if err := c.Rcpt(to); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := c.Cmd("DATA"); err != nil || r.Code != 354 {
		t.Fatalf("DATA: %v %v", r, err)
	}
	replies, err := c.SendDataLMTP(strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 2 {
		t.Fatalf("%d replies, want one per recipient", len(replies))
	}
	for i, who := range []string{"bob", "carol"} {
		re := regexp.MustCompile(`^250 2\.0\.0 <` + who + `@b\.test> delivered to new/\d+\.M\d+P\d+Q\d+\.[^,]+,S=\d+$`)
		if !re.MatchString(replies[i].String()) {
			t.Errorf("reply %d = %q", i, replies[i])
		}
		msgs, err := store.List(who + "@b.test")
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %v %v", who, msgs, err)
		}
		if !strings.HasSuffix(replies[i].String(), msgs[0].Name) {
			t.Errorf("reply %q does not name %s", replies[i], msgs[0].Name)
		}
		raw, _ := store.Read(msgs[0])
		want := "Return-Path: <>\r\nDelivered-To: " + who + "@b.test\r\nReceived: from mx.b.test ([127.0.0.1])\r\n\tby mda.b.test (maillab) with LMTP id "
		if !strings.HasPrefix(string(raw), want) || !strings.HasSuffix(string(raw), "for <"+who+"@b.test>; Thu, 15 Jan 2026 09:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n") {
			t.Errorf("stored:\n%s", raw)
		}
		// The note comes before the reply that promises the file.
		note, reply := -1, -1
		for j, ev := range rec.Events() {
			if ev.Kind == transcripts.KindNote && ev.Line == "stored in "+who+"@b.test's Maildir as new/"+msgs[0].Name {
				note = j
			}
			if ev.Kind == transcripts.KindLine && ev.Line == replies[i].String() {
				reply = j
			}
		}
		if note < 0 || reply < 0 || note > reply {
			t.Errorf("%s: note at %d, reply at %d", who, note, reply)
		}
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func TestConfig(t *testing.T) {
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]mda.Config{
		"no name":  {Store: store},
		"no store": {Name: "m"},
		"bad user": {Name: "m", Store: store, Users: []string{"nobody"}},
	} {
		if _, err := mda.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "mda: config") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	m, err := mda.New(mda.Config{Name: "mda", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "mda" || m.Kind() != "mda" {
		t.Errorf("Name %q Kind %q", m.Name(), m.Kind())
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
}
