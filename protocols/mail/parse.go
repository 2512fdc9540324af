package mail

import (
	"fmt"
	"net/netip"
	"strings"
)

// Size limits every SMTP implementation must accept (RFC 5321 section
// 4.5.3.1); ParsePath refuses anything longer, as a teaching server should.
const (
	MaxLocalBytes  = 64  // RFC 5321 section 4.5.3.1.1
	MaxDomainBytes = 255 // RFC 5321 section 4.5.3.1.2
	MaxPathBytes   = 256 // RFC 5321 section 4.5.3.1.3, "<" and ">" included
	maxLabelBytes  = 63  // RFC 1035 section 2.3.4
)

// SyntaxError says why an address or path was refused. Reason is written for
// a student reading a transcript ("missing '>'", "local part longer than 64
// octets"); servers put it in their reply text.
type SyntaxError struct {
	Input  string // what was parsed, as given
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("mail: bad address %q: %s", e.Input, e.Reason)
}

// ParsePath parses an SMTP path as written in MAIL FROM and RCPT TO (RFC 5321
// section 4.1.2): "<local@domain>", the null path "<>", a quoted local part
// ("<\"a b\"@example.test>"), an address literal ("<bob@[192.0.2.1]>",
// "<bob@[IPv6:2001:db8::1]>") and a deprecated source route
// ("<@relay.test:bob@example.test>"), whose hops are checked and dropped
// (RFC 5321 section 3.6.1, appendix C).
//
// The whole of s must be the path: no spaces around it, no parameters after
// it. The bare "<Postmaster>" of RFC 5321 section 4.5.1 is refused here
// because it is valid only in RCPT; the RCPT parser accepts it itself.
//
// Errors are *SyntaxError.
func ParsePath(s string) (Path, error) {
	fail := func(format string, args ...any) (Path, error) {
		return Path{}, &SyntaxError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("empty path")
	}
	if s[0] != '<' {
		return fail("missing '<': a path is written <local@domain>")
	}
	if len(s) > MaxPathBytes {
		// RFC 5321 section 4.5.3.1.3.
		return fail("path longer than %d octets", MaxPathBytes)
	}
	inner, ok := cutPathEnd(s[1:])
	if !ok {
		return fail("missing '>'")
	}
	if len(inner)+2 != len(s) {
		return fail("unexpected text after '>'")
	}
	if inner == "" {
		// RFC 5321 section 4.5.5: the null reverse-path.
		return Path{}, nil
	}
	if inner[0] == '@' {
		// RFC 5321 section 4.1.2: A-d-l ":" Mailbox. The route is parsed
		// and dropped (section 3.6.1 and appendix C).
		i := strings.IndexByte(inner, ':')
		if i < 0 {
			return fail("source route without ':' before the mailbox")
		}
		for hop := range strings.SplitSeq(inner[:i], ",") {
			if !strings.HasPrefix(hop, "@") {
				return fail("source route hop %q does not start with '@'", hop)
			}
			if reason := checkDomain(hop[1:]); reason != "" {
				return fail("source route: %s", reason)
			}
		}
		inner = inner[i+1:]
	}
	p, reason := parseMailbox(inner)
	if reason != "" {
		return fail("%s", reason)
	}
	return p, nil
}

// ParseAddress parses a bare addr-spec such as "alice@example.test", as
// command lines and scenario files write addresses (RFC 5322 section
// 3.4.1, restricted to what SMTP can carry: RFC 5321 section 4.1.2 Mailbox).
// Spaces around it are ignored and a bracketed "<alice@example.test>" is
// accepted too. The null path and source routes are refused: they are not
// addresses. Errors are *SyntaxError.
func ParseAddress(s string) (Path, error) {
	t := strings.TrimSpace(s)
	fail := func(reason string) (Path, error) {
		return Path{}, &SyntaxError{Input: s, Reason: reason}
	}
	if strings.HasPrefix(t, "<") {
		p, err := ParsePath(t)
		if err != nil {
			return Path{}, err
		}
		if p.IsNull() {
			return fail("the null path <> is not an address")
		}
		if strings.HasPrefix(t, "<@") {
			return fail("a source route is not an address")
		}
		return p, nil
	}
	if t == "" {
		return fail("empty address")
	}
	if len(t) > MaxPathBytes-2 {
		return fail(fmt.Sprintf("address longer than %d octets", MaxPathBytes-2))
	}
	p, reason := parseMailbox(t)
	if reason != "" {
		return fail(reason)
	}
	return p, nil
}

// cutPathEnd finds the '>' that closes a path, skipping quoted strings (a
// quoted local part may hold '>'). It returns what lies before it.
func cutPathEnd(s string) (string, bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return s[:i], true
		}
	}
	return "", false
}

// CutPath splits s, which starts with a path, into the path ("<...>") and
// what follows it, honouring quoted local parts. ok is false when s does not
// start with '<' or the path has no closing '>'. SMTP command parsers use it
// to find the ESMTP parameters after a path.
func CutPath(s string) (path, rest string, ok bool) {
	if !strings.HasPrefix(s, "<") {
		return "", s, false
	}
	inner, ok := cutPathEnd(s[1:])
	if !ok {
		return "", s, false
	}
	n := len(inner) + 2
	return s[:n], s[n:], true
}

// parseMailbox parses Local-part "@" ( Domain / address-literal ) (RFC 5321
// section 4.1.2) and returns a reason when it is not one.
func parseMailbox(s string) (Path, string) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Path{}, "missing '@' between local part and domain"
	}
	local, domain := s[:at], s[at+1:]
	if reason := checkLocal(local); reason != "" {
		return Path{}, reason
	}
	if strings.HasPrefix(domain, "[") {
		if reason := checkAddressLiteral(domain); reason != "" {
			return Path{}, reason
		}
	} else if reason := checkDomain(domain); reason != "" {
		return Path{}, reason
	}
	return Path{Local: local, Domain: domain}, ""
}

// checkLocal checks a Dot-string or Quoted-string (RFC 5321 section 4.1.2).
func checkLocal(s string) string {
	switch {
	case s == "":
		return "empty local part before '@'"
	case len(s) > MaxLocalBytes:
		// RFC 5321 section 4.5.3.1.1.
		return fmt.Sprintf("local part longer than %d octets", MaxLocalBytes)
	case s[0] == '"':
		return checkQuoted(s)
	}
	for atom := range strings.SplitSeq(s, ".") {
		if atom == "" {
			return "local part has an empty atom (leading, trailing or double '.')"
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return fmt.Sprintf("character %q not allowed in a local part (quote it: \"...\")", atom[i])
			}
		}
	}
	return ""
}

// checkQuoted checks Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321
// section 4.1.2): printable ASCII, with '"' and '\' escaped by '\'.
func checkQuoted(s string) string {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "quoted local part does not end with '\"'"
	}
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			i++
			if i == len(body) || body[i] < 32 || body[i] > 126 {
				return "'\\' must be followed by a printable character"
			}
		case c == '"':
			return "unescaped '\"' inside a quoted local part"
		case c < 32 || c > 126:
			return fmt.Sprintf("character %q not allowed in a quoted local part", c)
		}
	}
	return ""
}

// isAtext reports whether c is atext (RFC 5322 section 3.2.3).
func isAtext(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkDomain checks Domain = sub-domain *("." sub-domain), each sub-domain
// a letter or digit, then letters, digits and hyphens, not ending in a hyphen
// (RFC 5321 section 4.1.2).
func checkDomain(s string) string {
	switch {
	case s == "":
		return "empty domain after '@'"
	case len(s) > MaxDomainBytes:
		// RFC 5321 section 4.5.3.1.2.
		return fmt.Sprintf("domain longer than %d octets", MaxDomainBytes)
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return fmt.Sprintf("domain %q has an empty label (leading, trailing or double '.')", s)
		}
		if len(label) > maxLabelBytes {
			return fmt.Sprintf("domain label longer than %d octets", maxLabelBytes)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("domain label %q starts or ends with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return fmt.Sprintf("character %q not allowed in a domain", c)
			}
		}
	}
	return ""
}

// checkAddressLiteral checks "[" IPv4 / "IPv6:" IPv6 / tag ":" text "]"
// (RFC 5321 section 4.1.3).
func checkAddressLiteral(s string) string {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "address literal does not end with ']'"
	}
	if len(s) > MaxDomainBytes {
		return fmt.Sprintf("domain longer than %d octets", MaxDomainBytes)
	}
	lit := s[1 : len(s)-1]
	tag, value, tagged := strings.Cut(lit, ":")
	switch {
	case !tagged:
		a, err := netip.ParseAddr(lit)
		if err != nil || !a.Is4() {
			return fmt.Sprintf("%q is not an IPv4 address (write [IPv6:...] for IPv6)", lit)
		}
	case strings.EqualFold(tag, "IPv6"):
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Sprintf("%q is not an IPv6 address", value)
		}
	default:
		// RFC 5321 section 4.1.3: a General-address-literal tag must be
		// registered with IANA, and only "IPv6" is.
		if a, err := netip.ParseAddr(lit); err == nil && a.Is6() {
			return fmt.Sprintf("write [IPv6:%s] for an IPv6 address", lit)
		}
		return fmt.Sprintf("address literal tag %q is not registered (only IPv6: is)", tag)
	}
	return ""
}
