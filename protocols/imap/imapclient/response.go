package imapclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// Defaults of the Options limits.
const (
	// DefaultMaxLineBytes bounds one response line (between literals), CRLF
	// included. RFC 7162 section 4 asks clients to accept at least 8192
	// octets; the client accepts 64 KiB.
	DefaultMaxLineBytes = 64 << 10
	// DefaultMaxLiteral bounds the literals of one response, 64 MiB.
	DefaultMaxLiteral = 64 << 20
	// MaxLiterals bounds the number of literals in one response.
	MaxLiterals = 1000
	// MaxDepth bounds the nesting of parenthesised lists in a response
	// (a BODYSTRUCTURE of nested multiparts is the deepest in practice).
	MaxDepth = 64
)

// Sentinels wrapped by the errors about a response the client cannot read.
var (
	// ErrMalformed: the response breaks the grammar of RFC 3501 section 9.
	ErrMalformed = errors.New("imapclient: malformed response")
	// ErrLiteralTooLarge: a literal announced more octets than
	// Options.MaxLiteral allows.
	ErrLiteralTooLarge = errors.New("imapclient: literal too large")
)

// Error is a NO, BAD or BYE from the server. Commands return it wrapped
// with the command: "imapclient: SELECT Archive: NO [TRYCREATE] No such
// mailbox"; errors.As finds it.
type Error struct {
	Status string // "NO" (refused), "BAD" (not understood) or "BYE" (closing)
	Code   string // the response code's name, upper case, e.g. "TRYCREATE"; "" if none
	Arg    string // the response code's argument, e.g. "38505 3955" of APPENDUID
	Text   string // the human-readable text
}

// Error renders the status as it crossed the wire, without the tag.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Status)
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		if e.Arg != "" {
			b.WriteByte(' ')
			b.WriteString(e.Arg)
		}
		b.WriteByte(']')
	}
	if e.Text != "" {
		b.WriteByte(' ')
		b.WriteString(e.Text)
	}
	return b.String()
}

// respKind tells the four shapes of a server response apart (RFC 3501
// section 7: "Status responses can be tagged or untagged ... server data
// ... are untagged"; section 7.5 continuation requests).
type respKind int

const (
	respData         respKind = iota + 1 // "* 3 EXISTS", "* LIST ..."
	respStatus                           // "* OK [...] text", "* BYE ...", "* PREAUTH ..."
	respContinuation                     // "+ text"
	respTagged                           // "a001 OK [...] text"
)

// response is one complete server response: a line, or a line with
// literals and the lines that continue it.
type response struct {
	kind respKind
	raw  []byte // the wire bytes, literals inline, without the final CRLF

	tag string // for respTagged

	// respStatus, respTagged and respContinuation (text only).
	status  string // OK, NO, BAD, BYE, PREAUTH (upper case)
	code    string // response code name, upper case
	codeArg string
	text    string

	// respData.
	num    uint32 // "* 3 EXISTS": 3
	hasNum bool
	name   string  // upper case: EXISTS, FETCH, LIST ...
	fields []field // what follows the name
	bad    error   // the fields did not parse (tolerated for names the client does not use)
}

// err returns the status as an *Error.
func (r *response) err() *Error {
	return &Error{Status: r.status, Code: r.code, Arg: r.codeArg, Text: r.text}
}

// limits bound the reading of one response.
type limits struct {
	maxLine    int
	maxLiteral int64
}

// readResponse reads one response: a line, and for server data each literal
// announced at the end of a line with the line that follows it (RFC 3501
// section 4.3: "{" number "}" CRLF *CHAR8). Status responses and
// continuation requests carry free text and never literals. Errors wrap
// ErrMalformed, ErrLiteralTooLarge, wire.ErrLineTooLong, io.EOF (nothing
// read) or the transport's error.
func readResponse(br *bufio.Reader, lim limits) (*response, error) {
	line, err := wire.ReadLine(br, lim.maxLine)
	if err != nil {
		return nil, err
	}
	raw := line
	if isDataLine(line) {
		var total int64
		for n := 0; ; n++ {
			size, ok := literalAtEnd(line)
			if !ok {
				break
			}
			if n >= MaxLiterals {
				return nil, fmt.Errorf("%w: more than %d literals", ErrMalformed, MaxLiterals)
			}
			total += size
			if size > lim.maxLiteral || total > lim.maxLiteral {
				return nil, fmt.Errorf("%w: {%d} over the limit of %d octets", ErrLiteralTooLarge, size, lim.maxLiteral)
			}
			raw = append(raw, '\r', '\n')
			// Read in chunks, so a literal announced but never sent costs
			// no more memory than what arrived.
			for left := size; left > 0; {
				n := min(left, 64<<10)
				start := len(raw)
				raw = append(raw, make([]byte, n)...)
				if _, err := io.ReadFull(br, raw[start:]); err != nil {
					if errors.Is(err, io.EOF) {
						err = io.ErrUnexpectedEOF
					}
					return nil, fmt.Errorf("reading literal: %w", err)
				}
				left -= n
			}
			if line, err = wire.ReadLine(br, lim.maxLine); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("reading after literal: %w", err)
			}
			raw = append(raw, line...)
		}
	}
	return parseResponse(raw)
}

// isDataLine reports whether line is untagged server data, the only
// responses that may hold literals.
func isDataLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return false
	}
	word, _, _ := bytes.Cut(rest, []byte(" "))
	return !isStatusWord(strings.ToUpper(string(word)), true)
}

func isStatusWord(w string, untagged bool) bool {
	switch w {
	case "OK", "NO", "BAD":
		return true
	case "BYE", "PREAUTH":
		return untagged
	}
	return false
}

// literalAtEnd reports whether line ends with a literal's "{n}" and returns n.
func literalAtEnd(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	n, ok := parseNumber(line[open+1 : len(line)-1])
	return n, ok
}

// parseNumber parses number = 1*DIGIT (RFC 3501 section 9), at most 19
// digits so it fits an int64.
func parseNumber(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseResponse parses the raw bytes of one response.
func parseResponse(raw []byte) (*response, error) {
	r := &response{raw: raw}
	switch {
	case len(raw) > 0 && raw[0] == '+':
		// RFC 3501 section 7.5: "+" SP (resp-text / base64); many servers
		// send a bare "+".
		r.kind = respContinuation
		r.text = strings.TrimPrefix(string(raw[1:]), " ")
		return r, nil
	case bytes.HasPrefix(raw, []byte("* ")):
		return r, r.parseUntagged(raw[2:])
	}
	tag, rest, ok := bytes.Cut(raw, []byte(" "))
	if !ok || !validTag(tag) {
		return nil, fmt.Errorf("%w: %q is neither untagged, a continuation nor tagged", ErrMalformed, clip(raw))
	}
	r.kind = respTagged
	r.tag = string(tag)
	word, text, _ := bytes.Cut(rest, []byte(" "))
	r.status = strings.ToUpper(string(word))
	// RFC 3501 section 7.1: a tagged status is OK, NO or BAD.
	if !isStatusWord(r.status, false) {
		return nil, fmt.Errorf("%w: tagged status %q is not OK, NO or BAD", ErrMalformed, clip(word))
	}
	if err := r.parseRespText(text); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *response) parseUntagged(b []byte) error {
	word, rest, _ := bytes.Cut(b, []byte(" "))
	if w := strings.ToUpper(string(word)); isStatusWord(w, true) {
		r.kind = respStatus
		r.status = w
		return r.parseRespText(rest)
	}
	r.kind = respData
	// RFC 3501 section 7.3/7.4: message-data and EXISTS/RECENT start with
	// a number.
	if n, ok := parseNumber(word); ok {
		if n > 1<<32-1 {
			return fmt.Errorf("%w: number %s out of range", ErrMalformed, word)
		}
		r.num, r.hasNum = uint32(n), true
		word, rest, _ = bytes.Cut(rest, []byte(" "))
	}
	if len(word) == 0 {
		return fmt.Errorf("%w: untagged response without a name: %q", ErrMalformed, clip(r.raw))
	}
	r.name = strings.ToUpper(string(word))
	// Positions count from the start of the response, so a field's raw
	// text (BODYSTRUCTURE) is r.raw[start:end].
	p := &parser{b: r.raw, i: len(r.raw) - len(rest)}
	for p.skipSpaces() {
		f, err := p.field()
		if err != nil {
			r.bad = err
			r.fields = nil
			break
		}
		r.fields = append(r.fields, f)
	}
	return nil
}

// parseRespText parses resp-text = ["[" resp-text-code "]" SP] text
// (RFC 3501 section 9). The code is an atom, optionally followed by a space
// and any text without "]".
func (r *response) parseRespText(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return fmt.Errorf("%w: response code without ']': %q", ErrMalformed, clip(r.raw))
		}
		code, arg, _ := strings.Cut(s[1:end], " ")
		if code == "" {
			return fmt.Errorf("%w: empty response code: %q", ErrMalformed, clip(r.raw))
		}
		r.code, r.codeArg = strings.ToUpper(code), arg
		s = strings.TrimPrefix(s[end+1:], " ")
	}
	r.text = s
	return nil
}

// validTag: tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 section 9).
func validTag(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c == '+' || !isAstringChar(c) {
			return false
		}
	}
	return true
}

// isAtomChar: ATOM-CHAR = <any CHAR except atom-specials>, atom-specials =
// "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
// resp-specials (RFC 3501 section 9).
func isAtomChar(c byte) bool {
	if c <= 0x1f || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAstringChar: ASTRING-CHAR = ATOM-CHAR / resp-specials.
func isAstringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// fieldKind is the kind of one token of server data.
type fieldKind int

const (
	fieldAtom   fieldKind = iota + 1 // an atom, a number, a flag, or "BODY[...]<n>"
	fieldString                      // a quoted string or a literal
	fieldNIL                         // NIL
	fieldList                        // a parenthesised list
)

// field is one token of server data.
type field struct {
	kind       fieldKind
	atom       string  // fieldAtom
	str        []byte  // fieldString
	list       []field // fieldList
	start, end int     // its bytes in the response's raw text
}

// astring returns an atom or string's text (RFC 3501 astring); NIL is the
// atom "NIL" here.
func (f field) astring() (string, bool) {
	switch f.kind {
	case fieldAtom:
		return f.atom, true
	case fieldString:
		return string(f.str), true
	case fieldNIL:
		return "NIL", true
	}
	return "", false
}

// nstring returns a string's text, "" for NIL (RFC 3501 nstring).
func (f field) nstring() (string, bool) {
	switch f.kind {
	case fieldString:
		return string(f.str), true
	case fieldNIL:
		return "", true
	}
	return "", false
}

// number returns an atom's value as a 32-bit number (RFC 3501 number).
func (f field) number() (uint32, bool) {
	if f.kind != fieldAtom {
		return 0, false
	}
	n, ok := parseNumber([]byte(f.atom))
	if !ok || n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// parser tokenizes server data. It works on the whole response, literals
// inline, so a literal is "{n}" CRLF followed by exactly n octets.
type parser struct {
	b     []byte
	i     int
	depth int
}

// skipSpaces skips spaces and reports whether a token follows.
func (p *parser) skipSpaces() bool {
	for p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
	}
	return p.i < len(p.b)
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at octet %d: %s", ErrMalformed, p.i, fmt.Sprintf(format, args...))
}

// field reads one token.
func (p *parser) field() (field, error) {
	if p.i >= len(p.b) {
		return field{}, p.errorf("value expected")
	}
	start := p.i
	var f field
	var err error
	switch c := p.b[p.i]; {
	case c == '(':
		f, err = p.list()
	case c == '"':
		f, err = p.quoted()
	case c == '{':
		f, err = p.literal()
	case c == '~' && p.i+1 < len(p.b) && p.b[p.i+1] == '{':
		// RFC 3516 section 4.2: literal8 of FETCH BINARY[].
		p.i++
		f, err = p.literal()
	default:
		f, err = p.atom()
	}
	f.start, f.end = start, p.i
	return f, err
}

func (p *parser) list() (field, error) {
	if p.depth >= MaxDepth {
		return field{}, p.errorf("lists nested deeper than %d", MaxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	p.i++ // "("
	f := field{kind: fieldList, list: []field{}}
	for {
		if !p.skipSpaces() {
			return field{}, p.errorf("list not closed")
		}
		if p.b[p.i] == ')' {
			p.i++
			return f, nil
		}
		item, err := p.field()
		if err != nil {
			return field{}, err
		}
		f.list = append(f.list, item)
	}
}

// quoted reads quoted = DQUOTE *QUOTED-CHAR DQUOTE, where a backslash
// escapes only DQUOTE and backslash (RFC 3501 section 9).
func (p *parser) quoted() (field, error) {
	p.i++
	var s []byte
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case '"':
			return field{kind: fieldString, str: s}, nil
		case '\\':
			if p.i >= len(p.b) || (p.b[p.i] != '"' && p.b[p.i] != '\\') {
				return field{}, p.errorf("bad escape in quoted string")
			}
			s = append(s, p.b[p.i])
			p.i++
		case '\r', '\n':
			return field{}, p.errorf("line break in quoted string")
		default:
			s = append(s, c)
		}
	}
	return field{}, p.errorf("quoted string not closed")
}

// literal reads "{" number "}" CRLF and the n octets (RFC 3501 section 4.3).
func (p *parser) literal() (field, error) {
	p.i++
	end := bytes.IndexByte(p.b[p.i:], '}')
	if end < 0 {
		return field{}, p.errorf("literal size not closed")
	}
	n, ok := parseNumber(p.b[p.i : p.i+end])
	if !ok {
		return field{}, p.errorf("bad literal size %q", p.b[p.i:p.i+end])
	}
	p.i += end + 1
	if !bytes.HasPrefix(p.b[p.i:], []byte("\r\n")) {
		return field{}, p.errorf("literal size not at the end of a line")
	}
	p.i += 2
	if n > int64(len(p.b)-p.i) {
		return field{}, p.errorf("literal shorter than announced")
	}
	s := p.b[p.i : p.i+int(n)]
	p.i += int(n)
	return field{kind: fieldString, str: s}, nil
}

// atom reads an atom in the wide sense servers use: anything up to a space,
// a parenthesis or the end, where a "[" opens a section that may hold
// spaces and parentheses up to its "]" (RFC 3501 section 7.4.2,
// "BODY[HEADER.FIELDS (SUBJECT)]<0>"). Flags ("\Seen", "\*") are atoms here.
func (p *parser) atom() (field, error) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == ' ' || c == '(' || c == ')':
			goto done
		case c == '[':
			end := bytes.IndexByte(p.b[p.i:], ']')
			if end < 0 {
				return field{}, p.errorf("section not closed")
			}
			if bytes.ContainsAny(p.b[p.i:p.i+end], "\r\n") {
				return field{}, p.errorf("line break in section")
			}
			p.i += end + 1
		case c <= 0x1f || c == 0x7f || c == '"' || c == '{':
			goto done
		default:
			p.i++
		}
	}
done:
	if p.i == start {
		return field{}, p.errorf("unexpected %q", p.b[p.i])
	}
	a := string(p.b[start:p.i])
	if strings.EqualFold(a, "NIL") {
		return field{kind: fieldNIL}, nil
	}
	return field{kind: fieldAtom, atom: a}, nil
}
