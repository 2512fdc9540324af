package explain

import (
	"regexp"
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// explainPOP3 explains POP3 lines: a client command by its verb, or a
// server line: "+OK" (in the context its text names), "-ERR" with its
// response code, a SASL "+" challenge, the "." that ends a multi-line
// response, or a line inside one (a CAPA capability, a scan or unique-id
// listing). Message text is marked bulk and never comes here.
func explainPOP3(s *section, dir wire.Direction, line string) string {
	switch dir {
	case wire.ClientToServer:
		return explainPOP3Command(s, line)
	case wire.ServerToClient:
		return explainPOP3Reply(s, line)
	}
	return ""
}

func explainPOP3Command(s *section, line string) string {
	t := strings.TrimSpace(line)
	if t == "*" {
		// RFC 5034 section 4: "*" cancels the AUTH exchange.
		return s.Commands[t]
	}
	// RFC 1939 section 3: a keyword, then arguments. PASS and a SASL
	// response are matched by keyword only: the rest is never read.
	verb, _, _ := strings.Cut(t, " ")
	return s.Commands[strings.ToUpper(verb)]
}

// pop3Contexts name the command a "+OK" answers from its text, first match
// wins. The texts are our server's, which follow RFC 1939's examples
// (sections 5 to 7), RFC 2449 section 5 and RFC 2595 section 4.
var pop3Contexts = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`(?i)'s maildrop|maildrop locked|logged in`), "+OK PASS"},
	{regexp.MustCompile(`(?i)maildrop has`), "+OK maildrop"},
	{regexp.MustCompile(`(?i)send pass|password required`), "+OK USER"},
	{regexp.MustCompile(`(?i)signing off|logging out|goodbye`), "+OK QUIT"},
	{regexp.MustCompile(`(?i)^message \d+ (deleted|marked)`), "+OK DELE"},
	{regexp.MustCompile(`(?i)^\d+ octets`), "+OK RETR"},
	{regexp.MustCompile(`(?i)top of message`), "+OK TOP"},
	{regexp.MustCompile(`(?i)^\d+ messages? \(\d+ octets\)`), "+OK LIST"},
	{regexp.MustCompile(`^\d+ \d+$`), "+OK n size"},
	{regexp.MustCompile(`^\d+ [\x21-\x7e]{1,70}$`), "+OK n uid"},
	{regexp.MustCompile(`(?i)unique-id`), "+OK UIDL"},
	{regexp.MustCompile(`(?i)capabilit`), "+OK CAPA"},
	{regexp.MustCompile(`(?i)sasl|mechanism`), "+OK AUTH"},
	{regexp.MustCompile(`(?i)\btls\b`), "+OK STLS"},
	{regexp.MustCompile(`(?i)\bready\b`), "greeting"},
}

var (
	pop3ScanListing = regexp.MustCompile(`^\d+ \d+$`)
	pop3UIDListing  = regexp.MustCompile(`^\d+ [\x21-\x7e]{1,70}$`)
)

func explainPOP3Reply(s *section, line string) string {
	t := strings.TrimRight(line, " ")
	switch {
	case t == ".":
		// RFC 1939 section 3: the termination octet of a multi-line response.
		return s.Replies["."]
	case t == "+" || strings.HasPrefix(t, "+ "):
		// RFC 5034 section 4: a SASL challenge.
		return s.Replies["+"]
	case status(t, "+OK"):
		text := strings.TrimSpace(t[3:])
		if hasAPOPTimestamp(text) {
			// RFC 1939 section 7: an APOP-capable greeting carries a timestamp.
			return s.Replies["greeting APOP"]
		}
		for _, c := range pop3Contexts {
			if c.re.MatchString(text) {
				if x := s.Replies[c.key]; x != "" {
					return x
				}
			}
		}
		return s.Replies["+OK"]
	case status(t, "-ERR"):
		text := strings.TrimSpace(t[4:])
		code, rest := bracketCode(text)
		x := s.Replies["-ERR"]
		switch low := strings.ToLower(rest); {
		case strings.Contains(low, "not removed"):
			x = s.Replies["-ERR QUIT"]
		case strings.Contains(low, "autologout"):
			x = s.Replies["-ERR autologout"]
		}
		if c := pop3Code(s, code); c != "" {
			x += " " + c
		}
		return x
	}
	// A line inside a multi-line response.
	first, _, _ := strings.Cut(t, " ")
	if k := s.Keywords[strings.ToUpper(first)]; k != "" && first != "" && !isDigits(first) {
		return k // RFC 2449 section 5: one capability per line
	}
	switch {
	case pop3ScanListing.MatchString(t):
		return s.Replies["scan listing"]
	case pop3UIDListing.MatchString(t):
		return s.Replies["unique-id listing"]
	}
	return ""
}

// pop3Code explains an RFC 2449 response code; an unknown sub-level falls
// back to its parent ("SYS/XYZ" to "SYS") when the parent is listed
// (RFC 2449 section 8: codes are hierarchical).
func pop3Code(s *section, code string) string {
	code = strings.ToUpper(code)
	for code != "" {
		if c := s.Codes[code]; c != "" {
			return c
		}
		i := strings.LastIndexByte(code, '/')
		if i < 0 {
			break
		}
		code = code[:i]
	}
	return ""
}

// status reports whether line is the status indicator word, alone or
// followed by a space.
func status(line, word string) bool {
	return strings.HasPrefix(line, word) && (len(line) == len(word) || line[len(word)] == ' ')
}

// bracketCode splits "[CODE args] text" into the code's first word and the
// text after the brackets; without brackets the code is "".
func bracketCode(text string) (code, rest string) {
	if !strings.HasPrefix(text, "[") {
		return "", text
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return "", text
	}
	inner := text[1:end]
	code, _, _ = strings.Cut(inner, " ")
	return code, strings.TrimSpace(text[end+1:])
}

// hasAPOPTimestamp reports whether a greeting carries the msg-id-like
// timestamp APOP digests (RFC 1939 section 7), e.g.
// "<1896.697170952@dbc.mtview.ca.us>". The explainer stays a leaf: it does
// not import the POP3 package for this one check.
func hasAPOPTimestamp(text string) bool {
	for {
		start := strings.IndexByte(text, '<')
		if start < 0 {
			return false
		}
		end := strings.IndexByte(text[start:], '>')
		if end < 0 {
			return false
		}
		inner := text[start+1 : start+end]
		if strings.Contains(inner, "@") && !strings.ContainsAny(inner, " <") {
			return true
		}
		text = text[start+1:]
	}
}
