package sieve

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Token kinds (RFC 5228 section 8.1).
type tokenKind int

const (
	tokEOF       tokenKind = iota
	tokIdent               // keep, header, anyof
	tokTag                 // :contains (text holds "contains")
	tokNumber              // 100K (num holds 102400)
	tokString              // "quoted" or text: ... . (text holds the value)
	tokLBracket            // [
	tokRBracket            // ]
	tokLParen              // (
	tokRParen              // )
	tokLBrace              // {
	tokRBrace              // }
	tokComma               // ,
	tokSemicolon           // ;
)

// describe names a token for an error message: `identifier "stop"`, `'}'`.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of script"
	case tokIdent:
		return "identifier " + quote(t.text)
	case tokTag:
		return "tag :" + t.text
	case tokNumber:
		return "number " + t.raw
	case tokString:
		return "string " + quoteShort(t.text)
	}
	return "'" + t.raw + "'"
}

type token struct {
	kind tokenKind
	text string // identifier or tag name as written, or the string's value
	raw  string // the number as written ("100K"), or the punctuation
	num  int64
	pos  Pos // where the token starts
	end  Pos // just after its last byte
}

// lexer splits a script into tokens. It keeps line and column as it goes,
// so every token and every error knows where it is.
type lexer struct {
	name string
	src  []byte
	i    int
	pos  Pos
}

func newLexer(name string, src []byte) *lexer {
	return &lexer{name: name, src: src, pos: Pos{Line: 1, Col: 1}}
}

// advance moves n bytes forward, counting lines.
func (lx *lexer) advance(n int) {
	for ; n > 0 && lx.i < len(lx.src); n-- {
		if lx.src[lx.i] == '\n' {
			lx.pos.Line++
			lx.pos.Col = 1
		} else {
			lx.pos.Col++
		}
		lx.i++
	}
}

func (lx *lexer) peekByte(off int) byte {
	if lx.i+off < len(lx.src) {
		return lx.src[lx.i+off]
	}
	return 0
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipSpace skips white space and both kinds of comment (RFC 5228 section
// 2.2 and 2.3).
func (lx *lexer) skipSpace() error {
	for lx.i < len(lx.src) {
		switch c := lx.src[lx.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			lx.advance(1)
		case c == '#':
			// RFC 5228 section 2.3: a hash comment runs to the end of the line.
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
				lx.advance(1)
			}
		case c == '/' && lx.peekByte(1) == '*':
			// RFC 5228 section 2.3: bracketed comments do not nest.
			start := lx.pos
			end := strings.Index(string(lx.src[lx.i+2:]), "*/")
			if end < 0 {
				return errorAt(lx.name, start, "unterminated /* comment: */ never comes")
			}
			lx.advance(2 + end + 2)
		default:
			return nil
		}
	}
	return nil
}

// next returns the next token.
func (lx *lexer) next() (token, error) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	start := lx.pos
	tok := func(k tokenKind, n int) (token, error) {
		raw := string(lx.src[lx.i : lx.i+n])
		lx.advance(n)
		return token{kind: k, raw: raw, pos: start, end: lx.pos}, nil
	}
	if lx.i >= len(lx.src) {
		return token{kind: tokEOF, pos: start, end: start}, nil
	}
	c := lx.src[lx.i]
	switch {
	case c == '[':
		return tok(tokLBracket, 1)
	case c == ']':
		return tok(tokRBracket, 1)
	case c == '(':
		return tok(tokLParen, 1)
	case c == ')':
		return tok(tokRParen, 1)
	case c == '{':
		return tok(tokLBrace, 1)
	case c == '}':
		return tok(tokRBrace, 1)
	case c == ',':
		return tok(tokComma, 1)
	case c == ';':
		return tok(tokSemicolon, 1)
	case c == '"':
		return lx.quoted()
	case c == ':':
		lx.advance(1)
		if lx.i >= len(lx.src) || !(isAlpha(lx.src[lx.i]) || lx.src[lx.i] == '_') {
			return token{}, errorAt(lx.name, start, "':' must be followed by a tag name, as in :contains")
		}
		name := lx.ident()
		return token{kind: tokTag, text: name, raw: ":" + name, pos: start, end: lx.pos}, nil
	case isAlpha(c) || c == '_':
		name := lx.ident()
		if strings.EqualFold(name, "text") && lx.peekByte(0) == ':' {
			lx.advance(1)
			return lx.multiLine(start)
		}
		return token{kind: tokIdent, text: name, raw: name, pos: start, end: lx.pos}, nil
	case isDigit(c):
		return lx.number()
	}
	r, _ := utf8.DecodeRune(lx.src[lx.i:])
	return token{}, errorAt(lx.name, start, "unexpected character %q", r)
}

// ident reads identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_").
func (lx *lexer) ident() string {
	j := lx.i
	for j < len(lx.src) && (isAlpha(lx.src[j]) || isDigit(lx.src[j]) || lx.src[j] == '_') {
		j++
	}
	s := string(lx.src[lx.i:j])
	lx.advance(j - lx.i)
	return s
}

// number reads number = 1*DIGIT [ QUANTIFIER ]; K, M and G multiply by
// 2^10, 2^20 and 2^30 (RFC 5228 section 2.4.1).
func (lx *lexer) number() (token, error) {
	start := lx.pos
	j := lx.i
	var n int64
	overflow := false
	for j < len(lx.src) && isDigit(lx.src[j]) {
		d := int64(lx.src[j] - '0')
		if n > (math.MaxInt64-d)/10 {
			overflow = true
		} else {
			n = n*10 + d
		}
		j++
	}
	if j < len(lx.src) {
		shift := 0
		switch lx.src[j] | 0x20 {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		}
		if shift > 0 {
			if n > math.MaxInt64>>shift {
				overflow = true
			}
			n <<= shift
			j++
		}
	}
	raw := string(lx.src[lx.i:j])
	lx.advance(j - lx.i)
	if overflow {
		return token{}, errorAt(lx.name, start, "number %s is too large", raw)
	}
	if lx.i < len(lx.src) && (isAlpha(lx.src[lx.i]) || lx.src[lx.i] == '_') {
		return token{}, errorAt(lx.name, start, "bad number %s%c: only K, M or G may follow the digits", raw, lx.src[lx.i])
	}
	return token{kind: tokNumber, raw: raw, num: n, pos: start, end: lx.pos}, nil
}

// quoted reads a quoted string (RFC 5228 section 2.4.2). A backslash
// takes the next character as it is: "\"" is a quote, "\\" a backslash,
// and an undefined escape such as "\a" is just "a". A quoted string may
// span lines.
func (lx *lexer) quoted() (token, error) {
	start := lx.pos
	lx.advance(1)
	var b strings.Builder
	for {
		if lx.i >= len(lx.src) {
			return token{}, errorAt(lx.name, start, "unterminated string: the closing '\"' is missing")
		}
		c := lx.src[lx.i]
		switch c {
		case '"':
			lx.advance(1)
			s := b.String()
			if !utf8.ValidString(s) {
				return token{}, errorAt(lx.name, start, "string is not valid UTF-8 (RFC 5228 section 2.4.2)")
			}
			return token{kind: tokString, text: s, raw: `"`, pos: start, end: lx.pos}, nil
		case '\\':
			if lx.i+1 >= len(lx.src) {
				return token{}, errorAt(lx.name, start, "unterminated string: the closing '\"' is missing")
			}
			b.WriteByte(lx.src[lx.i+1])
			lx.advance(2)
		default:
			b.WriteByte(c)
			lx.advance(1)
		}
	}
}

// multiLine reads a multi-line string after "text:" (RFC 5228 section
// 2.4.2 and the multi-line rule of section 8.1): the rest of the line may
// hold only blanks and a hash comment; then come lines up to one holding a
// single ".". A line starting ".." loses its first dot (dot-stuffing, as in
// SMTP). Lines end in CRLF in the value, whatever the script used.
func (lx *lexer) multiLine(start Pos) (token, error) {
	for lx.i < len(lx.src) && (lx.src[lx.i] == ' ' || lx.src[lx.i] == '\t') {
		lx.advance(1)
	}
	switch {
	case lx.peekByte(0) == '#':
		for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
			lx.advance(1)
		}
	case lx.peekByte(0) == '\r' && lx.peekByte(1) == '\n', lx.peekByte(0) == '\n':
	default:
		return token{}, errorAt(lx.name, lx.pos, "text: must be followed by a new line")
	}
	if lx.peekByte(0) == '\r' {
		lx.advance(1)
	}
	if lx.peekByte(0) != '\n' {
		return token{}, errorAt(lx.name, start, `unterminated text: string: a line holding a single "." must end it`)
	}
	lx.advance(1)
	var b strings.Builder
	for {
		if lx.i >= len(lx.src) {
			return token{}, errorAt(lx.name, start, `unterminated text: string: a line holding a single "." must end it`)
		}
		j := lx.i
		for j < len(lx.src) && lx.src[j] != '\n' {
			j++
		}
		line := strings.TrimSuffix(string(lx.src[lx.i:j]), "\r")
		lx.advance(j - lx.i + 1)
		if line == "." {
			break
		}
		// Section 8.1, multiline-dotstart: "Remove a leading '.' if
		// followed by another '.'".
		if strings.HasPrefix(line, "..") {
			line = line[1:]
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	s := b.String()
	if !utf8.ValidString(s) {
		return token{}, errorAt(lx.name, start, "text: string is not valid UTF-8 (RFC 5228 section 2.4.2)")
	}
	return token{kind: tokString, text: s, raw: "text:", pos: start, end: lx.pos}, nil
}

// quote writes s as a Sieve quoted string: "a \"b\" c".
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`) // not Sieve, but readable in a one-line trace
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteShort is quote for messages: long strings are cut to 60 bytes.
func quoteShort(s string) string {
	const max = 60
	if len(s) <= max {
		return quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return quote(s[:cut]) + "..."
}
