// Package explain says, in a sentence or two, what a protocol line means,
// for a student reading a transcript. Explanations exist in English and
// Spanish with equal content, and each cites the RFC section it rests on.
//
// The catalogue is data: one embedded YAML file per language
// (catalog/en.yaml, catalog/es.yaml), keyed by protocol and then by kind of
// line (commands, MAIL parameters, reply codes, enhanced status codes, EHLO
// keywords). Adding POP3 or IMAP means adding a section to each file and a
// function that picks the keys of a line of that protocol.
//
// # Standards
//
// RFC 5321 (SMTP), RFC 2033 (LMTP), RFC 3463 and RFC 2034 (enhanced status
// codes), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920 (PIPELINING),
// RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 7504 (521), RFC 7505 (null MX).
//
// # Security
//
// Lines come from the network and may be hostile: they are only matched
// against the catalogue, never echoed into the explanation.
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
var aliases = map[string]string{"lmtp": "smtp", "submission": "smtp", "esmtp": "smtp"}

// explainers pick the explanation of one line of a protocol.
var explainers = map[string]func(c *section, dir wire.Direction, line string) string{
	"smtp": explainSMTP,
}

// section is the catalogue of one protocol in one language.
type section struct {
	Commands map[string]string `yaml:"commands"` // by verb; "." ends DATA, "*" cancels AUTH
	Params   map[string]string `yaml:"params"`   // MAIL FROM parameters
	Replies  map[string]string `yaml:"replies"`  // by three-digit code
	Enhanced map[string]string `yaml:"enhanced"` // RFC 3463 codes
	Keywords map[string]string `yaml:"keywords"` // EHLO keywords
	Classes  map[string]string `yaml:"classes"`  // first digit, for codes not listed
	Subjects map[string]string `yaml:"subjects"` // enhanced subject, for codes not listed
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
