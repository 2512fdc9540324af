package imapmsg

import (
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// Placeholders for an address that lacks its mailbox or host: a NIL host
// would make it look like a group marker (RFC 3501 section 7.4.2). These are
// the names Dovecot uses.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingHost    = "MISSING_DOMAIN"
)

// Envelope returns the ENVELOPE of the message p (RFC 3501 section 7.4.2):
//
//	(date subject from sender reply-to to cc bcc in-reply-to message-id)
//
// Strings are the header values as written (unfolded; encoded words are
// left for the client to decode); absent or empty fields are NIL. Sender
// and Reply-To default to From when absent or empty. Addresses are
// (name adl mailbox host); a group is (NIL NIL "name" NIL), its members,
// then (NIL NIL NIL NIL).
func Envelope(p *mail.Part) string {
	if p == nil {
		return "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
	}
	return envelopeOf(p.Header)
}

// EnvelopeHeader is Envelope from a header alone (see mail.SplitMessage),
// for a FETCH ENVELOPE that need not parse the MIME structure.
func EnvelopeHeader(h mail.Header) string { return envelopeOf(h) }

// envelopeFields are the fields an ENVELOPE shows.
var envelopeFields = []string{"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"}

// EnvelopeOfHeader is Envelope from a message's header block (or its whole
// text), parsing only the fields an ENVELOPE shows.
func EnvelopeOfHeader(block []byte) string {
	return envelopeOf(mail.ParseHeaderFields(block, envelopeFields...))
}

func envelopeOf(h mail.Header) string {
	var b strings.Builder
	b.WriteByte('(')
	b.WriteString(NString(h.Get("Date")))
	b.WriteByte(' ')
	b.WriteString(NString(h.Get("Subject")))
	from := parseAddressList(h.Get("From"))
	sender := parseAddressList(h.Get("Sender"))
	replyTo := parseAddressList(h.Get("Reply-To"))
	// RFC 3501 section 7.4.2: "If the Sender or Reply-To lines are absent
	// in the [RFC-2822] header, or are present but empty, the server sets
	// the corresponding member of the envelope to be the same value as the
	// from member."
	if len(sender) == 0 {
		sender = from
	}
	if len(replyTo) == 0 {
		replyTo = from
	}
	for _, list := range [][]address{from, sender, replyTo,
		parseAddressList(h.Get("To")), parseAddressList(h.Get("Cc")), parseAddressList(h.Get("Bcc"))} {
		b.WriteByte(' ')
		writeAddressList(&b, list)
	}
	b.WriteByte(' ')
	b.WriteString(NString(h.Get("In-Reply-To")))
	b.WriteByte(' ')
	b.WriteString(NString(h.Get("Message-ID")))
	b.WriteByte(')')
	return b.String()
}

// address is one entry of an ENVELOPE address list: a mailbox, or a group
// start (groupStart, name in mailbox) or end (groupEnd) marker.
type address struct {
	name, adl, mailbox, host string
	groupStart, groupEnd     bool
}

func writeAddressList(b *strings.Builder, list []address) {
	if len(list) == 0 {
		b.WriteString("NIL")
		return
	}
	b.WriteByte('(')
	for _, a := range list {
		switch {
		case a.groupStart:
			// RFC 3501 section 7.4.2: "start of group" has a NIL host
			// and the group name in the mailbox name field.
			b.WriteString("(NIL NIL " + Quote(a.mailbox) + " NIL)")
		case a.groupEnd:
			b.WriteString("(NIL NIL NIL NIL)")
		default:
			b.WriteString("(" + NString(a.name) + " " + NString(a.adl) + " " +
				Quote(a.mailbox) + " " + Quote(a.host) + ")")
		}
	}
	b.WriteByte(')')
}

// Address tokens (RFC 5322 section 3.2).
const (
	tkAtom    = iota // atext and "." (dot-atom, obs-phrase), encoded words too
	tkQuoted         // quoted-string, value unescaped
	tkLiteral        // domain-literal, brackets kept
	tkComment        // comment, value without the parentheses
	tkSpecial        // one of < > @ , ; :
)

type token struct {
	kind int
	val  string
}

// lexAddresses splits an address field into tokens; folding white space
// only separates them. Unbalanced quotes, brackets and comments end at the
// end of the field.
func lexAddresses(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				if s[i] != '\r' && s[i] != '\n' {
					b.WriteByte(s[i])
				}
				i++
			}
			i++
			toks = append(toks, token{tkQuoted, b.String()})
		case c == '(':
			// RFC 5322 section 3.2.2: comments nest.
			depth, start := 0, i+1
			for i < len(s) {
				switch s[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
				i++
				if depth == 0 {
					break
				}
			}
			end := min(i, len(s))
			if depth == 0 {
				end--
			}
			toks = append(toks, token{tkComment, strings.TrimSpace(s[start:max(start, end)])})
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, token{tkLiteral, s[i : i+j+1]})
			i += j + 1
		case strings.IndexByte("<>@,;:", c) >= 0:
			toks = append(toks, token{tkSpecial, s[i : i+1]})
			i++
		case c == ')' || c == ']':
			i++ // stray closer
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n\"()[]<>@,;:", s[j]) < 0 {
				j++
			}
			toks = append(toks, token{tkAtom, s[i:j]})
			i = j
		}
	}
	return toks
}

// addrParser reads an address-list (RFC 5322 section 3.4) leniently.
type addrParser struct {
	toks []token
	i    int
	out  []address
}

func parseAddressList(s string) []address {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	p := &addrParser{toks: lexAddresses(s)}
	for p.i < len(p.toks) {
		if p.isSpecial(",") || p.isSpecial(";") || p.isSpecial(">") || p.isSpecial(":") {
			p.i++
			continue
		}
		p.address(true)
	}
	return p.out
}

func (p *addrParser) isSpecial(v string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == tkSpecial && p.toks[p.i].val == v
}

// address reads one mailbox, or a group when inGroupOK.
func (p *addrParser) address(groupOK bool) {
	start := p.i
	comment := ""
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		if t.kind == tkSpecial && t.val != "@" {
			break
		}
		if t.kind == tkComment && comment == "" {
			comment = t.val
		}
		p.i++
	}
	words := p.toks[start:p.i]
	switch {
	case p.isSpecial(":") && groupOK:
		// RFC 5322 section 3.4: group = display-name ":" [group-list] ";"
		p.i++
		p.out = append(p.out, address{groupStart: true, mailbox: phrase(words)})
		for p.i < len(p.toks) && !p.isSpecial(";") {
			if p.isSpecial(",") || p.isSpecial(">") || p.isSpecial(":") {
				p.i++
				continue
			}
			p.address(false)
		}
		p.i++ // the ";"
		p.out = append(p.out, address{groupEnd: true})
	case p.isSpecial("<"):
		// name-addr = [display-name] angle-addr
		p.i++
		name := phrase(words)
		a := p.angleAddr()
		if name == "" {
			name = p.trailingComment()
		}
		a.name = name
		p.add(a)
	default:
		// A bare addr-spec; a comment after it is taken as the name, as
		// in the old "bob@b.test (Bob)" form.
		a := addrSpec(words)
		a.name = comment
		p.add(a)
	}
}

// angleAddr reads [route] addr-spec ">" after "<" (RFC 5322 section 3.4,
// obs-route in section 4.4).
func (p *addrParser) angleAddr() address {
	var a address
	if p.isSpecial("@") {
		// obs-route = obs-domain-list ":"; kept as the adl.
		var adl strings.Builder
		for p.i < len(p.toks) && !p.isSpecial(":") && !p.isSpecial(">") {
			t := p.toks[p.i]
			if t.kind != tkComment {
				adl.WriteString(t.val)
			}
			p.i++
		}
		if p.isSpecial(":") {
			p.i++
			a.adl = adl.String()
		}
	}
	start := p.i
	for p.i < len(p.toks) && !p.isSpecial(">") && !p.isSpecial(",") && !p.isSpecial(";") && !p.isSpecial("<") {
		p.i++
	}
	spec := addrSpec(p.toks[start:p.i])
	spec.adl = a.adl
	if p.isSpecial(">") {
		p.i++
	}
	return spec
}

// trailingComment returns the first comment before the next "," or ";".
func (p *addrParser) trailingComment() string {
	for j := p.i; j < len(p.toks) && p.toks[j].kind != tkSpecial; j++ {
		if p.toks[j].kind == tkComment {
			return p.toks[j].val
		}
	}
	return ""
}

// add appends a mailbox, filling in what is missing, unless it is empty.
func (p *addrParser) add(a address) {
	if a.mailbox == "" && a.host == "" && a.name == "" {
		return // "<>", or nothing at all
	}
	if a.mailbox == "" {
		a.mailbox = missingMailbox
	}
	if a.host == "" {
		a.host = missingHost
	}
	p.out = append(p.out, a)
}

// addrSpec builds local-part "@" domain from tokens; comments are dropped
// and the parts joined without spaces (RFC 5322 section 3.4.1, with the
// obsolete spaces around dots of section 4.4).
func addrSpec(toks []token) address {
	var local, domain strings.Builder
	at := false
	for _, t := range toks {
		switch {
		case t.kind == tkComment:
		case t.kind == tkSpecial && t.val == "@":
			if at {
				domain.WriteByte('@') // a second "@": keep it in the domain
			}
			at = true
		case at:
			domain.WriteString(t.val)
		default:
			local.WriteString(t.val)
		}
	}
	return address{mailbox: local.String(), host: domain.String()}
}

// phrase joins the words of a display name with single spaces (RFC 5322
// section 3.2.5); quoted strings lose their quotes, encoded words stay.
func phrase(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tkComment {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.val)
	}
	return b.String()
}
