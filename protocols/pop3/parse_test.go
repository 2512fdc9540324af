package pop3

import (
	"errors"
	"testing"
)

func TestParseCommandValid(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"QUIT", Command{Verb: "QUIT"}},
		{"quit", Command{Verb: "QUIT"}},
		{"TOP 1 10", Command{Verb: "TOP", Arg: "1 10"}},
		{"USER bob", Command{Verb: "USER", Arg: "bob"}},
		{"PASS correct horse battery", Command{Verb: "PASS", Arg: "correct horse battery"}},
		{"PASS contraseña", Command{Verb: "PASS", Arg: "contraseña"}},
		{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", Command{Verb: "APOP", Arg: "mrose c4c9334bac560ecc979e58001b3e22fb"}},
		{"AUTH PLAIN AGJvYgBzZWNyZXQ=", Command{Verb: "AUTH", Arg: "PLAIN AGJvYgBzZWNyZXQ="}},
		{"XTND XMIT", Command{Verb: "XTND", Arg: "XMIT"}},
	}
	for _, tt := range tests {
		got, err := ParseCommand([]byte(tt.line))
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestParseCommandInvalid(t *testing.T) {
	for _, line := range []string{
		"", "QU", "QUITS", "RET1 1", "RETR\x001", "USER bob\r", "USER ", " QUIT", "QUIT\x7f", "ÜSER bob",
	} {
		if got, err := ParseCommand([]byte(line)); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want a syntax error", line, got, err)
		}
	}
}

func TestCommandArgs(t *testing.T) {
	c := Command{Verb: "TOP", Arg: "1 10"}
	if got := c.Args(); len(got) != 2 || got[0] != "1" || got[1] != "10" {
		t.Errorf("Args() = %q", got)
	}
	if got := (Command{Verb: "STAT"}).Args(); got != nil {
		t.Errorf("Args() of STAT = %q, want nil", got)
	}
}

func TestParseNumber(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "42": 42, "007": 7, "999999999": 999999999} {
		if got, err := ParseNumber(s); err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1", "+1", "1.0", "x", "1000000000", "99999999999999999999999"} {
		if got, err := ParseNumber(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseNumber(%q) = %d, %v; want a syntax error", s, got, err)
		}
	}
	if got, err := ParseLineCount("0"); err != nil || got != 0 {
		t.Errorf("ParseLineCount(\"0\") = %d, %v; want 0", got, err)
	}
	if _, err := ParseLineCount("-1"); err == nil {
		t.Error("ParseLineCount(\"-1\") succeeded")
	}
}

func TestParseResponseValid(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		text string
	}{
		{"+OK", true, ""},
		{"+OK 2 320", true, "2 320"},
		{"-ERR", false, ""},
		{"-ERR [IN-USE] locked", false, "[IN-USE] locked"},
	}
	for _, tt := range tests {
		ok, text, err := ParseResponse(tt.line)
		if err != nil || ok != tt.ok || text != tt.text {
			t.Errorf("ParseResponse(%q) = %v, %q, %v; want %v, %q", tt.line, ok, text, err, tt.ok, tt.text)
		}
	}
}

func TestParseResponseInvalid(t *testing.T) {
	for _, line := range []string{"", "OK", "+ok", "+OKAY", "-ERROR x", "* OK", "250 ok"} {
		if _, _, err := ParseResponse(line); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseResponse(%q): err = %v, want a syntax error", line, err)
		}
	}
}

func TestParseListings(t *testing.T) {
	if n, size, err := ParseScanListing("2 200 extra"); err != nil || n != 2 || size != 200 {
		t.Errorf("ParseScanListing = %d, %d, %v", n, size, err)
	}
	if n, size, err := ParseDropListing("0 0"); err != nil || n != 0 || size != 0 {
		t.Errorf("ParseDropListing = %d, %d, %v", n, size, err)
	}
	if n, uid, err := ParseUIDListing("1 whqtswO00WBw418f9t5JxYwZ"); err != nil || n != 1 || uid != "whqtswO00WBw418f9t5JxYwZ" {
		t.Errorf("ParseUIDListing = %d, %q, %v", n, uid, err)
	}
	for _, s := range []string{"", "1", "0 10", "x 10", "1 -5", "1 x"} {
		if _, _, err := ParseScanListing(s); err == nil {
			t.Errorf("ParseScanListing(%q) succeeded", s)
		}
	}
	for _, s := range []string{"", "1", "x 0", "1 x"} {
		if _, _, err := ParseDropListing(s); err == nil {
			t.Errorf("ParseDropListing(%q) succeeded", s)
		}
	}
	for _, s := range []string{"", "1", "0 a", "1 " + string(make([]byte, 71)), "1 ñ"} {
		if _, _, err := ParseUIDListing(s); err == nil {
			t.Errorf("ParseUIDListing(%q) succeeded", s)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		text string
		want Error
	}{
		{"[IN-USE] maildrop locked", Error{Code: "IN-USE", Text: "maildrop locked"}},
		{"[SYS/TEMP] try later", Error{Code: "SYS/TEMP", Text: "try later"}},
		{"[AUTH]", Error{Code: "AUTH", Text: ""}},
		{"no such message", Error{Text: "no such message"}},
		{"[] empty", Error{Text: "[] empty"}},
		{"[A//B] bad", Error{Text: "[A//B] bad"}},
		{"[unclosed", Error{Text: "[unclosed"}},
	}
	for _, tt := range tests {
		if got := ParseError(tt.text); *got != tt.want {
			t.Errorf("ParseError(%q) = %+v, want %+v", tt.text, *got, tt.want)
		}
	}
}

func TestErrorIsMatchesCode(t *testing.T) {
	err := error(&Error{Code: CodeInUse, Text: "locked by pid 42"})
	if !errors.Is(err, ErrInUse) || errors.Is(err, ErrAuth) {
		t.Errorf("errors.Is on %v: want ErrInUse only", err)
	}
	if errors.Is(&Error{Text: "x"}, &Error{Text: "x"}) {
		t.Error("code-less errors must not match each other")
	}
	if !ErrTemp.Temporary() || ErrAuth.Temporary() {
		t.Error("Temporary: want SYS/TEMP temporary, AUTH not")
	}
}

func TestAPOPDigestRFCExample(t *testing.T) {
	// RFC 1939 section 7.
	if got := APOPDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"); got != "c4c9334bac560ecc979e58001b3e22fb" {
		t.Errorf("APOPDigest = %s", got)
	}
}

func TestGreetingTimestamp(t *testing.T) {
	for text, want := range map[string]string{
		"POP3 server ready <1896.697170952@dbc.mtview.ca.us>": "<1896.697170952@dbc.mtview.ca.us>",
		"<not a stamp> ready <1.2@host>":                      "<1.2@host>",
	} {
		if got, ok := GreetingTimestamp(text); !ok || got != want {
			t.Errorf("GreetingTimestamp(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	for _, text := range []string{"POP3 ready", "<nohost>", "<a@b", "a@b>"} {
		if got, ok := GreetingTimestamp(text); ok {
			t.Errorf("GreetingTimestamp(%q) = %q, want none", text, got)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateAuthorization: "Authorization", StateTransaction: "Transaction", StateUpdate: "Update", 9: "State(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		"USER bob", "PASS secret word", "APOP mrose c4c9334bac560ecc979e58001b3e22fb", "AUTH PLAIN AGJvYgBzZWNyZXQ=",
		"AUTH", "CAPA", "STAT", "LIST", "LIST 1", "RETR 1", "DELE 2", "NOOP", "RSET", "TOP 1 0", "UIDL", "UIDL 3",
		"QUIT", "STLS", "quit", "RETR\x00", "TOP 1 -1", "LIST 99999999999", "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.Verb) < 3 || len(cmd.Verb) > 4 {
			t.Fatalf("ParseCommand(%q): verb %q", line, cmd.Verb)
		}
		for _, a := range cmd.Args() {
			if n, err := ParseNumber(a); err == nil && n < 1 {
				t.Fatalf("ParseNumber(%q) = %d", a, n)
			}
			ParseLineCount(a)
		}
		// Re-parsing what the server would log gives the same command.
		again := cmd.Verb
		if cmd.Arg != "" {
			again += " " + cmd.Arg
		}
		if got, err := ParseCommand([]byte(again)); err != nil || got != cmd {
			t.Fatalf("re-parse of %q = %+v, %v; want %+v", again, got, err, cmd)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		"+OK", "+OK 2 320", "-ERR [IN-USE] locked", "-ERR [SYS/TEMP] try later", "-ERR", "1 120", "1 whqtswO00WBw418f9t5JxYwZ",
		"+OK maillab POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if ok, text, err := ParseResponse(line); err == nil && !ok {
			e := ParseError(text)
			if e.Code != "" && !validCode(e.Code) {
				t.Fatalf("ParseError(%q): invalid code %q", text, e.Code)
			}
		}
		ParseScanListing(line)
		ParseDropListing(line)
		if _, uid, err := ParseUIDListing(line); err == nil && !ValidUID(uid) {
			t.Fatalf("ParseUIDListing(%q) gave invalid uid %q", line, uid)
		}
		if ts, ok := GreetingTimestamp(line); ok && (ts[0] != '<' || ts[len(ts)-1] != '>') {
			t.Fatalf("GreetingTimestamp(%q) = %q", line, ts)
		}
	})
}
