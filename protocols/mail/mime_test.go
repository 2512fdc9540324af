package mail

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// crlf turns the LFs of a readable test message into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// shape renders a MIME tree compactly: type/subtype, then size and lines,
// then children in brackets or the embedded message in braces.
func shape(p *Part) string {
	s := fmt.Sprintf("%s/%s(%d,%d)", p.Type, p.Subtype, p.Size, p.Lines)
	if len(p.Children) > 0 {
		var cs []string
		for _, c := range p.Children {
			cs = append(cs, shape(c))
		}
		s += "[" + strings.Join(cs, " ") + "]"
	}
	if p.Message != nil {
		s += "{" + shape(p.Message) + "}"
	}
	return s
}

func TestParseMessageStructure(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "no Content-Type is text/plain",
			in:   crlf("Subject: hi\n\nHello\nWorld\n"),
			want: "text/plain(14,2)",
		},
		{
			name: "last line without line ending still counts",
			in:   crlf("Subject: hi\n\nHello"),
			want: "text/plain(5,1)",
		},
		{
			name: "header only, no empty line",
			in:   crlf("Subject: hi\n"),
			want: "text/plain(0,0)",
		},
		{
			name: "multipart: CRLF before a delimiter belongs to it; preamble and epilogue dropped",
			in:   crlf("Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\none\n--b\nContent-Type: image/png\n\n12345\n--b--\nepilogue\n"),
			want: "multipart/mixed(78,0)[text/plain(3,1) image/png(5,0)]",
		},
		{
			name: "transport padding after the boundary, quoted boundary, comments",
			in:   crlf("Content-Type: (c) multipart/alternative (x); boundary=\"a b\" (y)\n\n--a b  \n\none\n--a b--\t\n"),
			want: "multipart/alternative(26,0)[text/plain(3,1)]",
		},
		{
			name: "a longer boundary that starts with ours is not ours",
			in:   crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=bb\n\n--bb\n\nin\n--bb--\n--b--\n"),
			want: "multipart/mixed(78,0)[multipart/mixed(18,0)[text/plain(2,1)]]",
		},
		{
			name: "unterminated multipart ends at the end",
			in:   crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n"),
			want: "multipart/mixed(24,0)[text/plain(3,1) text/plain(5,1)]",
		},
		{
			name: "multipart without boundary is text/plain",
			in:   crlf("Content-Type: multipart/mixed\n\n--b\n\none\n"),
			want: "text/plain(12,3)",
		},
		{
			name: "multipart whose delimiter never comes is text/plain",
			in:   crlf("Content-Type: multipart/mixed; boundary=zz\n\n--b\n\none\n"),
			want: "text/plain(12,3)",
		},
		{
			name: "bare LF line endings",
			in:   "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\nContent-Type: text/html\n\n<p>\n--b--\n",
			want: "multipart/mixed(48,0)[text/plain(3,1) text/html(3,1)]",
		},
		{
			name: "empty parts",
			in:   crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\n--b--\n"),
			want: "multipart/mixed(19,0)[text/plain(0,0) text/plain(0,0)]",
		},
		{
			name: "digest parts default to message/rfc822",
			in:   crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n--d\nContent-Type: text/plain\n\nB\n--d--\n"),
			want: "multipart/digest(67,0)[message/rfc822(15,3){text/plain(1,1)} text/plain(1,1)]",
		},
		{
			name: "message/rfc822 holds a multipart",
			in:   crlf("Content-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nhi\n--x--\n"),
			want: "message/rfc822(63,6){multipart/mixed(18,0)[text/plain(2,1)]}",
		},
		{
			name: "invalid Content-Type is text/plain",
			in:   crlf("Content-Type: garbage\n\nx"),
			want: "text/plain(1,1)",
		},
		{
			name: "type and subtype are lower-cased",
			in:   crlf("Content-Type: TEXT/HTML\n\nx"),
			want: "text/html(1,1)",
		},
		{
			name: "non-text leaf has no line count",
			in:   crlf("Content-Type: application/octet-stream\n\nab\ncd\n"),
			want: "application/octet-stream(8,0)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseMessage([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if got := shape(p); got != tt.want {
				t.Errorf("structure\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseMessagePartBytes(t *testing.T) {
	buf := []byte(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\ntwo\n--b--\n"))
	p, _ := ParseMessage(buf)
	if got, want := string(p.HeaderBytes), "Content-Type: multipart/mixed; boundary=b\r\n\r\n"; got != want {
		t.Errorf("root HeaderBytes = %q, want %q", got, want)
	}
	c := p.Children[0]
	if got, want := string(c.HeaderBytes), "Content-Type: text/plain\r\n\r\n"; got != want {
		t.Errorf("part HeaderBytes = %q, want %q", got, want)
	}
	if got, want := string(c.Body), "one\r\ntwo"; got != want {
		t.Errorf("part Body = %q, want %q", got, want)
	}
	// No copies: the body is a slice of the input.
	buf[bytes.Index(buf, []byte("one"))] = 'O'
	if string(c.Body[:3]) != "One" {
		t.Errorf("Body is a copy, not a slice of the input")
	}
}

func TestParseMessageFields(t *testing.T) {
	raw := crlf(`Content-Type: application/pdf; name="a.pdf"; x-extra=1
Content-Transfer-Encoding: BASE64
Content-Disposition: Attachment; filename="r\"e.pdf"; size=12
Content-ID: <id@a.test>
Content-Description: The report
Content-Language: en, de
Content-Location: http://a.test/a.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Bad line without colon
 and its fold

JVBERi0xLjQK
`)
	p, err := ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"type": p.Type + "/" + p.Subtype, "params": p.Params, "enc": p.Encoding,
		"disp": p.Disposition, "dparams": p.DispositionParams, "id": p.ID, "desc": p.Description,
		"lang": p.Language, "loc": p.Location, "md5": p.MD5, "fields": len(p.Header.Fields),
		"decoded": string(p.DecodedBody()),
	}
	want := map[string]any{
		"type": "application/pdf", "params": map[string]string{"name": "a.pdf", "x-extra": "1"}, "enc": "base64",
		"disp": "attachment", "dparams": map[string]string{"filename": `r"e.pdf`, "size": "12"}, "id": "<id@a.test>",
		"desc": "The report", "lang": "en, de", "loc": "http://a.test/a.pdf", "md5": "Q2hlY2sgSW50ZWdyaXR5IQ==",
		"fields": 8, "decoded": "%PDF-1.4\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestParseParamsRFC2231(t *testing.T) {
	tests := []struct {
		name, ct string
		want     map[string]string
	}{
		{"plain", `text/plain; charset=utf-8`, map[string]string{"charset": "utf-8"}},
		{"continuations", `text/plain; name*0="long"; name*1="name.txt"`, map[string]string{"name": "longname.txt"}},
		{"charset and percent", `text/plain; name*=utf-8'es'Reuni%C3%B3n.txt`, map[string]string{"name": "Reunión.txt"}},
		{"latin1", `text/plain; name*=iso-8859-1''caf%E9`, map[string]string{"name": "café"}},
		{"mixed sections", `text/plain; name*0*=utf-8''%C3%A9t%C3%A9; name*1=" .txt"`, map[string]string{"name": "été .txt"}},
		{"unknown charset kept", `text/plain; title*=koi8-r''%F0%D2`, map[string]string{"title*": "koi8-r''%F0%D2"}},
		{"extended beats plain", `text/plain; name="x"; name*=utf-8''y`, map[string]string{"name": "y"}},
		{"first of duplicates wins", `text/plain; a=1; A=2`, map[string]string{"a": "1"}},
		{"gap in sections stops", `text/plain; n*0=a; n*2=c`, map[string]string{"n": "a"}},
		{"malformed skipped", `text/plain; =x; ; b; c=3; "q"=1; d="unterminated`, map[string]string{"c": "3", "d": "unterminated"}},
		{"missing semicolon tolerated", `text/plain charset=us-ascii`, map[string]string{"charset": "us-ascii"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := ParseMessage([]byte("Content-Type: " + tt.ct + "\r\n\r\n"))
			if diff := cmp.Diff(tt.want, p.Params); diff != "" {
				t.Errorf("Params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodedBody(t *testing.T) {
	tests := []struct{ enc, body, want string }{
		{"quoted-printable", "Caf=C3=A9 =\r\nau lait  \r\nx=3D1 =ZZ", "Café au lait\r\nx=1 =ZZ"},
		{"base64", "SGVs\r\nbG8=\r\n", "Hello"},
		{"base64", "SGVsbG8", "Hello"},
		{"base64", "S!G*V sbG8", "Hello"},
		{"7bit", "as is=41", "as is=41"},
	}
	for _, tt := range tests {
		p, _ := ParseMessage([]byte("Content-Transfer-Encoding: " + tt.enc + "\r\n\r\n" + tt.body))
		if got := string(p.DecodedBody()); got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.enc, tt.body, got, tt.want)
		}
	}
}

func TestParseMessageDepthLimit(t *testing.T) {
	var b strings.Builder
	for i := range MaxMIMEDepth + 10 {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("\r\ndeep\r\n")
	p, err := ParseMessage([]byte(b.String()))
	if !errors.Is(err, ErrMIMELimit) {
		t.Fatalf("err = %v, want ErrMIMELimit", err)
	}
	depth := 0
	for len(p.Children) > 0 {
		p = p.Children[0]
		depth++
	}
	if depth != MaxMIMEDepth || p.Type != "text" || p.Subtype != "plain" {
		t.Errorf("deepest part at depth %d is %s/%s, want %d and text/plain", depth, p.Type, p.Subtype, MaxMIMEDepth)
	}
}

func TestParseMessageNestedMessagesLimit(t *testing.T) {
	raw := strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 200) + "x"
	p, err := ParseMessage([]byte(raw))
	if !errors.Is(err, ErrMIMELimit) {
		t.Fatalf("err = %v, want ErrMIMELimit", err)
	}
	depth := 0
	for p.Message != nil {
		p = p.Message
		depth++
	}
	if depth != MaxMIMEDepth {
		t.Errorf("depth %d, want %d", depth, MaxMIMEDepth)
	}
}

func TestParseMessagePartsLimit(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n", MaxMIMEParts+100)
	p, err := ParseMessage([]byte(raw))
	if !errors.Is(err, ErrMIMELimit) {
		t.Fatalf("err = %v, want ErrMIMELimit", err)
	}
	if n := len(p.Children); n >= MaxMIMEParts {
		t.Errorf("%d children, want fewer than %d", n, MaxMIMEParts)
	}
}

func TestSplitMessage(t *testing.T) {
	h, header, body := SplitMessage([]byte("Subject: x\n y\nnot a field\nTo: b@b.test\n\nbody\n"))
	if got := h.Get("Subject"); got != "x y" {
		t.Errorf("Subject = %q", got)
	}
	if got := h.Get("To"); got != "b@b.test" {
		t.Errorf("To after a bad line = %q, want b@b.test", got)
	}
	if string(header) != "Subject: x\n y\nnot a field\nTo: b@b.test\n\n" || string(body) != "body\n" {
		t.Errorf("split = %q | %q", header, body)
	}
}

// TestParseMessageLinear guards against quadratic scans: many lines that
// start like the boundary but are not delimiters.
func TestParseMessageLinear(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	raw := "Content-Type: multipart/mixed; boundary=bbbb\r\n\r\n--bbbb\r\n\r\n" +
		strings.Repeat("--bbbbx\r\n", 200000) + strings.Repeat("-", 1<<20)
	p, err := ParseMessage([]byte(raw))
	if err != nil || len(p.Children) != 1 {
		t.Fatalf("err %v, %d children", err, len(p.Children))
	}
}

func FuzzParseMessage(f *testing.F) {
	seeds := []string{
		"Subject: hi\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--b--\r\n",
		"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n--d--\n",
		"Content-Type: text/plain; name*0*=utf-8''%C3%A9; name*1=x (c)\r\nContent-Disposition: attachment; filename=\"a\\\"b\"\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9=\r\n",
		" fold first\r\nno colon\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, _ := ParseMessage(raw)
		var walk func(p *Part, depth int)
		walk = func(p *Part, depth int) {
			if depth > MaxMIMEDepth+1 {
				t.Fatalf("depth %d", depth)
			}
			if p.Size != len(p.Body) {
				t.Fatalf("Size %d != len(Body) %d", p.Size, len(p.Body))
			}
			if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
				t.Fatalf("empty type %q/%q or encoding %q", p.Type, p.Subtype, p.Encoding)
			}
			if p.Type == "multipart" && len(p.Children) == 0 {
				t.Fatalf("multipart without children")
			}
			_ = p.DecodedBody()
			for _, c := range p.Children {
				walk(c, depth+1)
			}
			if p.Message != nil {
				walk(p.Message, depth+1)
			}
		}
		walk(p, 0)
		if len(p.HeaderBytes)+len(p.Body) != len(raw) {
			t.Fatalf("header %d + body %d != %d", len(p.HeaderBytes), len(p.Body), len(raw))
		}
	})
}
