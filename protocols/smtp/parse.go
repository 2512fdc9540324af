package smtp

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// ParseCommand splits a command line (CRLF already removed) into its verb,
// upper-cased, and its argument, with the spaces around it removed (RFC 5321
// section 4.1.1: verbs are case-insensitive and separated from the argument
// by a space).
//
// A verb is letters, digits and '-' (an ehlo-keyword, RFC 5321 section
// 4.1.1.1); a NUL anywhere on the line, a non-ASCII verb or an empty line is
// refused with an *Error holding "500 5.5.2" and a reason, ready to be sent.
// The argument may hold other octets: its own parser judges it.
func ParseCommand(line []byte) (verb, arg string, err error) {
	if len(line) == 0 {
		return "", "", Errorf(C500SyntaxError, "5.5.2", "Empty command line")
	}
	for _, c := range line {
		switch c {
		case 0:
			return "", "", Errorf(C500SyntaxError, "5.5.2", "NUL octet in command line")
		case '\r', '\n':
			// RFC 5321 section 2.3.8: CR and LF only as the CRLF that ends
			// the line; a bare one would be echoed back in replies.
			return "", "", Errorf(C500SyntaxError, "5.5.2", "Bare CR or LF in command line")
		}
	}
	v, a, _ := strings.Cut(string(line), " ")
	if v == "" {
		return "", "", Errorf(C500SyntaxError, "5.5.2", "Command line starts with a space")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && (c != '-' || i == 0) {
			return "", "", Errorf(C500SyntaxError, "5.5.2", "Command verb must be letters and digits")
		}
	}
	return strings.ToUpper(v), strings.Trim(a, " \t"), nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ParseMailArg parses the argument of MAIL: "FROM:<path> [SIZE=n]
// [BODY=7BIT|8BITMIME] [AUTH=mailbox|<>]" (RFC 5321 section 4.1.1.2, RFC
// 1870 section 3, RFC 6152 section 2, RFC 4954 section 5). "FROM:" and
// parameter names are case-insensitive and a space after the colon is
// tolerated, as many clients send one. AUTH= is parsed whatever the server
// offers: a server that does not list AUTH in its EHLO reply refuses it
// itself.
//
// Errors are *Error replies ready to be sent:
//
//	501 5.5.2  "FROM:" missing
//	553 5.1.7  the path is not a valid address (the reason says why)
//	501 5.5.4  a known parameter with a bad value (SIZE=abc, BODY=7bits, AUTH=a+2), or repeated
//	555 5.5.4  a parameter this server does not know (RFC 5321 section 4.1.1.11)
func ParseMailArg(arg string) (mail.Path, MailParams, error) {
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.2", "Syntax: MAIL FROM:<address>")
	}
	rest = strings.TrimLeft(rest, " ")
	pathText, params, ok := mail.CutPath(rest)
	if !ok {
		pathText, params, _ = strings.Cut(rest, " ")
	}
	if params != "" && params[0] != ' ' {
		return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.2", "Syntax: a space must separate the path from its parameters")
	}
	from, err := mail.ParsePath(pathText)
	if err != nil {
		// RFC 3463 section 3.2: X.1.7 is a bad sender mailbox syntax.
		return mail.Path{}, MailParams{}, Errorf(C553MailboxName, "5.1.7", "Bad sender address syntax: %s", reason(err))
	}
	var p MailParams
	seen := map[string]bool{}
	for field := range strings.FieldsSeq(params) {
		key, value, hasValue := strings.Cut(field, "=")
		key = strings.ToUpper(key)
		if seen[key] {
			return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.4", "%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "SIZE":
			// RFC 1870 section 3: size-value ::= 1*20DIGIT.
			if !hasValue || value == "" || len(value) > 20 || strings.Trim(value, "0123456789") != "" {
				return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.4", "SIZE=%s is not a number of octets", printable(value))
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				n = math.MaxInt64 // 20 digits may not fit: it is too big anyway
			}
			p.Size = n
		case "BODY":
			// RFC 6152 section 2: BODY=7BIT or BODY=8BITMIME.
			v := strings.ToUpper(value)
			if v != "7BIT" && v != "8BITMIME" {
				return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.4", "BODY=%s: use BODY=7BIT or BODY=8BITMIME", printable(value))
			}
			p.Body = v
		case "AUTH":
			// RFC 4954 section 5: AUTH=<mailbox> or AUTH=<>, as xtext.
			v, ok := decodeXtext(value)
			if !hasValue || !ok || v == "" || v != "<>" && strings.ContainsAny(v, " <>") {
				return mail.Path{}, MailParams{}, Errorf(C501SyntaxParams, "5.5.4", "AUTH=%s: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>", printable(value))
			}
			p.Auth = v
		default:
			// RFC 5321 section 4.1.1.11: unknown parameters get 555.
			return mail.Path{}, MailParams{}, Errorf(C555ParamsNotRecognized, "5.5.4", "MAIL parameter %s not recognized", printable(key))
		}
	}
	return from, p, nil
}

// ParseRcptArg parses the argument of RCPT: "TO:<path>" (RFC 5321 section
// 4.1.1.3), including the bare "<Postmaster>" every server must accept
// (section 4.5.1), which comes back as a Path with Local "Postmaster" (as
// written) and no Domain. The null path is refused.
//
// Errors are *Error replies ready to be sent: 501 5.5.2 when "TO:" is
// missing, 553 5.1.3 for a bad address, 555 5.5.4 for any parameter (this
// server knows none for RCPT).
func ParseRcptArg(arg string) (mail.Path, error) {
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return mail.Path{}, Errorf(C501SyntaxParams, "5.5.2", "Syntax: RCPT TO:<address>")
	}
	rest = strings.TrimLeft(rest, " ")
	pathText, params, ok := mail.CutPath(rest)
	if !ok {
		pathText, params, _ = strings.Cut(rest, " ")
	}
	if params != "" && params[0] != ' ' {
		return mail.Path{}, Errorf(C501SyntaxParams, "5.5.2", "Syntax: a space must separate the path from its parameters")
	}
	if f := strings.Fields(params); len(f) > 0 {
		key, _, _ := strings.Cut(f[0], "=")
		return mail.Path{}, Errorf(C555ParamsNotRecognized, "5.5.4", "RCPT parameter %s not recognized", printable(strings.ToUpper(key)))
	}
	// RFC 5321 section 4.5.1: "<Postmaster>" without a domain.
	if len(pathText) == len("<postmaster>") && strings.EqualFold(pathText, "<postmaster>") {
		return mail.Path{Local: pathText[1 : len(pathText)-1]}, nil
	}
	to, err := mail.ParsePath(pathText)
	if err != nil {
		// RFC 3463 section 3.2: X.1.3 is a bad destination mailbox syntax.
		return mail.Path{}, Errorf(C553MailboxName, "5.1.3", "Bad recipient address syntax: %s", reason(err))
	}
	if to.IsNull() {
		return mail.Path{}, Errorf(C553MailboxName, "5.1.3", "The null path <> is not a recipient")
	}
	return to, nil
}

// decodeXtext decodes xtext (RFC 3461 section 4): printable ASCII but "+"
// and "=", and "+" followed by two upper-case hex digits for any octet.
// The result must be printable ASCII too: an AUTH= mailbox has no control
// characters.
func decodeXtext(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return "", false
			}
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			c = byte(n)
			i += 2
			if c < 33 || c > 126 {
				return "", false
			}
		case c < 33 || c > 126 || c == '=':
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// reason returns the student-readable part of a mail.SyntaxError.
func reason(err error) string {
	if se, ok := errors.AsType[*mail.SyntaxError](err); ok {
		return se.Reason
	}
	return err.Error()
}

// printable keeps a client's text safe to echo in a one-line reply.
func printable(s string) string {
	const max = 40
	var b strings.Builder
	for i := 0; i < len(s) && i < max; i++ {
		if c := s[i]; c >= 32 && c < 127 {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	if len(s) > max {
		b.WriteString("...")
	}
	return b.String()
}
