package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/lda/sieve"
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

	// Delivery rules, carried out by the LDA in the MDA's delivery path
	// (see lda.go).

	// Sieve is the user's Sieve script (RFC 5228 subset), written inline;
	// a mistake in it is reported at its file:line:col in the scenario.
	Sieve string
	// Forward sends the user's mail on to these addresses; KeepCopy keeps
	// a copy too.
	Forward  []string
	KeepCopy bool
	// Quota is the size limit of the user's Maildir in bytes (0: none);
	// over it mail is refused with 552 5.2.2, or 452 4.2.2 with
	// QuotaTemporary.
	Quota          int64
	QuotaTemporary bool

	script *sieve.Script
}

// hasRules says whether the LDA has anything to do for u.
func (u *User) hasRules() bool {
	return u.script != nil || len(u.Forward) > 0 || u.Quota > 0
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
	// MaxConnections is an MDA's limit of open sessions, for its POP3 and
	// its IMAP server each; 0 means the servers' default (100).
	MaxConnections int
	// Listen maps a listener ("smtp", "lmtp") to a fixed host:port.
	Listen map[string]string

	// TLS gives an MTA the submission ports (587 with STARTTLS, 465 with
	// implicit TLS) and STARTTLS on port 25, and an MDA STLS, STARTTLS,
	// POP3S (995) and IMAPS (993), with certificates from the lab CA. Then
	// passwords are accepted only under TLS, unless PlaintextAuth (to show
	// a class why that is dangerous).
	TLS           bool
	PlaintextAuth bool

	// Mail between domains (see internet.go).

	// RelayFor lists who may relay through an MTA or smarthost: agent
	// names and networks ("127.0.5.0/24"). An mta's default is its own
	// site's network, like Postfix's mynetworks_style = subnet.
	RelayFor []string
	// RelayUsers are the users a smarthost relays for once authenticated.
	RelayUsers []string
	// Smarthost names the smarthost agent an MTA sends all outbound mail to.
	Smarthost string
	// RelayRefusal is the code that refuses relaying: 550 (default), 554 or 454.
	RelayRefusal int
	// Retry is the wait before each new attempt of a deferred message;
	// MaxAge how long a message may wait before it bounces.
	Retry  []time.Duration
	MaxAge time.Duration
	// Faults make an MTA misbehave on purpose.
	Faults []FaultSpec
	// Records are a dns agent's records besides the ones the lab makes.
	Records []RecordSpec
	// Aliases are an MDA's alias table: an address (or local part, in the
	// MDA's first domain) to the addresses it stands for; nested aliases
	// are expanded, loops detected.
	//
	//	aliases: {team: [bob, carol, dave], sales: [team, eve@c.example]}
	Aliases map[string][]string
	// ImplicitMX lists domains a dns agent publishes no MX record for:
	// only an A record for the domain itself, with its MTA's address, so
	// that senders use the implicit MX (RFC 5321 section 5.1).
	ImplicitMX []string

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
	StepPOP3   = "pop3"   // a device downloads its mail over POP3
	StepIMAP   = "imap"   // a device works on its mailbox over IMAP
	StepStop   = "stop"   // stop an agent, as if its machine went down
	StepStart  = "start"  // start a stopped agent again, on the same state
	StepFlush  = "flush"  // an MTA retries every deferred message now
)

// Step is one item of steps. Kind says which of the other fields is set.
type Step struct {
	Pos    Pos
	Kind   string
	Text   string // say, pause
	Send   *Send
	Wait   *Wait
	Expect *Expect
	Agent  string // stop, start, flush
	SMTP   *Dialogue
	POP3   *POP3
	IMAP   *IMAP
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
	// Headers are extra header fields of the message, in order
	// ({List-Id: "<students.b.example>"}).
	Headers [][2]string
	// Port is the MTA listener to use: "smtp" (25, the default),
	// "submission" (587) or "submissions" (465, TLS from the first byte).
	Port string
	// TLS is "starttls" or "none"; the default is starttls on submission,
	// none on smtp. (submissions is always TLS.)
	TLS string
	// Auth logs in with the user's password (AUTH PLAIN) before MAIL; the
	// default is true on the submission ports, false on smtp.
	Auth *bool

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
	// Queue, instead of Mailbox, waits on an MTA's queue: until a message
	// in it has had Attempts delivery attempts, or, with Empty, until
	// nothing is left in it.
	//
	//	- wait: {queue: mx.a.example, attempts: 2, timeout: 10s}
	//	- wait: {queue: mx.a.example, empty: true}
	Queue    string
	Attempts int
	Empty    bool

	at posMap
}

// DefaultWaitTimeout bounds a wait step that gives no timeout.
const DefaultWaitTimeout = 5 * time.Second

// Expect checks a mailbox (a folder of it, one of its messages) as the
// store holds it, or what a device downloaded.
//
//	steps:
//	  - expect:
//	      mailbox: bob@example.test
//	      count: 1
//	      headers: {Subject: "Hello Bob", Return-Path: "<alice@example.test>"}
//	      header_count: {Received: 1}
//	  - expect: {mailbox: bob@example.test, folder: Archive, count: 1}
//	  - expect: {mailbox: bob@example.test, message: {subject: Lunch}, flags: [\Seen], maildir_flags: S}
//	  - expect: {device: bob-phone, count: 0}
type Expect struct {
	Mailbox string
	// Device names an mua: the check is on its local store, the messages
	// it downloaded over POP3 (only count then).
	Device string
	// Folder is the mailbox's folder; "" means INBOX.
	Folder string
	Count  int // -1 when not checked
	// Message chooses the message the header checks read: 1 is the oldest;
	// 0 (the default) means the newest. Ref, when set, chooses it by
	// subject or UID instead.
	Message     int
	Ref         *MessageRef
	Headers     []HeaderCheck
	HeaderCount []HeaderCount
	// Flags must all be on the message, NoFlags none of them: IMAP system
	// flags (\Seen, \Answered, \Flagged, \Deleted, \Draft) as the store
	// keeps them in the file name.
	Flags, NoFlags []string
	// MaildirFlags, when set, is the exact info part after ":2," of the
	// message's file name: "S", "FS", "" for none.
	MaildirFlags *string

	at posMap
}

// newStyle reports whether e uses the folder view of the store (UID
// order) rather than the plain listing of the INBOX.
func (e *Expect) newStyle() bool {
	return e.Folder != "" || e.Ref != nil || len(e.Flags)+len(e.NoFlags) > 0 || e.MaildirFlags != nil
}

// MessageRef chooses one message of a folder: by Position (1 is the
// oldest, in UID order), by UID, or by Subject (decoded; exactly one
// message must have it).
//
//	message: 2
//	message: {uid: 7}
//	message: {subject: "Lunch on Friday"}
type MessageRef struct {
	Pos      Pos
	Position int
	UID      uint32
	Subject  string
	BySubj   bool
}

// String returns what the scenario wrote: "2", "{uid: 7}", "{subject: Lunch}".
func (r *MessageRef) String() string {
	switch {
	case r.BySubj:
		return fmt.Sprintf("{subject: %q}", r.Subject)
	case r.UID > 0:
		return fmt.Sprintf("{uid: %d}", r.UID)
	}
	return fmt.Sprintf("%d", r.Position)
}

// POP3 makes the MUA As download its user's mail from the MDA Via, the
// password coming from users.
//
//	steps:
//	  - pop3: {as: bob-laptop, via: mda.example.test, delete: true, expect: {downloaded: 2}}
//	  - pop3: {as: bob-phone, via: mda.example.test, expect: "-ERR [IN-USE]"}
type POP3 struct {
	As, Via string
	// Delete deletes every message after download (the default, as most
	// POP3 clients do); false leaves them on the server, and a later
	// download skips the UIDs the device has already.
	Delete bool
	// APOP logs in with APOP instead of USER and PASS.
	APOP bool
	// TLS is "starttls" (STLS on port 110), "implicit" (POP3S, port 995)
	// or "" (in clear).
	TLS string
	// Expect checks the counts of the session; Refusal, the error the
	// session must end with instead.
	Expect  *POP3Expect
	Refusal *ServerReply

	at posMap
}

// POP3Expect checks what a POP3 step did; -1 means not checked.
type POP3Expect struct {
	Downloaded int // messages downloaded now
	Skipped    int // messages the device had already (UIDL)
	Deleted    int // messages the server removed at QUIT
	Left       int // messages left on the server

	at posMap
}

// IMAP actions, the values of do.
const (
	IMAPList     = "list"      // list a folder's messages with their flags
	IMAPRead     = "read"      // fetch a message's body (the server sets \Seen)
	IMAPMarkRead = "mark_read" // set \Seen without reading
	IMAPMove     = "move"      // move a message into another folder (made when missing)
	IMAPDelete   = "delete"    // \Deleted, then expunge
	IMAPIdle     = "idle"      // wait in IDLE for the server's news
)

var imapActions = []string{IMAPList, IMAPRead, IMAPMarkRead, IMAPMove, IMAPDelete, IMAPIdle}

// IMAP is one action of the MUA As on its user's mailbox at the MDA Via.
// The device's IMAP session opens on first use and stays open, like a
// phone's, until the lab stops.
//
//	steps:
//	  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: Lunch}}
//	  - imap: {as: bob-laptop, via: mda.example.test, do: list, message: {subject: Lunch},
//	           expect: {count: 2, flags: [\Seen]}}
//	  - imap: {as: bob-laptop, via: mda.example.test, do: move, message: 1, to: Archive}
//	  - imap:
//	      as: bob-phone
//	      via: mda.example.test
//	      do: idle
//	      until: exists
//	      while:
//	        - send: {as: alice-laptop, via: mx.example.test, to: bob@example.test, subject: Hi}
//	      expect: {count: 3}
type IMAP struct {
	As, Via string
	// TLS is "starttls" (port 143), "implicit" (IMAPS, port 993) or ""
	// (in clear), for the device's session when this step opens it.
	TLS     string
	Do      string      // one of the IMAP action constants
	Folder  string      // default INBOX
	Message *MessageRef // read, mark_read, move, delete; list: the message flags checks look at
	To      string      // move: the destination folder
	// Until is the news that ends an idle: "exists" (the default),
	// "expunge", "flags" or "any".
	Until string
	// Timeout bounds an idle's wait for news after its While steps;
	// default DefaultWaitTimeout.
	Timeout time.Duration
	// While are steps run once the server has accepted IDLE; the news
	// they cause reaches the idling device when they have all ended.
	While []Step
	// Expect checks the listing (list) or the news (idle); Refusal is the
	// NO or BAD the action must get instead.
	Expect  *IMAPExpect
	Refusal *ServerReply

	at posMap
}

// IMAPExpect checks what an IMAP step saw.
type IMAPExpect struct {
	// Count is the number of messages in the folder: in the listing
	// (list), or in the last "* n EXISTS" (idle). -1 when not checked.
	Count int
	// Subjects, when HasSubjects, are the listing's subjects in UID order.
	Subjects    []string
	HasSubjects bool
	// Flags must all be on the chosen message, NoFlags none of them.
	Flags, NoFlags []string

	at posMap
}

// ServerReply is an expected POP3 or IMAP refusal: "-ERR", "-ERR
// [IN-USE]", "NO", "NO [TRYCREATE]", "BAD".
type ServerReply struct {
	Pos    Pos
	Status string // "-ERR", "NO", "BAD"
	Code   string // the response code without brackets; "" accepts any
}

// String returns "-ERR [IN-USE]" or "NO".
func (r ServerReply) String() string {
	if r.Code != "" {
		return r.Status + " [" + r.Code + "]"
	}
	return r.Status
}

// Match reports whether a refusal with status and code matches r.
func (r ServerReply) Match(status, code string) bool {
	return strings.EqualFold(r.Status, status) && (r.Code == "" || strings.EqualFold(r.Code, code))
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
