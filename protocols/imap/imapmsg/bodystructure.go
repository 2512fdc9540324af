package imapmsg

import (
	"sort"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// BodyStructure returns the BODY (extended false) or BODYSTRUCTURE
// (extended true) of p, as in RFC 3501 section 7.4.2 and the body rule of
// section 9:
//
//	("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)
//	(("TEXT" "PLAIN" ...)("TEXT" "HTML" ...) "ALTERNATIVE")
//
// Media types, subtypes, encodings, parameter names and disposition types
// are upper-cased as in the RFC's examples (they compare case-insensitively);
// parameters are sorted by name. Values are sent as mail.ParseMessage
// decoded them: RFC 2231 continuations joined and charsets turned to UTF-8,
// so a client sees ("NAME" "Reunión.txt") whatever form the message used
// (a value that is not 7-bit goes as a literal); go-imap v2, for one, reads
// only the plain "name" and "filename" parameters.
func BodyStructure(p *mail.Part, extended bool) string {
	var b strings.Builder
	if p == nil {
		// An empty message: text/plain with no body.
		p = &mail.Part{Type: "text", Subtype: "plain", Params: map[string]string{"charset": "us-ascii"}, Encoding: "7bit"}
	}
	writeBody(&b, p, extended)
	return b.String()
}

func writeBody(b *strings.Builder, p *mail.Part, ext bool) {
	b.WriteByte('(')
	defer b.WriteByte(')')
	if p.IsMultipart() {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		for _, c := range p.Children {
			writeBody(b, c, ext)
		}
		b.WriteByte(' ')
		b.WriteString(Quote(strings.ToUpper(p.Subtype)))
		if ext {
			// body-ext-mpart = body-fld-param [SP body-fld-dsp
			// [SP body-fld-lang [SP body-fld-loc]]]
			b.WriteByte(' ')
			writeParams(b, p.Params)
			writeExtTail(b, p)
		}
		return
	}
	// body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
	// body-fld-enc SP body-fld-octets
	b.WriteString(Quote(strings.ToUpper(p.Type)))
	b.WriteByte(' ')
	b.WriteString(Quote(strings.ToUpper(p.Subtype)))
	b.WriteByte(' ')
	writeParams(b, p.Params)
	b.WriteByte(' ')
	b.WriteString(NString(p.ID))
	b.WriteByte(' ')
	b.WriteString(NString(p.Description))
	b.WriteByte(' ')
	enc := p.Encoding
	if enc == "" {
		enc = "7bit" // RFC 2045 section 6.1
	}
	b.WriteString(Quote(strings.ToUpper(enc)))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(p.Size))
	switch {
	case p.IsMessage():
		// body-type-msg = media-message SP body-fields SP envelope SP
		// body SP body-fld-lines
		b.WriteByte(' ')
		b.WriteString(Envelope(p.Message))
		b.WriteByte(' ')
		writeBody(b, p.Message, ext)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(p.Lines))
	case p.Type == "text":
		// body-type-text = media-text SP body-fields SP body-fld-lines
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(p.Lines))
	}
	if ext {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
		// [SP body-fld-loc]]]
		b.WriteByte(' ')
		b.WriteString(NString(p.MD5))
		writeExtTail(b, p)
	}
}

// writeExtTail writes SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
func writeExtTail(b *strings.Builder, p *mail.Part) {
	b.WriteByte(' ')
	// body-fld-dsp = "(" string SP body-fld-param ")" / nil
	if p.Disposition == "" {
		b.WriteString("NIL")
	} else {
		b.WriteByte('(')
		b.WriteString(Quote(strings.ToUpper(p.Disposition)))
		b.WriteByte(' ')
		writeParams(b, p.DispositionParams)
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	// body-fld-lang = nstring / "(" string *(SP string) ")"
	langs := languages(p.Language)
	switch len(langs) {
	case 0:
		b.WriteString("NIL")
	case 1:
		b.WriteString(Quote(langs[0]))
	default:
		b.WriteByte('(')
		for i, l := range langs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(Quote(l))
		}
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	b.WriteString(NString(p.Location)) // body-fld-loc = nstring
}

// languages splits a Content-Language value (RFC 3282 section 2:
// 1#Language-tag, comments allowed) into its tags.
func languages(v string) []string {
	var out []string
	for _, t := range strings.Split(stripComments(v), ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// stripComments removes (nested) comments from a structured field value.
func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeParams writes body-fld-param: "(" string SP string *(SP string SP
// string) ")" / nil.
func writeParams(b *strings.Builder, params map[string]string) {
	if len(params) == 0 {
		b.WriteString("NIL")
		return
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteByte('(')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(strings.ToUpper(k)))
		b.WriteByte(' ')
		b.WriteString(Quote(params[k]))
	}
	b.WriteByte(')')
}
