package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("EHLO a.test\r\nbare lf\n"+strings.Repeat("x", 600)+"\r\nNOOP\r\npartial"), 16)
	for _, want := range []struct {
		line string
		err  error
	}{
		{"EHLO a.test", nil},
		{"bare lf", nil},
		{"", ErrLineTooLong}, // 600 octets against a 512 limit
		{"NOOP", nil},        // the session goes on after the long line
		{"partial", io.ErrUnexpectedEOF},
		{"", io.EOF},
	} {
		got, err := ReadLine(br, 512)
		if string(got) != want.line || !errors.Is(err, want.err) {
			t.Fatalf("ReadLine = %q, %v; want %q, %v", got, err, want.line, want.err)
		}
	}
}

func TestReadLineLimitCountsCRLF(t *testing.T) {
	// RFC 5321 section 4.5.3.1.4: 512 octets including CRLF.
	ok := strings.Repeat("a", 510) + "\r\n"
	long := strings.Repeat("a", 511) + "\r\n"
	if _, err := ReadLine(bufio.NewReader(strings.NewReader(ok)), 512); err != nil {
		t.Fatalf("a 512-octet line was refused: %v", err)
	}
	if _, err := ReadLine(bufio.NewReader(strings.NewReader(long)), 512); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("a 513-octet line: err = %v, want ErrLineTooLong", err)
	}
}

func unstuff(t *testing.T, wire string, max int) (string, error, error) {
	t.Helper()
	d := NewDotReader(bufio.NewReader(strings.NewReader(wire)), max)
	b, err := io.ReadAll(d)
	return string(b), err, d.Err()
}

func TestDotReader(t *testing.T) {
	valid := []struct{ name, wire, want string }{
		{"plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"stuffed", "..leading dot\r\n...\r\n.\r\n", ".leading dot\r\n..\r\n"},
		{"bare lf becomes crlf", "a\nb\n.\n", "a\r\nb\r\n"},
		{"empty message", ".\r\n", ""},
		{"dot not alone", ".x\r\n.\r\n", "x\r\n"},
	}
	for _, tc := range valid {
		got, err, lineErr := unstuff(t, tc.wire, 1000)
		if got != tc.want || err != nil || lineErr != nil {
			t.Errorf("%s: got %q, %v, %v; want %q", tc.name, got, err, lineErr, tc.want)
		}
	}
	// The rest of the stream is left for the next command.
	br := bufio.NewReader(strings.NewReader("body\r\n.\r\nQUIT\r\n"))
	if _, err := io.ReadAll(NewDotReader(br, 0)); err != nil {
		t.Fatal(err)
	}
	if next, _ := ReadLine(br, 0); string(next) != "QUIT" {
		t.Fatalf("after the message the next line is %q, want QUIT", next)
	}
}

func TestDotReaderFailures(t *testing.T) {
	if _, err, _ := unstuff(t, "a\r\nb", 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("connection closed before the dot: err = %v, want io.ErrUnexpectedEOF", err)
	}
	got, err, lineErr := unstuff(t, strings.Repeat("x", 1001)+"\r\nok\r\n.\r\n", 1000)
	if err != nil || !errors.Is(lineErr, ErrLineTooLong) {
		t.Errorf("overlong text line: err = %v, Err() = %v; want nil and ErrLineTooLong", err, lineErr)
	}
	if !strings.HasSuffix(got, "ok\r\n") {
		t.Errorf("reading went on to the dot after the long line: %q", got)
	}
}

func stuff(t *testing.T, parts ...string) string {
	t.Helper()
	var b bytes.Buffer
	w := NewDotWriter(bufio.NewWriter(&b))
	for _, p := range parts {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"plain", []string{"a\r\nb\r\n"}, "a\r\nb\r\n.\r\n"},
		{"lf becomes crlf", []string{"a\nb\n"}, "a\r\nb\r\n.\r\n"},
		{"no final newline", []string{"a\r\nb"}, "a\r\nb\r\n.\r\n"},
		{"dots doubled at line start", []string{".x\r\n.\r\nmid.dot\r\n"}, "..x\r\n..\r\nmid.dot\r\n.\r\n"},
		{"split across writes", []string{"a\r", "\n", ".", "b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{"ends with cr", []string{"a\r"}, "a\r\n.\r\n"},
		{"empty", nil, ".\r\n"},
	} {
		if got := stuff(t, tc.parts...); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzDotRoundTrip: whatever text is dot-stuffed by the writer comes back
// from the reader with only its line endings normalised to CRLF.
func FuzzDotRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n", ".\r\n", "..\n.x\n", "no newline", "a\rb\r\n", "\r\n.\r\n.", "ñ\x00\xff\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		w := NewDotWriter(bufio.NewWriter(&b))
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(NewDotReader(bufio.NewReader(&b), 0))
		if err != nil {
			t.Fatalf("reading back %q: %v", b.String(), err)
		}
		want := normalise(s)
		if string(got) != want {
			t.Fatalf("round trip of %q: got %q, want %q", s, got, want)
		}
	})
}

// normalise is what the round trip should give: LF and CRLF line ends as
// CRLF, a final CRLF added to text that does not end with one. A lone CR
// followed by something other than LF stays a data byte.
func normalise(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i++
		case s[i] == '\n':
			b.WriteString("\r\n")
		case s[i] == '\r' && i == len(s)-1:
			b.WriteString("\r\n")
			return b.String()
		default:
			b.WriteByte(s[i])
		}
	}
	out := b.String()
	if !strings.HasSuffix(out, "\r\n") {
		out += "\r\n"
	}
	return out
}

// FuzzReadLine: never more than the limit, never a panic, and a line that
// fits comes back without its end of line.
func FuzzReadLine(f *testing.F) {
	f.Add("MAIL FROM:<a@b>\r\n", 512)
	f.Add(strings.Repeat("z", 700)+"\n", 512)
	f.Add("\r\r\n\n", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		br := bufio.NewReaderSize(strings.NewReader(s), 16)
		for i := 0; i < 10000; i++ {
			line, err := ReadLine(br, max)
			if max > 0 && err == nil && len(line)+1 > max {
				t.Fatalf("line of %d octets passed a limit of %d", len(line), max)
			}
			if bytes.ContainsRune(line, '\n') {
				t.Fatalf("line %q holds a LF", line)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
		}
	})
}
