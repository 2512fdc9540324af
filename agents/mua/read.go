package mua

import (
	"context"
	"slices"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// LocalMessage is a message a device downloaded and keeps: what "the laptop
// has" after a POP3 session, whatever the server still holds.
type LocalMessage struct {
	// Server and User name the account it came from ("127.0.0.1:1100",
	// "bob").
	Server, User string
	// UID is the POP3 unique-id (RFC 1939 section 7, UIDL); "" when the
	// server offers no UIDL.
	UID string
	// Size is the message's size in octets, as downloaded (CRLF lines).
	Size int64
	// Subject, From and Date are the header fields, decoded for a person
	// (RFC 2047 encoded words, folds): "Reunión", "Alice Ruiz
	// <alice@a.test>".
	Subject, From, Date string
	// Raw is the message as it crossed the wire, dot-stuffing removed.
	Raw []byte
}

// Local returns a copy of the device's local store: the messages it
// downloaded over POP3, oldest first. (An IMAP client's cache is not
// modelled: with IMAP the mail stays on the server.)
func (m *MUA) Local() []LocalMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LocalMessage, len(m.local))
	for i, l := range m.local {
		l.Raw = slices.Clone(l.Raw)
		out[i] = l
	}
	return out
}

// keep adds a copy of a downloaded message to the local store.
func (m *MUA) keep(l LocalMessage) {
	l.Raw = slices.Clone(l.Raw)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.local = append(m.local, l)
}

// hasLocal reports whether the local store holds the message with
// unique-id uid from the account user at server.
func (m *MUA) hasLocal(server, user, uid string) bool {
	if uid == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.local {
		if l.UID == uid && l.Server == server && l.User == user {
			return true
		}
	}
	return false
}

// newLocal describes a downloaded message, its header decoded.
func newLocal(server, user, uid string, raw []byte) LocalMessage {
	h, _, _ := mail.SplitMessage(raw)
	return LocalMessage{
		Server:  server,
		User:    user,
		UID:     uid,
		Size:    int64(len(raw)),
		Subject: mail.DecodeHeader(h.Get("Subject")),
		From:    decodeFrom(h.Get("From")),
		Date:    mail.DecodeHeader(h.Get("Date")),
		Raw:     raw,
	}
}

// decodeFrom shows a From field as "Name <addr>" or "addr", like an IMAP
// ENVELOPE does, so POP3 and IMAP devices show the same text; a field that
// is not one mailbox is shown decoded as it is.
func decodeFrom(v string) string {
	name, addr, err := ParseMailbox(v)
	if err != nil {
		return mail.DecodeHeader(v)
	}
	return showAddress(mail.DecodeHeader(name), addr.String())
}

func showAddress(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}

// stepError is an error of a reading step: "mua bob-phone: IMAP SELECT
// Archive: NO [TRYCREATE] No such mailbox". The clients' errors already
// name the command; the package prefix they start with is dropped from the
// text (errors.Is and errors.As still see it all). No client puts a
// password in an error, and neither does this package.
type stepError struct {
	agent string
	proto string // "POP3", "IMAP"
	err   error
}

func (e *stepError) Error() string {
	msg := e.err.Error()
	for _, p := range []string{"pop3client: ", "imapclient: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return "mua " + e.agent + ": " + e.proto + " " + msg
}

func (e *stepError) Unwrap() error { return e.err }

// fail wraps err as a step of protocol proto.
func (m *MUA) fail(proto string, err error) error {
	return &stepError{agent: m.cfg.Name, proto: proto, err: err}
}

// beforeCommand is Config.BeforeCommand for the POP3 client, with the
// password of a PASS line replaced by "***" as the IMAP client does for
// LOGIN (step mode shows the line to a class), and ctx checked first: once
// it has ended, no further line is sent.
func (m *MUA) beforeCommand(ctx context.Context) func(line string) error {
	before := m.hook("pop3")
	return func(line string) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if before == nil {
			return nil
		}
		if verb, _, ok := strings.Cut(line, " "); ok && strings.EqualFold(verb, "PASS") {
			line = verb + " ***"
		}
		return before(line)
	}
}
