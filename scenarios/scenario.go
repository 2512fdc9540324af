package scenarios

import (
	"fmt"
	"time"
)

// Scenario is a parsed and validated scenario file: who is in the lab and
// what happens, in order.
type Scenario struct {
	File        string // as given to Parse; used in every Pos
	Name        string
	Description string
	Users       []User
	Agents      []Agent
	Steps       []Step
}

// User is a mail account of the lab. Its domain must be served by an
// agent (an MTA or MDA listing it under domains).
//
//	users:
//	  - {address: bob@example.test, password: bob}
type User struct {
	Pos      Pos
	Address  string
	Password string
}

// Agent is one program of the lab. Which fields a kind uses is in the kind
// table (see Kinds); a field a kind does not use is an error.
//
//	agents:
//	  - {name: mx.example.test, kind: mta, domains: [example.test], deliver_to: mda.example.test}
//	  - {name: mda.example.test, kind: mda, domains: [example.test]}
//	  - {name: alice-laptop, kind: mua, user: alice@example.test}
type Agent struct {
	Pos      Pos
	Name     string // unique in the scenario
	Kind     string // a key of the kind table: "mta", "mda", "mua"
	Hostname string // the name it gives in greetings and EHLO; see hostname()
	Domains  []string
	// DeliverTo names the MDA an MTA hands its domains' mail to, over LMTP.
	DeliverTo string
	// User is the account an MUA belongs to.
	User string
	// MaxMessageSize is an MTA's SIZE limit in bytes; 0 means the agent's default.
	MaxMessageSize int64
	// MaxRecipients is an MTA's recipients-per-transaction limit; 0 means the default.
	MaxRecipients int
	// Listen maps a listener ("smtp", "lmtp") to a fixed host:port.
	Listen map[string]string

	at posMap // where each key's value is, for errors found after decoding
}

// Step kinds, the key that starts each item of steps.
const (
	StepSay    = "say"    // a note for the class, in the transcript
	StepPause  = "pause"  // a note, and a stop in step mode (Options.Pause)
	StepSend   = "send"   // an MUA sends a message through an MTA
	StepWait   = "wait"   // wait until a mailbox holds N messages
	StepExpect = "expect" // check a mailbox and the headers of a message
	StepSMTP   = "smtp"   // a hand-typed SMTP dialogue
)

// Step is one item of steps. Kind says which of the other fields is set.
type Step struct {
	Pos    Pos
	Kind   string
	Text   string // say, pause
	Send   *Send
	Wait   *Wait
	Expect *Expect
	SMTP   *Dialogue
}

// Send makes the MUA As submit a message to the MTA Via.
//
//	steps:
//	  - send: {as: alice-laptop, via: mx.example.test, to: bob@example.test, subject: Hi, body: "Hello"}
type Send struct {
	As, Via string
	From    string // envelope sender and From:; the MUA's user when empty
	To      []string
	Cc      []string
	Bcc     []string
	Subject string
	Body    string
	// Expect, when set, is the refusal the lesson is about: the send must
	// fail with this reply.
	Expect *Reply

	at posMap
}

// Wait polls a mailbox until it holds Count messages, or Timeout passes.
//
//	steps:
//	  - wait: {mailbox: bob@example.test, count: 1, timeout: 5s}
type Wait struct {
	Mailbox string
	Count   int           // default 1
	Timeout time.Duration // default DefaultWaitTimeout

	at posMap
}

// DefaultWaitTimeout bounds a wait step that gives no timeout.
const DefaultWaitTimeout = 5 * time.Second

// Expect checks a mailbox and, when headers are given, one of its messages.
//
//	steps:
//	  - expect:
//	      mailbox: bob@example.test
//	      count: 1
//	      headers: {Subject: "Hello Bob", Return-Path: "<alice@example.test>"}
//	      header_count: {Received: 1}
type Expect struct {
	Mailbox string
	Count   int // -1 when not checked
	// Message chooses the message the header checks read: 1 is the oldest;
	// 0 (the default) means the newest.
	Message     int
	Headers     []HeaderCheck
	HeaderCount []HeaderCount

	at posMap
}

// HeaderCheck wants the first field Name to have Value (compared after
// decoding RFC 2047 encoded words, and also as written).
type HeaderCheck struct {
	Pos   Pos
	Name  string
	Value string
}

// HeaderCount wants exactly Count fields called Name.
type HeaderCount struct {
	Pos   Pos
	Name  string
	Count int
}

// Dialogue is a hand-typed SMTP session from the MUA As to the agent Via:
// each line is sent as written and the reply checked, whatever its code.
//
//	steps:
//	  - smtp:
//	      as: alice-laptop
//	      via: mx.example.test
//	      dialogue:
//	        - {send: "RCPT TO:<bob@example.test>", expect: "503 5.5.1"}
type Dialogue struct {
	As, Via   string
	Exchanges []Exchange

	at posMap
}

// Exchange is one line of a Dialogue: a command (Send), or, after a 354,
// message data (Data, or DataSize bytes of generated text).
type Exchange struct {
	Pos      Pos
	Send     string
	Data     string
	DataSize int64
	IsData   bool   // Data or DataSize was given
	Expect   *Reply // nil: any reply is fine
}

// Reply is an expected SMTP reply: a code and, optionally, an enhanced
// status code (RFC 3463).
type Reply struct {
	Pos      Pos
	Code     int
	Enhanced string
}

// String returns "552 5.3.4" or "503".
func (r Reply) String() string {
	if r.Enhanced != "" {
		return fmt.Sprintf("%d %s", r.Code, r.Enhanced)
	}
	return fmt.Sprintf("%d", r.Code)
}

// Match reports whether a reply with code and enhanced matches r. An
// expectation without an enhanced code accepts any.
func (r Reply) Match(code int, enhanced string) bool {
	return r.Code == code && (r.Enhanced == "" || r.Enhanced == enhanced)
}

// posMap remembers where each key's value was, so that checks made after
// decoding (cross-references) point at the right place.
type posMap map[string]Pos

func (m posMap) of(key string, fallback Pos) Pos {
	if p, ok := m[key]; ok {
		return p
	}
	return fallback
}
