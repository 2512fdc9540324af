package imap

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readOne(t testing.TB, input string, opts ReaderOptions) (*Command, error, *Reader) {
	r := NewReader(bufio.NewReaderSize(strings.NewReader(input), 16), opts)
	cmd, err := r.ReadCommand()
	return cmd, err, r
}

func atom(s string) Arg   { return Arg{Kind: ArgAtom, Text: s} }
func quoted(s string) Arg { return Arg{Kind: ArgQuoted, Text: s} }
func lit(s string) Arg    { return Arg{Kind: ArgLiteral, Bytes: []byte(s)} }
func list(a ...Arg) Arg   { return Arg{Kind: ArgList, List: append([]Arg{}, a...)} }

func TestReadCommandValid(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{"a1 NOOP\r\n", Command{Tag: "a1", Name: "NOOP"}},
		{"a1 noop\n", Command{Tag: "a1", Name: "NOOP"}},
		{"a2 LOGIN bob \"pa ss\\\"w\\\\d\"\r\n", Command{Tag: "a2", Name: "LOGIN", Args: []Arg{atom("bob"), quoted(`pa ss"w\d`)}}},
		{"a3 LOGIN {3}\r\nbob {6}\r\nsecret\r\n", Command{Tag: "a3", Name: "LOGIN", Args: []Arg{lit("bob"), lit("secret")}}},
		{"a3 LOGIN {3+}\r\nbob {0+}\r\n\r\n", Command{Tag: "a3", Name: "LOGIN", Args: []Arg{lit("bob"), lit("")}}},
		{"a4 uid fetch 1:4,7,* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n", Command{Tag: "a4", Name: "UID FETCH", Args: []Arg{
			atom("1:4,7,*"), list(atom("FLAGS"), atom("BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"))}}},
		{"a5 LIST \"\" %\r\n", Command{Tag: "a5", Name: "LIST", Args: []Arg{quoted(""), atom("%")}}},
		{"a6 STORE 1 +FLAGS.SILENT (\\Seen $Junk)\r\n", Command{Tag: "a6", Name: "STORE", Args: []Arg{atom("1"), atom("+FLAGS.SILENT"), list(atom(`\Seen`), atom("$Junk"))}}},
		{"a7 SEARCH (OR (SEEN) NOT ()) NIL\r\n", Command{Tag: "a7", Name: "SEARCH", Args: []Arg{list(atom("OR"), list(atom("SEEN")), atom("NOT"), list()), atom("NIL")}}},
		{"a8 APPEND INBOX (\\Seen) \"01-Feb-1994 10:00:00 +0000\" {5}\r\nhello\r\n", Command{Tag: "a8", Name: "APPEND", Args: []Arg{
			atom("INBOX"), list(atom(`\Seen`)), quoted("01-Feb-1994 10:00:00 +0000"), lit("hello")}}},
		{"a9 FETCH 1 BODY[HEADER.FIELDS (\"X-A B\")]\r\n", Command{Tag: "a9", Name: "FETCH", Args: []Arg{atom("1"), atom(`BODY[HEADER.FIELDS ("X-A B")]`)}}},
		{"* FETCH\r\n"[1:], Command{Tag: "FETCH"}}, // placeholder replaced below
	}
	tests = tests[:len(tests)-1]
	for _, tt := range tests {
		var conts []int64
		r := NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), 16), ReaderOptions{})
		r.Continue = func(c *Command, n int64) error { conts = append(conts, n); return nil }
		got, err := r.ReadCommand()
		if err != nil {
			t.Errorf("ReadCommand(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ReadCommand(%q) =\n %+v\nwant\n %+v", tt.in, *got, tt.want)
		}
		wantConts := strings.Count(tt.in, "}\r\n") - strings.Count(tt.in, "+}\r\n")
		if len(conts) != wantConts {
			t.Errorf("ReadCommand(%q): %d continuation requests, want %d", tt.in, len(conts), wantConts)
		}
	}
}

func TestReadCommandInvalid(t *testing.T) {
	tests := []struct {
		in, wantTag, wantText string
		wantClose             bool
	}{
		{"\r\n", "", "Empty command line", false},
		{"+a NOOP\r\n", "", "Expected a tag", false},
		{"a1\r\n", "a1", "Expected SP after tag", false},
		{"a1  NOOP\r\n", "a1", "Expected a command name", false},
		{"a1 LOGIN \"bob\r\n", "a1", "without a closing", false},
		{"a1 LOGIN \"b\\ob\"\r\n", "a1", "may be escaped", false},
		{"a1 FETCH 1 (FLAGS\r\n", "a1", "close a list", false},
		{"a1 FETCH 1 FLAGS)\r\n", "a1", "Expected SP between arguments", false},
		{"a1 FETCH 1 BODY[HEADER\r\n", "a1", "to close \"[\"", false},
		{"a1 X " + strings.Repeat("(", 40) + "\r\n", "a1", "nested too deep", false},
		{"a1 APPEND INBOX {99999999999}\r\n", "a1", "too big", false},
		{"a1 APPEND INBOX {99999999999+}\r\n", "a1", "too big", true},
		{"a1 LOGIN {x}\r\n", "a1", "Expected a literal", false},
		{"a1 LOGIN {5}{3}\r\n", "a1", "Expected a literal", false},
		{"a1 NOOP " + strings.Repeat("x", 70000) + "\r\n", "", "Line too long", false},
	}
	for _, tt := range tests {
		_, err, _ := readOne(t, tt.in, ReaderOptions{MaxLiteralBytes: 1000})
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ReadCommand(%.40q) error %v, want a *ParseError", tt.in, err)
			continue
		}
		if pe.Tag != tt.wantTag || !strings.Contains(pe.Err.Text, tt.wantText) || pe.Close != tt.wantClose {
			t.Errorf("ReadCommand(%.40q) = tag %q %q close=%v, want tag %q, text containing %q, close=%v",
				tt.in, pe.Tag, pe.Err.Error(), pe.Close, tt.wantTag, tt.wantText, tt.wantClose)
		}
	}
}

func TestReadCommandResynchronises(t *testing.T) {
	// A bad command followed by a non-synchronizing literal: its data must
	// not be read as a command.
	in := "a1 BOGUS ( {6+}\r\nb2 X\r\n)\r\na2 NOOP\r\n"
	r := NewReader(bufio.NewReader(strings.NewReader(in)), ReaderOptions{})
	if _, err := r.ReadCommand(); err == nil {
		t.Fatal("first command read without error")
	}
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Tag != "a2" {
		t.Fatalf("next command = %+v, %v; want a2 NOOP", cmd, err)
	}
}

func TestReadCommandRefusedLiteralIsNotRead(t *testing.T) {
	r := NewReader(bufio.NewReader(strings.NewReader("a1 APPEND INBOX {5}\r\na2 NOOP\r\n")), ReaderOptions{})
	r.Continue = func(*Command, int64) error { return Errorf(NO, CodeTooBig, "no") }
	if _, err := r.ReadCommand(); err == nil {
		t.Fatal("refused literal accepted")
	}
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Name != "NOOP" {
		t.Fatalf("after a refused literal got %+v, %v; want a2 NOOP", cmd, err)
	}
}

func TestReadCommandEOFInLiteral(t *testing.T) {
	_, err, _ := readOne(t, "a1 APPEND INBOX {10}\r\nabc", ReaderOptions{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	_, err, _ = readOne(t, "", ReaderOptions{})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("got %v at a command boundary, want io.EOF", err)
	}
}

func TestParseSeqSet(t *testing.T) {
	valid := []struct {
		in   string
		want SeqSet
	}{
		{"1", SeqSet{{1, 1}}},
		{"1:4,7,*", SeqSet{{1, 4}, {7, 7}, {0, 0}}},
		{"9:*", SeqSet{{9, 0}}},
		{"4:2", SeqSet{{4, 2}}},
		{"4294967295", SeqSet{{4294967295, 4294967295}}},
	}
	for _, tt := range valid {
		got, err := ParseSeqSet(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSeqSet(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseSeqSet(%q).String() = %q", tt.in, got.String())
		}
	}
	for _, in := range []string{"", "0", "1:", ":2", "1,,2", "a", "-1", "4294967296", "1:2:3", "$"} {
		if got, err := ParseSeqSet(in); err == nil {
			t.Errorf("ParseSeqSet(%q) = %v, want an error", in, got)
		}
	}
}

func TestSeqSetContains(t *testing.T) {
	set, _ := ParseSeqSet("1:3,7,10:*")
	for n, want := range map[uint32]bool{1: true, 3: true, 4: false, 7: true, 9: false, 12: true, 13: false} {
		if got := set.Contains(n, 12); got != want {
			t.Errorf("Contains(%d, max 12) = %v, want %v", n, got, want)
		}
	}
	// RFC 3501 section 9: "559:*" includes the last message even if 559 is
	// larger than it.
	set, _ = ParseSeqSet("559:*")
	if !set.Contains(20, 20) {
		t.Error(`"559:*" does not contain the last UID 20`)
	}
}

func TestDates(t *testing.T) {
	d, err := ParseDate("1-feb-1994")
	if err != nil || !d.Equal(time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseDate = %v, %v", d, err)
	}
	for _, in := range []string{"", "1994-02-01", "32-Feb-1994", "1-Fbr-1994", "1-Feb-94"} {
		if _, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) accepted", in)
		}
	}
	dt, err := ParseDateTime(" 1-Feb-1994 10:00:00 +0200")
	if err != nil || dt.UTC().Hour() != 8 {
		t.Errorf("ParseDateTime = %v, %v", dt, err)
	}
	if got := FormatDateTime(dt); got != "01-Feb-1994 10:00:00 +0200" {
		t.Errorf("FormatDateTime = %q", got)
	}
	for _, in := range []string{"", "01-Feb-1994", "01-Feb-1994 25:00:00 +0000", "01-Feb-1994 10:00:00"} {
		if _, err := ParseDateTime(in); err == nil {
			t.Errorf("ParseDateTime(%q) accepted", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	got, err := ParseFlags([]Arg{list(atom(`\SEEN`), atom("$Forwarded"), atom(`\deleted`))})
	if err != nil || !reflect.DeepEqual(got, []string{`\Seen`, "$Forwarded", `\Deleted`}) {
		t.Errorf("ParseFlags = %v, %v", got, err)
	}
	for _, bad := range [][]Arg{{list(atom(`\Recent`))}, {list(atom(`\Bogus`))}, {list(quoted("x"))}, {list(atom("a%b"))}} {
		if got, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%v) = %v, want an error", bad, got)
		}
	}
}

func TestParseStoreItem(t *testing.T) {
	for in, want := range map[string]struct {
		mode   byte
		silent bool
	}{"FLAGS": {0, false}, "+flags.silent": {'+', true}, "-FLAGS": {'-', false}} {
		mode, silent, err := ParseStoreItem(in)
		if err != nil || mode != want.mode || silent != want.silent {
			t.Errorf("ParseStoreItem(%q) = %c %v %v", in, mode, silent, err)
		}
	}
	for _, in := range []string{"", "FLAG", "*FLAGS", "+FLAGS.LOUD"} {
		if _, _, err := ParseStoreItem(in); err == nil {
			t.Errorf("ParseStoreItem(%q) accepted", in)
		}
	}
}

func TestParseFetchValid(t *testing.T) {
	tests := []struct {
		in   Arg
		want []FetchItem
	}{
		{atom("FAST"), []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}},
		{atom("all"), []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}, {Name: "ENVELOPE"}}},
		{atom("FULL"), []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}, {Name: "ENVELOPE"}, {Name: "BODY"}}},
		{atom("body[]"), []FetchItem{{Name: "BODY[]"}}},
		{list(atom("UID"), atom("BODYSTRUCTURE"), atom("RFC822.HEADER"), atom("RFC822.TEXT"), atom("RFC822")),
			[]FetchItem{{Name: "UID"}, {Name: "BODYSTRUCTURE"}, {Name: "RFC822.HEADER"}, {Name: "RFC822.TEXT"}, {Name: "RFC822"}}},
		{atom("BODY.PEEK[1.2.mime]<10.20>"), []FetchItem{{Name: "BODY[]", Section: "1.2.MIME", Peek: true, Partial: true, Origin: 10, Count: 20}}},
		{atom(`BODY[header.fields ("x-a")]`), []FetchItem{{Name: "BODY[]", Section: `HEADER.FIELDS ("x-a")`}}},
	}
	for _, tt := range tests {
		got, err := ParseFetch(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFetch(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	it, _ := ParseFetchItem("BODY.PEEK[TEXT]<0.10>")
	if it.ResponseName() != "BODY[TEXT]<0>" || it.SetsSeen() {
		t.Errorf("BODY.PEEK[TEXT]<0.10>: response name %q, sets seen %v", it.ResponseName(), it.SetsSeen())
	}
}

func TestParseFetchInvalid(t *testing.T) {
	for _, in := range []Arg{atom("BOGUS"), list(), list(atom("ALL")), quoted("FLAGS"), atom("BODY[]<0>"),
		atom("BODY[]<0.0>"), atom("BODY[]x"), atom("RFC822[]"), list(list(atom("FLAGS")))} {
		if got, err := ParseFetch(in); err == nil {
			t.Errorf("ParseFetch(%s) = %+v, want an error", in, got)
		}
	}
}

func TestMatchMailbox(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "a/b/c", true}, {"%", "a/b", false}, {"%", "INBOX", true}, {"a/%", "a/b", true},
		{"a/%", "a/b/c", false}, {"a/*", "a/b/c", true}, {"inbox", "INBOX", true}, {"a*c", "abc", true},
		{"a*c", "abd", false}, {"", "", true}, {"%/%", "a/b", true}, {strings.Repeat("*a", 50), strings.Repeat("a", 40), false},
	}
	for _, tt := range tests {
		if got := MatchMailbox(tt.pattern, tt.name, '/'); got != tt.want {
			t.Errorf("MatchMailbox(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{`a"b\c`: `"a\"b\\c"`, "x\r\ny": "{4}\r\nx\r\ny", "ñ": "{2}\r\nñ"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"INBOX": "INBOX", "a b": `"a b"`, "": `""`, "NIL": `"NIL"`} {
		if got := AString(in); got != want {
			t.Errorf("AString(%q) = %q, want %q", in, got, want)
		}
	}
}

var fuzzSeeds = []string{
	"a1 CAPABILITY\r\n", "a1 NOOP\r\n", "a1 LOGOUT\r\n", "a1 ID (\"name\" \"mutt\")\r\n", "a1 ID NIL\r\n",
	"a1 LOGIN bob secret\r\n", "a1 LOGIN {3}\r\nbob {6+}\r\nsecret\r\n", "a1 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=\r\n",
	"a1 SELECT INBOX\r\n", "a1 EXAMINE \"Sent Items\"\r\n", "a1 CREATE a/b\r\n", "a1 DELETE a\r\n", "a1 RENAME a b\r\n",
	"a1 SUBSCRIBE a\r\n", "a1 UNSUBSCRIBE a\r\n", "a1 LIST \"\" *\r\n", "a1 LSUB \"\" %\r\n",
	"a1 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n", "a1 APPEND INBOX (\\Seen) \" 1-Feb-1994 10:00:00 +0000\" {5}\r\nhello\r\n",
	"a1 CHECK\r\n", "a1 CLOSE\r\n", "a1 UNSELECT\r\n", "a1 EXPUNGE\r\n", "a1 UID EXPUNGE 1:3\r\n",
	"a1 SEARCH CHARSET UTF-8 OR (FROM \"a\" SUBJECT {3}\r\nabc) NOT 1:*,5 UID 2:4 SINCE 1-Feb-1994 LARGER 10\r\n",
	"a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n", "a1 UID FETCH 1:4 FULL\r\n",
	"a1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", "a1 UID STORE 1 FLAGS \\Seen\r\n", "a1 COPY 1:2 Archive\r\n",
	"a1 UID MOVE 3 Trash\r\n", "a1 IDLE\r\n", "a1 NAMESPACE\r\n", "a1 ENABLE CONDSTORE\r\n",
	"a1 X ((((\"\\\\\"))))\r\n", "a1 X {5+}\r\n", "a1 X {3}\r\nab",
}

// FuzzParseCommand reads commands and interprets their arguments as every
// command would: nothing may panic, and a command returned is well formed.
func FuzzParseCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bufio.NewReaderSize(strings.NewReader(string(in)), 16), ReaderOptions{MaxLineBytes: 1024, MaxLiteralBytes: 1024, MaxDepth: 8})
		r.Continue = func(*Command, int64) error { return nil }
		for range 10 {
			cmd, err := r.ReadCommand()
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) && !pe.Close {
					continue
				}
				return
			}
			if cmd.Tag == "" || cmd.Name == "" {
				t.Fatalf("command without tag or name: %+v", cmd)
			}
			ParseSearch(cmd.Args)
			for _, a := range cmd.Args {
				ParseFetch(a)
				ParseFlags([]Arg{a})
				if s, ok := a.AString(); ok {
					ParseSeqSet(s)
					ParseDate(s)
					ParseDateTime(s)
					ParseStoreItem(s)
					MatchMailbox(s, "a/b/INBOX", '/')
					Quote(s)
				}
				_ = a.String()
			}
		}
	})
}
