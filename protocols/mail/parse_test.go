package mail

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePathValid(t *testing.T) {
	tests := []struct {
		in   string
		want Path
	}{
		{"<alice@example.test>", Path{"alice", "example.test"}},
		{"<>", Path{}},
		{"<Alice.Ruiz@Example.TEST>", Path{"Alice.Ruiz", "Example.TEST"}},
		{"<bob+tag@mx-1.example.test>", Path{"bob+tag", "mx-1.example.test"}},
		{"<!#$%&'*+-/=?^_`{|}~@a.test>", Path{"!#$%&'*+-/=?^_`{|}~", "a.test"}},
		{`<"a b"@a.test>`, Path{`"a b"`, "a.test"}},
		{`<"a>b"@a.test>`, Path{`"a>b"`, "a.test"}},
		{`<"a@b"@a.test>`, Path{`"a@b"`, "a.test"}},
		{`<"a\"b\\c"@a.test>`, Path{`"a\"b\\c"`, "a.test"}},
		{`<""@a.test>`, Path{`""`, "a.test"}},
		{"<bob@[192.0.2.1]>", Path{"bob", "[192.0.2.1]"}},
		{"<bob@[IPv6:2001:db8::1]>", Path{"bob", "[IPv6:2001:db8::1]"}},
		{"<bob@[ipv6:::ffff:192.0.2.1]>", Path{"bob", "[ipv6:::ffff:192.0.2.1]"}},
		{"<@relay.test:bob@example.test>", Path{"bob", "example.test"}},
		{"<@a.test,@b.test:bob@c.test>", Path{"bob", "c.test"}},
		{"<postmaster@example.test>", Path{"postmaster", "example.test"}},
		{"<1@2>", Path{"1", "2"}},
		{"<" + strings.Repeat("l", 64) + "@a.test>", Path{strings.Repeat("l", 64), "a.test"}},
		{"<a@" + longDomain(254-2-1) + ">", Path{"a", longDomain(254 - 2 - 1)}},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParsePath(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// longDomain returns a valid domain of exactly n octets.
func longDomain(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		label := min(n-b.Len(), 60)
		if label > 1 && n-b.Len()-label == 1 {
			label-- // never leave room for a lone trailing '.'
		}
		b.WriteString(strings.Repeat("d", label))
	}
	return b.String()
}

func TestParsePathInvalid(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "empty path"},
		{"alice@example.test", "missing '<'"},
		{"<alice@example.test", "missing '>'"},
		{"<alice@example.test> SIZE=10", "unexpected text after '>'"},
		{"<alice>", "missing '@'"},
		{"<Postmaster>", "missing '@'"},
		{"<@example.test>", "source route without ':'"},
		{"<alice@>", "empty domain"},
		{"<@example.test:>", "missing '@'"},
		{"<@bad_host:bob@a.test>", "source route: character '_'"},
		{"<a.test,@b.test:bob@c.test>", "character ',' not allowed"},
		{"<@a.test,b.test:bob@c.test>", `hop "b.test" does not start with '@'`},
		{"<@alice@example.test>", "source route without ':'"},
		{"<.alice@a.test>", "empty atom"},
		{"<alice.@a.test>", "empty atom"},
		{"<al..ice@a.test>", "empty atom"},
		{"<a b@a.test>", `character ' ' not allowed in a local part`},
		{"<a(b)@a.test>", `character '(' not allowed`},
		{"<ñ@a.test>", `not allowed in a local part`},
		{"<a@b@a.test>", `character '@' not allowed in a local part`},
		{`<"a@a.test>`, "missing '>'"},
		{`<"a"b@a.test>`, "quoted local part does not end"},
		{`<"a"b"@a.test>`, "missing '>'"},
		{`<"a"b"c"@a.test>`, `unescaped '"'`},
		{"<\"a\x00\"@a.test>", "not allowed in a quoted local part"},
		{"<\"a\\\x01\"@a.test>", "'\\' must be followed"},
		{"<" + strings.Repeat("l", 65) + "@a.test>", "local part longer than 64 octets"},
		{"<a@" + strings.Repeat("d", 64) + ".test>", "label longer than 63 octets"},
		{"<a@" + longDomain(256) + ">", "path longer than 256 octets"},
		{"<a@a.test.>", "empty label"},
		{"<a@.a.test>", "empty label"},
		{"<a@-a.test>", "starts or ends with '-'"},
		{"<a@a-.test>", "starts or ends with '-'"},
		{"<a@a_b.test>", "character '_' not allowed in a domain"},
		{"<a@ejemplo.españa>", "not allowed in a domain"},
		{"<a@[192.0.2.1>", "does not end with ']'"},
		{"<a@[192.0.2.256]>", "not an IPv4 address"},
		{"<a@[2001:db8::1]>", "write [IPv6:2001:db8::1]"},
		{"<a@[IPv6:192.0.2.1]>", "not an IPv6 address"},
		{"<a@[IPv6:fe80::1%eth0]>", "not an IPv6 address"},
		{"<a@[x-tag:v]>", `tag "x-tag" is not registered`},
		{"<a@[]>", "not an IPv4 address"},
	}
	for _, tt := range tests {
		_, err := ParsePath(tt.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParsePath(%q) error = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if !strings.Contains(se.Reason, tt.reason) {
			t.Errorf("ParsePath(%q) reason = %q, want it to contain %q", tt.in, se.Reason, tt.reason)
		}
		if !strings.HasPrefix(err.Error(), "mail: ") {
			t.Errorf("ParsePath(%q) error %q lacks the package prefix", tt.in, err)
		}
	}
}

func TestParseAddressValid(t *testing.T) {
	tests := []struct {
		in   string
		want Path
	}{
		{"alice@example.test", Path{"alice", "example.test"}},
		{"  alice@example.test\n", Path{"alice", "example.test"}},
		{"<alice@example.test>", Path{"alice", "example.test"}},
		{`"a b"@example.test`, Path{`"a b"`, "example.test"}},
		{"bob@[192.0.2.7]", Path{"bob", "[192.0.2.7]"}},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAddress(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseAddressInvalid(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "empty address"},
		{"   ", "empty address"},
		{"<>", "null path"},
		{"<@relay.test:bob@example.test>", "source route"},
		{"alice", "missing '@'"},
		{"alice@", "empty domain"},
		{"Alice <alice@example.test>", "not allowed in a local part"},
		{"<alice@example.test", "missing '>'"},
		{strings.Repeat("a", 300) + "@a.test", "longer than 254 octets"},
	}
	for _, tt := range tests {
		_, err := ParseAddress(tt.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseAddress(%q) error = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if !strings.Contains(se.Reason, tt.reason) {
			t.Errorf("ParseAddress(%q) reason = %q, want it to contain %q", tt.in, se.Reason, tt.reason)
		}
	}
}

func TestCutPath(t *testing.T) {
	tests := []struct {
		in, path, rest string
		ok             bool
	}{
		{"<a@b.test> SIZE=1", "<a@b.test>", " SIZE=1", true},
		{`<"x>y"@b.test>`, `<"x>y"@b.test>`, "", true},
		{"<>", "<>", "", true},
		{"a@b.test", "", "a@b.test", false},
		{"<a@b.test", "", "<a@b.test", false},
	}
	for _, tt := range tests {
		path, rest, ok := CutPath(tt.in)
		if path != tt.path || rest != tt.rest || ok != tt.ok {
			t.Errorf("CutPath(%q) = %q, %q, %v; want %q, %q, %v", tt.in, path, rest, ok, tt.path, tt.rest, tt.ok)
		}
	}
}

// TestPathRoundTrip checks that what ParsePath accepts, Bracketed writes back
// in a form ParsePath reads as the same Path.
func TestPathRoundTrip(t *testing.T) {
	for _, in := range []string{"<a@b.test>", `<"a b"@c.test>`, "<>", "<@r.test:x@[192.0.2.1]>"} {
		p, err := ParsePath(in)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePath(p.Bracketed())
		if err != nil || q != p {
			t.Errorf("ParsePath(%q).Bracketed() = %q reparsed as %#v, %v", in, p.Bracketed(), q, err)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"<alice@example.test>", "<>", `<"a b"@a.test>`, `<"a\"b"@a.test>`,
		"<bob@[192.0.2.1]>", "<bob@[IPv6:2001:db8::1]>", "<@a.test,@b.test:bob@c.test>",
		"<Postmaster>", "<a@b", "<a@b.test> SIZE=1", "<a@[x-tag:v]>",
		"<a@" + longDomain(250) + ">",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParsePath(%q) error %v is not a *SyntaxError", s, err)
			}
			return
		}
		if len(p.Local) > MaxLocalBytes || len(p.Domain) > MaxDomainBytes {
			t.Fatalf("ParsePath(%q) = %#v beyond the limits", s, p)
		}
		q, err := ParsePath(p.Bracketed())
		if err != nil || q != p {
			t.Fatalf("ParsePath(%q) = %#v, but its Bracketed form %q gives %#v, %v", s, p, p.Bracketed(), q, err)
		}
		if _, err := ParseAddress(p.String()); err != nil && !p.IsNull() {
			t.Fatalf("ParseAddress(%q) refuses what ParsePath(%q) accepted: %v", p.String(), s, err)
		}
	})
}
