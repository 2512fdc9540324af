package imapmsg

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSectionValid(t *testing.T) {
	tests := []struct {
		in   string
		want Section
		str  string // canonical form
	}{
		{"", Section{}, ""},
		{"1", Section{Path: []int{1}}, "1"},
		{"1.2.3", Section{Path: []int{1, 2, 3}}, "1.2.3"},
		{"HEADER", Section{Specifier: "HEADER"}, "HEADER"},
		{"header", Section{Specifier: "HEADER"}, "HEADER"},
		{"TEXT", Section{Specifier: "TEXT"}, "TEXT"},
		{"2.MIME", Section{Path: []int{2}, Specifier: "MIME"}, "2.MIME"},
		{"4.text", Section{Path: []int{4}, Specifier: "TEXT"}, "4.TEXT"},
		{"1.2.HEADER.FIELDS (From To)", Section{Path: []int{1, 2}, Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}}, "1.2.HEADER.FIELDS (FROM TO)"},
		{`HEADER.FIELDS.NOT (Subject "X Odd")`, Section{Specifier: "HEADER.FIELDS.NOT", Fields: []string{"Subject", "X Odd"}}, `HEADER.FIELDS.NOT (SUBJECT "X ODD")`},
		{"header.fields ({4}\r\nDate)", Section{Specifier: "HEADER.FIELDS", Fields: []string{"Date"}}, "HEADER.FIELDS (DATE)"},
		{"HEADER.FIELDS (Message-ID X-]weird)", Section{Specifier: "HEADER.FIELDS", Fields: []string{"Message-ID", "X-]weird"}}, "HEADER.FIELDS (MESSAGE-ID X-]WEIRD)"},
		{"4294967295", Section{Path: []int{4294967295}}, "4294967295"},
	}
	for _, tt := range tests {
		got, err := ParseSection(tt.in)
		if err != nil {
			t.Errorf("ParseSection(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSection(%q) (-want +got):\n%s", tt.in, diff)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseSection(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
	}
}

func TestParseSectionInvalid(t *testing.T) {
	for _, in := range []string{
		"MIME", "0", "01", "1.", "1..2", ".1", "1.2x", "BOGUS", "1.MIME.TEXT", "TEXT.1",
		"4294967296", "HEADER.FIELDS", "HEADER.FIELDS ()", "HEADER.FIELDS (a", "HEADER.FIELDS (a) x",
		"HEADER.FIELDS(a)", "HEADER.FIELDS (a  b)", `HEADER.FIELDS ("a)`, "HEADER.FIELDS ({9}\r\nab)",
		"HEADER.FIELDS.NOT", "HEADERS", "1.HEADER ",
	} {
		_, err := ParseSection(in)
		var se *SectionError
		if !errors.As(err, &se) {
			t.Errorf("ParseSection(%q): err = %v, want *SectionError", in, err)
		}
	}
}

func TestFetch(t *testing.T) {
	mimeHTML := "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	embeddedHeader := "From: Alice Ruiz <alice@a.test>\r\nTo: bob@b.test\r\nSubject: Hello\r\nDate: Thu, 15 Jan 2026 10:30:00 +0100\r\n\r\n"
	tests := []struct {
		name, msg, section, want string
	}{
		{"whole message", msgPlain, "", msgPlain},
		{"HEADER keeps the empty line", msgPlain, "HEADER", msgPlain[:len(msgPlain)-len("Hi Bob,\r\nSee you.\r\n")]},
		{"TEXT", msgPlain, "TEXT", "Hi Bob,\r\nSee you.\r\n"},
		{"part 1 of a non-multipart message is its body", msgPlain, "1", "Hi Bob,\r\nSee you.\r\n"},
		{"1.MIME of a non-multipart message is its header", msgPlain, "1.MIME", msgPlain[:len(msgPlain)-len("Hi Bob,\r\nSee you.\r\n")]},
		{"missing part is empty", msgPlain, "2", ""},
		{"HEADER.FIELDS keeps message order, any case", msgPlain, "HEADER.FIELDS (subject FROM)", "From: Alice Ruiz <alice@a.test>\r\nSubject: Hello\r\n\r\n"},
		{"HEADER.FIELDS.NOT", msgPlain, "HEADER.FIELDS.NOT (Date Message-ID To)", "From: Alice Ruiz <alice@a.test>\r\nSubject: Hello\r\n\r\n"},
		{"HEADER.FIELDS of absent fields is the empty line", msgPlain, "HEADER.FIELDS (X-Nothing)", "\r\n"},
		{"HEADER.FIELDS keeps folding", "Subject: a\r\n b\r\nX: y\r\n\r\nbody", "HEADER.FIELDS (SUBJECT)", "Subject: a\r\n b\r\n\r\n"},
		{"no empty line when the message has none", "Subject: x\r\nTo: y", "HEADER.FIELDS (Subject)", "Subject: x\r\n"},
		{"part 1", msgAlternative, "1", "Hi"},
		{"part 2", msgAlternative, "2", "<p>Hi</p>"},
		{"2.MIME", msgAlternative, "2.MIME", mimeHTML},
		{"HEADER of a part that is not message/rfc822 is empty", msgAlternative, "1.HEADER", ""},
		{"a leaf has no sub-parts", msgAlternative, "1.1", ""},
		{"part past the last", msgAlternative, "3", ""},
		{"nested 1.2", msgNested, "1.2", "<b>html</b>"},
		{"a multipart part is its body", msgNested, "1", "--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<b>html</b>\r\n--inner--\r\n"},
		{"nested 2.MIME", msgNested, "2.MIME", "Content-Type: image/png; name=dot.png\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\n\r\n"},
		{"message/rfc822 part is the whole embedded message", msgRFC822, "2", embeddedHeader + "Hi Bob,\r\nSee you."},
		{"2.HEADER is the embedded header", msgRFC822, "2.HEADER", embeddedHeader},
		{"2.TEXT is the embedded body", msgRFC822, "2.TEXT", "Hi Bob,\r\nSee you."},
		{"2.1 is the body of the single-part embedded message", msgRFC822, "2.1", "Hi Bob,\r\nSee you."},
		{"2.HEADER.FIELDS", msgRFC822, "2.HEADER.FIELDS (Subject)", "Subject: Hello\r\n\r\n"},
		{"2.MIME is the part header, not the embedded one", msgRFC822, "2.MIME", "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n"},
		{"2.2 does not exist", msgRFC822, "2.2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSection(tt.section)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Fetch([]byte(tt.msg), parse(t, tt.msg), s)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("BODY[%s]\n got %q\nwant %q", tt.section, got, tt.want)
			}
			// Without a tree, Fetch parses the message itself.
			if got2, _ := Fetch([]byte(tt.msg), nil, s); string(got2) != tt.want {
				t.Errorf("BODY[%s] with nil root = %q", tt.section, got2)
			}
		})
	}
}

func TestFetchRefusesBadSection(t *testing.T) {
	for _, s := range []Section{
		{Specifier: "MIME"},
		{Specifier: "HEADER.FIELDS"},
		{Path: []int{0}},
		{Specifier: "BOGUS"},
	} {
		if _, err := Fetch([]byte(msgPlain), nil, s); err == nil {
			t.Errorf("Fetch(%+v) gave no error", s)
		}
	}
}

func TestPartial(t *testing.T) {
	b := []byte("0123456789")
	tests := []struct {
		origin, count int64
		want          string
	}{
		{0, 4, "0123"},
		{8, 10, "89"},
		{9, 1, "9"},
		{10, 1, ""},
		{-1, 3, ""},
		{2, 0, ""},
		{3, 1 << 62, "3456789"},
	}
	for _, tt := range tests {
		if got := Partial(b, tt.origin, tt.count); string(got) != tt.want {
			t.Errorf("Partial(<%d.%d>) = %q, want %q", tt.origin, tt.count, got, tt.want)
		}
	}
}

func FuzzParseSection(f *testing.F) {
	for _, s := range []string{
		"", "1", "1.2.3", "HEADER", "TEXT", "2.MIME", "1.2.HEADER.FIELDS (From To)",
		`HEADER.FIELDS.NOT (Subject "X Odd")`, "header.fields ({4}\r\nDate)", "3.TEXT", "0", "1.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSection(in)
		if err != nil {
			return
		}
		// The canonical form parses back to the same section.
		s2, err := ParseSection(s.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", s.String(), in, err)
		}
		if s2.String() != s.String() {
			t.Fatalf("round trip %q -> %q", s.String(), s2.String())
		}
		if _, err := Fetch([]byte(msgRFC822), nil, s); err != nil {
			t.Fatalf("Fetch of a parsed section: %v", err)
		}
	})
}

// TestFetchTopLevelWithoutTree checks that a section without a part number
// gives the same octets with no tree, and from the header block alone for
// the header sections.
func TestFetchTopLevelWithoutTree(t *testing.T) {
	secs := []Section{
		{}, {Specifier: SpecHeader}, {Specifier: SpecText},
		{Specifier: SpecHeaderFields, Fields: []string{"subject", "FROM"}},
		{Specifier: SpecHeaderFieldsNot, Fields: []string{"Subject"}},
	}
	for _, raw := range []string{msgPlain, msgAlternative, msgMixed, msgNested, msgRFC822, msgGroups, msgSearch,
		"", "Subject: no body", "Subject: lf only\n\nbody\n", "\r\nno header\r\n"} {
		root, _ := mailParse([]byte(raw))
		header, _ := SplitHeader([]byte(raw))
		for _, s := range secs {
			want, err := Fetch([]byte(raw), root, s)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := Fetch([]byte(raw), nil, s)
			if string(got) != string(want) {
				t.Errorf("%q [%s] without a tree: %q, want %q", raw, s, got, want)
			}
			if s.Specifier == SpecHeader || s.Specifier == SpecHeaderFields || s.Specifier == SpecHeaderFieldsNot {
				if got, _ := Fetch(header, nil, s); string(got) != string(want) {
					t.Errorf("%q [%s] from the header: %q, want %q", raw, s, got, want)
				}
			}
		}
	}
}
