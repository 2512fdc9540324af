package sieve

import (
	"strings"
	"testing"
)

// RFC 5230 sections 4.5 and 4.6, RFC 3834 section 2.
func TestShouldAutoReply(t *testing.T) {
	bob := Envelope{From: "alice@a.test", To: "bob@b.test"}
	tests := []struct {
		name   string
		header string
		env    Envelope
		addrs  []string
		want   bool
		reason string
	}{
		{"personal mail", "To: Bob <bob@b.test>", bob, nil, true, "To names the user (bob@b.test)"},
		{"cc", "To: x@x.test\nCc: BOB@b.test", bob, nil, true, "Cc names the user"},
		{"other address", "To: robert@b.test", bob, []string{"robert@b.test"}, true, "To names the user"},
		{"bounce", "To: bob@b.test", Envelope{From: "", To: "bob@b.test"}, nil, false, "the envelope sender is <>, a bounce"},
		{"mailer-daemon", "To: bob@b.test", Envelope{From: "MAILER-DAEMON@a.test", To: "bob@b.test"}, nil, false, "a mail daemon or a list manager"},
		{"owner-", "To: bob@b.test", Envelope{From: "owner-list@a.test", To: "bob@b.test"}, nil, false, "list manager"},
		{"-request", "To: bob@b.test", Envelope{From: "list-request@a.test", To: "bob@b.test"}, nil, false, "list manager"},
		{"auto-submitted", "To: bob@b.test\nAuto-Submitted: auto-replied", bob, nil, false, "Auto-Submitted: auto-replied"},
		{"auto-submitted no", "To: bob@b.test\nAuto-Submitted: no", bob, nil, true, ""},
		{"auto-generated with params", "To: bob@b.test\nAuto-Submitted: Auto-Generated; type=x", bob, nil, false, "auto-generated"},
		{"list-id", "To: bob@b.test\nList-Id: <x.lists.test>", bob, nil, false, "List-Id is present"},
		{"list-unsubscribe", "To: bob@b.test\nList-Unsubscribe: <mailto:x@y.test>", bob, nil, false, "List-Unsubscribe"},
		{"precedence bulk", "To: bob@b.test\nPrecedence: Bulk", bob, nil, false, "Precedence: bulk"},
		{"precedence junk", "To: bob@b.test\nPrecedence: junk", bob, nil, false, "Precedence: junk"},
		{"precedence list", "To: bob@b.test\nPrecedence: list", bob, nil, false, "Precedence: list"},
		{"not addressed to the user", "To: everyone@lists.test", bob, nil, false, "none of the user's addresses"},
		{"from oneself", "To: bob@b.test", Envelope{From: "bob@b.test", To: "bob@b.test"}, nil, false, "no reply to oneself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := ShouldAutoReply(message(t, tt.header, 0), tt.env, tt.addrs)
			if ok != tt.want || !strings.Contains(reason, tt.reason) {
				t.Errorf("= %v, %q; want %v, %q", ok, reason, tt.want, tt.reason)
			}
		})
	}
}
