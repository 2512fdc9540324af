package mail

import (
	"slices"
	"strings"
	"testing"
)

var headerBlocks = []string{
	"",
	"\r\n",
	"\n",
	"Subject: x\n y\nnot a field\nTo: b@b.test\n\nbody\n",
	"From: a@a.test\r\nTO : b@b.test\r\n\tc@c.test\r\nFrom: second\r\n\r\nFrom: body\r\n",
	" leading continuation\r\nFrom: x\r\n",
	"Fr\r\n om: folded name\r\nFrom:\r\nX-\u212Aey: v\r\nkey: w\r\n\r\n",
	"No-Empty-Line: x\r\nFrom: y",
	"From: a\r\r\nTo: b\n\r\nrest",
}

// TestParseHeaderFieldsIsAFilter checks that ParseHeaderFields keeps what
// SplitMessage parses, minus the other fields, and that HeaderEnd cuts
// where SplitMessage does.
func TestParseHeaderFieldsIsAFilter(t *testing.T) {
	for _, raw := range headerBlocks {
		full, header, _ := SplitMessage([]byte(raw))
		if end := HeaderEnd([]byte(raw)); end >= 0 && end != len(header) || end < 0 && len(header) != len(raw) {
			t.Errorf("%q: HeaderEnd %d, SplitMessage's header %d octets", raw, end, len(header))
		}
		for _, names := range [][]string{{"From"}, {"to", "FROM"}, {"key"}, {"x-\u212Aey"}, {"Subject", "To"}, {"none"}} {
			got := ParseHeaderFields(header, names...)
			var want []Field
			for _, f := range full.Fields {
				if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, f.Name) }) {
					want = append(want, f)
				}
			}
			if !slices.Equal(got.Fields, want) {
				t.Errorf("%q %v: got %q, want %q", raw, names, got.Fields, want)
			}
		}
	}
}
