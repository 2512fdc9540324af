package imapclient

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/wire"
)

var testLimits = limits{maxLine: 1000, maxLiteral: 100}

func read1(s string) (*response, error) {
	return readResponse(bufio.NewReader(strings.NewReader(s)), testLimits)
}

// show renders a parsed response for comparison.
func show(r *response) string {
	var b strings.Builder
	switch r.kind {
	case respTagged:
		b.WriteString("tagged " + r.tag + " " + r.status + " [" + r.code + "|" + r.codeArg + "] " + r.text)
	case respStatus:
		b.WriteString("status " + r.status + " [" + r.code + "|" + r.codeArg + "] " + r.text)
	case respContinuation:
		b.WriteString("cont " + r.text)
	case respData:
		b.WriteString("data ")
		if r.hasNum {
			b.WriteString(itoa(r.num) + " ")
		}
		b.WriteString(r.name)
		for _, f := range r.fields {
			b.WriteString(" " + showField(f))
		}
		if r.bad != nil {
			b.WriteString(" !bad")
		}
	}
	return b.String()
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func showField(f field) string {
	switch f.kind {
	case fieldAtom:
		return f.atom
	case fieldString:
		return "<" + string(f.str) + ">"
	case fieldNIL:
		return "NIL"
	case fieldList:
		var parts []string
		for _, g := range f.list {
			parts = append(parts, showField(g))
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return "?"
}

func TestReadResponseValid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"* OK IMAP4rev1 ready\r\n", "status OK [|] IMAP4rev1 ready"},
		{"* ok [CAPABILITY IMAP4rev1 IDLE] hi\r\n", "status OK [CAPABILITY|IMAP4rev1 IDLE] hi"},
		{"* PREAUTH welcome\r\n", "status PREAUTH [|] welcome"},
		{"* BYE logging out\n", "status BYE [|] logging out"},
		{"* OK [PERMANENTFLAGS (\\Deleted \\*)] Limited\r\n", "status OK [PERMANENTFLAGS|(\\Deleted \\*)] Limited"},
		{"* OK [READ-WRITE]\r\n", "status OK [READ-WRITE|] "},
		{"* OK text ending in a brace {5}\r\n", "status OK [|] text ending in a brace {5}"},
		{"a001 OK [APPENDUID 38505 3955] APPEND completed\r\n", "tagged a001 OK [APPENDUID|38505 3955] APPEND completed"},
		{"a002 NO [TRYCREATE] No such mailbox\r\n", "tagged a002 NO [TRYCREATE|] No such mailbox"},
		{"a003 bad\r\n", "tagged a003 BAD [|] "},
		{"+ Ready for literal data\r\n", "cont Ready for literal data"},
		{"+\r\n", "cont "},
		{"+ \r\n", "cont "},
		{"* 23 EXISTS\r\n", "data 23 EXISTS"},
		{"* 4294967295 EXISTS\r\n", "data 4294967295 EXISTS"},
		{"* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+\r\n", "data CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+"},
		{"* FLAGS (\\Answered \\Seen $Junk)\r\n", "data FLAGS (\\Answered \\Seen $Junk)"},
		{"* LIST (\\Noselect) \"/\" \"a \\\"b\\\" \\\\c\"\r\n", `data LIST (\Noselect) </> <a "b" \c>`},
		{"* LIST () NIL {3}\r\nx y\r\n", "data LIST () NIL <x y>"},
		{"* SEARCH\r\n", "data SEARCH"},
		{"* SEARCH 2 84 882\r\n", "data SEARCH 2 84 882"},
		{"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n", "data STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)"},
		{"* 12 FETCH (BODY[HEADER.FIELDS (SUBJECT DATE)] {4}\r\nab\r\n UID 3)\r\n", "data 12 FETCH (BODY[HEADER.FIELDS (SUBJECT DATE)] <ab\r\n> UID 3)"},
		{"* 1 FETCH (BODY[]<0> {0}\r\n)\r\n", "data 1 FETCH (BODY[]<0> <>)"},
		{"* 1 FETCH (BODY[1] {3}\r\n{1} BODY[2] {1}\r\nx)\r\n", "data 1 FETCH (BODY[1] <{1}> BODY[2] <x>)"},
		{"* 1 FETCH (BINARY[1] ~{3}\r\n\x00\x01\x02)\r\n", "data 1 FETCH (BINARY[1] <\x00\x01\x02>)"},
		{"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 1 1) \"ALTERNATIVE\"))\r\n",
			"data 1 FETCH (BODYSTRUCTURE ((<TEXT> <PLAIN> NIL NIL NIL <7BIT> 1 1) (<TEXT> <HTML> NIL NIL NIL <7BIT> 1 1) <ALTERNATIVE>))"},
		{"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n", "data NAMESPACE ((<> </>)) NIL NIL"},
		// An unknown response that does not tokenize is kept, not fatal.
		{"* XSTRANGE some [ text\r\n", "data XSTRANGE !bad"},
	} {
		r, err := read1(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := show(r); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if want := strings.TrimSuffix(strings.TrimSuffix(tc.in, "\n"), "\r"); string(r.raw) != want {
			t.Errorf("%q: raw = %q", tc.in, r.raw)
		}
	}
}

func TestReadResponseInvalid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"hello\r\n", ErrMalformed},
		{"a001\r\n", ErrMalformed},
		{"a001 MAYBE done\r\n", ErrMalformed},
		{"a001 BYE done\r\n", ErrMalformed},
		{"a+1 OK done\r\n", ErrMalformed},
		{"* \r\n", ErrMalformed},
		{"* 3\r\n", ErrMalformed},
		{"* 99999999999 EXISTS\r\n", ErrMalformed},
		{"* OK [ALERT no end\r\n", ErrMalformed},
		{"* OK [] empty\r\n", ErrMalformed},
		{"* 1 FETCH (BODY[] {101}\r\n", ErrLiteralTooLarge},
		{"* 1 FETCH (A {60}\r\n" + strings.Repeat("x", 60) + " B {60}\r\n" + strings.Repeat("x", 60) + ")\r\n", ErrLiteralTooLarge},
		{"* 1 FETCH (BODY[] {10}\r\nshort", io.ErrUnexpectedEOF},
		{"* 1 FETCH (BODY[] {2}\r\nab", io.ErrUnexpectedEOF},
		{"* OK " + strings.Repeat("x", 1000) + "\r\n", wire.ErrLineTooLong},
	} {
		_, err := read1(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%.40q: err = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// TestFieldsInvalid: data the client uses must tokenize; each of these
// leaves r.bad set and no fields.
func TestFieldsInvalid(t *testing.T) {
	for _, in := range []string{
		"* 1 FETCH (FLAGS (\\Seen)\r\n",
		"* 1 FETCH (BODY[ {3}\r\nabc)\r\n",
		"* LIST () \"/\" \"unterminated\r\n",
		"* LIST () \"/\" \"bad \\escape\"\r\n",
		"* 1 FETCH (X {x}\r\n",
		"* 1 FETCH (X {3} more\r\n",
		"* SEARCH )\r\n",
		"* 1 FETCH " + strings.Repeat("(", MaxDepth+1) + strings.Repeat(")", MaxDepth+1) + "\r\n",
	} {
		r, err := read1(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if r.bad == nil || r.fields != nil {
			t.Errorf("%q: parsed as %s", in, show(r))
		}
		if !errors.Is(r.bad, ErrMalformed) {
			t.Errorf("%q: bad = %v", in, r.bad)
		}
	}
}

func TestFieldsNestedToTheLimit(t *testing.T) {
	in := "* X " + strings.Repeat("(", MaxDepth) + strings.Repeat(")", MaxDepth) + "\r\n"
	r, err := read1(in)
	if err != nil || r.bad != nil {
		t.Errorf("depth %d: %v %v", MaxDepth, err, r.bad)
	}
}

func TestReadResponseSequence(t *testing.T) {
	in := "* 1 FETCH (BODY[] {5}\r\na)\r\nb)\r\na001 OK done\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	var got []string
	for {
		r, err := readResponse(br, testLimits)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, show(r))
	}
	want := []string{"data 1 FETCH (BODY[] <a)\r\nb>)", "tagged a001 OK [|] done"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+] ready\r\n",
		"* PREAUTH hi\r\n",
		"* BYE bye\r\n",
		"a001 OK [READ-WRITE] SELECT completed\r\n",
		"a001 NO [TRYCREATE] nope\r\n",
		"+ idling\r\n",
		"* 172 EXISTS\r\n* 1 RECENT\r\n* 3 EXPUNGE\r\n",
		"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
		"* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST () NIL {3}\r\nx y\r\n",
		"* STATUS Archive (MESSAGES 231 UNSEEN 3)\r\n",
		"* SEARCH 2 84 882\r\n",
		"* 1 FETCH (UID 7 FLAGS (\\Seen) INTERNALDATE \" 5-Jan-2026 10:04:05 +0100\" RFC822.SIZE 4286 ENVELOPE (\"date\" \"subj\" ((\"A\" NIL \"a\" \"a.test\")) NIL NIL ((NIL NIL \"grp\" NIL)(NIL NIL \"b\" \"b.test\")(NIL NIL NIL NIL)) NIL NIL NIL \"<1@a.test>\") BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: Lunch?\r\n BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1))\r\n",
		"* 1 FETCH (BINARY[1] ~{3}\r\nabc)\r\n",
		"* 1 FETCH (BODY[]<0> {0}\r\n)\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(strings.NewReader(string(in)))
		for i := 0; i < 100; i++ {
			r, err := readResponse(br, testLimits)
			if err != nil {
				return
			}
			// Everything the client does with a response must not panic.
			c := &Client{opts: Options{}.withDefaults(), mbox: &MailboxStatus{}}
			c.model(r)
			c.finished(&command{verb: "SELECT"}, r)
			if r.kind == respData {
				parseFetch(r)
				numbers(r.fields)
				for _, f := range r.fields {
					parseEnvelope(f)
					parseAddresses(f)
					atoms(f)
				}
			}
			if r.kind == respStatus || r.kind == respTagged {
				parseCopyUID(r.codeArg)
				c.mboxCode(&MailboxStatus{}, r)
				_ = r.err().Error()
			}
		}
	})
}
