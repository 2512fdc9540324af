package mail

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseHeaderValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Field
	}{
		{
			name: "simple",
			in:   "From: alice@a.test\r\nSubject: hi\r\n\r\nbody\r\n",
			want: []Field{
				{Name: "From", Value: "alice@a.test", Raw: "From: alice@a.test\r\n"},
				{Name: "Subject", Value: "hi", Raw: "Subject: hi\r\n"},
			},
		},
		{
			name: "folded value is unfolded, white space kept",
			in:   "Subject: a long\r\n  subject\r\n\tline\r\n\r\n",
			want: []Field{{Name: "Subject", Value: "a long  subject\tline", Raw: "Subject: a long\r\n  subject\r\n\tline\r\n"}},
		},
		{
			name: "bare LF line endings",
			in:   "To: bob@b.test\nSubject: x\n y\n\nbody",
			want: []Field{
				{Name: "To", Value: "bob@b.test", Raw: "To: bob@b.test\n"},
				{Name: "Subject", Value: "x y", Raw: "Subject: x\n y\n"},
			},
		},
		{
			name: "no empty line: header to the end",
			in:   "X-A: 1\r\nX-B: 2",
			want: []Field{
				{Name: "X-A", Value: "1", Raw: "X-A: 1\r\n"},
				{Name: "X-B", Value: "2", Raw: "X-B: 2"},
			},
		},
		{
			name: "empty header",
			in:   "\r\nbody",
			want: nil,
		},
		{
			name: "empty input",
			in:   "",
			want: nil,
		},
		{
			name: "obsolete white space before colon, empty value, colon in value",
			in:   "Subject \t: \r\nX-Time:12:30:00\r\n\r\n",
			want: []Field{
				{Name: "Subject", Value: "", Raw: "Subject \t: \r\n"},
				{Name: "X-Time", Value: "12:30:00", Raw: "X-Time:12:30:00\r\n"},
			},
		},
		{
			name: "encoded words are kept raw",
			in:   "Subject: =?UTF-8?q?Reuni=C3=B3n?=\r\n\r\n",
			want: []Field{{Name: "Subject", Value: "=?UTF-8?q?Reuni=C3=B3n?=", Raw: "Subject: =?UTF-8?q?Reuni=C3=B3n?=\r\n"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if diff := cmp.Diff(tt.want, h.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHeaderInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
	}{
		{"continuation first", " folded\r\nA: b\r\n\r\n", 1},
		{"no colon", "From: a@a.test\r\nnot a field\r\n\r\n", 2},
		{"empty name", ": value\r\n\r\n", 1},
		{"space inside name", "Sub ject: x\r\n\r\n", 1},
		{"mbox From line", "From alice@a.test Thu Jan  1 00:00:00 2026\r\n\r\n", 1},
		{"control byte in name", "X\x01: y\r\n\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(strings.NewReader(tt.in))
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want *HeaderError", err)
			}
			if he.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", he.Line, tt.line, err)
			}
			if !strings.HasPrefix(err.Error(), "mail: header line ") {
				t.Errorf("error text %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseHeaderTooLarge(t *testing.T) {
	in := "Subject: " + strings.Repeat("x", 200) + "\r\n\r\n"
	if _, err := ParseHeaderMax(strings.NewReader(in), 100); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("err = %v, want ErrHeaderTooLarge", err)
	}
	// Exactly at the limit is fine.
	if _, err := ParseHeaderMax(strings.NewReader(in), len(in)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	// A default-limited read of an endless header stops.
	r := io.MultiReader(strings.NewReader("X: "), endless{})
	if _, err := ParseHeader(r); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("endless header: err = %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestParseHeaderLeavesBodyInBufioReader(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("Subject: x\r\n\r\nthe body\r\n"))
	if _, err := ParseHeader(br); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "the body\r\n" {
		t.Errorf("body = %q", rest)
	}
}

func TestHeaderGetValues(t *testing.T) {
	h, err := ParseHeader(strings.NewReader("Received: one\r\nsubject: s\r\nRECEIVED: two\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("SUBJECT"); got != "s" {
		t.Errorf("Get(SUBJECT) = %q", got)
	}
	if got := h.Get("Date"); got != "" {
		t.Errorf("Get(Date) = %q, want empty", got)
	}
	if diff := cmp.Diff([]string{"one", "two"}, h.Values("received")); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	if got := h.Values("X-None"); got != nil {
		t.Errorf("Values(X-None) = %q", got)
	}
}

func TestEncodeWord(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Hello world", "Hello world"},
		{"", ""},
		{"Reunión mañana", "=?UTF-8?q?Reuni=C3=B3n_ma=C3=B1ana?="},
		{"¿Qué?", "=?UTF-8?q?=C2=BFQu=C3=A9=3F?="},
		// Mostly non-Latin text is shorter in base64.
		{"日本語", "=?UTF-8?b?5pel5pys6Kqe?="},
		// ASCII that would inject a header line is encoded.
		{"hi\r\nBcc: eve@e.test", "=?UTF-8?q?hi=0D=0ABcc=3A_eve=40e=2Etest?="},
		// ASCII that looks like an encoded word is encoded.
		{"=?x?=", "=?UTF-8?q?=3D=3Fx=3F=3D?="},
	}
	for _, tt := range tests {
		if got := EncodeWord(tt.in); got != tt.want {
			t.Errorf("EncodeWord(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncodeWordSplitsLongText(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("ñandú ", 30),
		strings.Repeat("日本語", 40),
		strings.Repeat("a", 100) + "é",
	} {
		got := EncodeWord(in)
		lines := strings.Split(got, "\r\n")
		if len(lines) < 2 {
			t.Errorf("EncodeWord(%q) not split: %q", in, got)
		}
		for i, l := range lines {
			if i > 0 && !strings.HasPrefix(l, " ") {
				t.Errorf("line %d %q is not a fold", i, l)
			}
			w := strings.TrimPrefix(l, " ")
			if len(w) > maxWordLen {
				t.Errorf("word %q is %d long", w, len(w))
			}
			if len("Subject: ")+len(w) > 78 {
				t.Errorf("line %q over 78", l)
			}
			if !strings.HasPrefix(w, "=?UTF-8?") || !strings.HasSuffix(w, "?=") {
				t.Errorf("word %q is not an encoded word", w)
			}
		}
		if back := DecodeHeader(got); back != in {
			t.Errorf("round trip: got %q, want %q", back, in)
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain text", "plain text"},
		{"=?UTF-8?q?Reuni=C3=B3n?=", "Reunión"},
		{"=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"},                // RFC 2047 section 8 examples
		{"=?utf-8?Q?a?=  \t =?utf-8?Q?b?=", "ab"},            // any white space between words
		{"=?UTF-8?q?a_b?= c", "a b c"},                       // space before plain text kept
		{"x =?UTF-8?q?a?=", "x a"},                           // space after plain text kept
		{"=?ISO-8859-1?Q?a?= b =?ISO-8859-1?Q?c?=", "a b c"}, // text between words kept
		{"=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"},
		{"=?UTF-8?B?5pel5pys6Kqe?=", "日本語"},
		{"=?UTF-8?B?5pel5pys6Kqe?= and", "日本語 and"},
		{"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"}, // RFC 2231 language
		{"=?x-unknown?q?abc?=", "=?x-unknown?q?abc?="},   // unknown charset left alone
		{"=?UTF-8?q?bad=ZZ?=", "=?UTF-8?q?bad=ZZ?="},     // bad escape left alone
		{"=?UTF-8?x?abc?=", "=?UTF-8?x?abc?="},           // unknown encoding
		{"=?UTF-8?q?no end", "=?UTF-8?q?no end"},
		{"=?", "=?"},
		{"folded\r\n line", "folded line"},
		{"=?UTF-8?q?esc=1B[31m?=", "esc\uFFFD[31m"}, // control characters masked
		{"tab\there", "tab here"},
		{"=?UTF-8?b?/w==?=", "\uFFFD"}, // invalid UTF-8
	}
	for _, tt := range tests {
		if got := DecodeHeader(tt.in); got != tt.want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatAddress(t *testing.T) {
	tests := []struct {
		name, addr, want string
	}{
		{"Alice Ruiz", "alice@a.test", `"Alice Ruiz" <alice@a.test>`},
		{"", "alice@a.test", "alice@a.test"},
		{`Bob "the builder" \o/`, "bob@b.test", `"Bob \"the builder\" \\o/" <bob@b.test>`},
		{"José Núñez", "jose@a.test", "=?UTF-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@a.test>"},
	}
	for _, tt := range tests {
		if got := FormatAddress(tt.name, tt.addr); got != tt.want {
			t.Errorf("FormatAddress(%q, %q) = %q, want %q", tt.name, tt.addr, got, tt.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, seed := range []string{
		"From: a@a.test\r\nSubject: hi\r\n\r\nbody",
		"Subject: a\r\n b\r\n\tc\r\n\r\n",
		" x\r\n",
		"X: =?UTF-8?q?Reuni=C3=B3n?= =?UTF-8?b?5pel?=\r\n\r\n",
		"nocolon\n\n",
		"A : b\nB:c",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseHeaderMax(strings.NewReader(string(in)), 4096)
		if err != nil {
			return
		}
		// The raw fields, in order, are exactly the start of the input.
		var raw strings.Builder
		for _, fl := range h.Fields {
			raw.WriteString(fl.Raw)
			if h.Get(fl.Name) == "" && fl.Value != "" && h.Values(fl.Name) == nil {
				t.Fatalf("field %q not found by name", fl.Name)
			}
			if strings.ContainsAny(fl.Value, "\r\n") {
				t.Fatalf("value %q not unfolded", fl.Value)
			}
			d := DecodeHeader(fl.Value)
			if !utf8.ValidString(d) {
				t.Fatalf("DecodeHeader(%q) is not UTF-8", fl.Value)
			}
		}
		if !strings.HasPrefix(string(in), raw.String()) {
			t.Fatalf("raw fields %q are not a prefix of the input", raw.String())
		}
	})
}

func FuzzEncodeWord(f *testing.F) {
	for _, seed := range []string{"", "hello", "Reunión", "日本語", "a\r\nb", "=?x?=", strings.Repeat("ñ", 80)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeWord(s)
		for _, l := range strings.Split(enc, "\r\n") {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bare CR or LF in %q", enc)
			}
		}
		if !utf8.ValidString(s) || !needsEncoding(s) {
			return
		}
		if strings.ContainsAny(enc, "\x00\x7f\u0080") {
			t.Fatalf("unencoded byte in %q", enc)
		}
		// What EncodeWord made, DecodeHeader gives back (after the masking
		// of control characters that DecodeHeader always does).
		if back := DecodeHeader(enc); back != sanitize(s) {
			t.Fatalf("DecodeHeader(EncodeWord(%q)) = %q", s, back)
		}
	})
}

// Regression: a value full of "=?" that never close made DecodeHeader
// quadratic (a 112 KB Subject took 223 ms); each attempt now looks only as
// far as an encoded word can reach. The result must still be the input.
func TestDecodeHeaderUnclosedWordsStayLinear(t *testing.T) {
	s := strings.Repeat("=?utf-8?q?", 20000) // 200 KB, no "?=" anywhere
	if got := DecodeHeader(s); got != s {
		t.Fatalf("an undecodable value changed: got %d bytes, want %d", len(got), len(s))
	}
	long := "=?utf-8?q?" + strings.Repeat("a", 2000) + "?= tail"
	if got := DecodeHeader(long); got != long {
		t.Fatalf("an over-long encoded word is left as it is: got %q", got[len(got)-20:])
	}
	if got := DecodeHeader("=?utf-8?q?caf=C3=A9?= " + strings.Repeat("x", 5000)); !strings.HasPrefix(got, "café x") || len(got) != len("café ")+5000 {
		t.Fatalf("text after a decoded word was lost: %d bytes", len(got))
	}
}

func BenchmarkDecodeHeaderUnclosed(b *testing.B) {
	s := strings.Repeat("=?utf-8?q?", 11200) // 112 KB
	for b.Loop() {
		DecodeHeader(s)
	}
}
