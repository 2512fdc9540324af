package mail

// This file: the header block of a message (RFC 5322 section 2.2) and
// encoded words for non-ASCII text in it (RFC 2047).
//
// # Standards
//
// RFC 5322 section 2.1.1 (line length), section 2.2 (header fields),
// section 2.2.3 (folding and unfolding), section 3.2.4 (quoted strings),
// section 3.4 (display names), section 4.5 (obsolete white space before the
// colon); RFC 2047 sections 2, 4 and 5 (encoded words), section 6.2
// (white space between adjacent encoded words is ignored).
//
// # Security
//
// ParseHeader reads text that came from the network: it stops at
// DefaultMaxHeaderBytes (or the limit given) and never panics. DecodeHeader
// is for display: control characters (ESC included) and invalid UTF-8 come
// out as U+FFFD, so a decoded Subject cannot drive a terminal. EncodeWord
// never lets CR or LF through as such, so a Subject cannot add header fields.
//
// # Limits
//
// A header block is at most DefaultMaxHeaderBytes octets unless
// ParseHeaderMax says otherwise. Encoded words produced here are at most
// 62 characters, below the 75 of RFC 2047 section 2.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxHeaderBytes bounds the header block ParseHeader reads: 100 KiB,
// the value of Postfix's header_size_limit.
const DefaultMaxHeaderBytes = 102400

// ErrHeaderTooLarge is returned when the header block exceeds its limit.
var ErrHeaderTooLarge = errors.New("mail: header too large")

// HeaderError reports a line that is not a header field.
type HeaderError struct {
	Line   int    // 1-based line number in the header block
	Reason string // e.g. "no colon after the field name"
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("mail: header line %d: %s", e.Line, e.Reason)
}

// Field is one header field, in the order it appeared.
type Field struct {
	// Name is the field name as written ("Subject", "SUBJECT"...). Names
	// compare case-insensitively (RFC 5322 section 1.2.2).
	Name string
	// Value is the unfolded body of the field (RFC 5322 section 2.2.3),
	// white space around it removed, encoded words kept as they are: use
	// DecodeHeader to show it to a person.
	Value string
	// Raw is the field exactly as it crossed the wire: folds and line
	// endings included.
	Raw string
}

// Header is a message's header block: its fields in order.
type Header struct {
	Fields []Field
}

// Get returns the value of the first field called name (case-insensitive),
// or "" when there is none.
func (h Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns the values of every field called name (case-insensitive),
// in order: a message has one Received field per hop, newest first.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// ParseHeader reads a header block from r, up to and including the first
// empty line (RFC 5322 section 2.1: the header ends at the first empty
// line), or to the end of r when no empty line comes. It reads at most
// DefaultMaxHeaderBytes. When r is a *bufio.Reader it is read no further
// than the empty line, so the caller can go on reading the body from it.
//
// Lines may end in CRLF or a bare LF.
func ParseHeader(r io.Reader) (Header, error) {
	return ParseHeaderMax(r, DefaultMaxHeaderBytes)
}

// ParseHeaderMax is ParseHeader with a limit on the octets of the header
// block (empty line included); max <= 0 means DefaultMaxHeaderBytes.
func ParseHeaderMax(r io.Reader, max int) (Header, error) {
	if max <= 0 {
		max = DefaultMaxHeaderBytes
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var (
		h      Header
		cur    []byte // raw bytes of the field being read
		curLn  int
		used   int
		lineNo int
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		f, err := parseField(cur, curLn)
		if err != nil {
			return err
		}
		h.Fields = append(h.Fields, f)
		cur = nil
		return nil
	}
	for {
		line, err := readHeaderLine(br, max-used)
		if err != nil && !errors.Is(err, io.EOF) {
			return h, err
		}
		used += len(line)
		if len(line) > 0 {
			lineNo++
		}
		content := bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0 || len(content) == 0 && len(line) > 0:
			// End of input, or the empty line that ends the header.
			return h, finish()
		case content[0] == ' ' || content[0] == '\t':
			// RFC 5322 section 2.2.3: a line starting with white space
			// continues the field above it (folding).
			if cur == nil {
				return h, &HeaderError{Line: lineNo, Reason: "continuation line before any field"}
			}
			cur = append(cur, line...)
		default:
			if err := finish(); err != nil {
				return h, err
			}
			cur = append([]byte(nil), line...)
			curLn = lineNo
		}
		if errors.Is(err, io.EOF) {
			return h, finish()
		}
	}
}

// readHeaderLine reads one line with its ending, or the last bytes before
// EOF (with io.EOF). It fails with ErrHeaderTooLarge past room octets.
func readHeaderLine(br *bufio.Reader, room int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > room {
			return nil, ErrHeaderTooLarge
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return line, io.EOF
		default:
			return nil, fmt.Errorf("mail: reading header: %w", err)
		}
	}
}

// parseField splits one raw (possibly folded) field into name and value.
func parseField(raw []byte, line int) (Field, error) {
	colon := bytes.IndexByte(raw, ':')
	if colon < 0 {
		return Field{}, &HeaderError{Line: line, Reason: "no colon after the field name"}
	}
	// RFC 5322 section 4.5 (obs-optional): white space before the colon is
	// obsolete but must be accepted.
	name := bytes.TrimRight(raw[:colon], " \t")
	if len(name) == 0 {
		return Field{}, &HeaderError{Line: line, Reason: "empty field name"}
	}
	for _, c := range name {
		// RFC 5322 section 2.2: printable US-ASCII except colon.
		if c < 33 || c > 126 {
			return Field{}, &HeaderError{Line: line, Reason: fmt.Sprintf("byte 0x%02x in the field name", c)}
		}
	}
	return Field{
		Name:  string(name),
		Value: strings.Trim(unfold(string(raw[colon+1:])), " \t"),
		Raw:   string(raw),
	}, nil
}

// unfold removes the line breaks of a folded value (RFC 5322 section
// 2.2.3: unfolding removes the CRLF and keeps the white space after it).
// Bare CRs and LFs, which RFC 5322 does not allow in a field, go too, so a
// value never holds a line break.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maxWordLen is the length of the encoded words EncodeWord makes: below the
// 75 of RFC 2047 section 2, short enough that "Subject: " or any field name
// of up to 14 characters plus ": " and one word fit in 78 (RFC 5322 section
// 2.1.1).
const maxWordLen = 62

// needsEncoding reports whether s cannot go into a header as it is: it has
// bytes outside printable US-ASCII (tab and space allowed), or looks like an
// encoded word already and would be decoded by mistake.
func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

// qSafe reports the bytes a Q-encoded word may carry as themselves in any
// position, phrases included (RFC 2047 section 5 rule (3)).
func qSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

// mostlyASCII reports whether at least half of the characters of s are
// ASCII.
func mostlyASCII(s string) bool {
	ascii, all := 0, 0
	for _, r := range s {
		all++
		if r < utf8.RuneSelf {
			ascii++
		}
	}
	return 2*ascii >= all
}

func qLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if qSafe(s[i]) || s[i] == ' ' {
			n++
		} else {
			n += 3
		}
	}
	return n
}

func qAppend(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case qSafe(c):
			b = append(b, c)
		case c == ' ':
			// RFC 2047 section 4.2 (2): "_" stands for a space.
			b = append(b, '_')
		default:
			b = append(b, '=', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// EncodeWord returns s ready for an unstructured header field (Subject) or
// a display name: s itself when it is printable US-ASCII, otherwise UTF-8
// encoded words (RFC 2047): Q encoding ("=?UTF-8?q?Reuni=C3=B3n?="), which a
// class can still read, when at least half of the characters are ASCII,
// B (base64, shorter for other scripts) otherwise.
//
// Long text is split into several words of at most 62 characters, each
// holding whole characters (RFC 2047 section 5), separated by CRLF and a
// space: a fold (RFC 5322 section 2.2.3), so that every line stays within
// 78 characters. Decoders drop the white space between adjacent encoded
// words (RFC 2047 section 6.2), so the text comes back unchanged.
//
// Invalid UTF-8 in s is encoded byte for byte, as it is. Plain ASCII text
// longer than a line is not folded here.
func EncodeWord(s string) string {
	if !needsEncoding(s) {
		return s
	}
	const qPrefix, bPrefix, suffix = "=?UTF-8?q?", "=?UTF-8?b?", "?="
	room := maxWordLen - len(qPrefix) - len(suffix)
	useQ := mostlyASCII(s)
	var words []string
	rest := s
	for rest != "" {
		// Take as many whole characters as fit in one word.
		n := 0
		for n < len(rest) {
			_, size := utf8.DecodeRuneInString(rest[n:])
			var l int
			if useQ {
				l = qLen(rest[:n+size])
			} else {
				l = base64.StdEncoding.EncodedLen(n + size)
			}
			if l > room && n > 0 {
				break
			}
			n += size
		}
		chunk := rest[:n]
		rest = rest[n:]
		var w []byte
		if useQ {
			w = qAppend([]byte(qPrefix), chunk)
		} else {
			w = append([]byte(bPrefix), base64.StdEncoding.EncodeToString([]byte(chunk))...)
		}
		words = append(words, string(append(w, suffix...)))
	}
	return strings.Join(words, "\r\n ")
}

// FormatAddress returns a mailbox for a From, To or Cc field (RFC 5322
// section 3.4): `"Alice Ruiz" <alice@a.test>`, `=?UTF-8?q?Jos=C3=A9?=
// <jose@a.test>` when the name is not ASCII, or the bare address when name
// is empty. addr must already be a valid addr-spec; it is not checked here.
func FormatAddress(name, addr string) string {
	if name == "" {
		return addr
	}
	if needsEncoding(name) {
		return EncodeWord(name) + " <" + addr + ">"
	}
	// RFC 5322 section 3.2.4: inside a quoted string, '"' and '\' are
	// written as quoted-pairs.
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' || name[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	b.WriteString(`" <`)
	b.WriteString(addr)
	b.WriteByte('>')
	return b.String()
}

// DecodeHeader returns a header field value ready to show a person: folds
// removed, RFC 2047 encoded words in UTF-8, US-ASCII or ISO-8859-1 decoded
// (others are left as written), the white space between two adjacent
// encoded words dropped (RFC 2047 section 6.2). Control characters and
// invalid UTF-8 become U+FFFD (tab becomes a space).
func DecodeHeader(s string) string {
	type segment struct {
		text string
		word bool // decoded from an encoded word
	}
	var segs []segment
	s = unfold(s)
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			segs = append(segs, segment{text: s})
			break
		}
		text, rest, ok := decodeWord(s[i:])
		if !ok {
			// Not an encoded word: keep "=?" as it is and go on after it.
			segs = append(segs, segment{text: s[:i+2]})
			s = s[i+2:]
			continue
		}
		if i > 0 {
			segs = append(segs, segment{text: s[:i]})
		}
		segs = append(segs, segment{text: text, word: true})
		s = rest
	}
	var b strings.Builder
	for i, sg := range segs {
		// RFC 2047 section 6.2: white space between adjacent encoded words
		// is not displayed.
		if !sg.word && i > 0 && i+1 < len(segs) && segs[i-1].word && segs[i+1].word &&
			strings.Trim(sg.text, " \t") == "" {
			continue
		}
		b.WriteString(sg.text)
	}
	return sanitize(b.String())
}

// maxEncodedWord bounds the search for the parts of an encoded word. RFC
// 2047 allows 75 characters; real mail sometimes has longer ones, so the
// bound is generous.
const maxEncodedWord = 1024

// decodeWord decodes the encoded word at the start of s
// ("=?charset?encoding?text?=", RFC 2047 section 2) and returns the text
// and what follows the word.
func decodeWord(s string) (text, rest string, ok bool) {
	// s starts with "=?".
	body := s[2:]
	if len(body) > maxEncodedWord {
		// RFC 2047 section 2: an encoded word is at most 75 characters, so
		// its end is near. Looking no further keeps a header full of "=?"
		// that never close linear instead of quadratic.
		body = body[:maxEncodedWord]
	}
	q1 := strings.IndexByte(body, '?')
	if q1 <= 0 || q1+3 > len(body) || body[q1+2] != '?' {
		return "", "", false
	}
	charset := strings.ToLower(body[:q1])
	if star := strings.IndexByte(charset, '*'); star >= 0 {
		charset = charset[:star] // RFC 2231 section 5: charset*language
	}
	enc := body[q1+1]
	payload := body[q1+3:]
	end := strings.Index(payload, "?=")
	if end < 0 {
		return "", "", false
	}
	encoded := payload[:end]
	if strings.ContainsAny(encoded, " \t\r\n") {
		return "", "", false
	}
	rest = s[2+q1+3+end+2:] // body and payload may be cut short: index s itself
	var raw []byte
	switch enc {
	case 'q', 'Q':
		var err error
		raw, err = qDecode(encoded)
		if err != nil {
			return "", "", false
		}
	case 'b', 'B':
		var err error
		raw, err = base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			// Some senders leave the padding out.
			raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
			if err != nil {
				return "", "", false
			}
		}
	default:
		return "", "", false
	}
	switch charset {
	case "utf-8", "utf8", "us-ascii":
		return string(raw), rest, true
	case "iso-8859-1", "latin1", "iso_8859-1":
		r := make([]rune, len(raw))
		for i, c := range raw {
			r[i] = rune(c)
		}
		return string(r), rest, true
	}
	return "", "", false
}

func qDecode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=':
			if i+2 >= len(s) {
				return nil, errors.New("short escape")
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errors.New("bad escape")
			}
			out = append(out, h<<4|l)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// sanitize makes s safe to print: invalid UTF-8 and control characters
// become U+FFFD, tabs become spaces.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// DateLayout is the RFC 5322 section 3.3 date-time layout, with a numeric
// zone: "Thu, 15 Jan 2026 10:30:00 +0100".
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// Received holds what one hop writes in its Received trace field (RFC 5321
// section 4.4).
type Received struct {
	From   string    // the name the client gave in HELO, EHLO or LHLO
	FromIP string    // the client's IP address ("127.0.0.1", "IPv6:::1"); "" for none
	By     string    // the receiving host's name
	With   string    // "ESMTP", "SMTP", "LMTP" (RFC 3848 protocol types)
	ID     string    // the receiver's id for the message (queue id)
	For    Path      // the one recipient, or the zero Path for none
	Date   time.Time // when the message was received
}

// String returns the field, folded over three lines and ending in CRLF:
//
//	Received: from mua.a.test ([127.0.0.1])
//		by mx.a.test (maillab) with ESMTP id 4F2A9C31B0D7
//		for <bob@b.test>; Thu, 15 Jan 2026 10:30:00 +0100
//
// The client's address is written as an address literal (RFC 5321 section
// 4.4, TCP-info); FOR names at most one path (section 4.4 again).
func (r Received) String() string {
	from := r.From
	if from == "" {
		from = "unknown"
	}
	var b strings.Builder
	b.WriteString("Received: from " + from)
	if r.FromIP != "" {
		b.WriteString(" ([" + r.FromIP + "])")
	}
	b.WriteString("\r\n\tby " + r.By + " (maillab)")
	if r.With != "" {
		b.WriteString(" with " + r.With)
	}
	if r.ID != "" {
		b.WriteString(" id " + r.ID)
	}
	b.WriteString("\r\n\t")
	if !r.For.IsNull() {
		b.WriteString("for " + r.For.Bracketed() + "; ")
	} else {
		b.WriteString("; ")
	}
	b.WriteString(r.Date.Format(DateLayout) + "\r\n")
	return b.String()
}
