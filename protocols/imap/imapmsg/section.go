package imapmsg

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// Section specifiers (RFC 3501 section 6.4.5).
const (
	SpecHeader          = "HEADER"
	SpecHeaderFields    = "HEADER.FIELDS"
	SpecHeaderFieldsNot = "HEADER.FIELDS.NOT"
	SpecText            = "TEXT"
	SpecMIME            = "MIME"
)

// Section is what stands between the brackets of BODY[...] (RFC 3501
// section 9, section-spec): a part number and a specifier, each optional.
type Section struct {
	Path      []int    // part number, 1-based: 1.2 is [1 2]; empty for the whole message
	Specifier string   // "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME"
	Fields    []string // the header-list of HEADER.FIELDS[.NOT], as the client wrote them
}

// SectionError says why a section spec was refused.
type SectionError struct {
	Input  string
	Reason string
}

func (e *SectionError) Error() string {
	return fmt.Sprintf("imapmsg: bad section %q: %s", e.Input, e.Reason)
}

// ParseSection parses a section spec, the text between "[" and "]" of
// BODY[...] (RFC 3501 section 9):
//
//	section-spec    = section-msgtext / (section-part ["." section-text])
//	section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//	section-part    = nz-number *("." nz-number)
//	section-text    = section-msgtext / "MIME"
//
// Specifiers are case-insensitive; field names are atoms, quoted strings or
// literals ("{3}\r\nFoo"). Errors are *SectionError.
func ParseSection(s string) (Section, error) {
	fail := func(format string, args ...any) (Section, error) {
		return Section{}, &SectionError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	var sec Section
	rest := s
	for rest != "" && '0' <= rest[0] && rest[0] <= '9' {
		n := 0
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		// RFC 3501 section 9: nz-number = digit-nz *DIGIT.
		v, err := strconv.ParseUint(rest[:n], 10, 32)
		if err != nil || v == 0 || rest[0] == '0' {
			return fail("part number %q is not a number from 1 to 4294967295", rest[:n])
		}
		sec.Path = append(sec.Path, int(v))
		rest = rest[n:]
		if rest == "" {
			return sec, nil
		}
		if rest[0] != '.' {
			return fail("'.' expected after part number %d", v)
		}
		rest = rest[1:]
		if rest == "" {
			return fail("a part number or specifier must follow '.'")
		}
	}
	upper := strings.ToUpper(rest)
	switch {
	case upper == "":
		return sec, nil
	case upper == SpecHeader, upper == SpecText:
		sec.Specifier = upper
		return sec, nil
	case upper == SpecMIME:
		// RFC 3501 section 6.4.5: MIME must be prefixed by a part number.
		if len(sec.Path) == 0 {
			return fail("MIME needs a part number, as in 1.MIME")
		}
		sec.Specifier = upper
		return sec, nil
	case strings.HasPrefix(upper, SpecHeaderFieldsNot+" "), strings.HasPrefix(upper, SpecHeaderFieldsNot+"("):
		sec.Specifier = SpecHeaderFieldsNot
	case strings.HasPrefix(upper, SpecHeaderFields+" "), strings.HasPrefix(upper, SpecHeaderFields+"("):
		sec.Specifier = SpecHeaderFields
	default:
		return fail("unknown specifier %q (HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME)", rest)
	}
	list := rest[len(sec.Specifier):]
	if !strings.HasPrefix(list, " (") {
		return fail("%s needs a space and a parenthesised list of field names", sec.Specifier)
	}
	fields, err := parseHeaderList(list[2:])
	if err != "" {
		return fail("%s", err)
	}
	sec.Fields = fields
	return sec, nil
}

// parseHeaderList reads header-fld-name *(SP header-fld-name) ")" to the
// end of s (RFC 3501 section 9, header-list; header-fld-name = astring).
func parseHeaderList(s string) ([]string, string) {
	var fields []string
	for {
		if s == "" {
			return nil, "missing ')' after the field names"
		}
		if s[0] == ')' {
			if len(fields) == 0 {
				return nil, "the list of field names is empty"
			}
			if len(s) > 1 {
				return nil, "unexpected text after ')'"
			}
			return fields, ""
		}
		if len(fields) > 0 {
			if s[0] != ' ' {
				return nil, "a space must separate field names"
			}
			s = s[1:]
		}
		var f string
		switch {
		case s == "":
			return nil, "missing ')' after the field names"
		case s[0] == '"':
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, "unterminated quoted field name"
			}
			f, s = b.String(), s[i+1:]
		case s[0] == '{':
			// literal = "{" number ["+"] "}" CRLF *CHAR8 (RFC 3501
			// section 4.3; "+" from RFC 7888).
			end := strings.Index(s, "}\r\n")
			if end < 0 {
				return nil, "bad literal in the field names"
			}
			num := strings.TrimSuffix(s[1:end], "+")
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n > len(s)-end-3 {
				return nil, "bad literal length in the field names"
			}
			f, s = s[end+3:end+3+n], s[end+3+n:]
		default:
			i := 0
			for i < len(s) && isAstringChar(s[i]) {
				i++
			}
			f, s = s[:i], s[i:]
		}
		if f == "" {
			return nil, "empty field name"
		}
		fields = append(fields, f)
	}
}

// isAstringChar reports ASTRING-CHAR of RFC 3501 section 9: ATOM-CHAR
// (CHAR except atom-specials) or "]".
func isAstringChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`(){%*"\`, c) < 0
}

// String returns the section spec as a server writes it back in the FETCH
// response (RFC 3501 section 7.4.2): "1.2.HEADER.FIELDS (FROM TO)", field
// names upper-cased.
func (s Section) String() string {
	var b strings.Builder
	for i, n := range s.Path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if s.Specifier == "" {
		return b.String()
	}
	if len(s.Path) > 0 {
		b.WriteByte('.')
	}
	b.WriteString(s.Specifier)
	if s.Specifier == SpecHeaderFields || s.Specifier == SpecHeaderFieldsNot {
		b.WriteString(" (")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			f = strings.ToUpper(f)
			atom := f != ""
			for j := 0; j < len(f); j++ {
				atom = atom && isAstringChar(f[j])
			}
			if atom {
				b.WriteString(f)
			} else {
				b.WriteString(Quote(f))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Fetch returns the octets BODY[s] names in the message raw, whose tree is
// root (nil: parsed from raw here when s has a part number; a section
// without one needs only the header's end, so raw may then be the header
// block alone for HEADER and HEADER.FIELDS[.NOT]), following RFC 3501
// section 6.4.5:
//
//   - no part number: the whole message, its HEADER, TEXT, or
//     HEADER.FIELDS[.NOT] (matching fields with their folds, then the
//     empty line that ends the header);
//   - part numbers count the parts of a multipart from 1; a message that
//     is not multipart has one part, 1, its body; the parts of a
//     message/rfc822 part are those of the message inside it;
//   - n.MIME is the MIME header of part n; n.HEADER, n.TEXT and
//     n.HEADER.FIELDS apply to the message inside a message/rfc822 part.
//
// A part that does not exist, or HEADER/TEXT on a part that is not
// message/rfc822, gives an empty result rather than an error, as most
// servers answer (RFC 3501 does not say): the server sends BODY[n] "". The result is a slice of raw
// except for HEADER.FIELDS[.NOT]. The error is a *SectionError for a
// section ParseSection would refuse.
func Fetch(raw []byte, root *mail.Part, s Section) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(s.Path) == 0 {
		switch {
		case s.Specifier == "":
			return raw, nil
		case root == nil:
			// The top level needs no MIME structure: only the header's end.
			header, body := SplitHeader(raw)
			return fromParts(header, body, s), nil
		}
		return fromMessage(root, s), nil
	}
	if root == nil {
		root, _ = mail.ParseMessage(raw) // the tree is usable even with an error
	}
	p := resolve(root, s.Path)
	if p == nil {
		return []byte{}, nil
	}
	switch s.Specifier {
	case "":
		return p.Body, nil
	case SpecMIME:
		return p.HeaderBytes, nil
	}
	// RFC 3501 section 6.4.5: HEADER, HEADER.FIELDS and TEXT after a part
	// number need a part of type MESSAGE/RFC822.
	if !p.IsMessage() {
		return []byte{}, nil
	}
	return fromMessage(p.Message, s), nil
}

// SplitHeader cuts a message after the empty line that ends its header,
// as mail.ParseMessage does, without parsing anything: all of raw is
// header when it has no empty line.
func SplitHeader(raw []byte) (header, body []byte) {
	if end := mail.HeaderEnd(raw); end >= 0 {
		return raw[:end], raw[end:]
	}
	return raw, raw[len(raw):]
}

// check refuses what ParseSection would, for Sections built by hand.
func (s Section) check() error {
	bad := func(reason string) error { return &SectionError{Input: s.String(), Reason: reason} }
	for _, n := range s.Path {
		if n <= 0 {
			return bad("part numbers start at 1")
		}
	}
	switch s.Specifier {
	case "", SpecHeader, SpecText:
	case SpecMIME:
		if len(s.Path) == 0 {
			return bad("MIME needs a part number")
		}
	case SpecHeaderFields, SpecHeaderFieldsNot:
		if len(s.Fields) == 0 {
			return bad("the list of field names is empty")
		}
	default:
		return bad("unknown specifier")
	}
	return nil
}

// fromMessage applies a HEADER, TEXT or HEADER.FIELDS specifier to a
// message.
func fromMessage(m *mail.Part, s Section) []byte { return fromParts(m.HeaderBytes, m.Body, s) }

// fromParts applies a HEADER, TEXT or HEADER.FIELDS specifier to a message
// split into its header block and body.
func fromParts(header, body []byte, s Section) []byte {
	switch s.Specifier {
	case SpecHeader:
		return header
	case SpecText:
		return body
	}
	return filterHeader(header, s.Fields, s.Specifier == SpecHeaderFieldsNot)
}

// resolve finds the part a part number names, or nil.
func resolve(root *mail.Part, path []int) *mail.Part {
	p := inMessage(root, path[0])
	for _, n := range path[1:] {
		switch {
		case p == nil:
			return nil
		case p.IsMultipart():
			p = child(p, n)
		case p.IsMessage():
			p = inMessage(p.Message, n)
		default:
			return nil
		}
	}
	return p
}

// inMessage returns part n of a message: a child of a multipart message,
// or the message itself as part 1 of a message that is not multipart
// (RFC 3501 section 6.4.5: "Every message has at least one part number").
func inMessage(m *mail.Part, n int) *mail.Part {
	if m.IsMultipart() {
		return child(m, n)
	}
	if n == 1 {
		return m
	}
	return nil
}

func child(p *mail.Part, n int) *mail.Part {
	if n < 1 || n > len(p.Children) {
		return nil
	}
	return p.Children[n-1]
}

// filterHeader keeps (or, with not, drops) the fields named in names, with
// their folds, and the empty line that ends the header (RFC 3501 section
// 6.4.5: "Subsetting does not exclude the [RFC-2822] delimiting blank line
// between the header and the body"). Lines that are not fields are dropped
// either way.
func filterHeader(header []byte, names []string, not bool) []byte {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	out := []byte{}
	keep := false
	for pos := 0; pos < len(header); {
		end := bytes.IndexByte(header[pos:], '\n')
		if end < 0 {
			end = len(header)
		} else {
			end += pos + 1
		}
		line := header[pos:end]
		pos = end
		content := bytes.TrimRight(line, "\r\n")
		switch {
		case len(content) == 0:
			return append(out, line...) // the empty line
		case content[0] == ' ' || content[0] == '\t':
			// A fold continues the field above (RFC 5322 section
			// 2.2.3).
		default:
			colon := bytes.IndexByte(content, ':')
			if colon <= 0 {
				keep = false
				break
			}
			name := strings.ToLower(string(bytes.TrimRight(content[:colon], " \t")))
			keep = want[name] != not
		}
		if keep {
			out = append(out, line...)
		}
	}
	return out
}

// Partial returns the octets origin to origin+count-1 of b, for a FETCH of
// BODY[...]<origin.count> (RFC 3501 section 6.4.5): fewer when b ends
// first, none when origin is past the end.
func Partial(b []byte, origin, count int64) []byte {
	if origin < 0 || count <= 0 || origin >= int64(len(b)) {
		return []byte{}
	}
	rest := b[origin:]
	if count < int64(len(rest)) {
		rest = rest[:count]
	}
	return rest
}
