package imapmsg

import (
	"strconv"
	"strings"
)

// Quote returns s as an IMAP string (RFC 3501 section 4.3): a quoted string
// when s is 7-bit text without CR or LF, otherwise a literal "{n}\r\n"
// followed by the octets. Inside quotes, `"` and `\` are escaped (section 9,
// quoted-specials). NUL, allowed in neither form (section 9, CHAR8),
// becomes U+FFFD.
func Quote(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	quotable := true
	for i := 0; i < len(s); i++ {
		// RFC 3501 section 9: QUOTED-CHAR is any TEXT-CHAR (a 7-bit CHAR
		// other than CR and LF).
		if c := s[i]; c == '\r' || c == '\n' || c >= 0x80 {
			quotable = false
			break
		}
	}
	if !quotable {
		return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// NString returns NIL for the empty string and Quote(s) otherwise
// (RFC 3501 section 9, nstring): header fields that are absent or empty are
// NIL in ENVELOPE and BODYSTRUCTURE.
func NString(s string) string {
	if s == "" {
		return "NIL"
	}
	return Quote(s)
}
