package sieve

import (
	"fmt"
	"strings"
)

// listHeaders mark a message from a mailing list (RFC 2369 section 3,
// RFC 2919 section 3).
var listHeaders = []string{"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive"}

// recipientHeaders are where the user's address must appear for a reply
// (RFC 5230 section 4.5).
var recipientHeaders = []string{"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"}

// ShouldAutoReply applies the rules of RFC 5230 sections 4.5 and 4.6 (and
// RFC 3834 section 2) that need no memory: it reports whether an automatic
// reply to this message is allowed and, either way, why, in words for the
// transcript. userAddrs are the user's other addresses (vacation
// :addresses); env.To always counts as one.
//
// No reply goes to the null sender <> (a bounce), to MAILER-DAEMON,
// LISTSERV, majordomo, owner-* and *-request senders, to a message with
// Auto-Submitted other than "no", with any List-* field, or with
// Precedence bulk, list or junk; nor to a message that names none of the
// user's addresses in To, Cc, Bcc or their Resent- forms (a list or Bcc
// copy), nor to the user's own message.
//
// The once-per-period rule (RFC 5230 section 4.2) needs state, so it is
// the caller's: one reply per (Vacation.Handle, sender) per Vacation.Days.
func ShouldAutoReply(msg Message, env Envelope, userAddrs []string) (bool, string) {
	sender := strings.TrimSpace(env.From)
	if sender == "" {
		// RFC 3834 section 2, RFC 5230 section 4.6: replies go to the
		// return path; a null one marks a bounce, which is never answered.
		return false, "the envelope sender is <>, a bounce"
	}
	local, _, _ := strings.Cut(strings.ToLower(sender), "@")
	switch {
	case local == "mailer-daemon", local == "listserv", local == "majordomo",
		strings.HasPrefix(local, "owner-"), strings.HasSuffix(local, "-request"):
		// RFC 5230 section 4.6: senders that are daemons or list managers.
		return false, fmt.Sprintf("the sender <%s> is a mail daemon or a list manager", sender)
	}
	for _, v := range msg.Header("Auto-Submitted") {
		// RFC 3834 section 5: any value but "no" marks an automatic message.
		kw, _, _ := strings.Cut(v, ";")
		if kw = strings.ToLower(strings.TrimSpace(kw)); kw != "no" {
			return false, fmt.Sprintf("Auto-Submitted: %s: the message was sent automatically (RFC 3834 section 5)", kw)
		}
	}
	for _, h := range listHeaders {
		if len(msg.Header(h)) > 0 {
			return false, h + " is present: the message comes from a mailing list"
		}
	}
	for _, v := range msg.Header("Precedence") {
		switch p := strings.ToLower(strings.TrimSpace(v)); p {
		case "bulk", "list", "junk":
			return false, "Precedence: " + p + ": bulk mail"
		}
	}
	mine := func(a string) bool {
		if strings.EqualFold(a, env.To) && env.To != "" {
			return true
		}
		for _, u := range userAddrs {
			if as := addressList(u); len(as) > 0 && strings.EqualFold(as[0], a) {
				return true
			}
		}
		return false
	}
	if mine(sender) {
		return false, "the sender is the user: no reply to oneself"
	}
	for _, h := range recipientHeaders {
		for _, v := range msg.Header(h) {
			for _, a := range addressList(v) {
				if mine(a) {
					return true, fmt.Sprintf("%s names the user (%s)", h, a)
				}
			}
		}
	}
	// RFC 5230 section 4.5: the user's address must be in a recipient
	// field; otherwise the message came through a list or as a Bcc.
	return false, "none of the user's addresses is in To, Cc or Bcc (RFC 5230 section 4.5)"
}
