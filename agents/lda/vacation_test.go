package lda_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/lda"
)

const vacationScript = `require "vacation";
vacation :days 7 :subject "Away" "I am away until Monday.";
`

func TestVacationOncePerPeriod(t *testing.T) {
	state := t.TempDir()
	users := func() map[string]lda.User {
		u := plainUsers()
		u["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", vacationScript), Addresses: []string{"robert@b.test"}}
		return u
	}
	l := newLab(t, lda.Config{Users: users(), StateDir: state}, false)
	hello := message("From: alice@a.test", "To: Bob <bob@b.test>", "Subject: hello", "Message-ID: <m1@a.test>")
	got := l.send("alice@a.test", []string{"bob@b.test"}, hello)
	if !strings.HasPrefix(got["bob@b.test"], "250 2.0.0 <bob@b.test> delivered to INBOX") {
		t.Fatalf("reply %q", got["bob@b.test"])
	}
	sent := l.mta.Messages()
	if len(sent) != 1 {
		t.Fatalf("%d replies, want 1", len(sent))
	}
	r := sent[0]
	if !r.From.IsNull() || len(r.To) != 1 || r.To[0].String() != "alice@a.test" {
		t.Errorf("reply envelope %v → %v, want <> → alice", r.From, r.To)
	}
	for _, want := range []string{"From: bob@b.test\r\n", "To: alice@a.test\r\n", "Subject: Away\r\n",
		"In-Reply-To: <m1@a.test>\r\n", "References: <m1@a.test>\r\n", "Auto-Submitted: auto-replied",
		"Message-ID: <vacation.", "@mda.b.test>\r\n", "\r\n\r\nI am away until Monday.\r\n"} {
		if !strings.Contains(string(r.Data), want) {
			t.Errorf("reply lacks %q:\n%s", want, r.Data)
		}
	}
	l.wantNote("sieve bob@b.test: line 2: vacation → reply sent to <alice@a.test> from <>")

	// Within :days: no second reply.
	l.setNow(testNow.Add(3 * 24 * time.Hour))
	l.send("alice@a.test", []string{"bob@b.test"}, hello)
	l.wantNote("sieve bob@b.test: line 2: vacation → no reply: one went to <alice@a.test>", "within :days 7")
	// A bounce, a list message, a Bcc copy: none.
	l.send("", []string{"bob@b.test"}, hello)
	l.wantNote("line 2: vacation", "→ no reply: the envelope sender is <>, a bounce")
	l.send("carol@a.test", []string{"bob@b.test"}, message("To: bob@b.test", "List-Id: <students.a.test>", "Subject: list"))
	l.wantNote("line 2: vacation", "→ no reply: List-Id is present")
	l.send("carol@a.test", []string{"bob@b.test"}, message("To: someone@a.test", "Subject: bcc"))
	l.wantNote("line 2: vacation", "→ no reply: none of the user's addresses")
	// User.Addresses count as the user's.
	l.send("dan@a.test", []string{"bob@b.test"}, message("To: robert@b.test", "Subject: alias"))
	if n := len(l.mta.Messages()); n != 2 {
		t.Fatalf("%d replies, want 2 (alice once, dan once)", n)
	}

	// A new LDA on the same StateDir remembers.
	l2 := newLab(t, lda.Config{Users: users(), StateDir: state}, false)
	l2.setNow(testNow.Add(5 * 24 * time.Hour))
	l2.send("alice@a.test", []string{"bob@b.test"}, hello)
	if n := len(l2.mta.Messages()); n != 0 {
		t.Errorf("after restart: %d replies, want 0", n)
	}
	l2.wantNote("vacation → no reply: one went to <alice@a.test>")
	// After :days, a new reply.
	l2.setNow(testNow.Add(8 * 24 * time.Hour))
	l2.send("alice@a.test", []string{"bob@b.test"}, hello)
	if n := len(l2.mta.Messages()); n != 1 {
		t.Errorf("after 8 days: %d replies, want 1", n)
	}
}

func TestVacationSubmitFails(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", vacationScript)}
	l := newLab(t, lda.Config{Users: users, Submit: func(context.Context, string, []string, []byte) error {
		return errors.New("MTA down")
	}}, false)
	got := l.send("alice@a.test", []string{"bob@b.test"}, message("To: bob@b.test", "Subject: x"))
	if !strings.HasPrefix(got["bob@b.test"], "250 2.0.0 <bob@b.test> delivered to INBOX") {
		t.Errorf("reply %q", got["bob@b.test"])
	}
	l.wantNote("vacation → the reply to <alice@a.test> could not be sent: MTA down")
}
