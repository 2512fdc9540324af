package mda_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/transcripts"
)

// stubDeliverer answers each recipient as its table says and records
// what it was given.
type stubDeliverer struct {
	answers map[string]error // by Rcpt; absent: not accepted
	mu      sync.Mutex
	got     []mda.Delivery
}

func (s *stubDeliverer) Accepts(rcpt mail.Path) bool {
	_, ok := s.answers[rcpt.String()]
	return ok
}

func (s *stubDeliverer) Deliver(_ context.Context, d mda.Delivery) error {
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
	d.Tracer.Note("stub: " + d.Rcpt.String())
	return s.answers[d.Rcpt.String()]
}

func TestDelivererDecides(t *testing.T) {
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stub := &stubDeliverer{answers: map[string]error{
		"team@b.test":  nil,
		"bob+x@b.test": smtp.Errorf(smtp.C250OK, "2.0.0", "<bob+x@b.test> delivered to Shop"),
		"bob@b.test":   smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "<bob@b.test> go away"),
		"carol@b.test": errors.New("disk on fire"),
	}}
	rec := transcripts.NewRecorder(transcripts.Options{})
	m, err := mda.New(mda.Config{
		Name: "mda.b.test", Store: store, Users: []string{"bob@b.test", "dave@b.test"}, Recorder: rec, Deliverer: stub,
		Now: func() time.Time { return time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC) },
		IDs: func() string { return "ID1" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	c, err := smtpclient.Dial(context.Background(), rec.Dialer("mx.b.test", "lmtp", nil), m.Endpoints()["lmtp"], smtpclient.Options{LMTP: true, LocalName: "mx.b.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rcpts := []mail.Path{{Local: "team", Domain: "b.test"}, {Local: "bob+x", Domain: "b.test"}, {Local: "bob", Domain: "b.test"},
		{Local: "carol", Domain: "b.test"}, {Local: "dave", Domain: "b.test"}}
	res, _ := c.SendMail(mail.Path{Local: "alice", Domain: "a.test"}, rcpts, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"), smtp.MailParams{})
	// dave is one of Users, but the Deliverer decides RCPT.
	if e := res.Refused["dave@b.test"]; e == nil || e.Error() != "550 5.1.1 <dave@b.test>: no such user here" {
		t.Errorf("dave: %v", e)
	}
	want := []string{
		"250 2.0.0 <team@b.test> delivered",
		"250 2.0.0 <bob+x@b.test> delivered to Shop",
		"550 5.7.1 <bob@b.test> go away",
		"451 4.3.0 <carol@b.test>: could not deliver the message, try again later",
	}
	if len(res.LMTP) != len(want) {
		t.Fatalf("%d replies: %v", len(res.LMTP), res.LMTP)
	}
	for i, w := range want {
		if got := res.LMTP[i].String(); got != w {
			t.Errorf("reply %d = %q, want %q", i, got, w)
		}
	}
	if msgs, _ := store.List("bob@b.test"); len(msgs) != 0 {
		t.Errorf("the MDA stored %d messages itself", len(msgs))
	}
	d := stub.got[0]
	if d.From.String() != "alice@a.test" || d.Rcpt.String() != "team@b.test" || string(d.Msg) != "Subject: hi\r\n\r\nbody\r\n" {
		t.Errorf("delivery %+v", d)
	}
	wantTrace := "Return-Path: <alice@a.test>\r\nDelivered-To: bob@b.test\r\nReceived: from mx.b.test ([127.0.0.1])\r\n\tby mda.b.test (maillab) with LMTP id ID1\r\n\tfor <team@b.test>; Thu, 15 Jan 2026 09:00:00 +0000\r\n"
	if got := string(d.Trace("bob@b.test")); got != wantTrace {
		t.Errorf("Trace:\n%q\nwant\n%q", got, wantTrace)
	}
	var notes []string
	for _, ev := range rec.Events() {
		if ev.Kind == transcripts.KindNote {
			notes = append(notes, ev.Line)
		}
	}
	joined := strings.Join(notes, "\n")
	for _, w := range []string{"stub: team@b.test", "could not deliver to carol@b.test: disk on fire"} {
		if !strings.Contains(joined, w) {
			t.Errorf("no note %q in:\n%s", w, joined)
		}
	}
}
