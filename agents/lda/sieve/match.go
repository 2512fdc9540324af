package sieve

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// errSteps ends a run that has used up its step budget (MaxSteps).
var errSteps = errors.New("sieve: step budget exhausted")

// asciiLower folds A-Z to a-z and leaves every other byte alone: the
// i;ascii-casemap comparator (RFC 4790 section 9.2) folds ASCII letters
// only, so "É" and "é" stay different, as they do on real servers.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func foldByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Pattern elements of :matches (RFC 5228 section 2.7.1).
const (
	elemByte = iota // one literal byte
	elemOne         // "?": one character
	elemStar        // "*": any run of characters, empty included
)

type elem struct {
	kind int
	b    byte
}

// pattern is a compiled :matches key. Consecutive stars are merged.
type pattern struct {
	elems []elem
}

// compilePattern reads the wildcards of a :matches key: "*" and "?", with
// "\" taking the next character literally ("\*", "\?", "\\"). With fold,
// literal letters are folded as the value will be.
func compilePattern(key string, fold bool) *pattern {
	p := &pattern{}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '\\' && i+1 < len(key):
			i++
			c = key[i]
		case c == '*':
			if n := len(p.elems); n == 0 || p.elems[n-1].kind != elemStar {
				p.elems = append(p.elems, elem{kind: elemStar})
			}
			continue
		case c == '?':
			p.elems = append(p.elems, elem{kind: elemOne})
			continue
		}
		if fold {
			c = foldByte(c)
		}
		p.elems = append(p.elems, elem{kind: elemByte, b: c})
	}
	return p
}

// match reports whether s matches the pattern. It is the classic
// iterative wildcard matcher: on a mismatch it goes back to the last star
// only, never further, so its work is at most len(s) × len(pattern) and
// never exponential. Every step is charged to *steps; past maxSteps it
// gives up with errSteps.
//
// "?" matches one UTF-8 character (one byte where s is not valid UTF-8).
func (p *pattern) match(s string, fold bool, steps *int) (bool, error) {
	pi, si := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		*steps++
		if *steps > maxSteps {
			return false, errSteps
		}
		if pi < len(p.elems) {
			e := p.elems[pi]
			switch e.kind {
			case elemByte:
				c := s[si]
				if fold {
					c = foldByte(c)
				}
				if c == e.b {
					pi++
					si++
					continue
				}
			case elemOne:
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			case elemStar:
				star, starS = pi, si
				pi++
				continue
			}
		}
		if star < 0 {
			return false, nil
		}
		// Let the last star swallow one more character and try again.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = star+1, starS
	}
	for pi < len(p.elems) && p.elems[pi].kind == elemStar {
		pi++
	}
	return pi == len(p.elems), nil
}

// compare reports whether value matches one of the test's keys, and which.
func (r *runner) compare(t *testNode, value string) (bool, error) {
	switch t.match {
	case matchMatches:
		for _, p := range t.patterns {
			ok, err := p.match(value, t.fold, &r.steps)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	v := value
	if t.fold {
		v = asciiLower(value)
	}
	for _, k := range t.folded {
		if err := r.spend(len(v) + len(k)); err != nil {
			return false, err
		}
		if t.match == matchIs && v == k || t.match == matchContains && strings.Contains(v, k) {
			return true, nil
		}
	}
	return false, nil
}
