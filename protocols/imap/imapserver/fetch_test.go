package imapserver

import (
	"fmt"
	"strings"
	"testing"
)

const headerPart = "From: Alice <alice@example.test>\r\n" +
	"To: bob@example.test\r\n" +
	"Subject: Lunch\r\n" +
	"Date: Tue, 1 Feb 1994 10:00:00 +0000\r\n" +
	"Message-ID: <1@example.test>\r\n" +
	"\r\n"

const bodyPart = "Shall we have lunch?\r\n"

// expectLiteralItem reads `prefix {n}`, the n octets, and returns them
// with the rest of the line after them.
func (tc *testClient) expectLiteral(prefix string) (data, rest string) {
	tc.t.Helper()
	line := tc.expect(prefix)
	var n int
	if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, '{'):], "{%d}", &n); err != nil {
		tc.t.Fatalf("no literal in %q", line)
	}
	data = tc.readN(n)
	rest, _ = tc.line()
	return data, rest
}

func TestFetchItems(t *testing.T) {
	b := newBackend(t, 2)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	size := len(testMessage)

	tc.send("a1 FETCH 1 (UID FLAGS RFC822.SIZE)")
	tc.expectLines(fmt.Sprintf(`* 1 FETCH (UID 1 FLAGS (\Recent) RFC822.SIZE %d)`, size), "a1 OK FETCH completed")

	tc.send("a2 FETCH 1 INTERNALDATE")
	tc.expect(`* 1 FETCH (INTERNALDATE "`)
	tc.expect("a2 OK")

	tc.send("a3 FETCH 1 ENVELOPE")
	tc.expectLines(`* 1 FETCH (ENVELOPE ("Tue, 1 Feb 1994 10:00:00 +0000" "Lunch" (("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) ((NIL NIL "bob" "example.test")) NIL NIL NIL "<1@example.test>"))`,
		"a3 OK FETCH completed")

	tc.send("a4 FETCH 1 (BODY BODYSTRUCTURE)")
	tc.expectLines(`* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 22 1) BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 22 1 NIL NIL NIL NIL))`,
		"a4 OK FETCH completed")

	tc.send("a5 FETCH 1 BODY.PEEK[HEADER]")
	data, rest := tc.expectLiteral("* 1 FETCH (BODY[HEADER] {")
	if data != headerPart || rest != ")" {
		t.Errorf("BODY.PEEK[HEADER] = %q then %q", data, rest)
	}
	tc.expect("a5 OK")

	tc.send("a6 FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject)] BODY.PEEK[TEXT]<6.3>)")
	data, rest = tc.expectLiteral("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {")
	if data != "Subject: Lunch\r\n\r\n" || !strings.HasPrefix(rest, " BODY[TEXT]<6> {3}") {
		t.Errorf("HEADER.FIELDS = %q then %q", data, rest)
	}
	if got := tc.readN(3); got != "we " {
		t.Errorf("BODY[TEXT]<6.3> = %q, want \"we \"", got)
	}
	tc.expectLines(")", "a6 OK FETCH completed")

	tc.send("a7 FETCH 1 (RFC822.HEADER)")
	data, _ = tc.expectLiteral("* 1 FETCH (RFC822.HEADER {")
	if data != headerPart {
		t.Errorf("RFC822.HEADER = %q", data)
	}
	tc.expect("a7 OK")

	// Nothing so far set \Seen.
	tc.send("a8 FETCH 1 FLAGS")
	tc.expectLines(`* 1 FETCH (FLAGS (\Recent))`, "a8 OK FETCH completed")

	// RFC822.TEXT sets \Seen and reports FLAGS (RFC 3501 section 6.4.5).
	tc.send("a9 FETCH 1 RFC822.TEXT")
	data, rest = tc.expectLiteral("* 1 FETCH (RFC822.TEXT {")
	if data != bodyPart || rest != ` FLAGS (\Seen \Recent))` {
		t.Errorf("RFC822.TEXT = %q then %q", data, rest)
	}
	tc.expect("a9 OK")

	tc.send("b1 FETCH 2 RFC822")
	data, rest = tc.expectLiteral("* 2 FETCH (RFC822 {")
	if data != testMessage || rest != ` FLAGS (\Seen \Recent))` {
		t.Errorf("RFC822 = %q then %q", data, rest)
	}
	tc.expect("b1 OK")

	tc.send(`b2 STORE 2 -FLAGS.SILENT (\Seen)`, "b3 UID FETCH 2 (FLAGS BODY[])")
	tc.expect("b2 OK")
	// UID FETCH includes UID; BODY[] reports the FLAGS it changed.
	data, rest = tc.expectLiteral(`* 2 FETCH (UID 2 FLAGS (\Seen \Recent) BODY[] {`)
	if data != testMessage || rest != ")" {
		t.Errorf("BODY[] = %q then %q", data, rest)
	}
	tc.expect("b3 OK UID FETCH completed")

	tc.send("b4 FETCH 1:2 FAST")
	tc.expect(fmt.Sprintf(`* 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "`))
	tc.expect(`* 2 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "`)
	tc.expect("b4 OK")
	tc.send("b5 FETCH 1 ALL", "b6 FETCH 1 FULL")
	tc.expect(`* 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "`)
	tc.expect("b5 OK")
	tc.expect(`* 1 FETCH (FLAGS (\Seen \Recent) INTERNALDATE "`)
	tc.expect("b6 OK")
}

func TestFetchFailures(t *testing.T) {
	b := newBackend(t, 2)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send("a1 FETCH 3 FLAGS", "a2 FETCH 1 BOGUS", "a3 FETCH 1 (FLAGS ALL)", "a4 FETCH 1 BODY[1.HEADERS]", "a5 UID FETCH 99 FLAGS", "a6 FETCH x FLAGS")
	tc.expectLines(
		"a1 BAD Invalid sequence number: the mailbox has 2 messages",
		`a2 BAD unknown FETCH item "BOGUS"`,
		"a3 BAD FETCH macro ALL must be used alone, not in a list")
	tc.expect("a4 BAD bad section")
	tc.expectLines("a5 OK UID FETCH completed")
	tc.expect("a6 BAD FETCH: sequence set number")
}

func TestFetchInExamineDoesNotSetSeen(t *testing.T) {
	b := newBackend(t, 1)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	tc.send("a1 EXAMINE INBOX")
	tc.until("a1 OK [READ-ONLY]")
	tc.send("a2 FETCH 1 BODY[TEXT]", "a3 FETCH 1 FLAGS")
	data, rest := tc.expectLiteral("* 1 FETCH (BODY[TEXT] {")
	if data != bodyPart || rest != ")" {
		t.Errorf("BODY[TEXT] = %q then %q", data, rest)
	}
	tc.expectLines("a2 OK FETCH completed", `* 1 FETCH (FLAGS (\Recent))`, "a3 OK FETCH completed")
}

func TestSearch(t *testing.T) {
	b := NewMemoryBackend()
	b.AddUser("bob", "secret")
	msg := func(from, subject, body string) []byte {
		return []byte("From: " + from + "\r\nSubject: " + subject + "\r\nDate: Tue, 1 Feb 1994 10:00:00 +0000\r\n\r\n" + body + "\r\n")
	}
	b.Deliver("bob", "INBOX", msg("alice@example.test", "Lunch", "pizza?"), `\Seen`)
	b.Deliver("bob", "INBOX", msg("carol@example.test", "Report", "numbers"), `\Flagged`)
	b.Deliver("bob", "INBOX", msg("alice@example.test", "Dinner", "la cena"), `\Deleted`, "$Work")
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tests := []struct{ criteria, want string }{
		{"ALL", "1 2 3"},
		{"SEEN", "1"}, {"UNSEEN", "2 3"}, {"FLAGGED", "2"}, {"UNFLAGGED", "1 3"}, {"DELETED", "3"}, {"UNDELETED", "1 2"},
		{"ANSWERED", ""}, {"UNANSWERED", "1 2 3"}, {"DRAFT", ""}, {"UNDRAFT", "1 2 3"},
		{"RECENT", "1 2 3"}, {"NEW", "2 3"}, {"OLD", ""},
		{"KEYWORD $Work", "3"}, {"UNKEYWORD $Work", "1 2"},
		{`FROM "alice"`, "1 3"}, {"SUBJECT report", "2"}, {"TO bob", ""}, {"CC x", ""}, {"BCC x", ""},
		{"HEADER Subject din", "3"}, {"BODY pizza", "1"}, {"TEXT carol", "2"}, {"TEXT {4+}\r\ncena", "3"},
		{"BEFORE 1-Jan-2000", ""}, {"SINCE 1-Jan-2000", "1 2 3"}, {"ON 1-Jan-2000", ""},
		{"SENTBEFORE 2-Feb-1994", "1 2 3"}, {"SENTON 1-Feb-1994", "1 2 3"}, {"SENTSINCE 2-Feb-1994", ""},
		{"LARGER 1", "1 2 3"}, {"SMALLER 1", ""},
		{"2:*", "2 3"}, {"UID 1,3", "1 3"}, {"NOT SEEN", "2 3"}, {"OR SEEN FLAGGED", "1 2"},
		{"(FROM alice UNSEEN)", "3"}, {"CHARSET UTF-8 ALL", "1 2 3"},
	}
	for i, tt := range tests {
		tag := fmt.Sprintf("s%d", i)
		tc.send(tag + " SEARCH " + tt.criteria)
		want := strings.TrimSpace("* SEARCH " + tt.want)
		line := tc.expect("* SEARCH")
		if line != want {
			t.Errorf("SEARCH %s = %q, want %q", tt.criteria, line, want)
		}
		tc.expect(tag + " OK SEARCH completed")
	}
	tc.send("u1 UID SEARCH UNSEEN", "u2 SEARCH CHARSET KOI8-R ALL", "u3 SEARCH BOGUS")
	tc.expectLines("* SEARCH 2 3", "u1 OK UID SEARCH completed",
		"u2 NO [BADCHARSET (US-ASCII UTF-8)] Charset KOI8-R is not supported",
		`u3 BAD SEARCH: unknown search key "BOGUS"`)
}

func TestTwoSessionsSeeEachOther(t *testing.T) {
	b := newBackend(t, 3)
	_, addr := startServer(t, Options{}, b)
	one := selectedInbox(t, addr)
	two := selectedInbox(t, addr)

	// STORE by one is reported to two at its next command.
	one.send(`a1 STORE 1 +FLAGS (\Flagged)`)
	one.expectLines(`* 1 FETCH (FLAGS (\Flagged \Recent))`, "a1 OK STORE completed")
	two.send("b1 NOOP")
	two.expectLines(`* 1 FETCH (UID 1 FLAGS (\Flagged))`, "b1 OK NOOP completed")

	// EXPUNGE by one: not reported during two's FETCH (RFC 3501 section
	// 7.4.1), which answers NO [EXPUNGEISSUED] for the message gone, then
	// at NOOP.
	one.send(`a2 STORE 2 +FLAGS.SILENT (\Deleted)`, "a3 EXPUNGE")
	one.expectLines("a2 OK STORE completed", "* 2 EXPUNGE", "a3 OK EXPUNGE completed")
	two.send("b2 FETCH 2 BODY.PEEK[TEXT]")
	two.expectLines(`* 2 FETCH (UID 2 FLAGS (\Deleted))`, "b2 NO [EXPUNGEISSUED] Some of the requested messages no longer exist")
	two.send("b3 NOOP")
	two.expectLines("* 2 EXPUNGE", "b3 OK NOOP completed")

	// APPEND by one: EXISTS for two.
	one.send("a4 APPEND INBOX {2+}", "hi")
	one.expectLines("* 3 EXISTS", "* 3 RECENT") // one took \Recent of all three
	one.expect("a4 OK [APPENDUID")
	// Until told, two's view has 2 messages (sequence numbers are per
	// session, RFC 3501 section 2.3.1.2).
	two.send("b4 FETCH 3 UID")
	two.expectLines("* 3 EXISTS", "* 0 RECENT", "b4 BAD Invalid sequence number: the mailbox has 2 messages")
	two.send("b5 FETCH 3 UID")
	two.expectLines("* 3 FETCH (UID 4)", "b5 OK FETCH completed")
}

func TestIdle(t *testing.T) {
	b := newBackend(t, 1)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send("i1 IDLE")
	tc.expect("+ idling")
	// A delivery while idling is pushed at once (RFC 2177 section 3).
	if _, err := b.Deliver("bob", "INBOX", []byte(testMessage)); err != nil {
		t.Fatal(err)
	}
	tc.expectLines("* 2 EXISTS", "* 2 RECENT")
	other := selectedInbox(t, addr)
	other.send(`o1 STORE 1 +FLAGS.SILENT (\Deleted)`, "o2 EXPUNGE")
	other.until("o2 OK")
	tc.expectLines(`* 1 FETCH (UID 1 FLAGS (\Deleted \Recent))`, "* 1 EXPUNGE")
	tc.send("DONE")
	tc.expect("i1 OK IDLE completed")

	tc.send("i2 IDLE")
	tc.expect("+ idling")
	tc.send("NOOP")
	tc.expect(`i2 BAD Expected DONE to end IDLE, got "NOOP"`)
	tc.send("i3 IDLE extra")
	tc.expect("i3 BAD IDLE takes no arguments")

	// IDLE in the authenticated state works too (no mailbox to watch).
	tc.send("i4 UNSELECT", "i5 IDLE")
	tc.expectLines("i4 OK UNSELECT completed", "+ idling")
	tc.send("done")
	tc.expect("i5 OK IDLE completed")
}
