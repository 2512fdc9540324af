package imap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date formats (RFC 3501 section 9: date-text "1-Feb-1994", date-time
// "01-Feb-1994 10:00:00 +0000" with a space-padded day allowed).
const (
	dateLayout     = "2-Jan-2006"
	DateTimeLayout = "02-Jan-2006 15:04:05 -0700"
)

// ParseDate parses a search date, "1-Feb-1994" (RFC 3501 section 9,
// date; the month is case-insensitive). The result is midnight UTC of that
// day; RFC 3501 section 6.4.4 compares dates disregarding time and zone.
func ParseDate(s string) (time.Time, error) {
	d, m, ok := strings.Cut(s, "-")
	if !ok || len(d) == 0 || len(d) > 2 {
		return time.Time{}, fmt.Errorf("imap: date %q: want d-Mon-yyyy, e.g. 1-Feb-1994", s)
	}
	if len(m) >= 3 {
		m = strings.ToUpper(m[:1]) + strings.ToLower(m[1:3]) + m[3:]
	}
	t, err := time.Parse(dateLayout, d+"-"+m)
	if err != nil {
		return time.Time{}, fmt.Errorf("imap: date %q: want d-Mon-yyyy, e.g. 1-Feb-1994", s)
	}
	return t, nil
}

// ParseDateTime parses an APPEND date-time, "01-Feb-1994 10:00:00 +0000"
// (RFC 3501 section 9, date-time; the day may be space-padded: " 1-Feb-1994").
func ParseDateTime(s string) (time.Time, error) {
	if len(s) > 0 && s[0] == ' ' {
		s = "0" + s[1:]
	}
	if len(s) >= 6 {
		s = s[:3] + strings.ToUpper(s[3:4]) + strings.ToLower(s[4:6]) + s[6:]
	}
	t, err := time.Parse(DateTimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("imap: date-time %q: want \"dd-Mon-yyyy hh:mm:ss +zzzz\"", s)
	}
	return t, nil
}

// FormatDateTime renders t as an INTERNALDATE (RFC 3501 section 9,
// date-time), without the quotes.
func FormatDateTime(t time.Time) string { return t.Format(DateTimeLayout) }

// SystemFlags are the flags RFC 3501 section 2.3.2 defines, in canonical case.
var SystemFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, `\Recent`}

// CanonicalFlag returns a system flag in its canonical case (`\SEEN` gives
// `\Seen`; flags are case-insensitive, RFC 3501 section 2.3.2) and a
// keyword unchanged.
func CanonicalFlag(f string) string {
	for _, s := range SystemFlags {
		if strings.EqualFold(f, s) {
			return s
		}
	}
	return f
}

// ParseFlags reads a flag list "(\Seen $Forwarded)" (RFC 3501 section 9,
// flag-list) or, as STORE allows, a single flag or a space-separated list
// given as several arguments. Flags come out in canonical case; `\Recent`
// is refused since no client may set it (section 2.3.2).
func ParseFlags(args []Arg) ([]string, error) {
	if len(args) == 1 && args[0].Kind == ArgList {
		args = args[0].List
	}
	flags := make([]string, 0, len(args))
	for _, a := range args {
		if a.Kind != ArgAtom {
			return nil, fmt.Errorf("imap: flag %s: flags are atoms such as \\Seen or $Forwarded", a)
		}
		f := a.Text
		if err := checkFlag(f); err != nil {
			return nil, err
		}
		f = CanonicalFlag(f)
		if f == `\Recent` {
			return nil, errors.New(`imap: \Recent cannot be set by a client (RFC 3501 section 2.3.2)`)
		}
		flags = append(flags, f)
	}
	return flags, nil
}

func checkFlag(f string) error {
	name := f
	if strings.HasPrefix(f, `\`) {
		name = f[1:]
		if !isSystemFlagName(name) {
			return fmt.Errorf("imap: flag %s: only the system flags may start with \\ (RFC 3501 section 2.3.2)", f)
		}
	}
	if name == "" {
		return errors.New("imap: empty flag")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAtomChar(c) || c == '%' || c == '*' || c == ']' || c == '\\' || c == '[' {
			return fmt.Errorf("imap: flag %q: %q is not allowed in a flag", f, c)
		}
	}
	return nil
}

func isSystemFlagName(n string) bool {
	for _, s := range SystemFlags {
		if strings.EqualFold(n, s[1:]) {
			return true
		}
	}
	return false
}

// ParseStoreItem parses a STORE data item name (RFC 3501 section 6.4.6):
// "FLAGS", "+FLAGS", "-FLAGS", each optionally ".SILENT". mode is 0, '+'
// or '-'.
func ParseStoreItem(s string) (mode byte, silent bool, err error) {
	u := strings.ToUpper(s)
	if rest, ok := strings.CutSuffix(u, ".SILENT"); ok {
		u, silent = rest, true
	}
	if len(u) > 0 && (u[0] == '+' || u[0] == '-') {
		mode, u = u[0], u[1:]
	}
	if u != "FLAGS" {
		return 0, false, fmt.Errorf("imap: STORE item %q: want FLAGS, +FLAGS or -FLAGS, optionally .SILENT", s)
	}
	return mode, silent, nil
}

// ParseNumber parses a number (RFC 3501 section 9: 32-bit unsigned).
func ParseNumber(s string) (uint32, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("imap: %q is not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("imap: %q is not a 32-bit number", s)
	}
	return uint32(n), nil
}

// Quote renders s as an IMAP string: a quoted string when it can be one
// (RFC 3501 section 4.3), a literal "{n}\r\n..." otherwise (CR, LF, NUL or
// 8-bit octets).
func Quote(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 || c >= 0x80 {
			return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
		}
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

// AString renders s as an atom when it is one, else as Quote does. Mailbox
// names in LIST responses use it.
func AString(s string) string {
	if s == "" || strings.EqualFold(s, "NIL") {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return Quote(s)
		}
	}
	return s
}

// MatchMailbox reports whether mailbox name matches a LIST pattern (RFC
// 3501 section 6.3.8): "*" matches any run of characters, "%" any run
// without the hierarchy delimiter delim. "INBOX" matches without regard to
// case (section 5.1).
func MatchMailbox(pattern, name string, delim byte) bool {
	if strings.EqualFold(name, "INBOX") && strings.EqualFold(pattern, "INBOX") {
		return true
	}
	return match(pattern, name, delim)
}

// match runs the pattern over name as a set of reachable positions, so its
// time is len(p)*len(s) whatever the wildcards (no backtracking).
func match(p, s string, delim byte) bool {
	cur := make([]bool, len(s)+1)
	next := make([]bool, len(s)+1)
	cur[0] = true
	for k := 0; k < len(p); k++ {
		clear(next)
		any := false
		switch w := p[k]; w {
		case '*':
			for i := range cur {
				if cur[i] {
					for j := i; j <= len(s); j++ {
						next[j] = true
					}
					any = true
					break
				}
			}
		case '%':
			for i := 0; i <= len(s); i++ {
				if !cur[i] {
					continue
				}
				for j := i; j <= len(s); j++ {
					next[j] = true
					any = true
					if j < len(s) && s[j] == delim {
						break
					}
				}
			}
		default:
			for i := 0; i < len(s); i++ {
				if cur[i] && s[i] == w {
					next[i+1] = true
					any = true
				}
			}
		}
		if !any {
			return false
		}
		cur, next = next, cur
	}
	return cur[len(s)]
}

// CanonicalMailbox returns "INBOX" for any case of it (RFC 3501 section
// 5.1) and name unchanged otherwise; "inbox/sub" stays as it is.
func CanonicalMailbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}
