package imapclient

import (
	"errors"
	"fmt"
	"strings"
)

// builder assembles a command's parts, choosing for each string the
// simplest form RFC 3501 section 4 allows: atom, quoted string or literal.
type builder struct {
	parts []part
	err   error
}

// add appends command text.
func (b *builder) add(s string) *builder {
	if n := len(b.parts); n > 0 && b.parts[n-1].lit == nil {
		b.parts[n-1].text += s
	} else {
		b.parts = append(b.parts, part{text: s})
	}
	return b
}

// literal appends a literal; bulk marks it as message content.
func (b *builder) literal(lit []byte, bulk bool) *builder {
	if lit == nil {
		lit = []byte{}
	}
	b.parts = append(b.parts, part{lit: lit, bulk: bulk})
	return b
}

// astring appends s as an atom when every octet is an ASTRING-CHAR, as a
// quoted string when it is 7-bit text without CR and LF, and as a literal
// otherwise (RFC 3501 section 4.3: 8-bit data and line breaks need one).
func (b *builder) astring(s string) *builder { return b.str(s, isAstringChar) }

// listMailbox appends a LIST pattern: like astring, but the wildcards "%"
// and "*" may stand unquoted (RFC 3501 section 9, list-char).
func (b *builder) listMailbox(s string) *builder {
	return b.str(s, func(c byte) bool { return isAstringChar(c) || c == '%' || c == '*' })
}

func (b *builder) str(s string, bare func(byte) bool) *builder {
	// RFC 3501 section 9: CHAR8 = %x01-ff, no string may hold NUL.
	if strings.IndexByte(s, 0) >= 0 {
		b.fail(errors.New("a string may not hold NUL"))
		return b
	}
	atom, quotable := s != "" && !strings.EqualFold(s, "NIL"), true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !bare(c) {
			atom = false
		}
		if c >= 0x80 || c == '\r' || c == '\n' {
			quotable = false
		}
	}
	switch {
	case atom:
		return b.add(s)
	case quotable:
		return b.add(quote(s))
	}
	return b.literal([]byte(s), false)
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// quote returns s as a quoted string: DQUOTE and backslash escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// checkSet validates a sequence set or UID set (RFC 3501 section 9,
// sequence-set): numbers, "*", ranges "a:b", joined by commas; "$" is the
// saved result of RFC 5182.
func checkSet(set string) error {
	if set == "$" {
		return nil
	}
	if set == "" {
		return errors.New("empty sequence set")
	}
	for _, el := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(el, ":")
		if !seqNumber(lo) || isRange && !seqNumber(hi) {
			return fmt.Errorf("bad sequence set %q", set)
		}
	}
	return nil
}

// seqNumber: seq-number = nz-number / "*".
func seqNumber(s string) bool {
	if s == "*" {
		return true
	}
	n, ok := parseNumber([]byte(s))
	return ok && n > 0 && n <= 1<<32-1
}

// checkFlags validates flags for STORE and APPEND: flag = "\" atom / atom
// (RFC 3501 section 9; "\*" only appears in PERMANENTFLAGS).
func checkFlags(flags []string) error {
	for _, f := range flags {
		a := strings.TrimPrefix(f, `\`)
		ok := a != ""
		for i := 0; i < len(a); i++ {
			if !isAtomChar(a[i]) {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf("bad flag %q", f)
		}
	}
	return nil
}

// checkText validates free command text the caller writes (FETCH items,
// SEARCH criteria): one line, no NUL.
func checkText(what, s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty %s", what)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%s may not hold CR, LF or NUL", what)
	}
	return nil
}
