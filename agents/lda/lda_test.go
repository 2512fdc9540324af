package lda_test

import (
	"context"
	"strings"
	"testing"

	"github.com/maillab/maillab/agents/lda"
	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/imap/imapclient"
)

var plainUsers = func() map[string]lda.User {
	return map[string]lda.User{"bob@b.test": {}, "carol@b.test": {}, "dave@b.test": {}}
}

func TestAliasToThreeUsers(t *testing.T) {
	l := newLab(t, lda.Config{Users: plainUsers(), Aliases: map[string][]string{
		"team@b.test": {"bob@b.test", "carol@b.test", "dave@b.test"},
	}}, false)
	got := l.send("alice@a.test", []string{"team@b.test"}, message("Subject: hi"))
	if r := got["team@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <team@b.test> bob@b.test: delivered to INBOX as new/") || strings.Count(r, "delivered to") != 3 {
		t.Errorf("reply %q", r)
	}
	for _, u := range []string{"bob", "carol", "dave"} {
		msgs := l.inbox(u + "@b.test")
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages", u, len(msgs))
		}
		if !strings.HasPrefix(msgs[0], "Return-Path: <alice@a.test>\r\nDelivered-To: "+u+"@b.test\r\nReceived: ") ||
			!strings.Contains(msgs[0], "for <team@b.test>;") {
			t.Errorf("%s's copy:\n%s", u, msgs[0])
		}
	}
	l.wantNote("team@b.test is an alias: bob@b.test, carol@b.test, dave@b.test")
	l.wantNote("stored in carol@b.test's Maildir as new/")
}

func TestNestedAliasDeliversOnce(t *testing.T) {
	l := newLab(t, lda.Config{Users: plainUsers(), Aliases: map[string][]string{
		"all@b.test":  {"team@b.test", "dave@b.test", "bob@b.test"},
		"team@b.test": {"bob@b.test", "carol@b.test"},
	}}, false)
	got := l.send("alice@a.test", []string{"all@b.test"}, message("Subject: hi"))
	if !strings.HasPrefix(got["all@b.test"], "250 2.0.0 ") {
		t.Errorf("reply %q", got["all@b.test"])
	}
	for _, u := range []string{"bob", "carol", "dave"} {
		if n := len(l.inbox(u + "@b.test")); n != 1 {
			t.Errorf("%s: %d messages, want 1", u, n)
		}
	}
	l.wantNote("all@b.test is an alias: team@b.test, dave@b.test, bob@b.test")
	l.wantNote("team@b.test is an alias: bob@b.test, carol@b.test")
	l.wantNote("bob@b.test: already delivered to bob@b.test in this delivery: no second copy")
}

func TestAliasLoop(t *testing.T) {
	l := newLab(t, lda.Config{Users: plainUsers(), Aliases: map[string][]string{
		"a@b.test": {"b@b.test", "bob@b.test"},
		"b@b.test": {"a@b.test"},
		"x@b.test": {"y@b.test"},
		"y@b.test": {"x@b.test"},
		"z@b.test": {"nobody@b.test"},
	}}, false)
	got := l.send("alice@a.test", []string{"a@b.test", "x@b.test", "z@b.test"}, message("Subject: loop"))
	if !strings.HasPrefix(got["a@b.test"], "250 2.0.0 ") {
		t.Errorf("a: %q: the branch to bob should be delivered", got["a@b.test"])
	}
	if n := len(l.inbox("bob@b.test")); n != 1 {
		t.Errorf("bob: %d messages", n)
	}
	l.wantNote("alias loop: a@b.test → b@b.test → a@b.test")
	if r := got["x@b.test"]; !strings.HasPrefix(r, "554 5.4.6 <x@b.test>: alias loop: x@b.test → y@b.test → x@b.test") {
		t.Errorf("x: %q", r)
	}
	if r := got["z@b.test"]; r != "550 5.1.1 <nobody@b.test>: no such user here" {
		t.Errorf("z: %q", r)
	}
}

func TestAliasDepth(t *testing.T) {
	aliases := map[string][]string{}
	for i := 0; i < 12; i++ {
		aliases[string(rune('a'+i))+"@b.test"] = []string{string(rune('a'+i+1)) + "@b.test"}
	}
	aliases["m@b.test"] = []string{"bob@b.test"}
	l := newLab(t, lda.Config{Users: plainUsers(), Aliases: aliases}, false)
	got := l.send("alice@a.test", []string{"a@b.test"}, message("Subject: deep"))
	if !strings.HasPrefix(got["a@b.test"], "554 5.4.6 ") {
		t.Errorf("reply %q", got["a@b.test"])
	}
	l.wantNote("aliases nested more than 10 deep")
}

func TestAliasToExternalAddress(t *testing.T) {
	l := newLab(t, lda.Config{Users: plainUsers(), Aliases: map[string][]string{
		"team@b.test": {"bob@b.test", "zed@elsewhere.test"},
	}}, false)
	got := l.send("alice@a.test", []string{"team@b.test"}, message("Subject: out"))
	if r := got["team@b.test"]; !strings.Contains(r, "sent on to <zed@elsewhere.test>") {
		t.Errorf("reply %q", r)
	}
	sent := l.mta.Messages()
	if len(sent) != 1 {
		t.Fatalf("%d messages submitted", len(sent))
	}
	m := sent[0]
	if m.From.String() != "alice@a.test" || len(m.To) != 1 || m.To[0].String() != "zed@elsewhere.test" {
		t.Errorf("envelope %v → %v", m.From, m.To)
	}
	if !strings.HasPrefix(string(m.Data), "Delivered-To: team@b.test\r\nReceived: ") || strings.Contains(string(m.Data), "Return-Path") {
		t.Errorf("submitted:\n%s", m.Data)
	}
	if n := len(l.inbox("bob@b.test")); n != 1 {
		t.Errorf("bob: %d", n)
	}
	l.wantNote("zed@elsewhere.test (from alias team@b.test): sent on to the MTA, MAIL FROM:<alice@a.test>")
}

func TestSubaddress(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "shop" {
    fileinto "Shop";
}
`)}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("alice@a.test", []string{"bob+shop@b.test", "bob+news@b.test", "carol+x@b.test", "nobody+x@b.test"}, message("Subject: sub"))
	if r := got["nobody+x@b.test"]; !strings.HasPrefix(r, "550 5.1.1 ") {
		t.Errorf("nobody+x: %q", r)
	}
	for _, a := range []string{"bob+shop@b.test", "bob+news@b.test", "carol+x@b.test"} {
		if !strings.HasPrefix(got[a], "250 2.0.0 ") {
			t.Errorf("%s: %q", a, got[a])
		}
	}
	if n := len(l.folder("bob@b.test", "Shop")); n != 1 {
		t.Errorf("bob's Shop: %d", n)
	}
	if n := len(l.inbox("bob@b.test")); n != 1 {
		t.Errorf("bob's INBOX: %d (bob+news has no rule)", n)
	}
	if n := len(l.inbox("carol@b.test")); n != 1 {
		t.Errorf("carol's INBOX: %d", n)
	}
	l.wantNote("sieve bob@b.test: line 2: envelope :detail", "→ true", "to <bob+shop@b.test>")
	l.wantNote(`sieve bob@b.test: line 3: fileinto "Shop" → stored in Shop as cur/`)
}

func TestForward(t *testing.T) {
	users := plainUsers()
	users["carol@b.test"] = lda.User{Forward: []string{"carol@elsewhere.test"}}
	users["dave@b.test"] = lda.User{Forward: []string{"dave@elsewhere.test", "dave2@elsewhere.test"}, KeepCopy: true}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("alice@a.test", []string{"carol@b.test", "dave@b.test"}, message("Subject: fwd"))
	if r := got["carol@b.test"]; r != "250 2.0.0 <carol@b.test> forwarded to carol@elsewhere.test" {
		t.Errorf("carol: %q", r)
	}
	if r := got["dave@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <dave@b.test> forwarded to dave@elsewhere.test, dave2@elsewhere.test; delivered to INBOX as new/") {
		t.Errorf("dave: %q", r)
	}
	if n := len(l.inbox("carol@b.test")); n != 0 {
		t.Errorf("carol kept %d", n)
	}
	if n := len(l.inbox("dave@b.test")); n != 1 {
		t.Errorf("dave kept %d", n)
	}
	sent := l.mta.Messages()
	if len(sent) != 2 {
		t.Fatalf("%d submitted", len(sent))
	}
	for _, m := range sent {
		if m.From.String() != "alice@a.test" {
			t.Errorf("forward from %v, want the original sender", m.From)
		}
		box := m.To[0].Local // carol, or dave (dave@ and dave2@ in one transaction)
		if !strings.HasPrefix(string(m.Data), "Delivered-To: "+box+"@b.test\r\nReceived: ") {
			t.Errorf("forwarded:\n%s", m.Data)
		}
	}
	l.wantNote("carol@b.test: forwarded to carol@elsewhere.test, MAIL FROM:<alice@a.test>")

	// The forwarded copy comes back: not forwarded again, kept.
	got = l.send("alice@a.test", []string{"carol@b.test"}, "Delivered-To: carol@b.test\r\n"+message("Subject: fwd"))
	if r := got["carol@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <carol@b.test> delivered to INBOX") {
		t.Errorf("loop: %q", r)
	}
	if n := len(l.mta.Messages()); n != 2 {
		t.Errorf("%d submitted after the loop, want still 2", n)
	}
	if n := len(l.inbox("carol@b.test")); n != 1 {
		t.Errorf("carol kept %d after the loop", n)
	}
	l.wantNote("carol@b.test: forward: the message already has Delivered-To: carol@b.test: a forwarding loop, not forwarded again; kept here")
}

func TestForwardWithoutSubmitKeeps(t *testing.T) {
	users := plainUsers()
	users["carol@b.test"] = lda.User{Forward: []string{"carol@elsewhere.test"}}
	l := newLab(t, lda.Config{Users: users, Submit: func(context.Context, string, []string, []byte) error {
		return context.DeadlineExceeded
	}}, false)
	got := l.send("alice@a.test", []string{"carol@b.test"}, message("Subject: fwd"))
	if r := got["carol@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <carol@b.test> delivered to INBOX") {
		t.Errorf("carol: %q", r)
	}
	l.wantNote("carol@b.test: forward to carol@elsewhere.test failed", "kept here instead")
}

func TestFileintoCreatesFolder(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `require "fileinto";
# lists
if header :contains "List-Id" "maillab-students" {
    fileinto "Lists";
} elsif header :contains "Subject" "escape" {
    fileinto "../etc";
}
`)}
	l := newLab(t, lda.Config{Users: users}, true)
	got := l.send("alice@a.test", []string{"bob@b.test"}, message("Subject: list", "List-Id: <maillab-students.b.test>"))
	if r := got["bob@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <bob@b.test> delivered to Lists as cur/") {
		t.Errorf("reply %q", r)
	}
	l.wantNote("sieve bob@b.test: line 3: header :contains \"List-Id\" \"maillab-students\" → true")
	l.wantNote(`sieve bob@b.test: line 4: fileinto "Lists" → created folder Lists (no :create`)
	l.wantNote(`sieve bob@b.test: line 4: fileinto "Lists" → stored in Lists as cur/`)
	u, err := l.store.User("bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := u.Folders()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fs {
		found = found || f.Name == "Lists" && !f.NoSelect
	}
	if !found {
		t.Errorf("folders %v: no Lists", fs)
	}
	if n := len(l.inbox("bob@b.test")); n != 0 {
		t.Errorf("INBOX: %d", n)
	}

	// A name that would leave the Maildir lands in INBOX.
	got = l.send("alice@a.test", []string{"bob@b.test"}, message("Subject: escape"))
	if r := got["bob@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <bob@b.test> delivered to INBOX") {
		t.Errorf("escape: %q", r)
	}
	l.wantNote(`fileinto "../etc" → bad folder name`)

	// IMAP sees the folder and its message.
	dial := l.rec.Dialer("bob-laptop", "imap", nil)
	c, err := imapclient.Dial(context.Background(), dial, l.mda.Endpoints()["imap"], imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob", "bob"); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*")
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, e := range list {
		found = found || e.Name == "Lists"
	}
	if !found {
		t.Errorf("LIST: %+v", list)
	}
	st, err := c.Select("Lists")
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists != 1 {
		t.Errorf("SELECT Lists: %d EXISTS", st.Exists)
	}
	_ = c.Logout()
}

func TestDiscard(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `if header :contains "Subject" "spam" { discard; }`)}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("spammer@a.test", []string{"bob@b.test"}, message("Subject: spam spam"))
	if r := got["bob@b.test"]; r != "250 2.0.0 <bob@b.test> discarded by the user's script" {
		t.Errorf("reply %q", r)
	}
	if n := len(l.inbox("bob@b.test")); n != 0 {
		t.Errorf("INBOX: %d", n)
	}
	l.wantNote("sieve bob@b.test: line 1: discard → nothing stored")
}

func TestReject(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `require "reject";
if address :is "from" "pest@a.test" {
    reject "I do not accept messages from you.";
}`)}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("pest@a.test", []string{"bob@b.test", "carol@b.test"}, message("From: pest@a.test", "Subject: hi"))
	if r := got["bob@b.test"]; r != "550 5.7.1 <bob@b.test> I do not accept messages from you." {
		t.Errorf("bob: %q", r)
	}
	if r := got["carol@b.test"]; !strings.HasPrefix(r, "250 2.0.0 ") {
		t.Errorf("carol: %q", r)
	}
	if n := len(l.inbox("bob@b.test")); n != 0 {
		t.Errorf("bob: %d", n)
	}
	if n := len(l.inbox("carol@b.test")); n != 1 {
		t.Errorf("carol: %d", n)
	}
	l.wantNote(`sieve bob@b.test: line 3: reject "I do not accept messages from you." → refused: 550 5.7.1`)
}

func TestRuntimeErrorKeeps(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `require ["reject", "fileinto"];
fileinto "Later";
reject "no";
`)}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("alice@a.test", []string{"bob@b.test"}, message("Subject: hi"))
	if r := got["bob@b.test"]; !strings.HasPrefix(r, "250 2.0.0 <bob@b.test> delivered to INBOX") {
		t.Errorf("reply %q", r)
	}
	if n := len(l.inbox("bob@b.test")); n != 1 {
		t.Errorf("INBOX: %d", n)
	}
	if l.folder("bob@b.test", "Later") != nil {
		t.Error("Later was created")
	}
	l.wantNote("sieve bob@b.test: the script failed (bob.sieve:3:1:", "the message is kept in INBOX")
}

func TestRedirect(t *testing.T) {
	users := plainUsers()
	users["bob@b.test"] = lda.User{Sieve: script(t, "bob.sieve", `redirect "bob@home.test";`)}
	l := newLab(t, lda.Config{Users: users}, false)
	got := l.send("alice@a.test", []string{"bob@b.test"}, message("Subject: hi"))
	if r := got["bob@b.test"]; r != "250 2.0.0 <bob@b.test> redirected to <bob@home.test>" {
		t.Errorf("reply %q", r)
	}
	sent := l.mta.Messages()
	if len(sent) != 1 || sent[0].From.String() != "alice@a.test" || sent[0].To[0].String() != "bob@home.test" {
		t.Fatalf("submitted %+v", sent)
	}
	if n := len(l.inbox("bob@b.test")); n != 0 {
		t.Errorf("INBOX: %d", n)
	}
}

func TestQuota(t *testing.T) {
	msg := message("Subject: big", "X-Pad: "+strings.Repeat("x", 300))
	users := plainUsers()
	users["bob@b.test"] = lda.User{Quota: 1400}
	users["carol@b.test"] = lda.User{Quota: 1400, QuotaTemporary: true}
	l := newLab(t, lda.Config{Users: users}, false)
	for i := 0; i < 2; i++ {
		got := l.send("alice@a.test", []string{"bob@b.test", "carol@b.test"}, msg)
		if !strings.HasPrefix(got["bob@b.test"], "250 ") || !strings.HasPrefix(got["carol@b.test"], "250 ") {
			t.Fatalf("message %d: %v", i, got)
		}
	}
	got := l.send("alice@a.test", []string{"bob@b.test", "carol@b.test"}, msg)
	if r := got["bob@b.test"]; r != "552 5.2.2 <bob@b.test> Mailbox full" {
		t.Errorf("bob: %q", r)
	}
	if r := got["carol@b.test"]; r != "452 4.2.2 <carol@b.test> Mailbox full, try again later" {
		t.Errorf("carol: %q", r)
	}
	if n := len(l.inbox("bob@b.test")); n != 2 {
		t.Errorf("bob: %d", n)
	}
	l.wantNote("bob@b.test is over quota: the mailbox holds", "the limit is 1400: nothing stored")

	// Room again once the messages are gone.
	removeAll(t, l.store, "bob@b.test")
	got = l.send("alice@a.test", []string{"bob@b.test"}, msg)
	if r := got["bob@b.test"]; !strings.HasPrefix(r, "250 ") {
		t.Errorf("after removing: %q", r)
	}
}

func TestQuotaCountsFolders(t *testing.T) {
	msg := message("Subject: big", "X-Pad: "+strings.Repeat("x", 300))
	users := plainUsers()
	users["bob@b.test"] = lda.User{Quota: 1400, Sieve: script(t, "bob.sieve", `require "fileinto"; fileinto "Archive";`)}
	l := newLab(t, lda.Config{Users: users}, false)
	for i, want := range []string{"250 ", "250 ", "552 5.2.2 "} {
		got := l.send("alice@a.test", []string{"bob@b.test"}, msg)
		if !strings.HasPrefix(got["bob@b.test"], want) {
			t.Errorf("message %d: %q, want %q", i, got["bob@b.test"], want)
		}
	}
	if n := len(l.folder("bob@b.test", "Archive")); n != 2 {
		t.Errorf("Archive: %d", n)
	}
}

func TestConfigErrors(t *testing.T) {
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]lda.Config{
		"no store":      {},
		"bad user":      {Store: store, Users: map[string]lda.User{"nobody": {}}},
		"bad forward":   {Store: store, Users: map[string]lda.User{"bob@b.test": {Forward: []string{"x"}}}},
		"user is alias": {Store: store, Users: map[string]lda.User{"bob@b.test": {}}, Aliases: map[string][]string{"bob@b.test": {"x@y.test"}}},
		"empty alias":   {Store: store, Aliases: map[string][]string{"team@b.test": nil}},
		"bad target":    {Store: store, Aliases: map[string][]string{"team@b.test": {"not an address"}}},
	} {
		if _, err := lda.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "lda: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
