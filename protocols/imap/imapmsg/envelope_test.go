package imapmsg

import (
	"testing"
)

func TestEnvelope(t *testing.T) {
	const alice = `(("Alice Ruiz" NIL "alice" "a.test"))`
	tests := []struct {
		name, msg, want string
	}{
		{
			name: "plain message: Sender and Reply-To default to From",
			msg:  msgPlain,
			want: `("Thu, 15 Jan 2026 10:30:00 +0100" "Hello" ` + alice + " " + alice + " " + alice +
				` ((NIL NIL "bob" "b.test")) NIL NIL NIL "<1@a.test>")`,
		},
		{
			name: "groups, empty fields, encoded words passed through",
			msg:  msgGroups,
			want: `(NIL "=?UTF-8?q?Reuni=C3=B3n?=" (("Alice" NIL "alice" "a.test")) ((NIL NIL "list" "a.test"))` +
				` (("Alice" NIL "alice" "a.test"))` +
				` ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))` +
				` ((NIL NIL "Team" NIL)(NIL NIL "bob" "b.test")("Carol C." NIL "carol" "c.test")(NIL NIL NIL NIL)(NIL NIL "dave" "d.test"))` +
				` NIL NIL NIL)`,
		},
		{
			name: "quoted display name with a comma",
			msg:  msgMixed,
			want: `(NIL "Report" (("Ruiz, Alice" NIL "alice" "a.test")) (("Ruiz, Alice" NIL "alice" "a.test"))` +
				` (("Ruiz, Alice" NIL "alice" "a.test")) ((NIL NIL "bob" "b.test")) NIL NIL NIL NIL)`,
		},
		{
			name: "8-bit subject is a literal; quotes and backslashes escaped",
			msg:  "Subject: Reunión\r\nIn-Reply-To: <a\"b\\c@x>\r\n\r\n",
			want: "(NIL {8}\r\nReunión NIL NIL NIL NIL NIL NIL " + `"<a\"b\\c@x>" NIL)`,
		},
		{
			name: "source route, comment as name, encoded name, missing host",
			msg: "From: =?UTF-8?q?Jos=C3=A9?= <jose@a.test>\r\n" +
				"To: <@relay.test,@r2.test:bob@b.test>, carol@c.test (Carol C), dave, <>\r\n\r\n",
			want: `(NIL NIL (("=?UTF-8?q?Jos=C3=A9?=" NIL "jose" "a.test")) (("=?UTF-8?q?Jos=C3=A9?=" NIL "jose" "a.test"))` +
				` (("=?UTF-8?q?Jos=C3=A9?=" NIL "jose" "a.test"))` +
				` ((NIL "@relay.test,@r2.test" "bob" "b.test")("Carol C" NIL "carol" "c.test")(NIL NIL "dave" "MISSING_DOMAIN"))` +
				` NIL NIL NIL NIL)`,
		},
		{
			name: "folded header values are unfolded; obsolete spaces in addr-spec",
			msg:  "Subject: one\r\n two\r\nTo: Bob\r\n (the builder) <bob . smith @ b.test>\r\n\r\n",
			want: `(NIL "one two" NIL NIL NIL (("Bob" NIL "bob.smith" "b.test")) NIL NIL NIL NIL)`,
		},
		{
			name: "a bare CR smuggled into a value is dropped by unfolding",
			msg:  "Subject: a\rb\r\n\r\n",
			want: `(NIL "ab" NIL NIL NIL NIL NIL NIL NIL NIL)`,
		},
		{
			name: "no header at all",
			msg:  "\r\nbody",
			want: `(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Envelope(parse(t, tt.msg)); got != tt.want {
				t.Errorf("Envelope\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEnvelopeOfEmbeddedMessage(t *testing.T) {
	p := parse(t, msgRFC822)
	want := `("Thu, 15 Jan 2026 10:30:00 +0100" "Hello" (("Alice Ruiz" NIL "alice" "a.test"))` +
		` (("Alice Ruiz" NIL "alice" "a.test")) (("Alice Ruiz" NIL "alice" "a.test"))` +
		` ((NIL NIL "bob" "b.test")) NIL NIL NIL NIL)`
	if got := Envelope(p.Children[1].Message); got != want {
		t.Errorf("Envelope\n got %s\nwant %s", got, want)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\there", "\"tab\there\""},
		{"é", "{2}\r\né"},
		{"a\r\nb", "{4}\r\na\r\nb"},
		{"nul\x00", "{6}\r\nnul\uFFFD"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := NString(""); got != "NIL" {
		t.Errorf(`NString("") = %q, want NIL`, got)
	}
	if got := NString("x"); got != `"x"` {
		t.Errorf(`NString("x") = %q, want "x"`, got)
	}
}

// TestEnvelopeOfHeader checks that the envelope from the header block alone
// is that of the parsed message.
func TestEnvelopeOfHeader(t *testing.T) {
	for _, raw := range []string{msgPlain, msgAlternative, msgMixed, msgNested, msgRFC822, msgGroups, msgSearch, "", "Subject: x"} {
		p, _ := mailParse([]byte(raw))
		if got, want := EnvelopeOfHeader([]byte(raw)), Envelope(p); got != want {
			t.Errorf("%q: %s, want %s", raw, got, want)
		}
	}
}
