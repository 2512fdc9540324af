package sieve

import (
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct{ name, src string }{
		{"empty", ""},
		{"comments only", "# nothing\n/* still\nnothing */"},
		{"rfc5228 9", rfc5228Example},
		{"rfc5233", rfc5233Example},
		{"case-insensitive identifiers", `IF TRUE { KEEP; }`},
		{"text: with comment and dot-stuffing", "require \"reject\";\nreject text: # why\n..leading dot\n.\n;"},
		{"crlf script", "require \"fileinto\";\r\nif true {\r\n  fileinto \"a\";\r\n}\r\n"},
		{"numbers", "if anyof (size :over 1K, size :under 2m, size :over 3G) { stop; }"},
		{"comparator require is accepted", `require ["comparator-i;octet"]; if header :comparator "i;octet" :is "to" "x" { keep; }`},
		{"escapes", `if header :matches "subject" "\\*\"?\a" { keep; }`},
		{"vacation all tags", `require "vacation"; vacation :days 3 :subject "s" :from "bob@b.test" :addresses ["a@b.test"] :handle "h" "r";`},
		{"nested", "if true { if true { if true { keep; } } }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("t.sieve", []byte(tt.src)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func TestParseTextString(t *testing.T) {
	s := mustParse(t, "require \"reject\";\nreject text:   \n..a\n.b\n\nend\n.\n;")
	res, err := s.Run(message(t, "", 0), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Actions[0].Reason, ".a\r\n.b\r\n\r\nend\r\n"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	s = mustParse(t, `require "reject"; reject "a\"b\\c\d";`)
	res, _ = s.Run(message(t, "", 0), Envelope{})
	if got, want := res.Actions[0].Reason, `a"b\cd`; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"missing semicolon", "keep\nstop;", `t.sieve:1:5: missing ';' after keep`},
		{"missing semicolon at end", "if true { discard }", `t.sieve:1:18: missing ';' after discard, found '}'`},
		{"unknown command", "if true {\n  fileint \"x\";\n}", `t.sieve:2:3: unknown command "fileint"`},
		{"unsupported command", `set "a" "b";`, `t.sieve:1:1: unknown command "set" (extension variables, RFC 5229 is not supported)`},
		{"unknown test", `if headr "a" "b" { keep; }`, `t.sieve:1:4: unknown test "headr"`},
		{"command as test", `if keep { keep; }`, `t.sieve:1:4: keep is a command, not a test`},
		{"test as command", `header "a" "b";`, `t.sieve:1:1: header is a test, not a command: use it after if`},
		{"fileinto without require", `fileinto "x";`, `t.sieve:1:1: fileinto needs require "fileinto" at the top of the script (RFC 5228 section 3.2, RFC 5228 section 4.1)`},
		{"envelope without require", `if envelope "to" "x" { keep; }`, `t.sieve:1:4: envelope needs require "envelope" at the top of the script (RFC 5228 section 3.2, RFC 5228 section 5.4)`},
		{"tag without require", `require "fileinto"; fileinto :copy "x";`, `t.sieve:1:30: fileinto: :copy needs require "copy" at the top of the script (RFC 5228 section 3.2, RFC 3894)`},
		{"detail without require", `if address :detail "to" "x" { keep; }`, `t.sieve:1:12: address: :detail needs require "subaddress" at the top of the script (RFC 5228 section 3.2, RFC 5233)`},
		{"unsupported extension", `require ["fileinto", "regex"];`, `t.sieve:1:9: unsupported extension "regex" (this interpreter knows comparator-i;ascii-casemap, comparator-i;octet, copy, envelope, ereject, fileinto, mailbox, reject, subaddress, vacation)`},
		{"require too late", "keep;\nrequire \"fileinto\";", `t.sieve:2:1: require must come before any other command (RFC 5228 section 3.2)`},
		{"wrong argument type", `require "fileinto"; fileinto 5;`, `t.sieve:1:30: fileinto: the mailbox name must be a string, found number 5`},
		{"list where string", `require "fileinto"; fileinto ["a", "b"];`, `t.sieve:1:30: fileinto: the mailbox name must be a string, found a string list`},
		{"missing argument", `if header :is "subject" { keep; }`, `t.sieve:1:24: header: missing key list`},
		{"too many arguments", `keep "x";`, `t.sieve:1:6: keep: unexpected string "x" (keep takes 0 positional arguments)`},
		{"unterminated string", "if header :is \"subject\" \"abc { keep; }\n", `t.sieve:1:25: unterminated string: the closing '"' is missing`},
		{"unterminated text", "require \"reject\";\nreject text:\nline\n", `t.sieve:2:8: unterminated text: string: a line holding a single "." must end it`},
		{"unterminated comment", "keep; /* oops", `t.sieve:1:7: unterminated /* comment: */ never comes`},
		{"unclosed brace", "if true {\n  keep;\n", `t.sieve:1:9: '{' is never closed: '}' missing before the end of the script`},
		{"extra brace", "keep;\n}", `t.sieve:2:1: unexpected '}': no block is open`},
		{"missing brace", "if true keep;", `t.sieve:1:9: expected '{' after the test of if, found identifier "keep"`},
		{"else alone", "else { keep; }", `t.sieve:1:1: else without a preceding if`},
		{"two tests", `if (true, false) { keep; }`, `t.sieve:1:4: if takes one test: combine tests with anyof(...) or allof(...)`},
		{"unknown tag", `if header :regex "a" "b" { keep; }`, `t.sieve:1:11: header: unknown tag :regex`},
		{"two match types", `if header :is :contains "a" "b" { keep; }`, `t.sieve:1:15: header: :is and :contains cannot both be given`},
		{"tag after positional", `if header "a" :is "b" { keep; }`, `t.sieve:1:15: header: tag :is must come before the other arguments (RFC 5228 section 2.6.2)`},
		{"bad comparator", `if header :comparator "i;ascii-numeric" "a" "b" { keep; }`, `t.sieve:1:11: header: comparator "i;ascii-numeric" is not supported (only "i;octet" and "i;ascii-casemap", RFC 5228 section 2.7.3)`},
		{"comparator without name", `if header :comparator :is "a" "b" { keep; }`, `t.sieve:1:23: header: :comparator must be followed by a comparator name such as "i;octet", found tag :is`},
		{"size without over", `if size 5 { keep; }`, `t.sieve:1:4: size: :over or :under is required, as in size :over 100K`},
		{"bad number", `if size :over 5KB { keep; }`, `t.sieve:1:15: bad number 5KB: only K, M or G may follow the digits`},
		{"huge number", `if size :over 99999999999999999999 { keep; }`, `t.sieve:1:15: number 99999999999999999999 is too large`},
		{"address on subject", `if address "subject" "x" { keep; }`, `t.sieve:1:12: address: "subject" does not hold addresses (RFC 5228 section 5.1); use header to test it`},
		{"bad header name", `if header "Sub ject" "x" { keep; }`, `t.sieve:1:11: header: "Sub ject" is not a header field name (RFC 5322 section 2.2: printable characters other than ':')`},
		{"bad envelope part", `require "envelope"; if envelope "auth" "x" { keep; }`, `t.sieve:1:33: envelope: part "auth" is not supported (only "from" and "to", RFC 5228 section 5.4)`},
		{"bad redirect address", `redirect "not an address";`, `t.sieve:1:10: redirect: "not an address" is not an address: missing '@' between local part and domain`},
		{"vacation mime", `require "vacation"; vacation :mime "x";`, `t.sieve:1:30: vacation: :mime is not supported by this interpreter (RFC 5230 section 4.4): write the reason as plain text`},
		{"empty list", `require [];`, `t.sieve:1:9: empty string list: write at least one string between [ and ]`},
		{"bad list", `require ["a" "b"];`, `t.sieve:1:14: expected ',' or ']' in the string list, found string "b"`},
		{"stray character", `keep; @`, `t.sieve:1:7: unexpected character '@'`},
		{"block on action", `keep { }`, `t.sieve:1:6: keep takes no block; only if, elsif and else do`},
		{"empty mailbox", `require "fileinto"; fileinto "";`, `t.sieve:1:30: fileinto: the mailbox name is empty`},
		{"too deep", strings.Repeat("if true {", 40) + strings.Repeat("}", 40), `t.sieve:1:292: nested more than 32 deep`},
		{"too deep tests", "if " + strings.Repeat("not ", 40) + "true {}", `t.sieve:1:132: nested more than 32 deep`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.sieve", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("error is %T, want *Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	big := strings.Repeat("#", MaxScriptBytes+1)
	if _, err := Parse("t.sieve", []byte(big)); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("big script: %v", err)
	}
	list := "require [" + strings.Repeat(`"fileinto",`, MaxStringList) + `"fileinto"];`
	if _, err := Parse("t.sieve", []byte(list)); err == nil || !strings.Contains(err.Error(), "string list longer than") {
		t.Errorf("long list: %v", err)
	}
}
