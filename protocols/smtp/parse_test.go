package smtp

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/mail"
)

var allVerbs = []string{"HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP"}

func TestParseCommandValid(t *testing.T) {
	tests := []struct {
		line, verb, arg string
	}{
		{"EHLO client.example.test", "EHLO", "client.example.test"},
		{"ehlo client.example.test", "EHLO", "client.example.test"},
		{"Mail FROM:<a@b.test> SIZE=10", "MAIL", "FROM:<a@b.test> SIZE=10"},
		{"DATA", "DATA", ""},
		{"QUIT   ", "QUIT", ""},
		{"NOOP  hello there ", "NOOP", "hello there"},
		{"X-CUSTOM1 arg", "X-CUSTOM1", "arg"},
		{"VRFY ñandú", "VRFY", "ñandú"},
	}
	for _, tt := range tests {
		verb, arg, err := ParseCommand([]byte(tt.line))
		if err != nil || verb != tt.verb || arg != tt.arg {
			t.Errorf("ParseCommand(%q) = %q, %q, %v; want %q, %q", tt.line, verb, arg, err, tt.verb, tt.arg)
		}
	}
}

func TestParseCommandInvalid(t *testing.T) {
	tests := []struct {
		line, reply string
	}{
		{"", "500 5.5.2 Empty command line"},
		{" MAIL FROM:<a@b.test>", "500 5.5.2 Command line starts with a space"},
		{"MA\x00IL FROM:<a@b.test>", "500 5.5.2 NUL octet in command line"},
		{"MAIL FROM:<a@b.test>\x00", "500 5.5.2 NUL octet in command line"},
		{"EHLO x\r", "500 5.5.2 Bare CR or LF in command line"},
		{"EHLO x\ry", "500 5.5.2 Bare CR or LF in command line"},
		{"MÄIL FROM:<a@b.test>", "500 5.5.2 Command verb must be letters and digits"},
		{"-X", "500 5.5.2 Command verb must be letters and digits"},
		{"MAIL:FROM", "500 5.5.2 Command verb must be letters and digits"},
		{"\tNOOP", "500 5.5.2 Command verb must be letters and digits"},
	}
	for _, tt := range tests {
		_, _, err := ParseCommand([]byte(tt.line))
		if err == nil || err.Error() != tt.reply {
			t.Errorf("ParseCommand(%q) error = %v, want %q", tt.line, err, tt.reply)
		}
	}
}

func TestParseMailArgValid(t *testing.T) {
	tests := []struct {
		arg    string
		from   mail.Path
		params MailParams
	}{
		{"FROM:<alice@a.test>", mail.Path{Local: "alice", Domain: "a.test"}, MailParams{}},
		{"from:<alice@a.test>", mail.Path{Local: "alice", Domain: "a.test"}, MailParams{}},
		{"FROM: <alice@a.test>", mail.Path{Local: "alice", Domain: "a.test"}, MailParams{}},
		{"FROM:<>", mail.Path{}, MailParams{}},
		{"FROM:<> SIZE=1234", mail.Path{}, MailParams{Size: 1234}},
		{"FROM:<a@a.test> size=10 body=8bitmime", mail.Path{Local: "a", Domain: "a.test"}, MailParams{Size: 10, Body: "8BITMIME"}},
		{"FROM:<a@a.test>  BODY=7BIT", mail.Path{Local: "a", Domain: "a.test"}, MailParams{Body: "7BIT"}},
		{"FROM:<a@a.test> SIZE=0", mail.Path{Local: "a", Domain: "a.test"}, MailParams{}},
		{"FROM:<a@a.test> SIZE=99999999999999999999", mail.Path{Local: "a", Domain: "a.test"}, MailParams{Size: math.MaxInt64}},
		{`FROM:<"x> y"@a.test> SIZE=5`, mail.Path{Local: `"x> y"`, Domain: "a.test"}, MailParams{Size: 5}},
		{"FROM:<@relay.test:a@a.test>", mail.Path{Local: "a", Domain: "a.test"}, MailParams{}},
		{"FROM:<a@a.test> AUTH=<>", mail.Path{Local: "a", Domain: "a.test"}, MailParams{Auth: "<>"}},
		{"FROM:<a@a.test> auth=alice@a.test SIZE=5", mail.Path{Local: "a", Domain: "a.test"}, MailParams{Auth: "alice@a.test", Size: 5}},
		// RFC 4954 section 5's example: "=" is written +3D in xtext.
		{"FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com", mail.Path{Local: "e=mc2", Domain: "example.com"}, MailParams{Auth: "e=mc2@example.com"}},
	}
	for _, tt := range tests {
		from, params, err := ParseMailArg(tt.arg)
		if err != nil || from != tt.from || params != tt.params {
			t.Errorf("ParseMailArg(%q) = %#v, %#v, %v; want %#v, %#v", tt.arg, from, params, err, tt.from, tt.params)
		}
	}
}

func TestParseMailArgInvalid(t *testing.T) {
	tests := []struct {
		arg, reply string
	}{
		{"", "501 5.5.2 Syntax: MAIL FROM:<address>"},
		{"<alice@a.test>", "501 5.5.2 Syntax: MAIL FROM:<address>"},
		{"TO:<alice@a.test>", "501 5.5.2 Syntax: MAIL FROM:<address>"},
		{"FROM:", "553 5.1.7 Bad sender address syntax: empty path"},
		{"FROM:alice@a.test", "553 5.1.7 Bad sender address syntax: missing '<': a path is written <local@domain>"},
		{"FROM:<alice@a.test", "553 5.1.7 Bad sender address syntax: missing '>'"},
		{"FROM:<alice>", "553 5.1.7 Bad sender address syntax: missing '@' between local part and domain"},
		{"FROM:<" + strings.Repeat("x", 65) + "@a.test>", "553 5.1.7 Bad sender address syntax: local part longer than 64 octets"},
		{"FROM:<a@a.test>SIZE=1", "501 5.5.2 Syntax: a space must separate the path from its parameters"},
		{"FROM:<a@a.test> SIZE=abc", "501 5.5.4 SIZE=abc is not a number of octets"},
		{"FROM:<a@a.test> SIZE=-1", "501 5.5.4 SIZE=-1 is not a number of octets"},
		{"FROM:<a@a.test> SIZE=+1", "501 5.5.4 SIZE=+1 is not a number of octets"},
		{"FROM:<a@a.test> SIZE=", "501 5.5.4 SIZE= is not a number of octets"},
		{"FROM:<a@a.test> SIZE", "501 5.5.4 SIZE= is not a number of octets"},
		{"FROM:<a@a.test> SIZE=123456789012345678901", "501 5.5.4 SIZE=123456789012345678901 is not a number of octets"},
		{"FROM:<a@a.test> SIZE=1 SIZE=2", "501 5.5.4 SIZE given twice"},
		{"FROM:<a@a.test> BODY=BINARYMIME", "501 5.5.4 BODY=BINARYMIME: use BODY=7BIT or BODY=8BITMIME"},
		{"FROM:<a@a.test> AUTH", "501 5.5.4 AUTH=: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=", "501 5.5.4 AUTH=: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=e=mc2@a.test", "501 5.5.4 AUTH=e=mc2@a.test: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=a+3d@a.test", "501 5.5.4 AUTH=a+3d@a.test: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=a+0A@a.test", "501 5.5.4 AUTH=a+0A@a.test: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=a+3", "501 5.5.4 AUTH=a+3: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=<a@a.test>", "501 5.5.4 AUTH=<a@a.test>: give the submitter's mailbox as xtext (RFC 3461 section 4), or <>"},
		{"FROM:<a@a.test> AUTH=<> AUTH=<>", "501 5.5.4 AUTH given twice"},
		{"FROM:<a@a.test> SMTPUTF8", "555 5.5.4 MAIL parameter SMTPUTF8 not recognized"},
		{"FROM:<a@a.test> ret=full", "555 5.5.4 MAIL parameter RET not recognized"},
		{"FROM:<a@a.test> X\x01=1", "555 5.5.4 MAIL parameter X? not recognized"},
	}
	for _, tt := range tests {
		_, _, err := ParseMailArg(tt.arg)
		if err == nil || err.Error() != tt.reply {
			t.Errorf("ParseMailArg(%q) error = %v, want %q", tt.arg, err, tt.reply)
		}
		if _, ok := errors.AsType[*Error](err); !ok {
			t.Errorf("ParseMailArg(%q) error %T is not an *Error", tt.arg, err)
		}
	}
}

func TestParseRcptArgValid(t *testing.T) {
	tests := []struct {
		arg string
		to  mail.Path
	}{
		{"TO:<bob@b.test>", mail.Path{Local: "bob", Domain: "b.test"}},
		{"to: <bob@b.test>", mail.Path{Local: "bob", Domain: "b.test"}},
		{"TO:<Postmaster>", mail.Path{Local: "Postmaster"}},
		{"TO:<postmaster>", mail.Path{Local: "postmaster"}},
		{"TO:<POSTMASTER@b.test>", mail.Path{Local: "POSTMASTER", Domain: "b.test"}},
		{"TO:<@r.test:bob@[192.0.2.1]>", mail.Path{Local: "bob", Domain: "[192.0.2.1]"}},
	}
	for _, tt := range tests {
		to, err := ParseRcptArg(tt.arg)
		if err != nil || to != tt.to {
			t.Errorf("ParseRcptArg(%q) = %#v, %v; want %#v", tt.arg, to, err, tt.to)
		}
	}
}

func TestParseRcptArgInvalid(t *testing.T) {
	tests := []struct {
		arg, reply string
	}{
		{"", "501 5.5.2 Syntax: RCPT TO:<address>"},
		{"FROM:<bob@b.test>", "501 5.5.2 Syntax: RCPT TO:<address>"},
		{"TO:<bob@b.test>x", "501 5.5.2 Syntax: a space must separate the path from its parameters"},
		{"TO:<>", "553 5.1.3 The null path <> is not a recipient"},
		{"TO:<bob>", "553 5.1.3 Bad recipient address syntax: missing '@' between local part and domain"},
		{"TO:<Postmasters>", "553 5.1.3 Bad recipient address syntax: missing '@' between local part and domain"},
		{"TO:bob@b.test", "553 5.1.3 Bad recipient address syntax: missing '<': a path is written <local@domain>"},
		{"TO:<bob@b.test> NOTIFY=NEVER", "555 5.5.4 RCPT parameter NOTIFY not recognized"},
		{"TO:<Postmaster> ORCPT=rfc822;a@b", "555 5.5.4 RCPT parameter ORCPT not recognized"},
	}
	for _, tt := range tests {
		_, err := ParseRcptArg(tt.arg)
		if err == nil || err.Error() != tt.reply {
			t.Errorf("ParseRcptArg(%q) error = %v, want %q", tt.arg, err, tt.reply)
		}
	}
}

func TestStateString(t *testing.T) {
	want := map[State]string{
		StateConnected: "Connected", StateReady: "Ready", StateMail: "Mail",
		StateRcpt: "Rcpt", StateData: "Data", StateClosed: "Closed", State(42): "State(42)",
	}
	for s, w := range want {
		if got := s.String(); got != w {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, w)
		}
	}
}

func TestErrorf(t *testing.T) {
	err := Errorf(C550MailboxUnavailable, "5.1.1", "No mailbox %s here", "<bob@b.test>")
	if got, want := err.Error(), "550 5.1.1 No mailbox <bob@b.test> here"; got != want {
		t.Errorf("Errorf(...).Error() = %q, want %q", got, want)
	}
	if err.Temporary() || !Errorf(C452TooManyRecipients, "4.5.3", "x").Temporary() {
		t.Error("Temporary() does not follow the first digit")
	}
	if C354StartInput.Class() != 3 {
		t.Errorf("C354StartInput.Class() = %d", C354StartInput.Class())
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, v := range allVerbs {
		f.Add([]byte(v))
		f.Add([]byte(strings.ToLower(v) + " some argument"))
	}
	f.Add([]byte("MAIL FROM:<a@b.test> SIZE=10 BODY=8BITMIME"))
	f.Add([]byte("RCPT TO:<Postmaster>"))
	f.Add([]byte("MA\x00IL"))
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, err := ParseCommand(line)
		if err != nil {
			if e, ok := errors.AsType[*Error](err); !ok || e.Code != C500SyntaxError {
				t.Fatalf("ParseCommand(%q) error %v is not a 500 reply", line, err)
			}
			return
		}
		if verb == "" || verb != strings.ToUpper(verb) || strings.ContainsAny(verb+arg, "\x00") {
			t.Fatalf("ParseCommand(%q) = %q, %q", line, verb, arg)
		}
	})
}

func FuzzParseMailArg(f *testing.F) {
	for _, s := range []string{
		"FROM:<alice@a.test>", "FROM: <alice@a.test> SIZE=100 BODY=8BITMIME", "FROM:<>",
		"from:<a@a.test> body=7bit", `FROM:<"q>d"@a.test> SIZE=1`, "FROM:<a@a.test> RET=FULL",
		"FROM:<a@a.test> SIZE=99999999999999999999", "FROM:<@r.test:a@[IPv6:2001:db8::1]>",
		"FROM:<a@a.test> AUTH=<>", "FROM:<a@a.test> AUTH=e+3Dmc2@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		from, p, err := ParseMailArg(arg)
		if err != nil {
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code/100 != 5 || e.Enhanced == "" || strings.ContainsAny(e.Message, "\r\n") {
				t.Fatalf("ParseMailArg(%q) error %q is not a one-line 5yz reply", arg, err)
			}
			return
		}
		if p.Size < 0 || (p.Body != "" && p.Body != "7BIT" && p.Body != "8BITMIME") || strings.ContainsFunc(p.Auth, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("ParseMailArg(%q) params = %#v", arg, p)
		}
		if _, err := mail.ParsePath(from.Bracketed()); err != nil {
			t.Fatalf("ParseMailArg(%q) = %#v, which does not reparse: %v", arg, from, err)
		}
		if to, err := ParseRcptArg("TO:" + from.Bracketed()); err != nil && !from.IsNull() || err == nil && to != from {
			t.Fatalf("ParseRcptArg disagrees with ParseMailArg(%q): %#v, %v", arg, to, err)
		}
	})
}
