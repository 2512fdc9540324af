package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/wire"
)

// readText runs the DATA pipeline (dataSource under a DotReader) over in,
// with bufio buffers of size buf, and returns the text, the read error, the
// source (for its flags) and what is left for the next command.
func readText(in string, maxLine, buf int) (text string, src *dataSource, rest string, err error) {
	br := bufio.NewReaderSize(strings.NewReader(in), buf)
	src = &dataSource{br: br, maxLine: maxLine, prevCRLF: true}
	dot := wire.NewDotReader(bufio.NewReaderSize(src, buf), 0)
	t, err := io.ReadAll(dot)
	r, _ := io.ReadAll(br)
	return string(t), src, string(r), err
}

func TestDataSourceValid(t *testing.T) {
	tests := []struct {
		name, in, text, rest string
	}{
		{"plain", "a\r\nb\r\n.\r\nQUIT\r\n", "a\r\nb\r\n", "QUIT\r\n"},
		{"empty message", ".\r\nNOOP\r\n", "", "NOOP\r\n"},
		{"dot-stuffed", "..a\r\n..\r\n.\r\n", ".a\r\n.\r\n", ""},
		{"bare LF lines become CRLF", "a\nb\r\n.\r\n", "a\r\nb\r\n", ""},
		{"bare LF dot is text", "a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", ""},
		{"dot CRLF after bare LF is text", "a\n.\r\n.\r\nX", "a\r\n.\r\n", "X"},
		{"first line bare LF dot is text", ".\nx\r\n.\r\n", ".\r\nx\r\n", ""},
		{"CR alone stays", "a\rb\r\n.\r\n", "a\rb\r\n", ""},
		{"long line across buffers", strings.Repeat("x", 50) + "\r\n.\r\n", strings.Repeat("x", 50) + "\r\n", ""},
		{"CR and LF in different buffers", strings.Repeat("y", 15) + "\r\n.\r\n", strings.Repeat("y", 15) + "\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, src, rest, err := readText(tt.in, 0, 16)
			if err != nil {
				t.Fatalf("read error %v", err)
			}
			if text != tt.text || rest != tt.rest {
				t.Errorf("text %q, rest %q; want %q, %q", text, rest, tt.text, tt.rest)
			}
			if src.tooLong || src.nul {
				t.Errorf("flags tooLong=%v nul=%v, want none", src.tooLong, src.nul)
			}
		})
	}
}

func TestDataSourceInvalid(t *testing.T) {
	tests := []struct {
		name, in    string
		maxLine     int
		tooLong     bool
		nul         bool
		unexpectEOF bool
		rest        string
	}{
		{name: "line over the limit", in: "12345678\r\n.\r\nQUIT\r\n", maxLine: 9, tooLong: true, rest: "QUIT\r\n"},
		{name: "huge line is cut", in: strings.Repeat("z", 200) + "\r\n.\r\n", maxLine: 20, tooLong: true},
		{name: "NUL", in: "a\x00b\r\n.\r\n", nul: true},
		{name: "no final dot", in: "a\r\nb\r\n", unexpectEOF: true},
		{name: "only bare LF dot", in: "a\r\n.\n", unexpectEOF: true},
		{name: "partial last line", in: "a\r\nb", unexpectEOF: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, src, rest, err := readText(tt.in, tt.maxLine, 16)
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.unexpectEOF {
				t.Errorf("error %v, want io.ErrUnexpectedEOF: %v", err, tt.unexpectEOF)
			}
			if src.tooLong != tt.tooLong || src.nul != tt.nul {
				t.Errorf("flags tooLong=%v nul=%v, want %v %v", src.tooLong, src.nul, tt.tooLong, tt.nul)
			}
			if rest != tt.rest {
				t.Errorf("rest %q, want %q", rest, tt.rest)
			}
			if tt.maxLine > 0 && len(text) > 2*tt.maxLine+16 {
				t.Errorf("an overlong line came through whole (%d octets)", len(text))
			}
		})
	}
}

// modelText is what DATA should read from in, written the simple way: the
// text ends at the first ".\r\n" that follows a CRLF (or starts the text).
func modelText(in string) (text, rest string, complete bool) {
	var b strings.Builder
	prevCRLF := true
	for len(in) > 0 {
		i := strings.IndexByte(in, '\n')
		if i < 0 {
			return "", "", false
		}
		line := in[:i+1]
		in = in[i+1:]
		crlf := strings.HasSuffix(line, "\r\n")
		if line == ".\r\n" && prevCRLF {
			return b.String(), in, true
		}
		content := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if content != "." {
			content = strings.TrimPrefix(content, ".")
		}
		b.WriteString(content + "\r\n")
		prevCRLF = crlf
	}
	return "", "", false
}

func FuzzDataText(f *testing.F) {
	for _, s := range []string{
		"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
		"a\n.\nMAIL FROM:<x@y.test>\r\n.\r\n",
		"..stuffed\r\n.\r\n",
		"a\r\n.\n",
		strings.Repeat("long", 40) + "\r\n.\r\n",
		"\r\r\n.\r\r\n.\r\n",
		"nul\x00\r\n.\r\n",
		"ñandú 8-bit\xff\r\n.\r\n",
	} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, in string, buf int) {
		buf = 16 + buf&63
		text, _, rest, err := readText(in, 0, buf)
		wantText, wantRest, complete := modelText(in)
		if !complete {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("readText(%q) error %v, want io.ErrUnexpectedEOF", in, err)
			}
			return
		}
		if err != nil || text != wantText || rest != wantRest {
			t.Fatalf("readText(%q) = %q, %v, rest %q; want %q, rest %q", in, text, err, rest, wantText, wantRest)
		}
		// With a line limit the end is found at the same place.
		_, _, rest, err = readText(in, 20, buf)
		if err != nil || rest != wantRest {
			t.Fatalf("readText(%q, maxLine 20) error %v, rest %q; want rest %q", in, err, rest, wantRest)
		}
	})
}

func BenchmarkDataSource(b *testing.B) {
	var msg bytes.Buffer
	for range 1000 {
		msg.WriteString("A line of an ordinary message body, about seventy octets long....\r\n")
	}
	msg.WriteString(".\r\n")
	in := msg.String()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, _, err := readText(in, 1000, 4096); err != nil {
			b.Fatal(err)
		}
	}
}
