package mua

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/mail"
)

var when = time.Date(2026, 1, 15, 10, 30, 0, 0, time.FixedZone("CET", 3600))

func TestComposeASCII(t *testing.T) {
	got, err := Compose(Draft{
		From:      "Alice Ruiz <alice@a.test>",
		To:        []string{"bob@b.test", "Carol <carol@c.test>"},
		Cc:        []string{"dave@d.test"},
		Bcc:       []string{"eve@e.test"},
		Subject:   "Lunch",
		Body:      "Hi Bob,\n.see you\nAlice",
		MessageID: "lab-1@pc.a.test",
		Headers:   [][2]string{{"X-Lab", "exercise 3"}},
	}, "pc.a.test", when)
	if err != nil {
		t.Fatal(err)
	}
	want := "Date: Thu, 15 Jan 2026 10:30:00 +0100\r\n" +
		"From: \"Alice Ruiz\" <alice@a.test>\r\n" +
		"To: bob@b.test, \"Carol\" <carol@c.test>\r\n" +
		"Cc: dave@d.test\r\n" +
		"Subject: Lunch\r\n" +
		"Message-ID: <lab-1@pc.a.test>\r\n" +
		"X-Lab: exercise 3\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"Content-Transfer-Encoding: 7bit\r\n" +
		"\r\n" +
		"Hi Bob,\r\n.see you\r\nAlice\r\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if bytes.Contains(got, []byte("eve@e.test")) {
		t.Error("a Bcc recipient appears in the message")
	}
}

func TestComposeUTF8(t *testing.T) {
	got, err := Compose(Draft{
		From:    "José Núñez <jose@a.test>",
		To:      []string{"bob@b.test"},
		Subject: "Reunión mañana",
		Body:    "¿Vienes?\r\nUn saludo\r\n",
	}, "pc.a.test", when)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mail.ParseHeader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"From":                      "=?UTF-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@a.test>",
		"Subject":                   "=?UTF-8?q?Reuni=C3=B3n_ma=C3=B1ana?=",
		"Content-Type":              "text/plain; charset=UTF-8",
		"Content-Transfer-Encoding": "8bit",
		"MIME-Version":              "1.0",
	}
	for name, want := range checks {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if d := mail.DecodeHeader(h.Get("Subject")); d != "Reunión mañana" {
		t.Errorf("decoded Subject = %q", d)
	}
	id := h.Get("Message-ID")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@pc.a.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	if !bytes.HasSuffix(got, []byte("\r\n\r\n¿Vienes?\r\nUn saludo\r\n")) {
		t.Errorf("body not kept: %q", got)
	}
}

func TestComposeMessageIDsAreUnique(t *testing.T) {
	d := Draft{From: "a@a.test", To: []string{"b@b.test"}}
	m1, _ := Compose(d, "h.test", when)
	m2, _ := Compose(d, "h.test", when)
	h1, _ := mail.ParseHeader(bytes.NewReader(m1))
	h2, _ := mail.ParseHeader(bytes.NewReader(m2))
	if h1.Get("Message-ID") == h2.Get("Message-ID") {
		t.Errorf("same Message-ID twice: %s", h1.Get("Message-ID"))
	}
}

func TestComposeLongLineBecomesQuotedPrintable(t *testing.T) {
	long := strings.Repeat("abcdefghij", 120) + " =ñ " // 1206 octets
	got, err := Compose(Draft{From: "a@a.test", To: []string{"b@b.test"}, Body: "short\n" + long}, "h.test", when)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := mail.ParseHeader(bytes.NewReader(got))
	if cte := h.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	_, body, _ := bytes.Cut(got, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(body), "\r\n") {
		if len(l) > 76 {
			t.Errorf("encoded line of %d characters: %q", len(l), l)
		}
	}
	// Undo the encoding and compare.
	dec := qpDecode(t, string(body))
	if want := "short\r\n" + long + "\r\n"; dec != want {
		t.Errorf("decoded body differs:\n got %q\nwant %q", dec, want)
	}
	if !strings.Contains(string(body), "=3D=C3=B1=20\r\n") {
		t.Errorf("'=', non-ASCII and trailing space not encoded: %q", body)
	}
}

// qpDecode is a minimal quoted-printable decoder for the test.
func qpDecode(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if strings.HasPrefix(s[i:], "=\r\n") {
			i += 2
			continue
		}
		var c byte
		for _, h := range s[i+1 : i+3] {
			c <<= 4
			switch {
			case h >= '0' && h <= '9':
				c |= byte(h - '0')
			case h >= 'A' && h <= 'F':
				c |= byte(h-'A') + 10
			default:
				t.Fatalf("bad escape at %d: %q", i, s[i:i+3])
			}
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String()
}

func TestComposeEdgeBodies(t *testing.T) {
	tests := []struct{ body, want string }{
		{"", ""},
		{"no final newline", "no final newline\r\n"},
		{"lf\nonly\n", "lf\r\nonly\r\n"},
		{"bare\rcr", "bare\r\ncr\r\n"},
		{"\n", "\r\n"},
		{".\n..\n", ".\r\n..\r\n"},
	}
	for _, tt := range tests {
		got, err := Compose(Draft{From: "a@a.test", To: []string{"b@b.test"}, Body: tt.body, MessageID: "x@y"}, "h", when)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := bytes.Cut(got, []byte("\r\n\r\n"))
		if string(body) != tt.want {
			t.Errorf("body %q composed as %q, want %q", tt.body, body, tt.want)
		}
	}
}

func TestComposeLongRecipientListIsFolded(t *testing.T) {
	var to []string
	for i := range 12 {
		to = append(to, strings.Repeat("x", i+3)+"@example.test")
	}
	got, err := Compose(Draft{From: "a@a.test", To: to}, "h", when)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(got, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(head), "\r\n") {
		if len(l) > 78 {
			t.Errorf("header line over 78: %q", l)
		}
	}
	h, _ := mail.ParseHeader(bytes.NewReader(got))
	if n := strings.Count(h.Get("To"), "@example.test"); n != 12 {
		t.Errorf("To lists %d addresses: %q", n, h.Get("To"))
	}
}

func TestComposeErrors(t *testing.T) {
	ok := Draft{From: "a@a.test", To: []string{"b@b.test"}}
	tests := []struct {
		name string
		edit func(d *Draft)
		host string
		want string
	}{
		{"no from", func(d *Draft) { d.From = "" }, "h", "mua: compose: From: "},
		{"bad from", func(d *Draft) { d.From = "Alice <alice>" }, "h", "mua: compose: From: "},
		{"bad to", func(d *Draft) { d.To = []string{"bob@@b"} }, "h", "mua: compose: To: "},
		{"bad bcc", func(d *Draft) { d.Bcc = []string{"x"} }, "h", "mua: compose: Bcc: "},
		{"no recipients", func(d *Draft) { d.To = nil }, "h", "mua: compose: no recipients"},
		{"no hostname", func(d *Draft) {}, "", "mua: compose: empty hostname"},
		{"invalid utf-8", func(d *Draft) { d.Body = "\xff" }, "h", "not valid UTF-8"},
		{"nul", func(d *Draft) { d.Body = "a\x00b" }, "h", "NUL"},
		{"own header", func(d *Draft) { d.Headers = [][2]string{{"bcc", "x@x.test"}} }, "h", "written by Compose itself"},
		{"bad header name", func(d *Draft) { d.Headers = [][2]string{{"X Bad", "v"}} }, "h", "header name"},
		{"bad message id", func(d *Draft) { d.MessageID = "no at sign" }, "h", "bad Message-ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			tt.edit(&d)
			_, err := Compose(d, tt.host, when)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestComposeNoHeaderInjection(t *testing.T) {
	got, err := Compose(Draft{
		From:    "a@a.test",
		To:      []string{"b@b.test"},
		Subject: "hi\r\nBcc: eve@e.test",
		Headers: [][2]string{{"X-Note", "x\nTo: eve@e.test"}},
	}, "h", when)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mail.ParseHeader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if h.Values("Bcc") != nil || len(h.Values("To")) != 1 {
		t.Errorf("a value added a field:\n%s", got)
	}
	if d := mail.DecodeHeader(h.Get("Subject")); !strings.HasPrefix(d, "hi") {
		t.Errorf("Subject = %q", d)
	}
}

func TestParseMailbox(t *testing.T) {
	tests := []struct {
		in, name, addr string
	}{
		{"alice@a.test", "", "alice@a.test"},
		{"<alice@a.test>", "", "alice@a.test"},
		{"Alice Ruiz <alice@a.test>", "Alice Ruiz", "alice@a.test"},
		{`"Ruiz, Alice \"A\"" <alice@a.test>`, `Ruiz, Alice "A"`, "alice@a.test"},
		{"  José <jose@a.test>  ", "José", "jose@a.test"},
	}
	for _, tt := range tests {
		name, p, err := ParseMailbox(tt.in)
		if err != nil || name != tt.name || p.String() != tt.addr {
			t.Errorf("ParseMailbox(%q) = %q, %q, %v", tt.in, name, p, err)
		}
	}
}
