package sieve

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/mail"
)

// message builds a Message from header lines ("From: a@b.test\nTo: ...").
// The size is the header's length plus body bytes.
func message(t testing.TB, header string, bodyBytes int) Message {
	t.Helper()
	h, err := mail.ParseHeader(strings.NewReader(header + "\n\n"))
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	return HeaderMessage(h, int64(len(header)+2+bodyBytes))
}

// summary writes a result as one line per action, for comparisons:
// "fileinto spam", "redirect a@b.test", "keep (implicit)".
func summary(res Result) []string {
	var out []string
	for _, a := range res.Actions {
		s := a.Kind
		switch a.Kind {
		case ActionFileinto:
			s += " " + a.Mailbox
			if a.Create {
				s += " :create"
			}
		case ActionRedirect:
			s += " " + a.Address
		case ActionReject, ActionEreject:
			s += " " + fmt.Sprintf("%q", a.Reason)
		case ActionVacation:
			s += fmt.Sprintf(" days=%d", a.Vacation.Days)
			if a.Vacation.NoReply != "" {
				s += " noreply"
			}
		}
		if a.Copy {
			s += " :copy"
		}
		out = append(out, fmt.Sprintf("%s @%d", s, a.Line))
	}
	if res.ImplicitKeep {
		out = append(out, "implicit keep")
	}
	return out
}

func mustParse(t testing.TB, src string) *Script {
	t.Helper()
	s, err := Parse("t.sieve", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return s
}
