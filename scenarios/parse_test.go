package scenarios

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// base is a valid scenario that the broken cases below change one line of.
const base = `name: t
users:
  - {address: alice@example.test, password: alice}
  - {address: bob@example.test, password: bob}
agents:
  - {name: mx.example.test, kind: mta, domains: [example.test], deliver_to: mda.example.test}
  - {name: mda.example.test, kind: mda, domains: [example.test]}
  - {name: laptop, kind: mua, user: alice@example.test}
steps:
`

func TestParseValid(t *testing.T) {
	sc, err := Parse("ok.yaml", []byte(base+`  - say: hello
  - send: {as: laptop, via: mx.example.test, to: [bob@example.test], cc: alice@example.test, subject: Hi, body: Hello, expect: "550 5.1.1"}
  - wait: {mailbox: bob@example.test}
  - expect:
      mailbox: bob@example.test
      count: 2
      message: 1
      headers: {Subject: Hi}
      header_count: {Received: 2}
  - pause: look
  - smtp:
      as: laptop
      via: mx.example.test
      dialogue:
        - {send: "MAIL FROM:<a@example.test> SIZE=10", expect: 552}
        - {data_size: 20KiB, expect: "552 5.3.4"}
        - {data: "Subject: x\n\nbody"}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := len(sc.Steps), 6; got != want {
		t.Fatalf("%d steps, want %d", got, want)
	}
	s := sc.Steps[1].Send
	if s.Expect == nil || s.Expect.String() != "550 5.1.1" || s.Expect.Pos.String() != "ok.yaml:11:128" {
		t.Errorf("send expect = %+v", s.Expect)
	}
	if diff := cmp.Diff([]string{"alice@example.test"}, s.Cc); diff != "" {
		t.Errorf("cc (-want +got):\n%s", diff)
	}
	w := sc.Steps[2].Wait
	if w.Count != 1 || w.Timeout != DefaultWaitTimeout {
		t.Errorf("wait defaults: count %d timeout %v", w.Count, w.Timeout)
	}
	e := sc.Steps[3].Expect
	if e.Count != 2 || e.Message != 1 || len(e.Headers) != 1 || e.HeaderCount[0].Count != 2 {
		t.Errorf("expect = %+v", e)
	}
	if got := e.Headers[0].Pos.String(); got != "ok.yaml:17:17" {
		t.Errorf("header check at %s, want ok.yaml:17:17", got)
	}
	x := sc.Steps[5].SMTP.Exchanges
	if len(x) != 3 || x[1].DataSize != 20<<10 || !x[1].IsData || x[2].Data != "Subject: x\n\nbody" || x[2].Expect != nil {
		t.Errorf("exchanges = %+v", x)
	}
	if sc.Agents[0].Listen != nil || sc.Agents[0].Hostname != "" {
		t.Errorf("agent defaults: %+v", sc.Agents[0])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // base + these steps, or a whole file when it starts with "!"
		want string
	}{
		{"unknown step", `  - shout: hi`,
			`f.yaml:10:5: unknown step "shout" (known: say, send, wait, expect, pause, smtp, pop3, imap, stop, start, flush)`},
		{"unknown key in send", `  - send: {as: laptop, via: mx.example.test, to: bob@example.test, subjet: Hi}`,
			`f.yaml:10:68: unknown key "subjet" in send (known: as, auth, bcc, body, cc, expect, from, headers, port, subject, tls, to, via)`},
		{"via names an mda", `  - send: {as: laptop, via: mda.example.test, to: bob@example.test}`,
			`f.yaml:10:29: via: mda.example.test is an mda, which does not speak SMTP (send via an mta)`},
		{"via names nobody", `  - send: {as: laptop, via: mx.nowhere.test, to: bob@example.test}`,
			`f.yaml:10:29: via: no agent is called "mx.nowhere.test"`},
		{"as names an mta", `  - send: {as: mx.example.test, via: mx.example.test, to: bob@example.test}`,
			`f.yaml:10:16: as: mx.example.test is an mta; messages are sent as an mua`},
		{"bad recipient", `  - send: {as: laptop, via: mx.example.test, to: [bob@example.test, "bob example.test"]}`,
			`f.yaml:10:50: to: "bob example.test": missing '@' between local part and domain`},
		{"bad local part", `  - send: {as: laptop, via: mx.example.test, from: "a b@example.test", to: bob@example.test}`,
			`f.yaml:10:52: from: "a b@example.test": character ' ' not allowed in a local part (quote it: "...")`},
		{"bracketed address", `  - send: {as: laptop, via: mx.example.test, to: "<bob@example.test>"}`,
			`f.yaml:10:50: to: "<bob@example.test>": write the address without < >`},
		{"no recipient", `  - send: {as: laptop, via: mx.example.test}`,
			`f.yaml:10:5: send: give at least one recipient (to, cc or bcc)`},
		{"missing via", `  - send: {as: laptop, to: bob@example.test}`,
			`f.yaml:10:5: send: via is missing`},
		{"mailbox of unknown user", `  - expect: {mailbox: carol@example.test, count: 1}`,
			`f.yaml:10:23: mailbox: carol@example.test is not one of the scenario's users`},
		{"bad duration", `  - wait: {mailbox: bob@example.test, timeout: 5 seconds}`,
			`f.yaml:10:48: timeout: expected a duration such as 5s or 500ms (at most 1h), found "5 seconds"`},
		{"negative count", `  - wait: {mailbox: bob@example.test, count: -1}`,
			`f.yaml:10:46: count: expected a whole number from 0 to 1000000, found "-1"`},
		{"expect code of 4 digits", `  - send: {as: laptop, via: mx.example.test, to: bob@example.test, expect: 5500}`,
			`f.yaml:10:76: expect: expected a reply code such as 550 or "550 5.7.1", found "5500"`},
		{"expect enhanced code of another class", `  - send: {as: laptop, via: mx.example.test, to: bob@example.test, expect: "550 4.1.1"}`,
			`f.yaml:10:76: expect: expected a reply code such as 550 or "550 5.7.1", found "550 4.1.1"`},
		{"dialogue line with two actions", "  - smtp:\n      as: laptop\n      via: mx.example.test\n      dialogue:\n        - {send: NOOP, data: x}",
			`f.yaml:14:11: dialogue line: give exactly one of send, data, data_size`},
		{"dialogue line with a line break", "  - smtp:\n      as: laptop\n      via: mx.example.test\n      dialogue:\n        - {send: \"NOOP\\r\\nQUIT\"}",
			`f.yaml:14:18: send: one line of at most 4096 bytes, without line breaks`},
		{"say without text", `  - say:`,
			`f.yaml:10:5: say: the text to show is missing`},
		{"step that is a list", `  - [say, hi]`,
			`f.yaml:10:5: step: expected one of say, send, wait, expect, pause, smtp, pop3, imap, stop, start, flush, each as "- kind: ..."`},
		{"headers with count 0", `  - expect: {mailbox: bob@example.test, count: 0, headers: {Subject: x}}`,
			`f.yaml:10:48: count: 0 messages have no headers to check`},
		{"bad header name", `  - expect: {mailbox: bob@example.test, headers: {"Sub ject": x}}`,
			`f.yaml:10:51: headers: "Sub ject" is not a header field name`},
		{"unknown kind", "!" + strings.Replace(base, "kind: mda", "kind: mdx", 1),
			`f.yaml:7:36: unknown agent kind "mdx" (known: dns, mda, mta, mua, open-relay, sink, smarthost)`},
		{"duplicate agent", "!" + strings.Replace(base, "steps:", "  - {name: laptop, kind: mua, user: bob@example.test}\nsteps:", 1),
			`f.yaml:9:12: duplicate agent name "laptop" (first at f.yaml:8:12)`},
		{"deliver_to names no mda", "!" + strings.Replace(base, "deliver_to: mda.example.test", "deliver_to: laptop", 1),
			`f.yaml:6:77: deliver_to: laptop is an mua, not an mda`},
		{"mta without deliver_to", "!" + strings.Replace(base, ", deliver_to: mda.example.test", "", 1),
			`f.yaml:6:5: mta mx.example.test: deliver_to is missing (the mda that stores its domains' mail)`},
		{"mda does not serve the mta's domain", "!" + strings.Replace(base, "kind: mta, domains: [example.test]", "kind: mta, domains: [example.test, other.test]", 1),
			`f.yaml:6:89: deliver_to: mda mda.example.test does not serve other.test (add it to its domains)`},
		{"user in no domain", "!" + strings.Replace(base, "bob@example.test", "bob@elsewhere.test", 1),
			`f.yaml:4:5: user bob@elsewhere.test: no mta or mda serves elsewhere.test (add it to an agent's domains)`},
		{"bad user address", "!" + strings.Replace(base, "bob@example.test", "bob@@example.test", 1),
			`f.yaml:4:5: user: "bob@@example.test": character '@' not allowed in a local part (quote it: "...")`},
		{"duplicate user", "!" + strings.Replace(base, "bob@example.test", "Alice@example.test", 1),
			`f.yaml:4:5: duplicate user Alice@example.test (first at f.yaml:3:5)`},
		{"mua of an unknown user", "!" + strings.Replace(base, "user: alice@example.test", "user: carol@example.test", 1),
			`f.yaml:8:37: user: carol@example.test is not one of the scenario's users`},
		{"key the kind does not use", "!" + strings.Replace(base, "kind: mua,", "kind: mua, deliver_to: mx.example.test,", 1),
			`f.yaml:8:43: deliver_to: an agent of kind mua has no deliver_to`},
		{"bad size", "!" + strings.Replace(base, "deliver_to: mda.example.test}", "deliver_to: mda.example.test, max_message_size: 10 parsecs}", 1),
			`f.yaml:6:113: max_message_size: expected a size such as 10MiB, 64KiB, 100kB or 2048, found "10 parsecs"`},
		{"max_connections of 0", "!" + strings.Replace(base, "kind: mda,", "kind: mda, max_connections: 0,", 1),
			`f.yaml:7:58: max_connections: must be at least 1 (leave it out for the default, 100)`},
		{"max_connections on an mta", "!" + strings.Replace(base, "kind: mta,", "kind: mta, max_connections: 5,", 1),
			`f.yaml:6:57: max_connections: an agent of kind mta has no max_connections`},
		{"listen on a listener the kind lacks", "!" + strings.Replace(base, "kind: mda,", "kind: mda, listen: {smtp: \"127.0.0.1:2525\"},", 1),
			`f.yaml:7:49: listen: an agent of kind mda has no "smtp" listener (it has: lmtp, pop3, imap)`},
		{"listen on a bad address", "!" + strings.Replace(base, "kind: mta,", "kind: mta, listen: {smtp: \"example.test:25\"},", 1),
			`f.yaml:6:48: listen: smtp: "example.test:25": the host must be an IP address`},
		{"unknown top key and missing name", "!" + strings.Replace(base, "name: t", "title: t", 1),
			`f.yaml:1:1: unknown key "title" in scenario (known: agents, description, name, steps, users)` + "\n" +
				`f.yaml:1:1: scenario: name is missing`},
		{"invalid YAML", "!name: t\nusers: [\n",
			`f.yaml:2: invalid YAML: did not find expected node content`},
		{"two documents", "!name: t\n---\nname: u\n",
			`f.yaml:2:1: a scenario file holds one YAML document; remove the second`},
		{"empty file", "!", `f.yaml: empty scenario file`},
		{"top level list", "!- a\n", `f.yaml:1:1: scenario: expected a mapping (key: value), found a list`},
		{"repeated key", "!" + base + "name: u\n",
			`f.yaml:10:1: scenario: key "name" repeated (first at line 1)`},
		{"several errors sorted by position", `  - wait: {mailbox: nobody@example.test}
  - say: [1]
  - send: {as: ghost, via: mx.example.test, to: bob@example.test}`,
			`f.yaml:10:21: mailbox: nobody@example.test is not one of the scenario's users` + "\n" +
				`f.yaml:11:10: say: expected text, found a list` + "\n" +
				`f.yaml:12:16: as: no agent is called "ghost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := base + tt.file + "\n"
			if strings.HasPrefix(tt.file, "!") {
				file = tt.file[1:]
			}
			sc, err := Parse("f.yaml", []byte(file))
			if err == nil {
				t.Fatalf("Parse succeeded (%d steps), want error:\n%s", len(sc.Steps), tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("error is %T with %d entries", err, len(list))
			}
		})
	}
}
