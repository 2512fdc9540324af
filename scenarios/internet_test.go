package scenarios

import (
	"strings"
	"testing"

	"github.com/maillab/maillab/transcripts"
)

// twoDomains is a lab with DNS and two domains; extra is added to the
// dns agent's stanza, steps follow.
func twoDomains(dnsExtra, mtaBExtra, steps string) string {
	return `name: t
users:
  - {address: alice@a.example, password: alice}
  - {address: bob@b.example, password: bob}
agents:
  - {name: ns, kind: dns` + dnsExtra + `}
  - {name: mx.a.example, kind: mta, domains: [a.example], deliver_to: mda.a.example, retry: [200ms], max_age: 2s}
  - {name: mda.a.example, kind: mda, domains: [a.example]}
  - {name: mx.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example` + mtaBExtra + `}
  - {name: mda.b.example, kind: mda, domains: [b.example]}
  - {name: alice-laptop, kind: mua, user: alice@a.example}
steps:
` + steps
}

func runText(t *testing.T, text string) (*Result, string) {
	t.Helper()
	sc, err := Parse("t.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{Now: fixedNow})
	res := runScenario(t, sc, opts)
	var b strings.Builder
	for _, e := range opts.Recorder.Events() {
		b.WriteString(e.Line + "\n")
	}
	return res, b.String()
}

const sendToBob = `  - send: {as: alice-laptop, via: mx.a.example, to: bob@b.example, subject: hi, body: hello}
`

func TestImplicitMX(t *testing.T) {
	res, tr := runText(t, twoDomains(", implicit_mx: [b.example]", "", sendToBob+`  - wait: {mailbox: bob@b.example, count: 1}
`))
	if res.Failed != 0 {
		t.Fatalf("%+v", res.Steps)
	}
	for _, want := range []string{"answer NOERROR aa (no data): b.example has no MX record", "the implicit MX (RFC 5321 section 5.1)", "query A b.example"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

func TestNullMXBounces(t *testing.T) {
	res, tr := runText(t, twoDomains(`, records: [{name: b.example, type: MX, preference: 0, value: "."}]`, "", sendToBob+`  - wait: {mailbox: alice@a.example, count: 1}
  - expect: {mailbox: alice@a.example, headers: {Subject: Undelivered Mail Returned to Sender, Return-Path: "<>"}}
`))
	if res.Failed != 0 {
		t.Fatalf("%+v", res.Steps)
	}
	if !strings.Contains(tr, "5.1.10") || !strings.Contains(tr, "null MX") {
		t.Errorf("the transcript does not explain the null MX bounce:\n%s", tr)
	}
}

// The preferred MX is down: the backup (higher preference) takes the mail.
func TestBackupMX(t *testing.T) {
	text := twoDomains(`, records: [{name: b.example, type: MX, preference: 10, value: mx.b.example}, {name: b.example, type: MX, preference: 20, value: mx2.b.example}]`, "",
		`  - stop: mx.b.example
`+sendToBob+`  - wait: {mailbox: bob@b.example, count: 1}
`)
	text = strings.Replace(text, "  - {name: mda.b.example,", "  - {name: mx2.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example}\n  - {name: mda.b.example,", 1)
	res, tr := runText(t, text)
	if res.Failed != 0 {
		t.Fatalf("%+v\n%s", res.Steps, tr)
	}
	for _, want := range []string{"goes to MX 10 mx.b.example, MX 20 mx2.b.example", "connect to mx.b.example", "delivered to <bob@b.example> via mx2.b.example"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

// A fault on the peer's RCPT defers the message once; the retry delivers
// it, once.
func TestFaultDefersThenDelivers(t *testing.T) {
	res, tr := runText(t, twoDomains("", `, faults: [{command: RCPT, reply: "451 4.3.0 Greylisted, try again later", times: 1}]`,
		sendToBob+`  - wait: {mailbox: bob@b.example, count: 1}
  - wait: {queue: mx.a.example, empty: true}
  - expect: {mailbox: bob@b.example, count: 1}
`))
	if res.Failed != 0 {
		t.Fatalf("%+v", res.Steps)
	}
	for _, want := range []string{"451 4.3.0 Greylisted", "deferred: <bob@b.example>", "delivered to <bob@b.example> via mx.b.example"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

func TestInternetScenarioMistakes(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"relay_for names nobody", strings.Replace(twoDomains("", "", sendToBob), "retry: [200ms]", "relay_for: [nobody]", 1),
			`relay_for: item 1, "nobody", is neither an agent nor a network such as 127.0.5.0/24`},
		{"implicit_mx of an unserved domain", twoDomains(", implicit_mx: [z.example]", "", sendToBob),
			"implicit_mx: no MTA serves z.example"},
		{"bad fault reply", twoDomains("", `, faults: [{command: RCPT, reply: "250 ok"}]`, sendToBob),
			`reply: expected a 4yz or 5yz reply such as "451 4.3.0 Try again later", found "250 ok"`},
		{"wait on a queue without attempts", twoDomains("", "", `  - wait: {queue: mx.a.example}
`), "wait: on a queue, give attempts: N or empty: true"},
		{"queue of an mda", twoDomains("", "", `  - wait: {queue: mda.a.example, empty: true}
`), "queue: mda.a.example is of kind mda; only MTAs have a queue"},
		{"smarthost that is a dns", strings.Replace(twoDomains("", "", sendToBob), "retry: [200ms]", "smarthost: ns", 1),
			"smarthost: ns is of kind dns, not an MTA"},
		{"stop an unknown agent", twoDomains("", "", `  - stop: mx.z.example
`), `stop: no agent is called "mx.z.example"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t.yaml:") {
				t.Errorf("error = %v, want t.yaml:LINE:COL: ...%s", err, tc.want)
			}
		})
	}
}

func TestLDAScenarioMistakes(t *testing.T) {
	base := `name: t
users:
  - {address: bob@b.example, password: bob}
  - address: carol@b.example
    sieve: |
      require "fileinto";
      if header :contains "subject" "x" {
        fileinto "X"
      }
agents:
  - {name: mx.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example}
  - {name: mda.b.example, kind: mda, domains: [b.example], aliases: {team: [bob, zed]}}
steps:
  - say: hi
`
	_, err := Parse("t.yaml", []byte(base))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		// Line 3 of the script is line 8 of the file; the ';' is missing
		// after "X", column 15 of the script plus 6 of indentation.
		"t.yaml:8:21: sieve: missing ';' after fileinto",
		"aliases: team@b.example stands for zed@b.example, who is neither a user nor an alias",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// Two users forwarding to each other, with an MTA that delivers at once
// (no queue): the second forward finds its own Delivered-To and keeps the
// message, and nothing waits on itself (the LDA once held a user's lock
// while the forward came back to the same user, and hung for two
// minutes).
func TestForwardLoopEndsAtOnce(t *testing.T) {
	res, tr := runText(t, `name: t
users:
  - {address: alice@b.example, password: alice}
  - {address: carol@b.example, password: carol, forward: [dave@b.example]}
  - {address: dave@b.example, password: dave, forward: [carol@b.example]}
agents:
  - {name: mx.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example}
  - {name: mda.b.example, kind: mda, domains: [b.example], aliases: {sales: [support], support: [sales]}}
  - {name: alice-laptop, kind: mua, user: alice@b.example}
steps:
  - send: {as: alice-laptop, via: mx.b.example, to: sales@b.example, subject: Loop, body: "Hello.", expect: "554 5.4.6"}
  - send: {as: alice-laptop, via: mx.b.example, to: carol@b.example, subject: Ping-pong, body: "Hello."}
  - expect: {mailbox: carol@b.example, count: 1}
`)
	if res.Failed != 0 {
		t.Fatalf("%+v", res.Steps)
	}
	for _, want := range []string{"alias loop: sales@b.example → support@b.example → sales@b.example", "a forwarding loop, not forwarded again; kept here"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

// The MDA refuses one of two recipients after the other got the message:
// the client still gets 250 (RFC 5321 section 4.4), and the sender gets a
// bounce for the refused one, from the MTA's queue, in a lab without a
// dns agent too.
func TestPartialRefusalBounces(t *testing.T) {
	res, tr := runText(t, `name: t
users:
  - {address: alice@b.example, password: alice}
  - {address: carol@b.example, password: carol}
  - {address: eve@b.example, password: eve, quota: 100}
agents:
  - {name: mx.b.example, kind: mta, domains: [b.example], deliver_to: mda.b.example}
  - {name: mda.b.example, kind: mda, domains: [b.example]}
  - {name: alice-laptop, kind: mua, user: alice@b.example}
steps:
  - send: {as: alice-laptop, via: mx.b.example, to: [carol@b.example, eve@b.example], subject: Both, body: "Too big for Eve."}
  - wait: {mailbox: alice@b.example, count: 1}
  - expect: {mailbox: alice@b.example, headers: {Subject: Undelivered Mail Returned to Sender, Return-Path: "<>"}}
  - expect: {mailbox: carol@b.example, count: 1}
`)
	if res.Failed != 0 {
		t.Fatalf("%+v\n%s", res.Steps, tr)
	}
	for _, want := range []string{"the answer is still 250", "the queue tries once more, then bounces", "Mailbox full"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}
