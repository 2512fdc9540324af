package imapmsg

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/mail"
)

// TestHostileHeadersAreFast feeds inputs that would take minutes with a
// quadratic step somewhere (a Subject full of unclosed encoded words cost
// 22 s before SEARCH stopped decoding very long values).
func TestHostileHeadersAreFast(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	cases := map[string]string{
		"unclosed encoded words": "Subject: " + strings.Repeat("=?a?q?x", 160000) + "\r\n\r\n",
		"open comments":          "To: " + strings.Repeat("(", 500000) + "\r\n\r\n",
		"many addresses":         "To: " + strings.Repeat("a@b,", 100000) + "\r\n\r\n",
		"open angles":            "To: " + strings.Repeat("<", 500000) + "\r\n\r\n",
		"group starts":           "To: " + strings.Repeat("g:", 100000) + "\r\n\r\n",
		"parameter sections":     "Content-Type: text/plain" + strings.Repeat("; a*1=b", 50000) + "\r\n\r\n",
		"open quotes":            "Content-Type: text/plain" + strings.Repeat(";\"", 100000) + "\r\n\r\n",
		"folds":                  "Subject: x\r\n" + strings.Repeat(" y\r\n", 200000) + "\r\n",
	}
	for name, raw := range cases {
		start := time.Now()
		p, _ := mail.ParseMessage([]byte(raw))
		Envelope(p)
		BodyStructure(p, true)
		c := &Candidate{Raw: []byte(raw)}
		Match(c, imap.SearchKey{Op: imap.SearchText, Value: "zz"}, 1, 1)
		Match(c, imap.SearchKey{Op: imap.SearchHeader, Field: "Subject", Value: "zz"}, 1, 1)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: %v", name, d)
		}
	}
}

// bigMultipart builds a multipart/mixed message of about size octets: text
// parts, an HTML alternative and base64 attachments.
func bigMultipart(size int) []byte {
	var b strings.Builder
	b.WriteString("From: Alice Ruiz <alice@a.test>\r\nTo: bob@b.test\r\nSubject: Big\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n")
	line := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 1) + "\r\n"
	b64 := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n", 1)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "--outer\r\nContent-Type: multipart/alternative; boundary=in%d\r\n\r\n--in%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--in%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>%s</p>\r\n--in%d--\r\n", i, i, strings.Repeat(line, 20), i, strings.Repeat(line, 20), i)
		fmt.Fprintf(&b, "--outer\r\nContent-Type: application/octet-stream; name=\"f%d.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"f%d.bin\"\r\n\r\n%s\r\n", i, i, strings.Repeat(b64, 40))
	}
	b.WriteString("--outer--\r\n")
	return []byte(b.String())
}

// BenchmarkParseBodyStructure parses a 100 KB multipart message and writes
// its BODYSTRUCTURE, as FETCH BODYSTRUCTURE on an uncached message does.
func BenchmarkParseBodyStructure(b *testing.B) {
	raw := bigMultipart(100 << 10)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		p, err := mail.ParseMessage(raw)
		if err != nil {
			b.Fatal(err)
		}
		if bs := BodyStructure(p, true); len(bs) == 0 {
			b.Fatal("empty")
		}
	}
}
