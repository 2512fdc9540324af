package sieve

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rfc5228Example is the script of RFC 5228 section 9, as printed there.
const rfc5228Example = `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`

const rfc5233Example = `require ["envelope", "subaddress", "fileinto"];

# In this example the same user account receives mail for both
# "ken@example.com" and "postmaster@example.com"

# File all messages to postmaster into a single mailbox,
# ignoring the :detail part.
if envelope :user "to" "postmaster" {
    fileinto "inbox.postmaster";
    stop;
}

# File mailing list messages (subscribed as "ken+mta-filters").
if envelope :detail "to" "mta-filters" {
    fileinto "inbox.ietf-mta-filters";
}

# Redirect all mail sent to "ken+foo".
if envelope :detail "to" "foo" {
    redirect "ken@example.net";
}
`

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		script string
		header string
		body   int
		env    Envelope
		want   []string
	}{
		// RFC 5228 section 9.
		{"rfc5228 9 list", rfc5228Example, "Sender: owner-ietf-mta-filters@imc.org\nTo: me@example.com", 0, Envelope{}, []string{"fileinto filter @13"}},
		{"rfc5228 9 company", rfc5228Example, "From: Boss <boss@EXAMPLE.com>\nTo: me@example.com", 0, Envelope{}, []string{"keep @20"}},
		{"rfc5228 9 not to me", rfc5228Example, "From: x@elsewhere.test\nTo: you@elsewhere.test", 0, Envelope{}, []string{"fileinto spam @32"}},
		{"rfc5228 9 spam subject", rfc5228Example, "From: x@elsewhere.test\nBcc: me@example.com\nSubject: MAKE big MONEY very fast!!", 0, Envelope{}, []string{"fileinto spam @32"}},
		{"rfc5228 9 personal", rfc5228Example, "From: x@elsewhere.test\nCc: Me <me@example.com>\nSubject: lunch?", 0, Envelope{}, []string{"fileinto personal @38"}},
		// RFC 5228 section 3.1, 3.3.
		{"no rule matches: implicit keep", `if header :is "Subject" "x" { discard; }`, "Subject: y", 0, Envelope{}, []string{"implicit keep"}},
		{"elsif chain", "if false { discard; } elsif true { keep; } else { discard; }", "", 0, Envelope{}, []string{"keep @1"}},
		{"stop ends the script", `require "fileinto"; fileinto "a"; stop; fileinto "b";`, "", 0, Envelope{}, []string{"fileinto a @1"}},
		{"stop alone keeps", "stop; discard;", "", 0, Envelope{}, []string{"implicit keep"}},
		// RFC 5228 section 4.1 - 4.4.
		{"4.1 fileinto", `require "fileinto"; if header :contains ["from"] "coyote" { fileinto "INBOX.harassment"; }`, "From: Wile E. Coyote <coyote@desert.example.org>", 0, Envelope{}, []string{"fileinto INBOX.harassment @1"}},
		{"4.2 redirect", `redirect "bart@example.com";`, "", 0, Envelope{}, []string{"redirect bart@example.com @1"}},
		{"4.3 keep", "if size :under 1M { keep; } else { discard; }", "", 10, Envelope{}, []string{"keep @1"}},
		{"4.4 discard", "if size :under 1M { keep; } else { discard; }", "", 2 << 20, Envelope{}, []string{"discard @1"}},
		{"discard with keep: keep wins", "discard; keep;", "", 0, Envelope{}, []string{"discard @1", "keep @1"}},
		// RFC 5228 section 5.
		{"5.1 address :all", `if address :is :all "from" "tim@example.com" { discard; }`, "From: Tim <Tim@Example.com>", 0, Envelope{}, []string{"discard @1"}},
		{"5.1 address :localpart", `if address :localpart :is "to" "bob" { discard; }`, "To: a@b.test, \"Bob B.\" <bob@c.test> (comment)", 0, Envelope{}, []string{"discard @1"}},
		{"5.1 address group", `if address :domain "cc" "c.test" { discard; }`, "Cc: friends: a@b.test, c@c.test;", 0, Envelope{}, []string{"discard @1"}},
		{"5.2 allof", `if allof (header :contains "From" "Cornell", header :contains "Subject" "auto") { discard; }`, "From: a@cornell.edu\nSubject: Automatic", 0, Envelope{}, []string{"discard @1"}},
		{"5.2 allof false", `if allof (header :contains "From" "Cornell", header :contains "Subject" "auto") { discard; }`, "From: a@cornell.edu\nSubject: hi", 0, Envelope{}, []string{"implicit keep"}},
		{"5.3 anyof", `if anyof (false, header :contains "Subject" "auto") { discard; }`, "Subject: AUTO", 0, Envelope{}, []string{"discard @1"}},
		{"5.4 envelope", `require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }`, "", 0, Envelope{From: "tim@example.com"}, []string{"discard @1"}},
		{"5.4 null sender is empty", `require "envelope"; if envelope :domain :is "from" "" { discard; }`, "", 0, Envelope{From: ""}, []string{"discard @1"}},
		{"5.5 exists", `if not exists ["From","Date"] { discard; }`, "From: a@b.test", 0, Envelope{}, []string{"discard @1"}},
		{"5.5 exists all", `if exists ["From","Date"] { discard; }`, "From: a@b.test\nDate: x", 0, Envelope{}, []string{"discard @1"}},
		{"5.7 header", `if header :contains ["from","cc"] ["from-spammer@example.com", "sex"] { discard; }`, "Cc: Sextant Co <x@y.test>", 0, Envelope{}, []string{"discard @1"}},
		{"5.7 absent header", `if header :contains "X-Nope" "" { discard; }`, "", 0, Envelope{}, []string{"implicit keep"}},
		{"5.7 empty key on present header", `if header :contains "Subject" "" { discard; }`, "Subject: x", 0, Envelope{}, []string{"discard @1"}},
		{"2.7.2 encoded words", `if header :is "Subject" "Café ouvert" { discard; }`, "Subject: =?utf-8?q?Caf=C3=A9?= ouvert", 0, Envelope{}, []string{"discard @1"}},
		{"5.9 size over", "if size :over 100K { discard; }", "", 100 << 10, Envelope{}, []string{"discard @1"}},
		{"5.9 size exact is not over", "if size :over 30 { discard; }", "Subject: 12345678901234567", 1, Envelope{}, []string{"implicit keep"}},
		{"i;octet is case-sensitive", `if header :is :comparator "i;octet" "Subject" "HELLO" { discard; }`, "Subject: hello", 0, Envelope{}, []string{"implicit keep"}},
		{"ascii-casemap is the default", `if header :is "Subject" "HELLO" { discard; }`, "Subject: hello", 0, Envelope{}, []string{"discard @1"}},
		// RFC 5228 section 2.10.3: duplicates.
		{"2.10.3 fileinto twice", `require "fileinto"; fileinto "a"; fileinto "a"; fileinto "b";`, "", 0, Envelope{}, []string{"fileinto a @1", "fileinto b @1"}},
		{"2.10.3 keep and INBOX", "require \"fileinto\";\nkeep;\nfileinto \"inbox\";", "", 0, Envelope{}, []string{"keep @2"}},
		{"2.10.3 redirect twice", `redirect "a@b.test"; redirect "A@B.test";`, "", 0, Envelope{}, []string{"redirect a@b.test @1"}},
		// RFC 3894 and RFC 5490.
		{"copy keeps the implicit keep", `require ["copy", "fileinto"]; redirect :copy "sysadmin@example.com"; fileinto :copy "x";`, "", 0, Envelope{}, []string{"redirect sysadmin@example.com :copy @1", "fileinto x :copy @1", "implicit keep"}},
		{"create", `require ["fileinto", "mailbox"]; fileinto :create "INBOX.Lists.Sieve";`, "", 0, Envelope{}, []string{"fileinto INBOX.Lists.Sieve :create @1"}},
		// RFC 5233 section 6.
		{"5233 postmaster", rfc5233Example, "", 0, Envelope{To: "postmaster+xyz@example.com"}, []string{"fileinto inbox.postmaster @9"}},
		{"5233 list detail", rfc5233Example, "", 0, Envelope{To: "ken+mta-filters@example.com"}, []string{"fileinto inbox.ietf-mta-filters @15"}},
		{"5233 foo detail", rfc5233Example, "", 0, Envelope{To: "ken+foo@example.com"}, []string{"redirect ken@example.net @20"}},
		{"5233 no detail", rfc5233Example, "", 0, Envelope{To: "ken@example.com"}, []string{"implicit keep"}},
		{"5233 empty detail", `require ["envelope", "subaddress"]; if envelope :detail "to" "" { discard; }`, "", 0, Envelope{To: "ken+@example.com"}, []string{"discard @1"}},
		{"5233 no separator never matches detail", `require ["envelope", "subaddress"]; if envelope :detail :matches "to" "*" { discard; }`, "", 0, Envelope{To: "ken@example.com"}, []string{"implicit keep"}},
		{"5233 address :user", `require "subaddress"; if address :user "to" "ken" { discard; }`, "To: ken+sieve@example.com", 0, Envelope{}, []string{"discard @1"}},
		// RFC 5429.
		{"5429 reject", "require [\"reject\"];\nif size :over 100K {\n    reject text:\nYour message is too big.  If you want to send me a big attachment,\nput it on a public web site and send me a URL.\n.\n;\n}", "", 200 << 10, Envelope{},
			[]string{"reject \"Your message is too big.  If you want to send me a big attachment,\\r\\nput it on a public web site and send me a URL.\\r\\n\" @3"}},
		{"5429 ereject", `require ["ereject"]; if address :domain :is "from" "example.com" { ereject "I no longer accept mail from this domain"; }`, "From: a@example.com", 0, Envelope{}, []string{"ereject \"I no longer accept mail from this domain\" @1"}},
		{"5429 reject with discard is fine", `require "reject"; discard; reject "no";`, "", 0, Envelope{}, []string{"discard @1", "reject \"no\" @1"}},
		// RFC 5230 section 4.
		{"5230 vacation", "require \"vacation\";\nif header :contains \"subject\" \"cyrus\" {\n    vacation \"I'm out -- send mail to cyrus-bugs\";\n} else {\n    vacation \"I'm out -- call me at +1 304 555 0123\";\n}",
			"To: bob@b.test\nSubject: cyrus bug", 0, Envelope{From: "alice@a.test", To: "bob@b.test"}, []string{"vacation days=7 @3", "implicit keep"}},
		{"5230 vacation days and list", "require \"vacation\";\nvacation :days 23 :addresses [\"tjs@example.edu\", \"ts4z@landru.example.edu\"] \"I'm away until October 19.\";",
			"To: ts4z@landru.example.edu\nList-Id: <x.lists.test>", 0, Envelope{From: "alice@a.test", To: "tim@example.edu"}, []string{"vacation days=23 noreply @2", "implicit keep"}},
		{"5230 vacation days clamped", `require "vacation"; vacation :days 0 "x";`, "To: bob@b.test", 0, Envelope{From: "a@a.test", To: "bob@b.test"}, []string{"vacation days=1 @1", "implicit keep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.script)
			res, err := s.Run(message(t, tt.header, tt.body), tt.env)
			if err != nil {
				t.Fatalf("Run: %v\ntrace:\n%s", err, strings.Join(res.Trace, "\n"))
			}
			if diff := cmp.Diff(tt.want, summary(res)); diff != "" {
				t.Errorf("actions (-want +got):\n%s\ntrace:\n%s", diff, strings.Join(res.Trace, "\n"))
			}
		})
	}
}

// Runtime errors: the message is kept, the error names the line.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"reject after fileinto", "require [\"reject\", \"fileinto\"];\nfileinto \"a\";\nreject \"no\";", `t.sieve:3:1: reject cannot be combined with fileinto at line 2 (RFC 5429 section 2)`},
		{"keep after reject", "require \"reject\";\nreject \"no\";\nkeep;", `t.sieve:3:1: keep cannot be combined with reject at line 2 (RFC 5429 section 2)`},
		{"reject with redirect", "require \"reject\";\nredirect \"a@b.test\";\n  reject \"no\";", `t.sieve:3:3: reject cannot be combined with redirect at line 2 (RFC 5429 section 2)`},
		{"reject with vacation", "require [\"reject\", \"vacation\"];\nvacation \"away\";\nreject \"no\";", `t.sieve:3:1: reject cannot be combined with vacation at line 2 (RFC 5429 section 2)`},
		{"two rejects", "require [\"reject\", \"ereject\"];\nreject \"no\";\nereject \"no\";", `t.sieve:3:1: ereject cannot be combined with reject at line 2 (RFC 5429 section 2)`},
		{"two vacations", "require \"vacation\";\nvacation \"a\";\nvacation \"b\";", `t.sieve:3:1: vacation may be used once per run; it was already used at line 2`},
		{"too many redirects", `redirect "a@b.test"; redirect "b@b.test"; redirect "c@b.test"; redirect "d@b.test"; redirect "e@b.test";`, `t.sieve:1:85: more than 4 redirects (RFC 5228 section 2.10.4)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.script)
			res, err := s.Run(message(t, "To: bob@b.test", 0), Envelope{From: "a@a.test", To: "bob@b.test"})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
			if !res.ImplicitKeep || len(res.Actions) != 0 {
				t.Errorf("after an error: ImplicitKeep %v, actions %v; want the message kept", res.ImplicitKeep, res.Actions)
			}
			if last := res.Trace[len(res.Trace)-1]; !strings.HasPrefix(last, "error: ") {
				t.Errorf("last trace line %q, want the error", last)
			}
		})
	}
}

func TestTrace(t *testing.T) {
	s := mustParse(t, `require "fileinto";
if header :contains "List-Id" "maillab" {
  fileinto "lists";
}
`)
	res, err := s.Run(message(t, "List-Id: The Maillab list <maillab.lists.test>", 0), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`line 2: header :contains "List-Id" "maillab" → true (List-Id: "The Maillab list <maillab.lists.test>")`,
		`line 3: fileinto "lists" (cancels the implicit keep)`,
		`end: no implicit keep: fileinto at line 3 cancelled it`,
	}
	if diff := cmp.Diff(want, res.Trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestVacationRunFillsDetails(t *testing.T) {
	s := mustParse(t, `require "vacation"; vacation :handle "ran-away" :from "Bob <bob@b.test>" "Gone fishing";`)
	res, err := s.Run(message(t, "To: bob@b.test\nSubject: =?utf-8?q?r=C3=A9union?=", 0), Envelope{From: "alice@a.test", To: "bob@b.test"})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Actions[0].Vacation
	want := Vacation{Days: 7, Subject: "Auto: réunion", From: "Bob <bob@b.test>", Handle: "ran-away", To: "alice@a.test"}
	if diff := cmp.Diff(want, *v); diff != "" {
		t.Errorf("vacation (-want +got):\n%s", diff)
	}
	if res.Actions[0].Reason != "Gone fishing" {
		t.Errorf("reason %q", res.Actions[0].Reason)
	}
	// The script's own copy is untouched: runs share it.
	res2, _ := s.Run(message(t, "To: bob@b.test\nList-Id: x", 0), Envelope{From: "carol@c.test", To: "bob@b.test"})
	if v2 := res2.Actions[0].Vacation; v2.To != "carol@c.test" || v2.NoReply == "" || v.To != "alice@a.test" || v.NoReply != "" {
		t.Errorf("runs share vacation details: %+v, %+v", v, v2)
	}
}

func TestStepBudget(t *testing.T) {
	// A pattern that makes a naive backtracking matcher exponential, on a
	// long value: the run must end quickly, in an error or not.
	pat := "*" + strings.Repeat("a", 200) + "b"
	s := mustParse(t, `if header :matches "Subject" "`+pat+`" { discard; }`)
	res, err := s.Run(message(t, "Subject: "+strings.Repeat("a", 50000), 0), Envelope{})
	if err == nil {
		t.Fatalf("no error; trace %v", res.Trace)
	}
	if !strings.Contains(err.Error(), "t.sieve:1:4: script stopped: more than") {
		t.Errorf("err = %v", err)
	}
}
