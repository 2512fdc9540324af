package sieve

import "github.com/maillab/maillab/protocols/mail"

// Message is what the tests of a script read. The LDA implements it over
// the stored message; HeaderMessage adapts a parsed mail.Header.
type Message interface {
	// Header returns the values of every field called name (any case),
	// in order, as they are in the message: encoded words (RFC 2047) not
	// decoded, folding optional. None means the field is absent.
	Header(name string) []string
	// Size is the message's size in octets, as the size test sees it
	// (RFC 5228 section 5.9).
	Size() int64
}

// Envelope is the SMTP envelope of one delivery (RFC 5228 section 5.4).
type Envelope struct {
	// From is the reverse-path without brackets, "" for the null path <>.
	From string
	// To is the recipient being delivered to: one RCPT, never several.
	To string
}

// Action kinds, as in Action.Kind.
const (
	ActionKeep     = "keep"     // RFC 5228 section 4.3: file into the user's main mailbox
	ActionDiscard  = "discard"  // RFC 5228 section 4.4: cancels the implicit keep, delivers nothing
	ActionFileinto = "fileinto" // RFC 5228 section 4.1
	ActionRedirect = "redirect" // RFC 5228 section 4.2
	ActionReject   = "reject"   // RFC 5429 section 2.2: refuse, with a reason, by DSN or in the protocol
	ActionEreject  = "ereject"  // RFC 5429 section 2.1: refuse in the protocol if at all possible
	ActionVacation = "vacation" // RFC 5230: an automatic reply
)

// Action is one thing a script asked for. Run returns them in script
// order; the LDA carries them out after the script has finished (RFC 5228
// section 2.10.1: actions happen at the end, not as the script runs).
type Action struct {
	Kind string // one of the Action* constants

	Mailbox string // fileinto: the mailbox, as written
	Create  bool   // fileinto :create (RFC 5490 section 3.2): create the mailbox if it is missing
	Copy    bool   // fileinto or redirect :copy (RFC 3894): does not cancel the implicit keep

	Address string // redirect: the address to send the message on to

	Reason   string    // reject, ereject and vacation: the text for the sender
	Vacation *Vacation // vacation: the details

	Line, Col int // where the command is in the script
}

// Vacation holds the details of a vacation action (RFC 5230 section 4).
type Vacation struct {
	// Days is the period during which a sender gets one reply at most:
	// :days, else DefaultVacationDays, brought within MinVacationDays and
	// MaxVacationDays (RFC 5230 section 4.1).
	Days int
	// Subject is the reply's subject: :subject, else "Auto: " and the
	// message's subject (RFC 5230 section 4.3).
	Subject string
	// From is :from, "" when the reply should come from the user's address.
	From string
	// Addresses is :addresses: other addresses of the user (section 4.5).
	Addresses []string
	// Handle names this vacation for the once-per-period check: :handle,
	// else derived from the reason, :subject and :from, so that a new text
	// is a new vacation (RFC 5230 section 4.2).
	Handle string
	// To is who the reply goes to: the envelope sender (RFC 5230 section
	// 4.6, RFC 3834 section 4).
	To string
	// NoReply says why no reply is due, from ShouldAutoReply; "" means
	// one is, unless the LDA finds it already replied to To under Handle
	// within Days (RFC 5230 section 4.2: that state is the LDA's).
	NoReply string
}

// Result is what a run of a script decided.
type Result struct {
	// Actions are the actions to carry out, in script order, duplicates
	// already merged (RFC 5228 section 2.10.3).
	Actions []Action
	// Trace tells what happened, one line per test, action and stop, for
	// the transcript: `line 5: header :contains "List-Id" "maillab" → true`.
	Trace []string
	// ImplicitKeep is true when no action cancelled the implicit keep (RFC
	// 5228 section 2.10.2): the LDA files the message into the main
	// mailbox as well, as if keep had been run.
	ImplicitKeep bool
}

// HeaderMessage adapts a parsed header block and the message's size to
// Message.
func HeaderMessage(h mail.Header, size int64) Message { return headerMessage{h, size} }

type headerMessage struct {
	h    mail.Header
	size int64
}

func (m headerMessage) Header(name string) []string { return m.h.Values(name) }
func (m headerMessage) Size() int64                 { return m.size }

// The tree Parse builds and Run walks.

type stmt interface{ isStmt() }

type ifStmt struct {
	pos      Pos
	branches []branch // if, then each elsif
	elsePos  Pos
	els      []stmt
	hasElse  bool
}

type branch struct {
	pos  Pos
	cond *testNode
	body []stmt
}

type stopStmt struct{ pos Pos }

type actionStmt struct {
	act Action // a template: Run copies it
	src string // the command as Sieve, for the trace
}

func (*ifStmt) isStmt()     {}
func (*stopStmt) isStmt()   {}
func (*actionStmt) isStmt() {}

type testKind int

const (
	testHeader testKind = iota
	testAddress
	testEnvelope
	testExists
	testSize
	testAllof
	testAnyof
	testNot
	testTrue
	testFalse
)

type matchType int

const (
	matchIs       matchType = iota // RFC 5228 section 2.7.1
	matchContains                  // substring
	matchMatches                   // wildcards * and ?
)

// addrPart is an address part (RFC 5228 section 2.7.4, RFC 5233 section 4).
type addrPart int

const (
	partAll    addrPart = iota // local@domain
	partLocal                  // local
	partDomain                 // domain
	partUser                   // local part before the "+"
	partDetail                 // local part after the "+"
)

type testNode struct {
	kind     testKind
	pos      Pos
	src      string // the test as Sieve, for the trace
	fold     bool   // i;ascii-casemap (true) or i;octet
	match    matchType
	part     addrPart
	names    []string    // header names, or envelope parts
	keys     []string    // as written
	folded   []string    // keys as compared (:is, :contains)
	patterns []*pattern  // keys compiled (:matches)
	over     bool        // size :over (else :under)
	limit    int64       // size
	sub      []*testNode // allof, anyof, not
}
