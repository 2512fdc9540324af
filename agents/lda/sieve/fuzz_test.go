package sieve

import (
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// runs on a sample message without panicking and within its budget.
func FuzzParse(f *testing.F) {
	// A smaller step budget keeps every run quick under the fuzzer's
	// instrumentation (with 5M steps a hostile :matches took seconds and
	// the fuzzer stalled); the limit itself is what is being tested.
	maxSteps = 20_000
	f.Cleanup(func() { maxSteps = MaxSteps })
	seeds := []string{
		rfc5228Example, rfc5233Example, "", "keep;", "stop;", "discard;",
		`require ["fileinto", "mailbox", "copy"]; fileinto :create :copy "a";`,
		`redirect :copy "a@b.test";`, `require "copy"; redirect :copy "a@b.test";`,
		"require \"reject\"; reject text:\n..x\n.\n;",
		`require "ereject"; ereject "no";`,
		`require "vacation"; vacation :days 3 :subject "s" :from "b@b.test" :addresses ["a@b.test"] :handle "h" "r";`,
		`if allof (header :matches "subject" "*a?\\*", not exists "x", size :over 1K) { keep; } elsif anyof (true, false) { discard; } else { stop; }`,
		`require ["envelope", "subaddress"]; if envelope :detail :comparator "i;octet" "to" "x" { keep; }`,
		`if address :localpart :contains ["from", "to"] ["a", "b"] { keep; }`,
		"/* c */ # c\nif true {}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	msg := message(f, "From: Alice <alice@a.test>\nTo: bob+x@b.test, team: c@c.test;\nSubject: =?utf-8?q?hello?= world\nList-Id: <l.test>", 1000)
	env := Envelope{From: "alice@a.test", To: "bob+x@b.test"}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.sieve", src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		res, err := s.Run(msg, env)
		if err != nil && !res.ImplicitKeep {
			t.Fatalf("error without implicit keep: %v", err)
		}
		if len(res.Actions) > MaxActions || len(res.Trace) > MaxTraceLines+1 {
			t.Fatalf("limits exceeded: %d actions, %d trace lines", len(res.Actions), len(res.Trace))
		}
	})
}
