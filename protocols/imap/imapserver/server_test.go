package imapserver

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestGreetingCapabilityNoopLogout(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send("a1 CAPABILITY", "a2 NOOP", "a3 LOGOUT")
	tc.expectLines(
		"* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ENABLE ID UNSELECT AUTH=PLAIN",
		"a1 OK CAPABILITY completed",
		"a2 OK NOOP completed",
		"* BYE Logging out",
		"a3 OK LOGOUT completed")
	tc.expectClosed()
}

func TestUnknownCommandAndBadArguments(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send("a1 FROB", "a2 NOOP extra", "a3 CAPABILITY (x")
	tc.expectLines(
		"a1 BAD Unknown command FROB",
		"a2 BAD NOOP takes no arguments",
		`a3 BAD Expected ")" to close a list`)
	tc.send("+bad")
	tc.expect("* BAD Expected a tag")
}

func TestLogin(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send("a1 LOGIN bob wrong")
	tc.expect("a1 NO [AUTHENTICATIONFAILED] ")
	tc.send(`a2 LOGIN "bob" {6}`)
	tc.expect("+ Ready for literal data")
	tc.send("secret")
	tc.expect("a2 OK [CAPABILITY IMAP4rev1 ")
	tc.send("a3 LOGIN bob secret")
	tc.expect("a3 BAD Already logged in")
}

func TestAuthenticatePlain(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	good := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00secret"))
	bad := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00nope"))

	tc := greeted(t, addr)
	tc.send("a1 AUTHENTICATE PLAIN " + bad)
	tc.expect("a1 NO [AUTHENTICATIONFAILED] ")
	tc.send("a2 AUTHENTICATE PLAIN")
	tc.expect("+ ")
	tc.send("*")
	tc.expect("a2 BAD Authentication cancelled")
	tc.send("a3 AUTHENTICATE CRAM-MD5")
	tc.expect("a3 NO [CANNOT] ")
	tc.send("a4 AUTHENTICATE PLAIN")
	tc.expect("+ ")
	tc.send("not base64!")
	tc.expect("a4 BAD ")
	tc.send("a5 AUTHENTICATE PLAIN")
	tc.expect("+ ")
	tc.send(good)
	tc.expect("a5 OK [CAPABILITY ")

	tc2 := greeted(t, addr)
	tc2.send("b1 AUTHENTICATE PLAIN " + good)
	tc2.expect("b1 OK [CAPABILITY ")
}

func TestWrongState(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 1))
	tc := greeted(t, addr)
	tc.send("a1 SELECT INBOX", "a2 FETCH 1 FLAGS", "a3 IDLE")
	tc.expectLines(
		"a1 BAD SELECT needs LOGIN or AUTHENTICATE first",
		"a2 BAD FETCH needs LOGIN or AUTHENTICATE first",
		"a3 BAD IDLE needs LOGIN or AUTHENTICATE first")
	tc.send("a4 LOGIN bob secret")
	tc.expect("a4 OK")
	tc.send("a5 FETCH 1 FLAGS", "a6 CLOSE", "a7 AUTHENTICATE PLAIN")
	tc.expectLines(
		"a5 BAD FETCH needs a selected mailbox: SELECT or EXAMINE one first",
		"a6 BAD CLOSE needs a selected mailbox: SELECT or EXAMINE one first",
		"a7 BAD Already logged in")
	tc.send("a8 SELECT INBOX")
	tc.until("a8 OK")
	tc.send("a9 ENABLE CONDSTORE")
	tc.expect("a9 BAD ENABLE is only allowed before SELECT")
}

func TestSelectAndExamine(t *testing.T) {
	b := newBackend(t, 3)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	tc.send("a1 STORE 1 FLAGS (\\Seen)")
	tc.expect("a1 BAD STORE needs a selected mailbox")
	tc.send("a2 SELECT inbox")
	v, next := 0, 0
	lines := tc.until("a2 ")
	want := []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`,
		"* 3 EXISTS",
		"* 3 RECENT",
		"* OK [UNSEEN 1] Message 1 is the first unseen",
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags you can change`,
		"* OK [UIDNEXT 4] Predicted next UID",
	}
	if len(lines) != len(want)+2 {
		t.Fatalf("SELECT answered %q", lines)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("SELECT line %d = %q, want %q", i, lines[i], w)
		}
	}
	fmt.Sscanf(lines[len(want)], "* OK [UIDVALIDITY %d]", &v)
	if v == 0 {
		t.Errorf("no UIDVALIDITY in %q", lines[len(want)])
	}
	_ = next
	if lines[len(lines)-1] != "a2 OK [READ-WRITE] SELECT completed" {
		t.Errorf("tagged response %q", lines[len(lines)-1])
	}

	// A second session sees no \Recent: the first one took it.
	tc2 := loggedIn(t, addr)
	tc2.send("b1 EXAMINE INBOX")
	lines = tc2.until("b1 ")
	if lines[2] != "* 0 RECENT" || lines[4] != "* OK [PERMANENTFLAGS ()] Flags you can change" || lines[len(lines)-1] != "b1 OK [READ-ONLY] EXAMINE completed" {
		t.Errorf("EXAMINE answered %q", lines)
	}
	tc2.send("b2 STORE 1 +FLAGS (\\Seen)", "b3 EXPUNGE")
	tc2.expectLines("b2 NO The mailbox is read-only (EXAMINE)", "b3 NO The mailbox is read-only (EXAMINE)")

	tc2.send("b4 SELECT Nowhere", "b5 FETCH 1 FLAGS")
	// RFC 3501 section 6.3.1: a failed SELECT leaves no mailbox selected.
	tc2.expectLines("b4 NO [NONEXISTENT] No such mailbox", "b5 BAD FETCH needs a selected mailbox: SELECT or EXAMINE one first")
}

func TestMailboxManagement(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := loggedIn(t, addr)
	tc.send(`a1 CREATE "Work/2024 \"Q1\""`, "a2 CREATE Work/2024 \"Q1\"", "a3 CREATE INBOX", "a4 CREATE Archive/")
	tc.expectLines("a1 OK CREATE completed", "a2 BAD CREATE takes 1 argument(s), got 2", "a3 NO [ALREADYEXISTS] INBOX always exists", "a4 OK CREATE completed")
	tc.send(`a5 CREATE "Work/2024 \"Q1\""`)
	tc.expect("a5 NO [ALREADYEXISTS] ")
	tc.send(`a6 LIST "" *`)
	tc.expectLines(
		`* LIST () "/" Archive`,
		`* LIST () "/" INBOX`,
		`* LIST () "/" "Work/2024 \"Q1\""`,
		"a6 OK LIST completed")
	tc.send(`a7 LIST "" %`, `a8 LIST "" ""`, `a9 LIST Work/ %`)
	tc.expectLines(
		`* LIST () "/" Archive`, `* LIST () "/" INBOX`, "a7 OK LIST completed",
		`* LIST (\Noselect) "/" ""`, "a8 OK LIST completed",
		`* LIST () "/" "Work/2024 \"Q1\""`, "a9 OK LIST completed")

	tc.send("b1 RENAME Archive Old", "b2 RENAME Nothing Else", "b3 RENAME Old INBOX")
	tc.expectLines("b1 OK RENAME completed", "b2 NO [NONEXISTENT] No such mailbox", "b3 NO [ALREADYEXISTS] INBOX always exists")
	tc.send("b4 SUBSCRIBE Old", "b5 SUBSCRIBE Nothing", `b6 LSUB "" *`, "b7 UNSUBSCRIBE Old", "b8 UNSUBSCRIBE Old", `b9 LSUB "" *`)
	tc.expectLines("b4 OK SUBSCRIBE completed", "b5 NO [NONEXISTENT] No such mailbox",
		`* LSUB () "/" Old`, "b6 OK LSUB completed",
		"b7 OK UNSUBSCRIBE completed", "b8 NO Not subscribed to Old", "b9 OK LSUB completed")
	tc.send("c1 DELETE Old", "c2 DELETE Old", "c3 DELETE inbox")
	tc.expectLines("c1 OK DELETE completed", "c2 NO [NONEXISTENT] No such mailbox", "c3 NO [CANNOT] INBOX cannot be deleted")
}

func TestStatus(t *testing.T) {
	b := newBackend(t, 2)
	b.Deliver("bob", "INBOX", []byte(testMessage), `\Seen`)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	tc.send("a1 STATUS INBOX (MESSAGES UNSEEN UIDNEXT RECENT)", "a2 STATUS Nowhere (MESSAGES)", "a3 STATUS INBOX (SIZE)")
	tc.expectLines(
		"* STATUS INBOX (MESSAGES 3 UNSEEN 2 UIDNEXT 4 RECENT 3)", "a1 OK STATUS completed",
		"a2 NO [NONEXISTENT] No such mailbox",
		"a3 BAD Unknown STATUS item SIZE; use MESSAGES, RECENT, UIDNEXT, UIDVALIDITY or UNSEEN")
}

func TestAppend(t *testing.T) {
	b := newBackend(t, 0)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	tc.send("s STATUS INBOX (UIDVALIDITY)")
	var v uint32
	fmt.Sscanf(tc.expect("* STATUS INBOX (UIDVALIDITY "), "* STATUS INBOX (UIDVALIDITY %d)", &v)
	tc.expect("s OK")

	tc.send(fmt.Sprintf(`a1 APPEND INBOX (\Seen $Work) "05-Mar-2024 09:15:00 +0100" {%d}`, len(testMessage)))
	tc.expect("+ Ready for literal data")
	tc.sendRaw(testMessage + "\r\n")
	tc.expect(fmt.Sprintf("a1 OK [APPENDUID %d 1] APPEND completed", v))

	// LITERAL+ (RFC 7888): no continuation request.
	tc.sendRaw(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s\r\n", len(testMessage), testMessage))
	tc.expect(fmt.Sprintf("a2 OK [APPENDUID %d 2] APPEND completed", v))

	tc.send("a3 APPEND Nowhere {2+}", "hi")
	tc.expect("a3 NO [TRYCREATE] No such mailbox Nowhere")
	tc.send(`a4 APPEND INBOX "hello"`)
	tc.expect("a4 BAD APPEND wants the message as a literal")
	tc.send(`a5 APPEND INBOX "yesterday" {2+}`, "hi")
	tc.expect("a5 BAD APPEND date: ")
	tc.send(`a6 APPEND INBOX (\Recent) {2+}`, "hi")
	tc.expect("a6 BAD APPEND flags: ")

	tc.send("b1 SELECT INBOX")
	tc.until("b1 OK")
	tc.send("b2 FETCH 1 (FLAGS INTERNALDATE)")
	tc.expectLines(`* 1 FETCH (FLAGS (\Seen $Work \Recent) INTERNALDATE "05-Mar-2024 09:15:00 +0100")`, "b2 OK FETCH completed")
	// APPEND to the selected mailbox: EXISTS before the tagged OK.
	tc.send("b3 APPEND INBOX {2+}", "hi")
	tc.expectLines("* 3 EXISTS", "* 3 RECENT", fmt.Sprintf("b3 OK [APPENDUID %d 3] APPEND completed", v))
}

func TestLiteralTooBig(t *testing.T) {
	_, addr := startServer(t, Options{MaxLiteralBytes: 100}, newBackend(t, 0))
	tc := loggedIn(t, addr)
	// A synchronizing literal is refused before the client sends it.
	tc.send("a1 APPEND INBOX {101}")
	tc.expect("a1 NO [TOOBIG] Literal of 101 octets is too big (the limit is 100)")
	tc.send("a2 NOOP")
	tc.expect("a2 OK")
	// A non-synchronizing one is already on its way: BYE (RFC 7888 section 4).
	tc.sendRaw("a3 APPEND INBOX {101+}\r\n" + strings.Repeat("x", 101) + "\r\n")
	tc.expect("* BYE [TOOBIG] Literal of 101 octets is too big (the limit is 100); closing")
	tc.expectClosed()
}

func TestLyingLiteral(t *testing.T) {
	b := newBackend(t, 0)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	// The literal says 10 octets but the client sends 5 and a command: the
	// server reads 10 ("hello", CRLF, "a2 ") and parses "NOOP" as the rest
	// of APPEND, which is a syntax error. Nothing is stored.
	tc.sendRaw("a1 APPEND INBOX {10+}\r\nhello\r\na2 NOOP\r\n")
	tc.expect("a1 BAD Expected SP between arguments")
	tc.send("a3 STATUS INBOX (MESSAGES)")
	tc.expectLines("* STATUS INBOX (MESSAGES 0)", "a3 OK STATUS completed")
}

func TestDisconnectMidLiteral(t *testing.T) {
	b := newBackend(t, 0)
	_, addr := startServer(t, Options{}, b)
	tc := loggedIn(t, addr)
	tc.send("a1 APPEND INBOX {2+}", "ok")
	tc.expect("a1 OK [APPENDUID")
	tc.sendRaw("a2 APPEND INBOX {100+}\r\nonly part of it")
	tc.c.Close()

	tc2 := loggedIn(t, addr)
	tc2.send("b1 STATUS INBOX (MESSAGES)")
	tc2.expectLines("* STATUS INBOX (MESSAGES 1)", "b1 OK STATUS completed")
}

func TestQuotedAndLiteralStrings(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send(`a1 LOGIN "bob" "sec\"ret"`)
	tc.expect("a1 NO [AUTHENTICATIONFAILED]")
	tc.send(`a2 LOGIN "b\\ob" secret`)
	tc.expect("a2 NO [AUTHENTICATIONFAILED]")
	tc.sendRaw("a3 LOGIN {3+}\r\nbob {6+}\r\nsecret\r\n")
	tc.expect("a3 OK")
}

func TestExpungeCloseUnselect(t *testing.T) {
	b := newBackend(t, 5)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send(`a1 STORE 2,4 +FLAGS.SILENT (\Deleted)`, "a2 EXPUNGE")
	// RFC 3501 section 7.4.1: each number counts after the one before.
	tc.expectLines("a1 OK STORE completed", "* 2 EXPUNGE", "* 3 EXPUNGE", "a2 OK EXPUNGE completed")
	tc.send(`a3 STORE 1:3 +FLAGS.SILENT (\Deleted)`, "a4 UID EXPUNGE 3", "a5 UID EXPUNGE x")
	tc.expectLines("a3 OK STORE completed", "* 2 EXPUNGE", "a4 OK UID EXPUNGE completed", "a5 BAD UID EXPUNGE: sequence set number \"x\" must be a non-zero number or \"*\"")
	tc.send("a6 UNSELECT", "a7 STATUS INBOX (MESSAGES)")
	tc.expectLines("a6 OK UNSELECT completed", "* STATUS INBOX (MESSAGES 2)", "a7 OK STATUS completed")
	tc.send("a8 SELECT INBOX")
	tc.until("a8 OK")
	tc.send("a9 CLOSE", "b1 STATUS INBOX (MESSAGES)", "b2 CLOSE", "b3 CHECK")
	// CLOSE expunges without EXPUNGE responses (RFC 3501 section 6.4.2).
	tc.expectLines("a9 OK CLOSE completed", "* STATUS INBOX (MESSAGES 0)", "b1 OK STATUS completed",
		"b2 BAD CLOSE needs a selected mailbox: SELECT or EXAMINE one first",
		"b3 BAD CHECK needs a selected mailbox: SELECT or EXAMINE one first")
	tc.send("b4 SELECT INBOX")
	tc.until("b4 OK")
	tc.send("b5 CHECK", "b6 EXPUNGE x")
	tc.expectLines("b5 OK CHECK completed", "b6 BAD EXPUNGE takes no arguments")
}

func TestCloseOnExamineDoesNotExpunge(t *testing.T) {
	b := newBackend(t, 1)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send(`a1 STORE 1 +FLAGS.SILENT (\Deleted)`, "a2 EXAMINE INBOX")
	tc.until("a2 OK [READ-ONLY]")
	tc.send("a3 CLOSE", "a4 STATUS INBOX (MESSAGES)")
	tc.expectLines("a3 OK CLOSE completed", "* STATUS INBOX (MESSAGES 1)", "a4 OK STATUS completed")
}

func TestStore(t *testing.T) {
	b := newBackend(t, 3)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send(`a1 STORE 1:2 +FLAGS (\Seen \FLAGGED)`)
	tc.expectLines(`* 1 FETCH (FLAGS (\Seen \Flagged \Recent))`, `* 2 FETCH (FLAGS (\Seen \Flagged \Recent))`, "a1 OK STORE completed")
	tc.send(`a2 STORE 1 -FLAGS \Seen`, `a3 STORE 2 FLAGS ($Work)`, `a4 STORE 3 FLAGS.SILENT (\Draft)`)
	tc.expectLines(`* 1 FETCH (FLAGS (\Flagged \Recent))`, "a2 OK STORE completed",
		`* 2 FETCH (FLAGS ($Work \Recent))`, "a3 OK STORE completed", "a4 OK STORE completed")
	tc.send(`a5 UID STORE 3 +FLAGS (\Answered)`)
	tc.expectLines(`* 3 FETCH (UID 3 FLAGS (\Draft \Answered \Recent))`, "a5 OK UID STORE completed")
	tc.send(`a6 STORE 4 +FLAGS (\Seen)`, `a7 STORE 1 +FLAGS (\Recent)`, `a8 STORE 1 ADDFLAGS (\Seen)`, `a9 UID STORE 99 +FLAGS (\Seen)`)
	tc.expectLines("a6 BAD Invalid sequence number: the mailbox has 3 messages",
		`a7 BAD \Recent cannot be set by a client (RFC 3501 section 2.3.2)`,
		`a8 BAD STORE item "ADDFLAGS": want FLAGS, +FLAGS or -FLAGS, optionally .SILENT`,
		"a9 OK UID STORE completed")
}

func TestCopyAndMove(t *testing.T) {
	b := newBackend(t, 3)
	_, addr := startServer(t, Options{}, b)
	tc := selectedInbox(t, addr)
	tc.send("a0 CREATE Archive", "a0b STATUS Archive (UIDVALIDITY)")
	tc.expect("a0 OK")
	var v uint32
	fmt.Sscanf(tc.expect("* STATUS Archive"), "* STATUS Archive (UIDVALIDITY %d)", &v)
	tc.expect("a0b OK")
	tc.send("a1 COPY 1:2 Archive", "a2 COPY 1 Nowhere", "a3 UID COPY 3 Archive")
	tc.expectLines(fmt.Sprintf("a1 OK [COPYUID %d 1:2 1:2] COPY completed", v),
		"a2 NO [TRYCREATE] No such mailbox Nowhere",
		fmt.Sprintf("a3 OK [COPYUID %d 3 3] UID COPY completed", v))
	// RFC 6851 section 3.3: COPYUID untagged, then EXPUNGEs, then OK.
	tc.send("a4 MOVE 1,3 Archive")
	tc.expectLines(fmt.Sprintf("* OK [COPYUID %d 1,3 4:5] Moved", v), "* 1 EXPUNGE", "* 2 EXPUNGE", "a4 OK MOVE completed")
	tc.send("a5 UID MOVE 2 Nowhere", "a6 UID MOVE 2 Archive", "a7 MOVE 1 Archive")
	tc.expectLines("a5 NO [TRYCREATE] No such mailbox Nowhere",
		fmt.Sprintf("* OK [COPYUID %d 2 6] Moved", v), "* 1 EXPUNGE", "a6 OK UID MOVE completed",
		"a7 BAD The mailbox is empty: no sequence number is valid")
	tc.send("a8 STATUS Archive (MESSAGES)")
	tc.expectLines("* STATUS Archive (MESSAGES 6)", "a8 OK STATUS completed")
}

func TestNamespaceEnableID(t *testing.T) {
	_, addr := startServer(t, Options{}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send(`a1 ID ("name" "test" "version" NIL)`, "a2 ID NIL", "a3 ID (x)", "a4 NAMESPACE")
	tc.expectLines(`* ID ("name" "maillab" "vendor" "maillab")`, "a1 OK ID completed",
		`* ID ("name" "maillab" "vendor" "maillab")`, "a2 OK ID completed",
		"a3 BAD ID wants NIL or a list of up to 30 field-value pairs",
		"a4 BAD NAMESPACE needs LOGIN or AUTHENTICATE first")
	tc.send("a5 LOGIN bob secret")
	tc.expect("a5 OK")
	tc.send("a6 NAMESPACE", "a7 ENABLE CONDSTORE IMAP4rev2", "a8 ENABLE")
	tc.expectLines(`* NAMESPACE (("" "/")) NIL NIL`, "a6 OK NAMESPACE completed",
		"* ENABLED", "a7 OK ENABLE completed",
		"a8 BAD ENABLE wants at least one capability name")
}

func TestMaxErrors(t *testing.T) {
	_, addr := startServer(t, Options{MaxErrors: 2}, newBackend(t, 0))
	tc := greeted(t, addr)
	tc.send("a1 FROB", "a2 LOGIN bob wrong", "a3 FROB")
	tc.expectLines("a1 BAD Unknown command FROB", "a2 NO [AUTHENTICATIONFAILED] Invalid user name or password",
		"a3 BAD Unknown command FROB", "* BYE Too many errors, closing connection")
	tc.expectClosed()
}

func TestMaxConns(t *testing.T) {
	_, addr := startServer(t, Options{MaxConns: 1}, newBackend(t, 0))
	greeted(t, addr)
	tc := dial(t, addr)
	tc.expect("* BYE Too many connections")
	tc.expectClosed()
}

func TestAutologout(t *testing.T) {
	_, addr := startServer(t, Options{IdleTimeout: time.Millisecond}, newBackend(t, 0))
	tc := dial(t, addr)
	// The greeting may be followed at once by the autologout; both come.
	tc.expect("* OK ")
	tc.expect("* BYE Autologout")
	tc.expectClosed()
}

func TestShutdownSaysBye(t *testing.T) {
	srv, addr := startServer(t, Options{}, newBackend(t, 0))
	idle := loggedIn(t, addr)
	idling := loggedIn(t, addr)
	idling.send("i1 IDLE")
	idling.expect("+ idling")
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	idle.expect("* BYE Server shutting down")
	idle.expectClosed()
	idling.expect("* BYE Server shutting down")
	idling.expectClosed()
}
