package pop3

import (
	"fmt"
	"strconv"
	"strings"
)

// Command is one parsed command line.
type Command struct {
	// Verb is the keyword, upper-cased (RFC 1939 section 3: keywords are
	// case-insensitive).
	Verb string
	// Arg is everything after the single space that follows the keyword,
	// as sent: PASS keeps spaces in the password (RFC 1939 section 7).
	Arg string
}

// Args splits Arg at single spaces (RFC 1939 section 3: "Keywords and
// arguments are each separated by a single SPACE character").
func (c Command) Args() []string {
	if c.Arg == "" {
		return nil
	}
	return strings.Split(c.Arg, " ")
}

// ParseCommand parses a command line without its CRLF: a keyword of three
// or four letters, then optionally a space and the arguments (RFC 1939
// section 3, RFC 2449 section 4). Control characters are refused anywhere;
// octets above 0x7F are allowed in arguments (some clients send UTF-8
// passwords).
func ParseCommand(line []byte) (Command, error) {
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			return Command{}, fmt.Errorf("%w: control character 0x%02X in command", ErrSyntax, c)
		}
	}
	s := string(line)
	verb, arg, hasArg := strings.Cut(s, " ")
	if len(verb) < 3 || len(verb) > 4 {
		return Command{}, fmt.Errorf("%w: a command is a keyword of 3 or 4 letters, got %q", ErrSyntax, truncate(verb))
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i] | 0x20
		if c < 'a' || c > 'z' {
			return Command{}, fmt.Errorf("%w: a command is a keyword of 3 or 4 letters, got %q", ErrSyntax, truncate(verb))
		}
	}
	if hasArg && arg == "" {
		return Command{}, fmt.Errorf("%w: space after %s but no argument", ErrSyntax, strings.ToUpper(verb))
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// maxMsgNumber bounds message numbers and line counts so they fit an int
// on every platform.
const maxMsgNumber = 999_999_999

// ParseNumber parses a message number: decimal digits, at least 1
// (RFC 1939 section 5: "messages are numbered starting at 1").
func ParseNumber(s string) (int, error) {
	n, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("%w: message number %q: %v", ErrSyntax, truncate(s), err)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: message numbers start at 1", ErrSyntax)
	}
	return n, nil
}

// ParseLineCount parses TOP's second argument: a non-negative number of
// body lines (RFC 1939 section 7).
func ParseLineCount(s string) (int, error) {
	n, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("%w: line count %q: %v", ErrSyntax, truncate(s), err)
	}
	return n, nil
}

func parseDecimal(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a decimal number")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxMsgNumber {
		return 0, fmt.Errorf("too large")
	}
	return n, nil
}

// ParseResponse splits a status line: "+OK text" gives (true, "text"),
// "-ERR text" gives (false, "text") (RFC 1939 section 3). The text may be
// empty. Anything else is an error.
func ParseResponse(line string) (ok bool, text string, err error) {
	switch {
	case strings.HasPrefix(line, "+OK"):
		ok, text = true, line[3:]
	case strings.HasPrefix(line, "-ERR"):
		text = line[4:]
	default:
		return false, "", fmt.Errorf("%w: response %q starts with neither +OK nor -ERR", ErrSyntax, truncate(line))
	}
	if text != "" && text[0] != ' ' {
		return false, "", fmt.Errorf("%w: response %q: no space after the status", ErrSyntax, truncate(line))
	}
	return ok, strings.TrimPrefix(text, " "), nil
}

// ParseScanListing parses "n size", the text of "+OK 1 120" after LIST n
// and each line of LIST (RFC 1939 section 5). Text after the size is
// ignored, as the RFC allows.
func ParseScanListing(s string) (n int, size int64, err error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("%w: scan listing %q: want \"number size\"", ErrSyntax, truncate(s))
	}
	if n, err = ParseNumber(f[0]); err != nil {
		return 0, 0, err
	}
	sz, err := parseDecimal(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("%w: size %q: %v", ErrSyntax, truncate(f[1]), err)
	}
	return n, int64(sz), nil
}

// ParseDropListing parses the text of the STAT response, "count size"
// (RFC 1939 section 5).
func ParseDropListing(s string) (count int, size int64, err error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("%w: drop listing %q: want \"count size\"", ErrSyntax, truncate(s))
	}
	if count, err = parseDecimal(f[0]); err != nil {
		return 0, 0, fmt.Errorf("%w: message count %q: %v", ErrSyntax, truncate(f[0]), err)
	}
	sz, err := parseDecimal(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("%w: size %q: %v", ErrSyntax, truncate(f[1]), err)
	}
	return count, int64(sz), nil
}

// ParseUIDListing parses "n unique-id" (RFC 1939 section 7, UIDL).
func ParseUIDListing(s string) (n int, uid string, err error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, "", fmt.Errorf("%w: unique-id listing %q: want \"number unique-id\"", ErrSyntax, truncate(s))
	}
	if n, err = ParseNumber(f[0]); err != nil {
		return 0, "", err
	}
	if !ValidUID(f[1]) {
		return 0, "", fmt.Errorf("%w: unique-id %q: want 1 to 70 characters in 0x21..0x7E", ErrSyntax, truncate(f[1]))
	}
	return n, f[1], nil
}

// ValidUID reports whether uid is a valid unique-id: 1 to 70 characters in
// the range 0x21 to 0x7E (RFC 1939 section 7).
func ValidUID(uid string) bool {
	if len(uid) < 1 || len(uid) > 70 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < 0x21 || uid[i] > 0x7e {
			return false
		}
	}
	return true
}

// GreetingTimestamp finds the APOP timestamp in a greeting's text: the
// first "<...>" holding an "@" (RFC 1939 section 7, e.g.
// "<1896.697170952@dbc.mtview.ca.us>"), brackets included. ok is false when
// the server offers no APOP.
func GreetingTimestamp(text string) (ts string, ok bool) {
	for {
		start := strings.IndexByte(text, '<')
		if start < 0 {
			return "", false
		}
		end := strings.IndexByte(text[start:], '>')
		if end < 0 {
			return "", false
		}
		ts = text[start : start+end+1]
		inner := ts[1 : len(ts)-1]
		if strings.Contains(inner, "@") && !strings.ContainsAny(inner, " <") {
			return ts, true
		}
		text = text[start+1:]
	}
}
