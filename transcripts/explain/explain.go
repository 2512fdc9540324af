// Package explain says, in a sentence or two, what a protocol line means,
// for a student reading a transcript. Explanations exist in English and
// Spanish with equal content, and each cites the RFC section it rests on.
//
// The catalogue is data: one embedded YAML file per language
// (catalog/en.yaml, catalog/es.yaml), keyed by protocol and then by kind of
// line (commands, MAIL parameters, reply codes, enhanced status codes, EHLO
// keywords; POP3 and IMAP response codes, IMAP untagged data and flags).
// Each protocol has a function that picks the keys of one of its lines:
// explainSMTP, explainPOP3 (pop3.go), explainIMAP (imap.go).
//
// Explain sees one line at a time, with no memory of the session. Where the
// meaning of a POP3 "+OK" depends on the command it answers, the command is
// recognised from the reply's text, as our server words it after the
// examples of RFC 1939 ("+OK message 1 deleted"); a text that names no
// command gets the general explanation of "+OK".
//
// # Standards
//
// RFC 5321 (SMTP), RFC 2033 (LMTP), RFC 3463 and RFC 2034 (enhanced status
// codes), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920 (PIPELINING),
// RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 7504 (521), RFC 7505 (null MX).
//
// POP3: RFC 1939, RFC 2449 (CAPA, response codes), RFC 3206 (SYS and AUTH
// codes), RFC 5034 (SASL AUTH), RFC 2595 (STLS).
//
// IMAP: RFC 3501 (IMAP4rev1; RFC 9051 where IMAP4rev2 differs), RFC 2177
// (IDLE), RFC 4315 (UIDPLUS), RFC 6851 (MOVE), RFC 3691 (UNSELECT),
// RFC 2342 (NAMESPACE), RFC 5161 (ENABLE), RFC 2971 (ID), RFC 5530
// (response codes), RFC 7888 (LITERAL+), RFC 2595 (STARTTLS).
//
// # Security
//
// Lines come from the network and may be hostile: they are only matched
// against the catalogue, never echoed into the explanation. Credentials
// (POP3 PASS, IMAP LOGIN, SASL responses) are explained by their command
// word alone, masked or not.
package explain

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/maillab/maillab/protocols/wire"
)

//go:embed catalog/*.yaml
var catalogFiles embed.FS

// Langs are the languages of the catalogue; the first is the fallback.
var Langs = []string{"en", "es"}

// aliases map protocols onto the catalogue section they share.
var aliases = map[string]string{
	"lmtp": "smtp", "submission": "smtp", "esmtp": "smtp",
	"pop3s": "pop3", "imaps": "imap",
}

// explainers pick the explanation of one line of a protocol.
var explainers = map[string]func(c *section, dir wire.Direction, line string) string{
	"smtp": explainSMTP,
	"pop3": explainPOP3,
	"imap": explainIMAP,
}

// section is the catalogue of one protocol in one language.
type section struct {
	Commands map[string]string `yaml:"commands"` // by verb (IMAP: "UID FETCH"); "." ends DATA, "*" cancels AUTH
	Params   map[string]string `yaml:"params"`   // MAIL FROM parameters
	Replies  map[string]string `yaml:"replies"`  // SMTP code; POP3 "+OK", "-ERR", "+OK DELE"...; IMAP "OK", "* BYE", "+"...
	Enhanced map[string]string `yaml:"enhanced"` // RFC 3463 codes
	Keywords map[string]string `yaml:"keywords"` // EHLO keywords, POP3 CAPA capabilities
	Classes  map[string]string `yaml:"classes"`  // first digit, for codes not listed
	Subjects map[string]string `yaml:"subjects"` // enhanced subject, for codes not listed
	Codes    map[string]string `yaml:"codes"`    // POP3 and IMAP response codes, without brackets
	Data     map[string]string `yaml:"data"`     // IMAP untagged data ("EXISTS", "FETCH FLAGS")
	Flags    map[string]string `yaml:"flags"`    // IMAP system flags ("\\Seen")
}

// maps returns the section's maps by kind, for tests and tools.
func (s *section) maps() map[string]map[string]string {
	return map[string]map[string]string{
		"commands": s.Commands, "params": s.Params, "replies": s.Replies,
		"enhanced": s.Enhanced, "keywords": s.Keywords, "classes": s.Classes,
		"subjects": s.Subjects, "codes": s.Codes, "data": s.Data, "flags": s.Flags,
	}
}

// catalog is every protocol's section in one language.
type catalog map[string]*section

var load = sync.OnceValues(func() (map[string]catalog, error) {
	all := make(map[string]catalog)
	for _, lang := range Langs {
		b, err := catalogFiles.ReadFile("catalog/" + lang + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var c catalog
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("explain: catalog/%s.yaml: %w", lang, err)
		}
		all[lang] = c
	}
	return all, nil
})

// Explain returns a one- or two-sentence explanation of line, a line of
// protocol proto ("smtp", "lmtp", ...) that crossed in direction dir, in
// language lang ("en" or "es"; "es-ES" counts as "es", anything else falls
// back to English). It returns "" when nothing applies: an unknown verb or
// protocol, an AUTH exchange line, a continuation line of a reply that adds
// nothing. Message text (lines marked bulk) must not be passed: it is the
// user's content, not protocol.
func Explain(proto string, dir wire.Direction, line string, lang string) string {
	all, err := load()
	if err != nil {
		return ""
	}
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	base, _, _ = strings.Cut(base, "_")
	c, ok := all[base]
	if !ok {
		c = all[Langs[0]]
	}
	proto = strings.ToLower(proto)
	if a, ok := aliases[proto]; ok {
		proto = a
	}
	s, ok := c[proto]
	fn := explainers[proto]
	if !ok || s == nil || fn == nil {
		return ""
	}
	return fn(s, dir, line)
}

// explainSMTP explains SMTP and LMTP lines: a client command (with its MAIL
// parameters), or a server reply (basic code, then the enhanced code's
// meaning; an EHLO keyword on a continuation line).
func explainSMTP(s *section, dir wire.Direction, line string) string {
	switch dir {
	case wire.ClientToServer:
		return explainSMTPCommand(s, line)
	case wire.ServerToClient:
		return explainSMTPReply(s, line)
	}
	return ""
}

func explainSMTPCommand(s *section, line string) string {
	t := strings.TrimSpace(line)
	if t == "." || t == "*" {
		return s.Commands[t]
	}
	fields := strings.Fields(t)
	if len(fields) == 0 {
		return ""
	}
	verb := strings.ToUpper(fields[0])
	text, ok := s.Commands[verb]
	if !ok {
		return ""
	}
	if verb == "MAIL" {
		// RFC 5321 section 4.1.1.2: parameters follow the reverse-path.
		for _, f := range fields[1:] {
			name, _, hasValue := strings.Cut(f, "=")
			if p, ok := s.Params[strings.ToUpper(name)]; ok && hasValue {
				text += " " + p
			}
		}
	}
	return text
}

func explainSMTPReply(s *section, line string) string {
	if len(line) < 3 || !isDigits(line[:3]) {
		return ""
	}
	code, rest := line[:3], ""
	continued := false
	if len(line) > 3 {
		switch line[3] {
		case ' ':
			rest = line[4:]
		case '-':
			rest, continued = line[4:], true
		default:
			return ""
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	keyword, _, _ := strings.Cut(strings.ToUpper(first), "=")
	kw := s.Keywords[keyword]
	if continued {
		// RFC 5321 section 4.2.1: the code repeats on every line of a
		// multi-line reply; explain it once, on the last line.
		return kw
	}
	text, ok := s.Replies[code]
	if !ok {
		text = s.Classes[code[:1]]
	}
	if text == "" {
		return ""
	}
	if enh := enhancedCode(first); enh != "" && enh[0] == code[0] {
		// RFC 3463 section 2: class.subject.detail, class matching the code.
		e, ok := s.Enhanced[enh]
		if !ok {
			e = s.Subjects[strings.Split(enh, ".")[1]]
		}
		if e != "" {
			return text + " " + e
		}
	}
	if kw != "" {
		return text + " " + kw
	}
	return text
}

// enhancedCode returns w when it looks like an RFC 3463 status code
// ("5.1.1", "4.7.12"), else "".
func enhancedCode(w string) string {
	parts := strings.Split(w, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || !isDigits(p) {
			return ""
		}
	}
	return w
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
