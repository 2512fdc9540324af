package explain

import (
	"encoding/base64"
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// explainIMAP explains IMAP lines. A client line is "tag COMMAND args"
// (RFC 3501 section 2.2.1), explained by its command name ("UID FETCH"
// counts as one), plus the flags a STORE or APPEND names; "DONE" ends IDLE
// and "*" cancels AUTHENTICATE. A server line is untagged data or status
// ("* ..."), a continuation request ("+ ..."), or the tagged status that
// ends a command; a response code in brackets and the flags of a FETCH
// add their own explanation.
func explainIMAP(s *section, dir wire.Direction, line string) string {
	switch dir {
	case wire.ClientToServer:
		return explainIMAPCommand(s, line)
	case wire.ServerToClient:
		return explainIMAPResponse(s, line)
	}
	return ""
}

func explainIMAPCommand(s *section, line string) string {
	t := strings.TrimSpace(line)
	switch strings.ToUpper(t) {
	case "DONE": // RFC 2177 section 3: untagged, ends IDLE
		return s.Commands["DONE"]
	case "*": // RFC 3501 section 6.2.2: cancels AUTHENTICATE
		return s.Commands["*"]
	}
	tag, rest, ok := strings.Cut(t, " ")
	if !ok || !isTag(tag) {
		return ""
	}
	// LOGIN and AUTHENTICATE lines are matched on the command word only:
	// what follows may be credentials.
	name, args, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	name = strings.ToUpper(name)
	if name == "UID" {
		// RFC 3501 section 6.4.8: UID prefixes COPY, FETCH, STORE, SEARCH
		// (and MOVE, RFC 6851; EXPUNGE, RFC 4315).
		sub, more, _ := strings.Cut(strings.TrimLeft(args, " "), " ")
		name, args = "UID "+strings.ToUpper(sub), more
	}
	x := s.Commands[name]
	if x == "" {
		return ""
	}
	switch name {
	case "STORE", "UID STORE", "APPEND":
		x += flagNotes(s, args)
	}
	return x
}

// isTag checks the tag syntax of RFC 3501 section 9: astring characters
// except "+", so no space, no "*", "%", "(", ")", "{", quote or backslash.
func isTag(tag string) bool {
	if tag == "" {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"\+`, c) >= 0 {
			return false
		}
	}
	return true
}

func explainIMAPResponse(s *section, line string) string {
	t := strings.TrimRight(line, " ")
	if t == "+" || strings.HasPrefix(t, "+ ") {
		return s.Replies[continuationKey(strings.TrimSpace(t[1:]))]
	}
	first, rest, _ := strings.Cut(t, " ")
	rest = strings.TrimLeft(rest, " ")
	word, after, _ := strings.Cut(rest, " ")
	word = strings.ToUpper(word)
	if first != "*" {
		// Tagged status: the end of the command with this tag (RFC 3501
		// section 7.1).
		if !isTag(first) {
			return ""
		}
		switch word {
		case "OK", "NO", "BAD":
			return withCode(s, s.Replies[word], after)
		}
		return ""
	}
	switch word {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		return withCode(s, s.Replies["* "+word], after)
	}
	if isDigits(word) {
		// "* n EXISTS", "* n FETCH (...)" (RFC 3501 sections 7.3, 7.4).
		kw, items, _ := strings.Cut(strings.TrimLeft(after, " "), " ")
		kw = strings.ToUpper(kw)
		if kw == "FETCH" {
			return fetchData(s, items)
		}
		switch kw {
		case "EXISTS", "RECENT", "EXPUNGE":
			return s.Data[kw]
		}
		return ""
	}
	switch word {
	case "EXISTS", "RECENT", "EXPUNGE", "FETCH":
		return "" // these need a number before them
	}
	return s.Data[word]
}

// continuationKey tells what a "+" waits for from its text: our server says
// "+ idling" after IDLE (RFC 2177 section 3's example) and "+ Ready for
// literal data" before a literal; an empty or base64 text is a SASL
// challenge (RFC 3501 section 6.2.2). Anything else gets the general "+".
func continuationKey(text string) string {
	low := strings.ToLower(text)
	switch {
	case strings.Contains(low, "idling") || strings.Contains(low, "idle"):
		return "+ idle"
	case strings.Contains(low, "literal"):
		return "+ literal"
	case text == "":
		return "+ sasl"
	}
	if _, err := base64.StdEncoding.DecodeString(text); err == nil {
		return "+ sasl"
	}
	return "+"
}

// withCode appends the explanation of the response code that opens text
// ("[UIDVALIDITY 3857529045] UIDs valid"), if any.
func withCode(s *section, x, text string) string {
	if x == "" {
		return ""
	}
	code, _ := bracketCode(text)
	if c := s.Codes[strings.ToUpper(code)]; c != "" {
		return x + " " + c
	}
	return x
}

// fetchData explains "* n FETCH (items)": a FETCH of only FLAGS (and UID)
// reports flags, as after STORE or when another session changed them
// (RFC 3501 section 7.4.2); each system flag named is explained.
func fetchData(s *section, items string) string {
	flags, ok := fetchFlags(items)
	if !ok {
		return s.Data["FETCH"]
	}
	x := s.Data["FETCH"]
	if onlyFlags(items) {
		x = s.Data["FETCH FLAGS"]
	}
	return x + flagNotes(s, flags)
}

// fetchFlags returns the inside of "FLAGS (...)" in a FETCH item list.
func fetchFlags(items string) (string, bool) {
	up := strings.ToUpper(items)
	i := strings.Index(up, "FLAGS (")
	if i < 0 || (i > 0 && up[i-1] != ' ' && up[i-1] != '(') {
		return "", false
	}
	list := items[i+len("FLAGS ("):]
	end := strings.IndexByte(list, ')')
	if end < 0 {
		return "", false
	}
	return list[:end], true
}

// onlyFlags reports whether a FETCH item list holds nothing but FLAGS and
// UID (and, with CONDSTORE, MODSEQ): a flag update.
func onlyFlags(items string) bool {
	items = strings.TrimSpace(items)
	if !strings.HasPrefix(items, "(") || !strings.HasSuffix(items, ")") {
		return false
	}
	inner := items[1 : len(items)-1]
	for inner != "" {
		name, rest, _ := strings.Cut(strings.TrimLeft(inner, " "), " ")
		switch strings.ToUpper(name) {
		case "FLAGS":
			_, after, ok := strings.Cut(rest, ")")
			if !ok {
				return false
			}
			inner = strings.TrimLeft(after, " ")
		case "UID":
			_, after, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
			inner = after
		case "MODSEQ":
			_, after, ok := strings.Cut(rest, ")")
			if !ok {
				return false
			}
			inner = strings.TrimLeft(after, " ")
		default:
			return false
		}
	}
	return true
}

// flagNotes explains each system flag in text once, in order of
// appearance (flags are case-insensitive, RFC 3501 section 2.3.2).
func flagNotes(s *section, text string) string {
	var b strings.Builder
	seen := make(map[string]bool)
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
		if !strings.HasPrefix(w, `\`) {
			continue
		}
		for name, x := range s.Flags {
			if strings.EqualFold(name, w) && !seen[name] {
				seen[name] = true
				b.WriteString(" " + x)
			}
		}
	}
	return b.String()
}
