package sieve

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRun runs a 20-rule script, of the kind a user writes to sort
// lists, on a message that only the last rule matches.
func BenchmarkRun(b *testing.B) {
	var src strings.Builder
	src.WriteString(`require ["fileinto", "envelope", "subaddress"];` + "\n")
	for i := range 19 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&src, "if header :contains \"List-Id\" \"list%d\" { fileinto \"lists.%d\"; stop; }\n", i, i)
		case 1:
			fmt.Fprintf(&src, "if address :domain :is \"from\" \"d%d.test\" { fileinto \"d%d\"; stop; }\n", i, i)
		case 2:
			fmt.Fprintf(&src, "if header :matches \"subject\" \"*[list%d]*\" { fileinto \"s%d\"; stop; }\n", i, i)
		case 3:
			fmt.Fprintf(&src, "if envelope :detail \"to\" \"tag%d\" { fileinto \"t%d\"; stop; }\n", i, i)
		}
	}
	src.WriteString(`if anyof (size :over 1M, header :contains "subject" "report") { fileinto "reports"; }` + "\n")
	s := mustParse(b, src.String())
	msg := message(b, "From: Alice <alice@a.test>\nTo: bob+x@b.test\nSubject: the weekly report for the team\nList-Id: <other.lists.test>", 4000)
	env := Envelope{From: "alice@a.test", To: "bob+x@b.test"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Run(msg, env)
		if err != nil || len(res.Actions) != 1 {
			b.Fatalf("%v %v", err, res.Actions)
		}
	}
}
