package sieve

import (
	"strings"
	"testing"
	"time"
)

func TestMatches(t *testing.T) {
	tests := []struct {
		pattern, value string
		fold, want     bool
	}{
		// RFC 5228 section 2.7.1.
		{"*", "", true, true},
		{"?", "", true, false},
		{"?", "é", true, true}, // one character, two octets
		{"a?c", "abc", true, true},
		{"a*c", "ac", true, true},
		{"a*c", "abxbc", true, true},
		{"a*c", "abxb", true, false},
		{"*make*money*fast*", "MAKE big MONEY fast!!", true, true},
		{"*make*money*fast*", "make fast money", true, false},
		{`\*`, "*", true, true},
		{`\*`, "x", true, false},
		{`\?`, "?", true, true},
		{`\\`, `\`, true, true},
		{"ABC", "abc", false, false},
		{"ABC", "abc", true, true},
		{"*@example.com", "bob@EXAMPLE.COM", true, true},
		{"**a**", "xxaxx", true, true},
		{"*?", "", true, false},
		{"*?", "x", true, true},
	}
	for _, tt := range tests {
		steps := 0
		got, err := compilePattern(tt.pattern, tt.fold).match(tt.value, tt.fold, &steps)
		if err != nil || got != tt.want {
			t.Errorf("%q :matches %q (fold %v) = %v, %v; want %v", tt.value, tt.pattern, tt.fold, got, err, tt.want)
		}
	}
}

func TestMatchesIsNotExponential(t *testing.T) {
	start := time.Now()
	steps := 0
	p := compilePattern(strings.Repeat("*a", 30)+"b", true)
	ok, err := p.match(strings.Repeat("a", 300), true, &steps)
	if ok || err != nil {
		t.Fatalf("match = %v, %v", ok, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"bob@b.test", []string{"bob@b.test"}},
		{`"Bob, B." <bob@b.test>, carol@c.test (Carol)`, []string{"bob@b.test", "carol@c.test"}},
		{"team: a@b.test, c@d.test;, e@f.test", []string{"a@b.test", "c@d.test", "e@f.test"}},
		{"undisclosed-recipients:;", nil},
		{"<@relay.test:bob@b.test>", []string{"bob@b.test"}},
		{`"a b"@c.test`, []string{`"a b"@c.test`}},
		{"not an address", []string{"not an address"}},
		{"bob @ b.test", []string{"bob@b.test"}},
	}
	for _, tt := range tests {
		got := addressList(tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("addressList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAddressPart(t *testing.T) {
	tests := []struct {
		addr string
		part addrPart
		want string
		ok   bool
	}{
		{"ken+foo@example.com", partUser, "ken", true},
		{"ken+foo@example.com", partDetail, "foo", true},
		{"ken+foo+bar@example.com", partDetail, "foo+bar", true},
		{"ken+@example.com", partDetail, "", true},
		{"ken@example.com", partDetail, "", false},
		{"ken@example.com", partUser, "ken", true},
		{"ken@example.com", partDomain, "example.com", true},
		{"ken@example.com", partLocal, "ken", true},
		{"ken", partDomain, "", false},
		{"ken", partAll, "ken", true},
	}
	for _, tt := range tests {
		got, ok := addressPart(tt.addr, tt.part)
		if got != tt.want || ok != tt.ok {
			t.Errorf("addressPart(%q, %d) = %q, %v; want %q, %v", tt.addr, tt.part, got, ok, tt.want, tt.ok)
		}
	}
}
