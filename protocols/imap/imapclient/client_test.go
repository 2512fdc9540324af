package imapclient

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGreeting(t *testing.T) {
	t.Run("OK with capabilities", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 IDLE LITERAL+] mda.b.test ready
		`, testOptions())
		defer p.Check(conn)
		if c.State() != StateNotAuthenticated {
			t.Errorf("State = %v, want Not Authenticated", c.State())
		}
		if diff := cmp.Diff([]string{"IMAP4REV1", "IDLE", "LITERAL+"}, c.Caps()); diff != "" {
			t.Errorf("Caps (-want +got):\n%s", diff)
		}
		if g := c.Greeting(); g.Status != "OK" || g.Text != "mda.b.test ready" {
			t.Errorf("Greeting = %+v", g)
		}
	})
	t.Run("PREAUTH", func(t *testing.T) {
		c, conn, p := dialPeer(t, `S: * PREAUTH IMAP4rev1 server logged in as Smith`, testOptions())
		defer p.Check(conn)
		if c.State() != StateAuthenticated {
			t.Errorf("State = %v, want Authenticated", c.State())
		}
		if c.Caps() != nil {
			t.Errorf("Caps = %v, want nil (unknown)", c.Caps())
		}
	})
	t.Run("BYE", func(t *testing.T) {
		conn, p := startPeer(t, `S: * BYE Too many connections`)
		_, err := NewClient(conn, testOptions())
		wantIMAPError(t, err, "BYE", "", "imapclient: greeting: BYE Too many connections")
		p.Check(conn)
	})
	for _, bad := range []string{"a001 OK hello", "* 3 EXISTS", "+ go on", "220 smtp.b.test ESMTP"} {
		t.Run("malformed "+bad, func(t *testing.T) {
			conn, p := startPeer(t, "S: "+bad)
			_, err := NewClient(conn, testOptions())
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			p.Check(conn)
		})
	}
	t.Run("closed", func(t *testing.T) {
		conn, p := startPeer(t, `C: never`)
		conn.Close()
		if _, err := NewClient(conn, testOptions()); err == nil || !strings.HasPrefix(err.Error(), "imapclient: greeting: ") {
			t.Errorf("err = %v", err)
		}
		p.Wait()
	})
}

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		_, err = conn.Write([]byte("* OK ready\r\n"))
		buf := make([]byte, 100)
		n, _ := conn.Read(buf)
		if string(buf[:n]) != "a001 LOGOUT\r\n" {
			t.Errorf("server read %q", buf[:n])
		}
		conn.Write([]byte("* BYE bye\r\na001 OK done\r\n"))
		served <- err
	}()
	c, err := Dial(t.Context(), nil, ln.Addr().String(), testOptions())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := c.Logout(); err != nil {
		t.Errorf("Logout: %v", err)
	}
	if c.State() != StateLogout {
		t.Errorf("State = %v", c.State())
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err == nil {
		t.Error("Noop after Logout succeeded")
	}
}

func TestCapability(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 CAPABILITY
		S: * CAPABILITY IMAP4rev1 AUTH=PLAIN idle
		S: a001 OK CAPABILITY completed
		C: a002 CAPABILITY
		S: a002 BAD not now
	`, testOptions())
	defer p.Check(conn)
	caps, err := c.Capability()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"IMAP4REV1", "AUTH=PLAIN", "IDLE"}, caps); diff != "" {
		t.Errorf("caps (-want +got):\n%s", diff)
	}
	if ok, _ := c.HasCap("Idle"); !ok {
		t.Error("HasCap(Idle) = false")
	}
	_, err = c.Capability()
	wantIMAPError(t, err, "BAD", "", "imapclient: CAPABILITY: BAD not now")
}

func TestLogin(t *testing.T) {
	pipe, p := startPeer(t, `
		S: * OK ready
		C: a001 LOGIN alice "s3cret pass"
		S: a001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in
		C: a002 LOGIN bob "a \"quoted\" \\ pass"
		S: a002 NO [AUTHENTICATIONFAILED] Invalid credentials
	`)
	conn := &tapConn{Conn: pipe}
	var before []string
	opts := testOptions()
	opts.BeforeCommand = func(line string) error { before = append(before, line); return nil }
	c, err := NewClient(conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "s3cret pass"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if c.State() != StateAuthenticated || !strings.Contains(strings.Join(c.Caps(), " "), "IDLE") {
		t.Errorf("State = %v, Caps = %v", c.State(), c.Caps())
	}
	err = c.Login("bob", `a "quoted" \ pass`)
	wantIMAPError(t, err, "NO", "AUTHENTICATIONFAILED", "imapclient: LOGIN bob: NO [AUTHENTICATIONFAILED] Invalid credentials")
	if strings.Contains(err.Error(), "quoted") {
		t.Error("the error shows the password")
	}
	p.Check(pipe)
	wantEvents := []string{
		"mark C 2", "write a001 LOGIN alice \"s3cret pass\"\r\n", "mark C 0",
		"mark C 2", "write a002 LOGIN bob \"a \\\"quoted\\\" \\\\ pass\"\r\n", "mark C 0",
	}
	if diff := cmp.Diff(wantEvents, conn.Events()); diff != "" {
		t.Errorf("tap (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a001 LOGIN alice ***", "a002 LOGIN bob ***"}, before); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}
}

func TestLoginLiteralPassword(t *testing.T) {
	// 8-bit user names and passwords cannot be quoted strings (RFC 3501
	// section 4.3): both go as synchronizing literals, all marked secret.
	pipe, p := startPeer(t, "S: * OK ready\n"+
		"C: a001 LOGIN {5}\n"+
		"S: + go ahead\n"+
		"C: jos\xc3\xa9 {11}\n"+
		"S: + go ahead\n"+
		"C: contrase\xc3\xb1a\n"+
		"S: a001 OK Logged in")
	conn := &tapConn{Conn: pipe}
	c, err := NewClient(conn, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("jos\xc3\xa9", "contrase\xc3\xb1a"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	p.Check(pipe)
	secret := false
	for _, e := range conn.Events() {
		switch {
		case e == "mark C 2":
			secret = true
		case e == "mark C 0":
			secret = false
		case strings.HasPrefix(e, "write ") && !secret:
			t.Errorf("%q written unmarked", e)
		}
	}
}

func TestAuthenticatePlain(t *testing.T) {
	t.Run("continuation", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK ready
			C: a001 CAPABILITY
			S: * CAPABILITY IMAP4rev1 AUTH=PLAIN
			S: a001 OK done
			C: a002 AUTHENTICATE PLAIN
			S: +
			C: AGFsaWNlAHNlY3JldA==
			S: a002 OK Success
		`, testOptions())
		defer p.Check(conn)
		if err := c.AuthenticatePlain("alice", "secret"); err != nil {
			t.Fatal(err)
		}
		if c.State() != StateAuthenticated {
			t.Errorf("State = %v", c.State())
		}
	})
	t.Run("SASL-IR", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready
			C: a001 AUTHENTICATE PLAIN AGFsaWNlAHdyb25n
			S: a001 NO [AUTHENTICATIONFAILED] Authentication failed
		`, testOptions())
		defer p.Check(conn)
		err := c.AuthenticatePlain("alice", "wrong")
		wantIMAPError(t, err, "NO", "AUTHENTICATIONFAILED", "imapclient: AUTHENTICATE PLAIN alice: NO [AUTHENTICATIONFAILED] Authentication failed")
	})
	t.Run("second challenge cancels", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1] ready
			C: a001 AUTHENTICATE PLAIN
			S: +
			C: AGEAYg==
			S: + more?
			C: *
			S: a001 BAD exchange cancelled
		`, testOptions())
		defer p.Check(conn)
		err := c.AuthenticatePlain("a", "b")
		wantIMAPError(t, err, "BAD", "", "imapclient: AUTHENTICATE PLAIN a: BAD exchange cancelled")
	})
}

func TestList(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 LIST "" *
		S: * LIST (\HasNoChildren) "/" INBOX
		S: * LIST (\Noselect \HasChildren) "/" "Archive/2024 old"
		S: * LIST () NIL {9}
		S: Odd"Name)
		S: a001 OK LIST completed
		C: a002 LSUB "" "My Folders/%"
		S: * LSUB () "/" "My Folders/Work"
		S: a002 OK LSUB completed
		C: a003 LIST "" %
		S: a003 BAD command unknown
	`, testOptions())
	defer p.Check(conn)
	got, err := c.List("", "*")
	if err != nil {
		t.Fatal(err)
	}
	want := []ListEntry{
		{Attributes: []string{`\HasNoChildren`}, Delimiter: "/", Name: "INBOX"},
		{Attributes: []string{`\Noselect`, `\HasChildren`}, Delimiter: "/", Name: "Archive/2024 old"},
		{Attributes: []string{}, Delimiter: "", Name: `Odd"Name)`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	got, err = c.Lsub("", "My Folders/%")
	if err != nil || len(got) != 1 || got[0].Name != "My Folders/Work" {
		t.Errorf("Lsub = %v, %v", got, err)
	}
	_, err = c.List("", "%")
	wantIMAPError(t, err, "BAD", "", `imapclient: LIST "" %: BAD command unknown`)
}

func TestSelect(t *testing.T) {
	var news []string
	opts := testOptions()
	opts.OnUnilateral = func(u Update) { news = append(news, u.String()) }
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 SELECT INBOX
		S: * 172 EXISTS
		S: * 1 RECENT
		S: * OK [UNSEEN 12] Message 12 is first unseen
		S: * OK [UIDVALIDITY 3857529045] UIDs valid
		S: * OK [UIDNEXT 4392] Predicted next UID
		S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
		S: * OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited
		S: * OK [ALERT] Mailbox is almost full
		S: a001 OK [READ-WRITE] SELECT completed
		C: a002 NOOP
		S: * 173 EXISTS
		S: * 1 RECENT
		S: * 3 EXPUNGE
		S: * 5 FETCH (FLAGS (\Seen))
		S: a002 OK NOOP completed
		C: a003 SELECT Archive
		S: a003 NO [TRYCREATE] No such mailbox
	`, opts)
	defer p.Check(conn)
	mb, err := c.Select("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := &MailboxStatus{
		Name: "INBOX", Exists: 172, Recent: 1, Unseen: 12, UIDValidity: 3857529045, UIDNext: 4392,
		Flags:          []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`},
		PermanentFlags: []string{`\Deleted`, `\Seen`, `\*`},
	}
	if diff := cmp.Diff(want, mb); diff != "" {
		t.Errorf("Select (-want +got):\n%s", diff)
	}
	if c.State() != StateSelected {
		t.Errorf("State = %v", c.State())
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if got := c.Mailbox().Exists; got != 172 {
		t.Errorf("Exists after 173 EXISTS and one EXPUNGE = %d, want 172", got)
	}
	wantNews := []string{"OK [ALERT] Mailbox is almost full", "173 EXISTS", "1 RECENT", "3 EXPUNGE", `5 FETCH (FLAGS (\Seen))`}
	if diff := cmp.Diff(wantNews, news); diff != "" {
		t.Errorf("OnUnilateral (-want +got):\n%s", diff)
	}
	_, err = c.Select("Archive")
	wantIMAPError(t, err, "NO", "TRYCREATE", "imapclient: SELECT Archive: NO [TRYCREATE] No such mailbox")
	// RFC 3501 section 6.3.1: a failed SELECT closes the mailbox.
	if c.State() != StateAuthenticated || c.Mailbox() != nil {
		t.Errorf("after failed SELECT: State = %v, Mailbox = %v", c.State(), c.Mailbox())
	}
}

func TestExamine(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * PREAUTH ready
		C: a001 EXAMINE "Sent Items"
		S: * 2 EXISTS
		S: * 0 RECENT
		S: a001 OK [READ-ONLY] EXAMINE completed
		C: a002 CLOSE
		S: a002 OK CLOSE completed
	`, testOptions())
	defer p.Check(conn)
	mb, err := c.Examine("Sent Items")
	if err != nil {
		t.Fatal(err)
	}
	if !mb.ReadOnly || mb.Exists != 2 || mb.Name != "Sent Items" {
		t.Errorf("Examine = %+v", mb)
	}
	if err := c.CloseMailbox(); err != nil {
		t.Fatal(err)
	}
	if c.State() != StateAuthenticated || c.Mailbox() != nil {
		t.Errorf("after CLOSE: State = %v", c.State())
	}
}

func TestStatus(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * PREAUTH ready
		C: a001 STATUS Archive (MESSAGES UNSEEN)
		S: * STATUS Archive (MESSAGES 231 UNSEEN 3)
		S: a001 OK STATUS completed
		C: a002 STATUS Nowhere (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)
		S: a002 NO Mailbox does not exist
	`, testOptions())
	defer p.Check(conn)
	st, err := c.Status("Archive", "MESSAGES", "UNSEEN")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&MailboxStatus{Name: "Archive", Exists: 231, Unseen: 3}, st); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	_, err = c.Status("Nowhere")
	wantIMAPError(t, err, "NO", "", "imapclient: STATUS Nowhere: NO Mailbox does not exist")
	if _, err := c.Status("x", "MESSAGES)"); err == nil {
		t.Error("Status with a bad item succeeded")
	}
}

func TestMailboxCommands(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * PREAUTH ready
		C: a001 CREATE Work
		S: a001 OK CREATE completed
		C: a002 RENAME Work "Old Work"
		S: a002 OK RENAME completed
		C: a003 SUBSCRIBE "Old Work"
		S: a003 OK SUBSCRIBE completed
		C: a004 UNSUBSCRIBE "Old Work"
		S: a004 OK UNSUBSCRIBE completed
		C: a005 DELETE "Old Work"
		S: a005 OK DELETE completed
		C: a006 DELETE INBOX
		S: a006 NO Cannot delete INBOX
		C: a007 CREATE ""
		S: a007 BAD empty name
	`, testOptions())
	defer p.Check(conn)
	for _, step := range []func() error{
		func() error { return c.Create("Work") },
		func() error { return c.Rename("Work", "Old Work") },
		func() error { return c.Subscribe("Old Work") },
		func() error { return c.Unsubscribe("Old Work") },
		func() error { return c.Delete("Old Work") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	wantIMAPError(t, c.Delete("INBOX"), "NO", "", "imapclient: DELETE INBOX: NO Cannot delete INBOX")
	wantIMAPError(t, c.Create(""), "BAD", "", "imapclient: CREATE : BAD empty name")
	if err := c.Create("a\x00b"); err == nil {
		t.Error("CREATE with NUL succeeded")
	}
}

func TestFetch(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)
		S: * 1 FETCH (UID 7 FLAGS (\Seen $Forwarded) INTERNALDATE " 5-Jan-2026 10:04:05 +0100" RFC822.SIZE 4286 ENVELOPE ("Mon, 5 Jan 2026 10:00:00 +0100" "Lunch?" (("Alice Liddell" NIL "alice" "a.test")) (("Alice Liddell" NIL "alice" "a.test")) NIL ((NIL NIL "bob" "b.test") ("Carol" NIL "carol" "c.test")) NIL NIL NIL "<1@a.test>") BODY[HEADER.FIELDS (SUBJECT)] {17}
		S: Subject: Lunch?
		S:  BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))
		S: * 2 FETCH (UID 9 FLAGS ())
		S: * 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] NIL)
		S: * 3 FETCH (FLAGS (\Deleted))
		S: a001 OK FETCH completed
		C: a002 UID FETCH 7 BODY[]<0>
		S: * 1 FETCH (UID 7 BODY[]<0> {5}
		S: abc
		S: )
		S: a002 OK done
		C: a003 FETCH 9 FLAGS
		S: a003 NO no such message
	`, testOptions())
	defer p.Check(conn)
	got, err := c.Fetch("1:2", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)")
	if err != nil {
		t.Fatal(err)
	}
	want := []FetchResult{
		{
			SeqNum: 1, UID: 7, Flags: []string{`\Seen`, `$Forwarded`},
			InternalDate: time.Date(2026, 1, 5, 10, 4, 5, 0, time.FixedZone("", 3600)),
			Size:         4286,
			Envelope: &Envelope{
				Date: "Mon, 5 Jan 2026 10:00:00 +0100", Subject: "Lunch?",
				From:      []Address{{Name: "Alice Liddell", Mailbox: "alice", Host: "a.test"}},
				Sender:    []Address{{Name: "Alice Liddell", Mailbox: "alice", Host: "a.test"}},
				To:        []Address{{Mailbox: "bob", Host: "b.test"}, {Name: "Carol", Mailbox: "carol", Host: "c.test"}},
				MessageID: "<1@a.test>",
			},
			Body:          map[string][]byte{"BODY[HEADER.FIELDS (SUBJECT)]": []byte("Subject: Lunch?\r\n")},
			BodyStructure: `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)`,
		},
		{SeqNum: 2, UID: 9, Flags: []string{}, Body: map[string][]byte{"BODY[HEADER.FIELDS (SUBJECT)]": nil}},
		{SeqNum: 3, Flags: []string{`\Deleted`}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Fetch (-want +got):\n%s", diff)
	}
	if got[0].Envelope.To[1].String() != `"Carol" <carol@c.test>` {
		t.Errorf("Address.String = %q", got[0].Envelope.To[1].String())
	}
	got, err = c.UIDFetch("7", "BODY[]<0>")
	if err != nil || len(got) != 1 || string(got[0].Body["BODY[]<0>"]) != "abc\r\n" {
		t.Errorf("UIDFetch = %+v, %v", got, err)
	}
	_, err = c.Fetch("9", "FLAGS")
	wantIMAPError(t, err, "NO", "", "imapclient: FETCH 9 FLAGS: NO no such message")
	for _, bad := range [][2]string{{"", "FLAGS"}, {"1:x", "FLAGS"}, {"0", "FLAGS"}, {"1", "FLAGS\r\na LOGOUT"}, {"1", " "}} {
		if _, err := c.Fetch(bad[0], bad[1]); err == nil {
			t.Errorf("Fetch(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

func TestFetchMalformedKeepsSession(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 FETCH 1 ENVELOPE
		S: * 1 FETCH (ENVELOPE ("date" "subject"))
		S: a001 OK FETCH completed
		C: a002 FETCH 1 UID
		S: * 1 FETCH (UID 4)
		S: a002 OK FETCH completed
	`, testOptions())
	defer p.Check(conn)
	if _, err := c.Fetch("1", "ENVELOPE"); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
	got, err := c.Fetch("1", "UID")
	if err != nil || got[0].UID != 4 {
		t.Errorf("next Fetch = %+v, %v", got, err)
	}
}

func TestSearch(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 SEARCH UNSEEN FROM "bob"
		S: * SEARCH 2 84 882
		S: a001 OK SEARCH completed
		C: a002 UID SEARCH DELETED
		S: * SEARCH
		S: a002 OK SEARCH completed
		C: a003 SEARCH FOO
		S: a003 BAD unknown search key
	`, testOptions())
	defer p.Check(conn)
	got, err := c.Search(`UNSEEN FROM "bob"`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint32{2, 84, 882}, got); diff != "" {
		t.Errorf("Search (-want +got):\n%s", diff)
	}
	got, err = c.UIDSearch("DELETED")
	if err != nil || len(got) != 0 {
		t.Errorf("UIDSearch = %v, %v", got, err)
	}
	_, err = c.Search("FOO")
	wantIMAPError(t, err, "BAD", "", "imapclient: SEARCH FOO: BAD unknown search key")
}

func TestStore(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 STORE 2:3 +FLAGS (\Deleted)
		S: * 2 FETCH (FLAGS (\Deleted \Seen))
		S: * 3 FETCH (FLAGS (\Deleted))
		S: a001 OK STORE completed
		C: a002 UID STORE 7 -FLAGS.SILENT (\Seen $Junk)
		S: a002 OK STORE completed
		C: a003 STORE 1 FLAGS (\Recent)
		S: a003 NO cannot set \Recent
	`, testOptions())
	defer p.Check(conn)
	got, err := c.Store("2:3", "+FLAGS", []string{`\Deleted`})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SeqNum != 2 || len(got[0].Flags) != 2 {
		t.Errorf("Store = %+v", got)
	}
	if got, err = c.UIDStore("7", "-FLAGS.SILENT", []string{`\Seen`, "$Junk"}); err != nil || len(got) != 0 {
		t.Errorf("UIDStore = %+v, %v", got, err)
	}
	_, err = c.Store("1", "FLAGS", []string{`\Recent`})
	wantIMAPError(t, err, "NO", "", `imapclient: STORE 1 FLAGS (\Recent): NO cannot set \Recent`)
	for _, bad := range []struct {
		item  string
		flags []string
	}{{"LABELS", nil}, {"+FLAGS", []string{"a b"}}, {"+FLAGS", []string{`\`}}, {"+FLAGS", []string{"x)"}}} {
		if _, err := c.Store("1", bad.item, bad.flags); err == nil {
			t.Errorf("Store(%q, %q) succeeded", bad.item, bad.flags)
		}
	}
}

func TestCopy(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 COPY 2:4 Archive
		S: a001 OK [COPYUID 38505 304,319:320 3956:3958] Done
		C: a002 UID COPY 7 "Old Stuff"
		S: a002 NO [TRYCREATE] No such mailbox
	`, testOptions())
	defer p.Check(conn)
	cu, err := c.Copy("2:4", "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&CopyUID{UIDValidity: 38505, Source: "304,319:320", Dest: "3956:3958"}, cu); diff != "" {
		t.Errorf("Copy (-want +got):\n%s", diff)
	}
	_, err = c.UIDCopy("7", "Old Stuff")
	wantIMAPError(t, err, "NO", "TRYCREATE", `imapclient: UID COPY 7 Old Stuff: NO [TRYCREATE] No such mailbox`)
}

func TestMove(t *testing.T) {
	t.Run("MOVE", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] ready
			C: a001 SELECT INBOX
			S: * 3 EXISTS
			S: a001 OK [READ-WRITE] done
			C: a002 UID MOVE 42 Archive
			S: * OK [COPYUID 432 42 11] Moved
			S: * 2 EXPUNGE
			S: a002 OK Done
		`, testOptions())
		defer p.Check(conn)
		if _, err := c.Select("INBOX"); err != nil {
			t.Fatal(err)
		}
		cu, err := c.UIDMove("42", "Archive")
		if err != nil || cu == nil || cu.Dest != "11" {
			t.Errorf("UIDMove = %+v, %v", cu, err)
		}
		if c.Mailbox().Exists != 2 {
			t.Errorf("Exists = %d, want 2", c.Mailbox().Exists)
		}
	})
	t.Run("fallback", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK ready
			C: a001 CAPABILITY
			S: * CAPABILITY IMAP4rev1
			S: a001 OK done
			C: a002 COPY 2 Archive
			S: a002 OK COPY completed
			C: a003 STORE 2 +FLAGS.SILENT (\Deleted)
			S: a003 OK STORE completed
			C: a004 EXPUNGE
			S: * 2 EXPUNGE
			S: a004 OK EXPUNGE completed
		`, testOptions())
		defer p.Check(conn)
		if _, err := c.Move("2", "Archive"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UID fallback with UIDPLUS", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 UIDPLUS] ready
			C: a001 UID COPY 42 Archive
			S: a001 OK [COPYUID 432 42 11] COPY completed
			C: a002 UID STORE 42 +FLAGS.SILENT (\Deleted)
			S: a002 OK STORE completed
			C: a003 UID EXPUNGE 42
			S: * 2 EXPUNGE
			S: a003 OK EXPUNGE completed
		`, testOptions())
		defer p.Check(conn)
		cu, err := c.UIDMove("42", "Archive")
		if err != nil || cu == nil || cu.UIDValidity != 432 {
			t.Errorf("UIDMove = %+v, %v", cu, err)
		}
	})
	t.Run("fallback copy refused", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1] ready
			C: a001 COPY 2 Archive
			S: a001 NO [TRYCREATE] No such mailbox
		`, testOptions())
		defer p.Check(conn)
		_, err := c.Move("2", "Archive")
		wantIMAPError(t, err, "NO", "TRYCREATE", "imapclient: COPY 2 Archive: NO [TRYCREATE] No such mailbox")
	})
}

func TestExpunge(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 SELECT INBOX
		S: * 5 EXISTS
		S: a001 OK [READ-WRITE] done
		C: a002 EXPUNGE
		S: * 3 EXPUNGE
		S: * 3 EXPUNGE
		S: * 4 EXISTS
		S: a002 OK EXPUNGE completed
		C: a003 EXPUNGE
		S: a003 NO read-only
	`, testOptions())
	defer p.Check(conn)
	if _, err := c.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	got, err := c.Expunge()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint32{3, 3}, got); diff != "" {
		t.Errorf("Expunge (-want +got):\n%s", diff)
	}
	if c.Mailbox().Exists != 4 {
		t.Errorf("Exists = %d, want 4 (EXISTS after the expunges)", c.Mailbox().Exists)
	}
	_, err = c.Expunge()
	wantIMAPError(t, err, "NO", "", "imapclient: EXPUNGE: NO read-only")
}

func TestAppend(t *testing.T) {
	msg := []byte("Subject: hi\r\n\r\nHello\r\n")
	date := time.Date(2026, 1, 5, 10, 4, 5, 0, time.UTC)
	t.Run("synchronizing", func(t *testing.T) {
		pipe, p := startPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 UIDPLUS] ready
			C: a001 APPEND Sent (\Seen) " 5-Jan-2026 10:04:05 +0000" {22}
			S: + Ready for literal data
			C: Subject: hi
			C:
			C: Hello
			C:
			S: a001 OK [APPENDUID 38505 3955] APPEND completed
		`)
		conn := &tapConn{Conn: pipe}
		var before []string
		opts := testOptions()
		opts.BeforeCommand = func(line string) error { before = append(before, line); return nil }
		c, err := NewClient(conn, opts)
		if err != nil {
			t.Fatal(err)
		}
		au, err := c.Append("Sent", []string{`\Seen`}, date, msg)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&AppendUID{UIDValidity: 38505, UID: 3955}, au); diff != "" {
			t.Errorf("Append (-want +got):\n%s", diff)
		}
		p.Check(pipe)
		wantEvents := []string{
			"write a001 APPEND Sent (\\Seen) \" 5-Jan-2026 10:04:05 +0000\" {22}\r\n",
			"mark C 1", "write " + string(msg), "mark C 0",
			"write \r\n",
		}
		if diff := cmp.Diff(wantEvents, conn.Events()); diff != "" {
			t.Errorf("tap (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{`a001 APPEND Sent (\Seen) " 5-Jan-2026 10:04:05 +0000" {22}`}, before); diff != "" {
			t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
		}
	})
	t.Run("LITERAL+", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
			C: a001 APPEND INBOX {22+}
			C: Subject: hi
			C:
			C: Hello
			C:
			S: a001 OK APPEND completed
		`, testOptions())
		defer p.Check(conn)
		au, err := c.Append("INBOX", nil, time.Time{}, msg)
		if err != nil || au != nil {
			t.Errorf("Append = %v, %v", au, err)
		}
	})
	t.Run("refused before the literal", func(t *testing.T) {
		c, conn, p := dialPeer(t, `
			S: * OK ready
			C: a001 CAPABILITY
			S: * CAPABILITY IMAP4rev1
			S: a001 OK done
			C: a002 APPEND Nowhere {22}
			S: a002 NO [TRYCREATE] No such mailbox
			C: a003 NOOP
			S: a003 OK
		`, testOptions())
		defer p.Check(conn)
		_, err := c.Append("Nowhere", nil, time.Time{}, msg)
		wantIMAPError(t, err, "NO", "TRYCREATE", "imapclient: APPEND Nowhere: NO [TRYCREATE] No such mailbox")
		if err := c.Noop(); err != nil {
			t.Errorf("Noop after refused APPEND: %v", err)
		}
	})
	t.Run("bad flag", func(t *testing.T) {
		c, conn, p := dialPeer(t, `S: * OK ready`, testOptions())
		defer p.Check(conn)
		if _, err := c.Append("INBOX", []string{"a(b"}, time.Time{}, msg); err == nil {
			t.Error("Append with a bad flag succeeded")
		}
	})
}

func TestBye(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 NOOP
		S: * BYE Autologout; idle for too long
	`, testOptions())
	defer p.Check(conn)
	var news []Update
	c.opts.OnUnilateral = func(u Update) { news = append(news, u) }
	err := c.Noop()
	wantIMAPError(t, err, "BYE", "", "imapclient: NOOP: BYE Autologout; idle for too long")
	if c.State() != StateLogout {
		t.Errorf("State = %v", c.State())
	}
	if len(news) != 1 || news[0].Kind != UpdateBye {
		t.Errorf("news = %v", news)
	}
	if err := c.Noop(); err == nil {
		t.Error("Noop after BYE succeeded")
	}
}

func TestCmd(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 SELECT INBOX
		S: * 2 EXISTS
		S: * OK [UIDVALIDITY 7] ok
		S: a001 OK [READ-WRITE] SELECT completed
		C: a002 FETCH 1 BODY[]
		S: * 1 FETCH (BODY[] {3}
		S: a
		S: )
		S: a002 OK done
		C: a003 FROB
		S: a003 BAD Command unknown
		C: a004 LOGIN {5}
		S: + go on
		C: alice secret
		S: a004 NO [AUTHENTICATIONFAILED] nope
	`, testOptions())
	defer p.Check(conn)
	r, err := c.Cmd("SELECT INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := &Response{
		Untagged: []string{"* 2 EXISTS", "* OK [UIDVALIDITY 7] ok"},
		Tagged:   "a001 OK [READ-WRITE] SELECT completed",
		Status:   "OK", Code: "READ-WRITE", Text: "SELECT completed",
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if c.State() != StateSelected || c.Mailbox().UIDValidity != 7 || c.Mailbox().Exists != 2 {
		t.Errorf("after raw SELECT: State = %v, Mailbox = %+v", c.State(), c.Mailbox())
	}
	r, err = c.Cmd("FETCH 1 BODY[]")
	if err != nil || len(r.Untagged) != 1 || r.Untagged[0] != "* 1 FETCH (BODY[] {3}\r\na\r\n)" {
		t.Errorf("Cmd FETCH = %+v, %v", r, err)
	}
	r, err = c.Cmd("FROB")
	if err != nil || r.Status != "BAD" || r.Text != "Command unknown" {
		t.Errorf("Cmd FROB = %+v, %v", r, err)
	}
	r, err = c.Cmd("LOGIN {5}")
	if err != nil || !r.Continuation || r.Text != "go on" {
		t.Fatalf("Cmd LOGIN = %+v, %v", r, err)
	}
	if _, err := c.Cmd("NOOP"); err == nil {
		t.Error("Cmd while a continuation is pending succeeded")
	}
	if err := c.Noop(); err == nil {
		t.Error("Noop while a continuation is pending succeeded")
	}
	r, err = c.Continue("alice secret")
	if err != nil || r.Status != "NO" || r.Code != "AUTHENTICATIONFAILED" {
		t.Errorf("Continue = %+v, %v", r, err)
	}
	if _, err := c.Continue("x"); err == nil {
		t.Error("Continue without a pending command succeeded")
	}
	if _, err := c.Cmd("NOOP\r\na LOGOUT"); err == nil {
		t.Error("Cmd with CRLF succeeded")
	}
}

func TestBeforeCommandAbort(t *testing.T) {
	stop := errors.New("class paused")
	opts := testOptions()
	calls := 0
	opts.BeforeCommand = func(line string) error {
		calls++
		if calls == 1 {
			return stop
		}
		return nil
	}
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a002 NOOP
		S: a002 OK
	`, opts)
	defer p.Check(conn)
	err := c.Login("alice", "pw")
	if !errors.Is(err, stop) || err.Error() != "imapclient: before a001 LOGIN alice ***: class paused" {
		t.Errorf("err = %v", err)
	}
	// Nothing was sent: the session goes on.
	if err := c.Noop(); err != nil {
		t.Errorf("Noop: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	c, conn, p := dialPeer(t, `
		S: * OK ready
		C: a001 NOOP
		...
	`, testOptions())
	defer p.Check(conn)
	c.opts.Timeout = 50 * time.Millisecond // the server never answers NOOP
	err := c.Noop()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if err2 := c.Noop(); err2 == nil {
		t.Error("the client is usable after a timeout")
	}
}

func TestMalformedResponses(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
		want        error
	}{
		{"wrong tag", "a999 OK done", ErrMalformed},
		{"unexpected continuation", "+ what", ErrMalformed},
		{"tagged BYE", "a001 BYE", ErrMalformed},
		{"garbage", "hello there", ErrMalformed},
		{"literal too large", "* 1 FETCH (BODY[] {99999999999}", ErrLiteralTooLarge},
		{"line too long", "* OK " + strings.Repeat("x", 2000), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.MaxLineBytes = 1000
			opts.MaxLiteral = 1000
			c, conn, p := dialPeer(t, "S: * OK ready\nC: a001 NOOP\nS: "+tc.reply+"\n...", opts)
			defer p.Check(conn)
			err := c.Noop()
			if err == nil {
				t.Fatal("Noop succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "imapclient: NOOP: ") {
				t.Errorf("err = %q", err)
			}
			if err := c.Noop(); err == nil {
				t.Error("the client is usable after a malformed response")
			}
		})
	}
}
