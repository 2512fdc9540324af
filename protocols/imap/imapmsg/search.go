package imapmsg

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/mail"
)

// Candidate is one message as SEARCH sees it.
type Candidate struct {
	SeqNum, UID  uint32
	Flags        []string // `\Seen`, `\Answered`, keywords...; compared case-insensitively
	Recent       bool     // the session sees \Recent on this message
	InternalDate time.Time
	Size         int64 // RFC822.SIZE; when 0, len(Raw) is used
	Raw          []byte
	// Part is the parsed message; nil to let Match parse Raw when a key
	// needs it (Match then keeps the tree here for the next key).
	Part *mail.Part

	header     mail.Header // parsed from Raw for header keys when Part is nil
	headerRaw  []byte
	haveHeader bool
}

// maxSearchDepth bounds the nesting of NOT, OR and parentheses.
const maxSearchDepth = 1000

// Match reports whether c satisfies key (RFC 3501 section 6.4.4). maxSeq and
// maxUID are the largest sequence number and UID in the mailbox, which "*"
// (a 0 in a imap.SeqRange) stands for.
//
// Strings match as case-insensitive substrings: header values after
// decoding RFC 2047 encoded words, bodies of text parts after undoing
// quoted-printable or base64 (and converting ISO-8859-1 to UTF-8). BODY
// looks at the text parts and embedded message headers, not at
// attachments; TEXT adds the message header. Dates compare the day only,
// "disregarding time and timezone": BEFORE, ON and SINCE the day of
// InternalDate in its own location; SENTBEFORE, SENTON and SENTSINCE the
// day written in the Date: header (no Date:, or one that cannot be read,
// matches none of them).
func Match(c *Candidate, key imap.SearchKey, maxSeq, maxUID uint32) bool {
	if c == nil || tooDeep(&key, 0) {
		return false
	}
	return match(c, &key, maxSeq, maxUID)
}

// tooDeep reports whether the key tree nests deeper than maxSearchDepth.
func tooDeep(k *imap.SearchKey, depth int) bool {
	if depth > maxSearchDepth {
		return true
	}
	for i := range k.Keys {
		if tooDeep(&k.Keys[i], depth+1) {
			return true
		}
	}
	return false
}

func match(c *Candidate, k *imap.SearchKey, maxSeq, maxUID uint32) bool {
	switch k.Op {
	case imap.SearchAll:
		return true
	case imap.SearchSeqSet:
		return inSet(k.Set, c.SeqNum, maxSeq)
	case imap.SearchUIDSet:
		return inSet(k.Set, c.UID, maxUID)
	case imap.SearchFlag:
		return c.hasFlag(k.Flag) != k.Not
	case imap.SearchNew:
		// RFC 3501 section 6.4.4: NEW is "functionally equivalent to
		// (RECENT UNSEEN)".
		return c.Recent && !c.hasFlag(`\Seen`)
	case imap.SearchOld:
		return !c.Recent // "functionally equivalent to NOT RECENT"
	case imap.SearchHeader:
		return c.matchHeader(k.Field, newNeedle(k.Value))
	case imap.SearchBody:
		return c.matchBody(newNeedle(k.Value))
	case imap.SearchText:
		n := newNeedle(k.Value)
		return c.matchHeaderText(n) || c.matchBody(n)
	case imap.SearchBefore:
		return dayOf(c.InternalDate) < dayOf(k.Date)
	case imap.SearchOn:
		return dayOf(c.InternalDate) == dayOf(k.Date)
	case imap.SearchSince:
		return dayOf(c.InternalDate) >= dayOf(k.Date)
	case imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		sent, ok := parseDateDay(c.headers().Get("Date"))
		if !ok {
			return false
		}
		want := dayOf(k.Date)
		switch k.Op {
		case imap.SearchSentBefore:
			return sent < want
		case imap.SearchSentOn:
			return sent == want
		}
		return sent >= want
	case imap.SearchLarger:
		return c.size() > k.Size
	case imap.SearchSmaller:
		return c.size() < k.Size
	case imap.SearchNot:
		if len(k.Keys) == 0 {
			return false
		}
		return !match(c, &k.Keys[0], maxSeq, maxUID)
	case imap.SearchOr:
		for i := range k.Keys {
			if match(c, &k.Keys[i], maxSeq, maxUID) {
				return true
			}
		}
		return false
	case imap.SearchAnd:
		for i := range k.Keys {
			if !match(c, &k.Keys[i], maxSeq, maxUID) {
				return false
			}
		}
		return true
	}
	return false
}

// inSet reports whether n is in set; 0 stands for max ("*"), and a range
// may be written either way round (RFC 3501 section 9, seq-range: "2:4"
// and "4:2" are the same). So "559:*" holds the largest UID even when it
// is below 559 (section 6.4.8).
func inSet(set imap.SeqSet, n, max uint32) bool {
	if n == 0 {
		return false
	}
	for _, r := range set {
		lo, hi := r.Start, r.Stop
		if lo == 0 {
			lo = max
		}
		if hi == 0 {
			hi = max
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if lo <= n && n <= hi {
			return true
		}
	}
	return false
}

func (c *Candidate) hasFlag(flag string) bool {
	if strings.EqualFold(flag, `\Recent`) && c.Recent {
		return true
	}
	for _, f := range c.Flags {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

func (c *Candidate) size() int64 {
	if c.Size == 0 {
		return int64(len(c.Raw))
	}
	return c.Size
}

// headers returns the top-level header, parsing no more than needed.
func (c *Candidate) headers() mail.Header {
	if c.Part != nil {
		return c.Part.Header
	}
	c.loadHeader()
	return c.header
}

func (c *Candidate) headerBytes() []byte {
	if c.Part != nil {
		return c.Part.HeaderBytes
	}
	c.loadHeader()
	return c.headerRaw
}

// SetHeader gives Match the message's header when Part is nil, so that
// keys that read header fields need not split Raw: h is the header parsed
// as mail.SplitMessage does, or only some of its fields (as
// mail.ParseHeaderFields returns them) provided they include the Fields of
// SearchNeeds for the key; block is the header block, which only TEXT
// reads (nil when unknown: TEXT needs Raw anyway).
func (c *Candidate) SetHeader(h mail.Header, block []byte) {
	c.header, c.headerRaw, c.haveHeader = h, block, true
}

// Needs is what of a message a search key looks at (see SearchNeeds).
type Needs struct {
	// Body: some key (BODY, TEXT) reads the text of the message, so
	// Candidate.Raw must hold all of it.
	Body bool
	// Fields are the header fields the other keys read: the field of
	// HEADER (and of FROM, TO, CC, BCC, SUBJECT), "Date" for SENTBEFORE,
	// SENTON and SENTSINCE; each once, compared case-insensitively. When
	// Body is false and Fields is empty, Match needs nothing but the
	// Candidate's flags, size, date and numbers.
	Fields []string
}

// SearchNeeds tells what of a message Match reads for key, so that a server
// reads no more than that: with Needs.Body false, a Candidate without Raw
// whose header (SetHeader) holds the Needs.Fields matches exactly as one
// with Raw.
func SearchNeeds(key imap.SearchKey) Needs {
	var n Needs
	if tooDeep(&key, 0) {
		return n // Match matches nothing
	}
	n.collect(&key)
	return n
}

func (n *Needs) collect(k *imap.SearchKey) {
	switch k.Op {
	case imap.SearchBody, imap.SearchText:
		n.Body = true
	case imap.SearchHeader:
		n.addField(k.Field)
	case imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
		n.addField("Date")
	}
	for i := range k.Keys {
		n.collect(&k.Keys[i])
	}
}

func (n *Needs) addField(name string) {
	for _, f := range n.Fields {
		if strings.EqualFold(f, name) {
			return
		}
	}
	n.Fields = append(n.Fields, name)
}

func (c *Candidate) loadHeader() {
	if !c.haveHeader {
		c.header, c.headerRaw, _ = mail.SplitMessage(c.Raw)
		c.haveHeader = true
	}
}

func (c *Candidate) part() *mail.Part {
	if c.Part == nil {
		c.Part, _ = mail.ParseMessage(c.Raw) // usable even with an error
	}
	return c.Part
}

// matchHeader: RFC 3501 section 6.4.4, HEADER: the field exists and its
// text contains the string; an empty string matches any such field.
func (c *Candidate) matchHeader(field string, n needle) bool {
	for _, f := range c.headers().Fields {
		if !strings.EqualFold(f.Name, field) {
			continue
		}
		if n.empty() || n.inString(f.Value) || hasEncodedWord(f.Value) && n.inString(mail.DecodeHeader(f.Value)) {
			return true
		}
	}
	return false
}

// matchHeaderText looks for n anywhere in the header, raw or decoded.
func (c *Candidate) matchHeaderText(n needle) bool {
	if n.empty() || n.in(c.headerBytes()) {
		return true
	}
	for _, f := range c.headers().Fields {
		if hasEncodedWord(f.Value) && n.inString(mail.DecodeHeader(f.Value)) {
			return true
		}
	}
	return false
}

// maxDecodeLen bounds the header values SEARCH decodes: mail.DecodeHeader
// takes time quadratic in a value full of "=?" that never close, and real
// encoded Subjects and address lists are far shorter.
const maxDecodeLen = 4096

// hasEncodedWord reports whether s may hold encoded words worth decoding.
func hasEncodedWord(s string) bool { return len(s) <= maxDecodeLen && strings.Contains(s, "=?") }

// matchBody looks for n in the text parts of the message body.
func (c *Candidate) matchBody(n needle) bool {
	if n.empty() {
		return true
	}
	return bodyContains(c.part(), n, true)
}

func bodyContains(p *mail.Part, n needle, root bool) bool {
	switch {
	case p.IsMultipart():
		for _, ch := range p.Children {
			if bodyContains(ch, n, false) {
				return true
			}
		}
		return false
	case p.IsMessage():
		// The embedded header is part of the outer body.
		m := p.Message
		if n.in(m.HeaderBytes) {
			return true
		}
		for _, f := range m.Header.Fields {
			if hasEncodedWord(f.Value) && n.inString(mail.DecodeHeader(f.Value)) {
				return true
			}
		}
		return bodyContains(m, n, false)
	case p.Type == "text":
		text := p.DecodedBody()
		switch strings.ToLower(p.Params["charset"]) {
		case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252":
			if !utf8.Valid(text) {
				text = latin1ToUTF8(text)
			}
		}
		return n.in(text)
	}
	return false
}

// needle is a search string prepared for case-insensitive search.
type needle struct {
	folded []byte
	ascii  bool
}

func newNeedle(s string) needle {
	b := []byte(s)
	return needle{folded: fold(b, isASCIIBytes(b)), ascii: isASCIIBytes(b)}
}

func (n needle) empty() bool { return len(n.folded) == 0 }

// in reports whether hay contains the needle, ignoring case. The haystack
// is folded once and searched with bytes.Index: linear, whatever the
// input.
func (n needle) in(hay []byte) bool { return contains(n, hay) }

func (n needle) inString(s string) bool { return contains(n, s) }

// contains is needle.in for a string or a byte slice. A short haystack
// folded in ASCII is folded on the stack.
func contains[T string | []byte](n needle, hay T) bool {
	if len(n.folded) > len(hay)*3+3 {
		return false
	}
	ascii := n.ascii || isASCII(hay)
	if ascii && len(hay) <= 256 {
		var buf [256]byte
		f := buf[:len(hay)]
		for i := 0; i < len(hay); i++ {
			c := hay[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			f[i] = c
		}
		return bytes.Contains(f, n.folded)
	}
	return bytes.Contains(fold([]byte(hay), ascii), n.folded)
}

func isASCII[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fold lower-cases b: ASCII only when ascii is true (fast, same length),
// Unicode otherwise.
func fold(b []byte, ascii bool) []byte {
	if !ascii {
		return bytes.ToLower(b)
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// dayOf returns t's calendar day as yyyymmdd, in t's own location.
func dayOf(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

var months = map[string]int{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}

// parseDateDay reads the day of an RFC 5322 date-time (section 3.3:
// [day-of-week ","] day month year time zone) as yyyymmdd, ignoring the
// time and zone. Obsolete forms are accepted (section 4.3): a two-digit
// year is 2000+ below 50 and 1900+ otherwise, a three-digit one 1900+;
// comments and a missing comma are tolerated; so is 2026-01-15.
func parseDateDay(s string) (int, bool) {
	s = strings.ReplaceAll(stripComments(s), ",", " ")
	f := strings.Fields(s)
	if len(f) > 0 && len(f[0]) == 10 && f[0][4] == '-' && f[0][7] == '-' {
		y, err1 := strconv.Atoi(f[0][:4])
		m, err2 := strconv.Atoi(f[0][5:7])
		d, err3 := strconv.Atoi(f[0][8:])
		if err1 != nil || err2 != nil || err3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
			return 0, false
		}
		return y*10000 + m*100 + d, true
	}
	if len(f) > 0 && (f[0][0] < '0' || f[0][0] > '9') {
		f = f[1:] // day-of-week
	}
	if len(f) < 3 {
		return 0, false
	}
	d, err := strconv.Atoi(f[0])
	if err != nil || d < 1 || d > 31 || len(f[0]) > 2 {
		return 0, false
	}
	if len(f[1]) < 3 {
		return 0, false
	}
	m, ok := months[strings.ToLower(f[1][:3])]
	if !ok {
		return 0, false
	}
	y, err := strconv.Atoi(f[2])
	if err != nil || y < 0 || len(f[2]) > 4 {
		return 0, false
	}
	switch len(f[2]) {
	case 2:
		if y < 50 {
			y += 2000
		} else {
			y += 1900
		}
	case 3:
		y += 1900
	}
	return y*10000 + m*100 + d, true
}
