package mail

// This file: the MIME structure of a message (RFC 2045, RFC 2046), as an
// IMAP server needs it for BODYSTRUCTURE and BODY[section].
//
// # Standards
//
// RFC 5322 section 2.1 (header and body), RFC 2045 sections 5 (Content-Type),
// 6 (Content-Transfer-Encoding), 7 (Content-ID), 8 (Content-Description);
// RFC 2046 section 5.1 (multipart, boundaries, digest), section 5.2.1
// (message/rfc822); RFC 2183 (Content-Disposition); RFC 2231 (parameter
// continuations and charsets); RFC 3282 (Content-Language); RFC 2557
// (Content-Location); RFC 1864 (Content-MD5).
//
// # Security
//
// ParseMessage reads messages from anyone: it never panics, works in time
// linear in the size of the message for each nesting level, and refuses to
// nest deeper than MaxMIMEDepth or to make more than MaxMIMEParts parts;
// past those limits the rest is kept as a text/plain leaf, so the message
// stays fetchable.
//
// # Limits
//
// MaxMIMEDepth levels of multipart and message/rfc822, MaxMIMEParts parts, a
// boundary of at most 256 octets (RFC 2046 allows 70), RFC 2231 parameter
// sections numbered below 1000.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMIMEDepth is how deep multiparts and embedded messages may nest; a part
// deeper than this is kept as text/plain.
const MaxMIMEDepth = 50

// MaxMIMEParts bounds the parts one message may have; once reached, further
// multiparts and embedded messages are kept as text/plain leaves.
const MaxMIMEParts = 10000

// maxBoundary bounds the boundary parameter (RFC 2046 section 5.1.1 allows
// 1 to 70 characters; longer ones are accepted up to this).
const maxBoundary = 256

// ErrMIMELimit is wrapped by the error ParseMessage returns when a limit
// (MaxMIMEDepth, MaxMIMEParts) stopped it from parsing the whole structure.
var ErrMIMELimit = errors.New("mail: MIME structure limit reached")

// Part is one node of a message's MIME tree. The root is the message
// itself; its Header is the message header.
type Part struct {
	// Header holds the fields of the part's header. Lines that are not
	// fields are skipped, not fatal.
	Header Header
	// HeaderBytes is the header exactly as written, up to and including
	// the empty line that ends it (absent when the input had none).
	// Body is what follows. Both are slices of the input to ParseMessage.
	HeaderBytes, Body []byte

	// Type and Subtype are the media type, lower-cased: "text", "plain".
	// RFC 2045 section 5.2: text/plain when Content-Type is absent or
	// invalid; message/rfc822 for an untyped part of a multipart/digest
	// (RFC 2046 section 5.1.5).
	Type, Subtype string
	// Params are the Content-Type parameters, names lower-cased. RFC 2231
	// continuations are joined and values in UTF-8, US-ASCII or ISO-8859-1
	// decoded to UTF-8; a value in another charset is kept undecoded under
	// the name with a "*" suffix ("title*": "koi8-r''%F0%D2").
	Params map[string]string

	ID          string // Content-ID, as written
	Description string // Content-Description, as written (encoded words kept)
	// Encoding is Content-Transfer-Encoding, lower-cased; "7bit" when
	// absent (RFC 2045 section 6.1).
	Encoding string
	// Disposition is the Content-Disposition type, lower-cased
	// ("attachment", "inline"), "" when absent; DispositionParams its
	// parameters, decoded like Params.
	Disposition       string
	DispositionParams map[string]string
	Language          string // Content-Language, as written ("en, de")
	Location          string // Content-Location, as written
	MD5               string // Content-MD5, as written

	// Size is the number of octets of Body; Lines the number of lines of
	// Body (a last line without a line ending counts), for text/* and
	// message/rfc822 parts (0 for others).
	Size, Lines int

	// Children are the parts of a multipart, in order.
	Children []*Part
	// Message is the embedded message of a message/rfc822 part.
	Message *Part
}

// IsMultipart reports whether p is a multipart with children.
func (p *Part) IsMultipart() bool { return p.Type == "multipart" && len(p.Children) > 0 }

// IsMessage reports whether p is a message/rfc822 part with its message.
func (p *Part) IsMessage() bool {
	return p.Type == "message" && p.Subtype == "rfc822" && p.Message != nil
}

// ParseMessage parses raw as an Internet message (RFC 5322) and returns its
// MIME tree. Parts point into raw: raw must not change while the tree is in
// use.
//
// ParseMessage is forgiving, as an IMAP server must be with stored mail:
// lines may end in CRLF or a bare LF; header lines that are not fields are
// skipped; a multipart without a boundary, or with no delimiter line in its
// body, is treated as text/plain (RFC 3501 has no way to describe a
// multipart without parts); an unterminated multipart ends at the end of
// its body. It always returns a usable tree. The error is non-nil only when
// a limit (MaxMIMEDepth, MaxMIMEParts) cut the structure short; it wraps
// ErrMIMELimit and the tree is still usable.
func ParseMessage(raw []byte) (*Part, error) {
	ps := &mimeParser{}
	root := ps.parsePart(raw, 0, false)
	if ps.limited != "" {
		return root, fmt.Errorf("%w: %s", ErrMIMELimit, ps.limited)
	}
	return root, nil
}

// SplitMessage splits raw into its header block (the empty line included)
// and body and parses the header leniently, as ParseMessage does, without
// looking at the MIME structure: enough for an ENVELOPE or a header search.
func SplitMessage(raw []byte) (h Header, header, body []byte) {
	header, body = splitHeader(raw)
	return parseHeaderLenient(header), header, body
}

// HeaderEnd returns the length of raw's header block: up to and including
// the first empty line (a line of "\r\n" or "\n" alone, RFC 5322 section
// 2.1), or -1 when raw holds no empty line, in which case SplitMessage takes
// all of raw as header. A reader of a stored message can stop as soon as
// HeaderEnd of what it has read is not -1.
func HeaderEnd(raw []byte) int {
	for pos := 0; pos < len(raw); {
		nl := bytes.IndexByte(raw[pos:], '\n')
		if nl < 0 {
			break
		}
		if nl == 0 || nl == 1 && raw[pos] == '\r' {
			return pos + nl + 1
		}
		pos += nl + 1
	}
	return -1
}

// ParseHeaderFields parses a header block as SplitMessage does, but keeps
// only the fields called one of names (case-insensitive), in their order;
// the others are skipped without being copied. Its result is that of
// SplitMessage with the other fields removed.
func ParseHeaderFields(block []byte, names ...string) Header {
	want := make([][]byte, len(names))
	for i, n := range names {
		want[i] = []byte(n)
	}
	return parseHeaderFunc(block, func(name []byte) bool {
		for _, n := range want {
			if bytes.EqualFold(n, name) {
				return true
			}
		}
		return false
	})
}

type mimeParser struct {
	parts   int
	limited string // why the parse was cut short, "" if it was not
}

func (ps *mimeParser) parsePart(raw []byte, depth int, inDigest bool) *Part {
	ps.parts++
	p := &Part{}
	p.HeaderBytes, p.Body = splitHeader(raw)
	p.Header = parseHeaderLenient(p.HeaderBytes)
	p.Size = len(p.Body)
	p.setContentType(inDigest)

	p.ID = p.Header.Get("Content-ID")
	p.Description = p.Header.Get("Content-Description")
	p.Encoding = "7bit" // RFC 2045 section 6.1: the default.
	if enc := firstToken(p.Header.Get("Content-Transfer-Encoding")); enc != "" {
		p.Encoding = strings.ToLower(enc)
	}
	if d := p.Header.Get("Content-Disposition"); d != "" {
		// RFC 2183 section 2: disposition-type *(";" parameter).
		lx := mimeLexer{s: d}
		if t := lx.token(); t != "" {
			p.Disposition = strings.ToLower(t)
			p.DispositionParams = lx.params()
		}
	}
	p.Language = p.Header.Get("Content-Language")
	p.Location = p.Header.Get("Content-Location")
	p.MD5 = p.Header.Get("Content-MD5")

	switch {
	case p.Type == "multipart":
		if !ps.allow(depth) {
			p.setPlain()
			break
		}
		p.Children = ps.splitMultipart(p.Body, p.Params["boundary"], depth+1, p.Subtype == "digest")
		if len(p.Children) == 0 {
			p.setPlain()
		}
	case p.Type == "message" && p.Subtype == "rfc822":
		if !ps.allow(depth) {
			p.setPlain()
			break
		}
		// RFC 2046 section 5.2.1: the body is a whole message. (A
		// transfer encoding other than 7bit, 8bit or binary is not
		// allowed here; such a body is parsed as it is anyway.)
		p.Message = ps.parsePart(p.Body, depth+1, false)
	}
	if p.Type == "text" || p.Type == "message" && p.Subtype == "rfc822" {
		p.Lines = countLines(p.Body)
	}
	return p
}

// allow reports whether a part at depth may have parts of its own.
func (ps *mimeParser) allow(depth int) bool {
	switch {
	case depth >= MaxMIMEDepth:
		ps.limited = fmt.Sprintf("more than %d levels of nesting", MaxMIMEDepth)
		return false
	case ps.parts >= MaxMIMEParts:
		ps.limited = fmt.Sprintf("more than %d parts", MaxMIMEParts)
		return false
	}
	return true
}

// setPlain turns p into a text/plain leaf.
func (p *Part) setPlain() {
	p.Type, p.Subtype = "text", "plain"
	p.Children, p.Message = nil, nil
	delete(p.Params, "boundary")
}

// setContentType fills Type, Subtype and Params from Content-Type.
func (p *Part) setContentType(inDigest bool) {
	ct := p.Header.Get("Content-Type")
	if ct == "" {
		if inDigest {
			// RFC 2046 section 5.1.5: in a digest the default is
			// message/rfc822.
			p.Type, p.Subtype = "message", "rfc822"
			return
		}
		// RFC 2045 section 5.2: "Content-type: text/plain;
		// charset=us-ascii" is assumed.
		p.Type, p.Subtype = "text", "plain"
		p.Params = map[string]string{"charset": "us-ascii"}
		return
	}
	lx := mimeLexer{s: ct}
	t := lx.token()
	lx.skipCFWS()
	ok := t != "" && lx.consume('/')
	lx.skipCFWS()
	st := lx.token()
	if !ok || st == "" {
		// RFC 2045 section 5.2: the default is also recommended for a
		// syntactically invalid Content-Type.
		p.Type, p.Subtype = "text", "plain"
		p.Params = map[string]string{"charset": "us-ascii"}
		return
	}
	p.Type, p.Subtype = strings.ToLower(t), strings.ToLower(st)
	p.Params = lx.params()
}

// splitMultipart cuts the body of a multipart into parts (RFC 2046 section
// 5.1.1) and parses each. It returns nil when no delimiter line is found.
func (ps *mimeParser) splitMultipart(body []byte, boundary string, depth int, digest bool) []*Part {
	if boundary == "" || len(boundary) > maxBoundary {
		return nil
	}
	dash := []byte("--" + boundary)
	var (
		parts []*Part
		start = -1 // start of the current part's content, -1 before the first delimiter
	)
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], dash)
		if i < 0 {
			break
		}
		i += pos
		pos = i + len(dash)
		// RFC 2046 section 5.1.1: the delimiter is at the start of a
		// line ...
		if i > 0 && body[i-1] != '\n' {
			continue
		}
		lineEnd := bytes.IndexByte(body[pos:], '\n')
		if lineEnd < 0 {
			lineEnd = len(body)
		} else {
			lineEnd += pos + 1
		}
		rest := body[pos:lineEnd]
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		// ... followed only by optional linear white space (transport
		// padding) up to the end of the line.
		if len(bytes.Trim(rest, " \t\r\n")) != 0 {
			continue
		}
		if start >= 0 {
			// The line break before the delimiter belongs to the
			// delimiter, not to the part.
			end := i
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			if ps.parts >= MaxMIMEParts {
				ps.limited = fmt.Sprintf("more than %d parts", MaxMIMEParts)
				return parts
			}
			parts = append(parts, ps.parsePart(body[start:end], depth, digest))
		}
		if closing {
			return parts
		}
		start = lineEnd
		pos = lineEnd
	}
	if start >= 0 && start <= len(body) {
		// No close delimiter: the last part runs to the end.
		if ps.parts >= MaxMIMEParts {
			ps.limited = fmt.Sprintf("more than %d parts", MaxMIMEParts)
			return parts
		}
		parts = append(parts, ps.parsePart(body[start:], depth, digest))
	}
	return parts
}

// splitHeader cuts raw after the empty line that ends the header (RFC 5322
// section 2.1); without one, all of raw is header.
func splitHeader(raw []byte) (header, body []byte) {
	if end := HeaderEnd(raw); end >= 0 {
		return raw[:end], raw[end:]
	}
	return raw, raw[len(raw):]
}

// parseHeaderLenient parses a header block, skipping lines that are not
// fields (and their continuations) instead of giving up.
func parseHeaderLenient(block []byte) Header { return parseHeaderFunc(block, nil) }

// parseHeaderFunc is parseHeaderLenient keeping only the fields whose name
// (as parseField reads it) keep accepts; nil keeps them all.
func parseHeaderFunc(block []byte, keep func(name []byte) bool) Header {
	var h Header
	var cur []byte
	curLn, lineNo := 0, 0
	flush := func() {
		if cur != nil {
			if f, err := parseField(cur, curLn); err == nil {
				h.Fields = append(h.Fields, f)
			}
		}
		cur = nil
	}
	for pos := 0; pos < len(block); {
		end := bytes.IndexByte(block[pos:], '\n')
		if end < 0 {
			end = len(block)
		} else {
			end += pos + 1
		}
		line := block[pos:end]
		pos = end
		lineNo++
		content := bytes.TrimRight(line, "\r\n")
		switch {
		case len(content) == 0:
			flush()
			return h
		case content[0] == ' ' || content[0] == '\t':
			// RFC 5322 section 2.2.3: a continuation line. One that
			// comes before any field is dropped.
			if cur != nil {
				cur = append(cur, line...)
			}
		default:
			flush()
			if keep != nil {
				colon := bytes.IndexByte(content, ':')
				if colon < 0 || !keep(bytes.TrimRight(content[:colon], " \t")) {
					break // cur stays nil: its continuations are dropped too
				}
			}
			cur = append([]byte(nil), line...)
			curLn = lineNo
		}
	}
	flush()
	return h
}

// countLines counts the lines of b: its line feeds, plus a last line
// without one.
func countLines(b []byte) int {
	n := bytes.Count(b, []byte{'\n'})
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// firstToken returns the first token of a structured field value, comments
// skipped.
func firstToken(s string) string {
	lx := mimeLexer{s: s}
	return lx.token()
}

// mimeLexer reads the structured MIME fields of RFC 2045 section 5.1:
// tokens, quoted strings, tspecials, with comments and white space (CFWS,
// RFC 5322 section 3.2.2) between them.
type mimeLexer struct {
	s   string
	pos int
}

// skipCFWS skips white space and (nested) comments.
func (lx *mimeLexer) skipCFWS() {
	for lx.pos < len(lx.s) {
		switch c := lx.s[lx.pos]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			lx.pos++
		case c == '(':
			depth := 0
			for lx.pos < len(lx.s) {
				c := lx.s[lx.pos]
				lx.pos++
				switch {
				case c == '\\':
					lx.pos++ // quoted-pair
				case c == '(':
					depth++
				case c == ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if lx.pos > len(lx.s) {
				lx.pos = len(lx.s)
			}
		default:
			return
		}
	}
}

// isTSpecial reports the tspecials of RFC 2045 section 5.1.
func isTSpecial(c byte) bool {
	return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0
}

// token reads a token (RFC 2045 section 5.1) after optional CFWS.
func (lx *mimeLexer) token() string {
	lx.skipCFWS()
	start := lx.pos
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		if c <= ' ' || c == 0x7f || isTSpecial(c) {
			break
		}
		lx.pos++
	}
	return lx.s[start:lx.pos]
}

// consume skips c if it comes next.
func (lx *mimeLexer) consume(c byte) bool {
	if lx.pos < len(lx.s) && lx.s[lx.pos] == c {
		lx.pos++
		return true
	}
	return false
}

// value reads a parameter value: a token or a quoted string (RFC 2045
// section 5.1).
func (lx *mimeLexer) value() (string, bool) {
	lx.skipCFWS()
	if lx.pos >= len(lx.s) {
		return "", false
	}
	if lx.s[lx.pos] != '"' {
		t := lx.token()
		return t, t != ""
	}
	// RFC 5322 section 3.2.4: quoted-string, with quoted-pairs.
	lx.pos++
	var b strings.Builder
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		lx.pos++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if lx.pos < len(lx.s) {
				b.WriteByte(lx.s[lx.pos])
				lx.pos++
			}
		case '\r', '\n':
			// Folding inside the quotes: unfold.
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true // unterminated: take what there is
}

// skipTo moves past the next c (or to the end).
func (lx *mimeLexer) skipTo(c byte) {
	for lx.pos < len(lx.s) {
		if lx.s[lx.pos] == '"' {
			lx.value()
			continue
		}
		lx.pos++
		if lx.s[lx.pos-1] == c {
			return
		}
	}
}

// rfc2231Section is one piece of a parameter split by RFC 2231 section 3.
type rfc2231Section struct {
	value    string
	extended bool // written name*n*=, percent-encoded
}

// params reads *(";" attribute "=" value) (RFC 2045 section 5.1) and joins
// RFC 2231 continuations. Malformed parameters are skipped. The first of
// two parameters with the same name wins.
func (lx *mimeLexer) params() map[string]string {
	out := map[string]string{}
	split := map[string]map[int]rfc2231Section{}
	var order []string
	for {
		lx.skipCFWS()
		if lx.pos >= len(lx.s) {
			break
		}
		if !lx.consume(';') {
			// Tolerate a missing ";" before a parameter, but not
			// garbage: skip to the next ";".
			if lx.s[lx.pos] == '"' || isTSpecial(lx.s[lx.pos]) {
				lx.skipTo(';')
				continue
			}
		}
		name := strings.ToLower(lx.token())
		lx.skipCFWS()
		if name == "" || !lx.consume('=') {
			lx.skipTo(';')
			continue
		}
		v, ok := lx.value()
		if !ok {
			lx.skipTo(';')
			continue
		}
		// RFC 2231 section 3: name*0, name*1*, ...; section 4: name*.
		if star := strings.IndexByte(name, '*'); star > 0 {
			base, suffix := name[:star], name[star+1:]
			ext := strings.HasSuffix(suffix, "*") || suffix == ""
			num := strings.TrimSuffix(suffix, "*")
			n := 0
			if num != "" {
				var err error
				n, err = strconv.Atoi(num)
				if err != nil || n < 0 || n >= 1000 || (len(num) > 1 && num[0] == '0') {
					continue
				}
			}
			if split[base] == nil {
				split[base] = map[int]rfc2231Section{}
				order = append(order, base)
			}
			if _, dup := split[base][n]; !dup {
				split[base][n] = rfc2231Section{value: v, extended: ext}
			}
			continue
		}
		if _, dup := out[name]; !dup {
			out[name] = v
		}
	}
	for _, base := range order {
		secs := split[base]
		var raw strings.Builder
		charset, lang := "", ""
		extended := false
		for n := 0; ; n++ {
			s, ok := secs[n]
			if !ok {
				break
			}
			v := s.value
			if s.extended {
				extended = true
				if n == 0 {
					// RFC 2231 section 4: charset'language'value.
					if a, rest, ok := strings.Cut(v, "'"); ok {
						if l, rest2, ok := strings.Cut(rest, "'"); ok {
							charset, lang, v = a, l, rest2
						}
					}
				}
			} else if extended {
				// A plain section after an extended one: percent-encode
				// it so the whole can be decoded at once.
				v = percentEncode(v)
			}
			raw.WriteString(v)
		}
		if raw.Len() == 0 && len(secs) == 0 {
			continue
		}
		if !extended {
			out[base] = raw.String() // RFC 2231 section 3 only: no charset
			continue
		}
		if dec, ok := decode2231(charset, raw.String()); ok {
			out[base] = dec // extended form beats the plain one
		} else {
			out[base+"*"] = charset + "'" + lang + "'" + raw.String()
		}
	}
	return out
}

// percentEncode writes every byte that is not a letter, digit or one of
// "-._~" as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// decode2231 undoes the %XX escapes of an RFC 2231 value and converts it
// to UTF-8; ok is false for charsets it does not know.
func decode2231(charset, v string) (string, bool) {
	raw := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			h, ok1 := unhex(v[i+1])
			l, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				raw = append(raw, h<<4|l)
				i += 2
				continue
			}
		}
		raw = append(raw, v[i])
	}
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "":
		return string(raw), true
	case "iso-8859-1", "latin1", "iso_8859-1":
		return latin1ToUTF8(raw), true
	}
	return "", false
}

// latin1ToUTF8 converts ISO-8859-1 text to UTF-8.
func latin1ToUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// DecodedBody returns the body of p with its transfer encoding undone
// (RFC 2045 section 6.7 quoted-printable, section 6.8 base64); other
// encodings come back as they are. Decoding is lenient: an invalid escape
// or base64 character is kept or skipped rather than failing, since the
// result is for searching and showing.
func (p *Part) DecodedBody() []byte {
	switch p.Encoding {
	case "base64":
		return decodeBase64Lenient(p.Body)
	case "quoted-printable":
		return decodeQP(p.Body)
	}
	return p.Body
}

// decodeBase64Lenient decodes base64, skipping characters outside the
// alphabet (RFC 2045 section 6.8: they must be ignored) and stopping at
// padding.
func decodeBase64Lenient(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			goto done
		}
	}
done:
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1] // a lone sextet holds no whole octet
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeQP decodes quoted-printable (RFC 2045 section 6.7): "=XX" is an
// octet, "=" at the end of a line a soft line break; white space at the
// end of a line is dropped (rule 3). Invalid escapes are kept as written.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		var line, eol []byte
		if nl < 0 {
			line, b = b, nil
		} else {
			line, eol, b = b[:nl], []byte("\r\n"), b[nl+1:]
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 0 && line[len(line)-1] == '=' {
			line, eol = line[:len(line)-1], nil // soft line break
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) {
				h, ok1 := unhex(line[i+1])
				l, ok2 := unhex(line[i+2])
				if ok1 && ok2 {
					out = append(out, h<<4|l)
					i += 2
					continue
				}
			}
			out = append(out, c)
		}
		out = append(out, eol...)
	}
	return out
}
