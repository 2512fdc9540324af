package mua

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maillab/maillab/protocols/mail"
)

// Draft is a message as a user writes it.
type Draft struct {
	// From is the author: "Alice Ruiz <alice@a.test>", "\"Ruiz, Alice\"
	// <alice@a.test>" or "alice@a.test". Its address is also the envelope
	// sender (MAIL FROM).
	From string
	// To, Cc and Bcc are recipients in the same forms. Bcc recipients get
	// the message but appear only in the envelope, never in the header.
	To, Cc, Bcc []string
	Subject     string
	// Body is UTF-8 text; line endings may be LF or CRLF.
	Body string
	// Date is the Date field; zero means the now given to Compose.
	Date time.Time
	// MessageID is the Message-ID, with or without angle brackets; ""
	// means a new unique one "<...@hostname>".
	MessageID string
	// Headers are extra fields, added after the standard ones in order
	// ({"X-Lab", "exercise 3"}). Fields Compose writes itself (Date, From,
	// To, Cc, Bcc, Subject, Message-ID, MIME-Version, Content-*) are
	// refused. A non-ASCII value is written as encoded words, which is
	// right only for unstructured fields.
	Headers [][2]string
}

// MaxLineBytes is the longest line RFC 5322 section 2.1.1 allows, without
// its CRLF.
const MaxLineBytes = 998

// own lists the fields Compose writes, lower case.
var own = map[string]bool{
	"date": true, "from": true, "to": true, "cc": true, "bcc": true, "subject": true,
	"message-id": true, "mime-version": true, "content-type": true, "content-transfer-encoding": true,
}

type composeOptions struct {
	// sevenBit asks for quoted-printable for any non-ASCII body, for a
	// server without 8BITMIME (RFC 6152 section 3).
	sevenBit bool
}

// Compose builds the RFC 5322 message for d, with CRLF line endings:
//
//	Date: Thu, 01 Jan 2026 10:00:00 +0100      (RFC 5322 section 3.3)
//	From: "Alice Ruiz" <alice@a.test>
//	To: bob@b.test
//	Cc: ...                                    (never Bcc)
//	Subject: =?UTF-8?q?Reuni=C3=B3n?=          (RFC 2047 when not ASCII)
//	Message-ID: <...@hostname>                 (RFC 5322 section 3.6.4)
//	MIME-Version: 1.0                          (RFC 2045 section 4)
//	Content-Type: text/plain; charset=UTF-8    (us-ascii for ASCII text)
//	Content-Transfer-Encoding: 8bit            (7bit for ASCII text)
//
// The body always ends with CRLF (SMTP adds one anyway, RFC 5321 section
// 4.1.1.4, so the stored message is exactly what Compose returned).
//
// A body line longer than 998 octets (RFC 5322 section 2.1.1) cannot travel
// as it is: Compose then encodes the whole body as quoted-printable (RFC 2045
// section 6.7), whose soft line breaks keep lines within 76 characters, and
// says so in Content-Transfer-Encoding. A body that is not valid UTF-8 or
// holds NUL is an error.
func Compose(d Draft, hostname string, now time.Time) ([]byte, error) {
	return compose(d, hostname, now, composeOptions{})
}

func compose(d Draft, hostname string, now time.Time, o composeOptions) ([]byte, error) {
	if hostname == "" {
		return nil, errors.New("mua: compose: empty hostname")
	}
	fromName, from, err := ParseMailbox(d.From)
	if err != nil {
		return nil, fmt.Errorf("mua: compose: From: %w", err)
	}
	to, err := formatList(d.To)
	if err != nil {
		return nil, fmt.Errorf("mua: compose: To: %w", err)
	}
	cc, err := formatList(d.Cc)
	if err != nil {
		return nil, fmt.Errorf("mua: compose: Cc: %w", err)
	}
	if _, err := formatList(d.Bcc); err != nil {
		return nil, fmt.Errorf("mua: compose: Bcc: %w", err)
	}
	if len(d.To)+len(d.Cc)+len(d.Bcc) == 0 {
		return nil, errors.New("mua: compose: no recipients")
	}
	if !utf8.ValidString(d.Body) {
		return nil, errors.New("mua: compose: the body is not valid UTF-8")
	}
	if strings.IndexByte(d.Body, 0) >= 0 {
		// RFC 5322 section 2.3 and RFC 2045 section 2.8: no NUL in text.
		return nil, errors.New("mua: compose: the body holds a NUL byte")
	}
	msgID, err := messageID(d.MessageID, hostname, now)
	if err != nil {
		return nil, err
	}
	date := d.Date
	if date.IsZero() {
		date = now
	}

	body, cte, charset := encodeBody(d.Body, o)

	var b strings.Builder
	field := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	// RFC 5322 section 3.3: day-name, day month year, time, numeric zone.
	field("Date", date.Format(mail.DateLayout))
	field("From", mail.FormatAddress(fromName, from.String()))
	if to != nil {
		field("To", foldList(len("To: "), to))
	}
	if cc != nil {
		field("Cc", foldList(len("Cc: "), cc))
	}
	// Bcc is never written: RFC 5322 section 3.6.3 lets it be removed, and
	// a lab MUA shows the simplest, safest choice.
	if d.Subject != "" {
		field("Subject", mail.EncodeWord(d.Subject))
	}
	field("Message-ID", msgID)
	for _, h := range d.Headers {
		name, value := h[0], h[1]
		if err := checkFieldName(name); err != nil {
			return nil, err
		}
		if own[strings.ToLower(name)] {
			return nil, fmt.Errorf("mua: compose: header %q is written by Compose itself", name)
		}
		// EncodeWord turns CR and LF into encoded text: a value cannot
		// start another field.
		field(name, mail.EncodeWord(value))
	}
	field("MIME-Version", "1.0")
	field("Content-Type", "text/plain; charset="+charset)
	field("Content-Transfer-Encoding", cte)
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String()), nil
}

// ParseMailbox splits "Alice Ruiz <alice@a.test>", "\"Ruiz, A\"
// <alice@a.test>", "<alice@a.test>" or "alice@a.test" into display name and
// address. The address is checked with mail.ParseAddress.
func ParseMailbox(s string) (name string, addr mail.Path, err error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, ">") {
		if i := strings.LastIndexByte(t, '<'); i > 0 {
			name = strings.TrimSpace(t[:i])
			t = t[i:]
			if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
				name = unquote(name[1 : len(name)-1])
			}
		}
	}
	addr, err = mail.ParseAddress(t)
	if err != nil {
		return "", mail.Path{}, err
	}
	return name, addr, nil
}

// unquote undoes RFC 5322 section 3.2.4 quoted-pairs.
func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func formatList(list []string) ([]string, error) {
	var out []string
	for _, s := range list {
		name, p, err := ParseMailbox(s)
		if err != nil {
			return nil, err
		}
		out = append(out, mail.FormatAddress(name, p.String()))
	}
	return out, nil
}

// foldList joins addresses with ", ", folding (RFC 5322 section 2.2.3)
// before an address that would take the line past 78 characters.
func foldList(col int, addrs []string) string {
	var b strings.Builder
	for i, a := range addrs {
		first := a
		if j := strings.Index(a, "\r\n"); j >= 0 {
			first = a[:j]
		}
		if i > 0 {
			if col+2+len(first) > 78 {
				b.WriteString(",\r\n ")
				col = 1
			} else {
				b.WriteString(", ")
				col += 2
			}
		}
		b.WriteString(a)
		if j := strings.LastIndex(a, "\r\n"); j >= 0 {
			col = len(a) - j - 2
		} else {
			col += len(a)
		}
	}
	return b.String()
}

func checkFieldName(name string) error {
	if name == "" {
		return errors.New("mua: compose: empty header name")
	}
	for i := 0; i < len(name); i++ {
		// RFC 5322 section 2.2: printable US-ASCII except colon.
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("mua: compose: header name %q: byte 0x%02x not allowed", name, c)
		}
	}
	return nil
}

// messageID returns "<id>" for a given id, or a new "<time.random@host>"
// (RFC 5322 section 3.6.4: the right side names the host, the left side
// makes it unique there).
func messageID(given, hostname string, now time.Time) (string, error) {
	if given != "" {
		id := strings.TrimSuffix(strings.TrimPrefix(given, "<"), ">")
		if id == "" || strings.ContainsAny(id, "<> \t\r\n") || !strings.Contains(id, "@") {
			return "", fmt.Errorf("mua: compose: bad Message-ID %q: want <left@right>", given)
		}
		return "<" + id + ">", nil
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("mua: compose: Message-ID: %w", err)
	}
	return "<" + strconv.FormatInt(now.UnixNano(), 36) + "." + hex.EncodeToString(r[:]) + "@" + hostname + ">", nil
}

// encodeBody normalises line endings to CRLF, ends the text with CRLF and
// picks the transfer encoding.
func encodeBody(s string, o composeOptions) (body, cte, charset string) {
	var lines []string // nil for an empty body
	if s != "" {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	ascii, long := true, false
	for _, l := range lines {
		if len(l) > MaxLineBytes {
			long = true
		}
		for i := 0; i < len(l); i++ {
			if l[i] >= 0x80 {
				ascii = false
			}
		}
	}
	charset = "us-ascii"
	if !ascii {
		charset = "UTF-8"
	}
	if long || (!ascii && o.sevenBit) {
		var b strings.Builder
		for _, l := range lines {
			qpLine(&b, l)
		}
		return b.String(), "quoted-printable", charset
	}
	cte = "7bit"
	if !ascii {
		cte = "8bit" // RFC 2045 section 2.8 and RFC 6152
	}
	if lines == nil {
		return "", cte, charset
	}
	return strings.Join(lines, "\r\n") + "\r\n", cte, charset
}

// qpLine writes one line quoted-printable (RFC 2045 section 6.7): printable
// ASCII but "=" as itself, other octets as =XX, white space at the end of a
// line encoded (rule 3), and soft line breaks "=" CRLF to keep each encoded
// line within 76 characters (rule 5).
func qpLine(b *strings.Builder, l string) {
	const hexDigits = "0123456789ABCDEF"
	col := 0
	for i := 0; i < len(l); i++ {
		c := l[i]
		var enc string
		switch {
		case (c == ' ' || c == '\t') && i == len(l)-1:
			enc = string([]byte{'=', hexDigits[c>>4], hexDigits[c&15]})
		case c == ' ' || c == '\t' || (c >= 33 && c <= 126 && c != '='):
			enc = string(c)
		default:
			enc = string([]byte{'=', hexDigits[c>>4], hexDigits[c&15]})
		}
		// Leave room for the "=" of a soft break.
		if col+len(enc) > 75 {
			b.WriteString("=\r\n")
			col = 0
		}
		b.WriteString(enc)
		col += len(enc)
	}
	b.WriteString("\r\n")
}
