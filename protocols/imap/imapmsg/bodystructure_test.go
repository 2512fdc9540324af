package imapmsg

import "testing"

func TestBodyStructure(t *testing.T) {
	const embeddedEnvelope = `("Thu, 15 Jan 2026 10:30:00 +0100" "Hello" (("Alice Ruiz" NIL "alice" "a.test"))` +
		` (("Alice Ruiz" NIL "alice" "a.test")) (("Alice Ruiz" NIL "alice" "a.test"))` +
		` ((NIL NIL "bob" "b.test")) NIL NIL NIL NIL)`
	tests := []struct {
		name, msg string
		body      string // BODY
		structure string // BODYSTRUCTURE
	}{
		{
			name:      "plain text, default type",
			msg:       msgPlain,
			body:      `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 19 2)`,
			structure: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 19 2 NIL NIL NIL NIL)`,
		},
		{
			name: "multipart/alternative",
			msg:  msgAlternative,
			body: `(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 2 1)` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 1) "ALTERNATIVE")`,
			structure: `(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 2 1 NIL NIL NIL NIL)` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 1 NIL NIL NIL NIL)` +
				` "ALTERNATIVE" ("BOUNDARY" "b1") NIL NIL NIL)`,
		},
		{
			name: "multipart/mixed with a base64 attachment and every extension field",
			msg:  msgMixed,
			body: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 13 1)` +
				`("APPLICATION" "PDF" ("NAME" "report.pdf") "<r1@a.test>" "The report" "BASE64" 12) "MIXED")`,
			structure: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 13 1 NIL NIL NIL NIL)` +
				`("APPLICATION" "PDF" ("NAME" "report.pdf") "<r1@a.test>" "The report" "BASE64" 12` +
				` "Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME" "report.pdf")) ("en" "de") "http://a.test/report.pdf")` +
				` "MIXED" ("BOUNDARY" "mix") NIL NIL NIL)`,
		},
		{
			name: "nested multipart, disposition without parameters",
			msg:  msgNested,
			body: `((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1)` +
				`("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1) "ALTERNATIVE")` +
				`("IMAGE" "PNG" ("NAME" "dot.png") NIL NIL "BASE64" 12) "MIXED")`,
			structure: `((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)` +
				`("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)` +
				`("IMAGE" "PNG" ("NAME" "dot.png") NIL NIL "BASE64" 12 NIL ("INLINE" NIL) NIL NIL)` +
				` "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)`,
		},
		{
			name: "message/rfc822 attachment: envelope, body, lines",
			msg:  msgRFC822,
			body: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1)` +
				`("MESSAGE" "RFC822" NIL NIL "forwarded" "7BIT" 123 ` + embeddedEnvelope +
				` ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 17 2) 7) "MIXED")`,
			structure: `(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1 NIL NIL NIL NIL)` +
				`("MESSAGE" "RFC822" NIL NIL "forwarded" "7BIT" 123 ` + embeddedEnvelope +
				` ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 17 2 NIL NIL NIL NIL) 7 NIL NIL NIL NIL)` +
				` "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)`,
		},
		{
			name:      "RFC 2231 parameter goes out decoded, as a literal; so does an 8-bit description",
			msg:       "Content-Type: text/plain; name*=utf-8''Reuni%C3%B3n.txt\r\nContent-Description: Reunión\r\nContent-Language: es\r\n\r\nx",
			body:      "(\"TEXT\" \"PLAIN\" (\"NAME\" {12}\r\nReunión.txt) NIL {8}\r\nReunión \"7BIT\" 1 1)",
			structure: "(\"TEXT\" \"PLAIN\" (\"NAME\" {12}\r\nReunión.txt) NIL {8}\r\nReunión \"7BIT\" 1 1 NIL NIL \"es\" NIL)",
		},
		{
			name:      "empty message",
			msg:       "",
			body:      `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0)`,
			structure: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, tt.msg)
			if got := BodyStructure(p, false); got != tt.body {
				t.Errorf("BODY\n got %s\nwant %s", got, tt.body)
			}
			if got := BodyStructure(p, true); got != tt.structure {
				t.Errorf("BODYSTRUCTURE\n got %s\nwant %s", got, tt.structure)
			}
			if err := checkSyntax(BodyStructure(p, true)); err != nil {
				t.Errorf("BODYSTRUCTURE is not well formed: %v", err)
			}
		})
	}
}
