package lda

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/lda/sieve"
	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/protocols/smtp"
)

// local delivers to a user: given is the recipient as given (the LMTP
// RCPT, or an alias's target; it may carry a +detail), alias the alias it
// came through ("" for none).
func (j *job) local(given, alias string) result {
	l := j.l
	owner, _ := l.user(strings.ToLower(given))
	u := l.users[owner]
	if j.done["user:"+owner] {
		// One copy per user and message, however many aliases lead to
		// them (as Postfix drops duplicate recipients after expansion).
		j.note("%s: already delivered to %s in this delivery: no second copy", given, owner)
		return result{done: []string{"delivered to " + owner + " (once)"}}
	}
	if !strings.EqualFold(given, owner) {
		j.note("%s: delivering to the mailbox of %s (RFC 5233 sub-address)", given, owner)
	}
	// The user's lock is taken only around the quota check and the
	// stores (deliverUser), never while a message is handed to the MTA:
	// a forward or redirect can come straight back to this user (a loop
	// between users, or an MTA without a queue that delivers at once),
	// and holding the lock then would wait on itself.
	var done []string
	if len(u.Forward) > 0 {
		switch {
		case j.delivered(owner):
			// The message was here before: forwarding it again would
			// make a loop (Postfix local(8) and qmail do the same check).
			j.note("%s: forward: the message already has Delivered-To: %s: a forwarding loop, not forwarded again; kept here", owner, owner)
		default:
			to := make([]string, len(u.Forward))
			for i, f := range u.Forward {
				to[i] = strings.TrimSpace(f)
			}
			if err := j.submit(j.d.From.String(), to, j.sendable(owner)); err != nil {
				j.note("%s: forward to %s failed: %v; kept here instead", owner, strings.Join(to, ", "), err)
				break
			}
			j.note("%s: forwarded to %s, MAIL FROM:%s (the original sender)", owner, strings.Join(to, ", "), j.d.From.Bracketed())
			done = append(done, "forwarded to "+strings.Join(to, ", "))
			if !u.KeepCopy {
				j.done["user:"+owner] = true
				return result{done: done}
			}
			j.note("%s: forward keeps a copy here too", owner)
		}
	}
	r := j.deliverUser(owner, given, u)
	if r.err != nil {
		if len(done) > 0 {
			// The forward went; the copy could not be kept.
			j.note("%s: the forwarded message went, but the copy was not kept: %s", owner, r.err)
			j.done["user:"+owner] = true
			return result{done: done}
		}
		return r
	}
	j.done["user:"+owner] = true
	done = append(done, r.done...)
	if alias != "" {
		// Through an alias the reply names the user of each copy.
		for i := range done {
			done[i] = owner + ": " + done[i]
		}
	}
	return result{done: done}
}

// delivered reports whether the message already has a Delivered-To field
// naming addr.
func (j *job) delivered(addr string) bool {
	for _, v := range j.hdr.Values("Delivered-To") {
		if strings.EqualFold(strings.TrimSpace(v), addr) {
			return true
		}
	}
	return false
}

// copyPlan is one copy to store: a folder and why.
type copyPlan struct {
	folder string // as the script wrote it; "INBOX" for keep
	create bool   // fileinto :create
	why    string // "line 7: fileinto \"Lists\"", "implicit keep", ""
}

// deliverUser runs the user's script, if any, and carries out what it
// decided. It holds the user's lock for the quota check and for the
// stores and the vacation record, not while redirects are sent.
func (j *job) deliverUser(owner, given string, u *User) result {
	mu := j.l.lock(owner)
	var (
		copies   []copyPlan
		sends    []sieve.Action // redirects
		vacation *sieve.Action
		prefix   = "sieve " + owner + ": "
	)
	if u.Sieve == nil {
		copies = []copyPlan{{folder: mailbox.Inbox}}
	} else {
		res, err := u.Sieve.Run(sieve.HeaderMessage(j.hdr, int64(len(j.d.Msg))),
			sieve.Envelope{From: j.d.From.String(), To: given})
		j.note("%sscript %s for <%s>", prefix, u.Sieve.Name(), given)
		for _, line := range res.Trace {
			j.note("%s%s", prefix, line)
		}
		if err != nil {
			// RFC 5228 section 2.10.6: a failed script must not lose
			// the message: it is kept, as if no script had run.
			j.note("%sthe script failed (%v): the message is kept in INBOX", prefix, err)
			copies = []copyPlan{{folder: mailbox.Inbox, why: "kept after the script's error"}}
		} else {
			for _, a := range res.Actions {
				why := fmt.Sprintf("line %d: %s", a.Line, describe(a))
				switch a.Kind {
				case sieve.ActionKeep:
					copies = append(copies, copyPlan{folder: mailbox.Inbox, why: why})
				case sieve.ActionFileinto:
					copies = append(copies, copyPlan{folder: a.Mailbox, create: a.Create, why: why})
				case sieve.ActionRedirect:
					sends = append(sends, a)
				case sieve.ActionDiscard:
					j.note("%s%s → nothing stored", prefix, why)
				case sieve.ActionReject, sieve.ActionEreject:
					// RFC 5429 sections 2.1 (ereject) and 2.2 (reject): at delivery time through
					// LMTP, refuse in the protocol, with the reason.
					reason := oneLine(a.Reason)
					j.note("%s%s → refused: 550 5.7.1, nothing stored (RFC 5429 sections 2.1 and 2.2)", prefix, why)
					return failed(smtp.Errorf(smtp.C550MailboxUnavailable, "5.7.1", "<%s> %s", given, reason))
				case sieve.ActionVacation:
					a := a
					vacation = &a
				}
			}
			if res.ImplicitKeep {
				copies = append(copies, copyPlan{folder: mailbox.Inbox, why: "implicit keep"})
			}
		}
	}
	copies = dedupe(copies)
	trace := j.d.Trace(owner)
	size := int64(len(trace) + len(j.d.Msg))
	mu.Lock()
	locked := true
	defer func() {
		if locked {
			mu.Unlock()
		}
	}()
	if u.Quota > 0 && len(copies) > 0 {
		used, err := j.l.quota.usage(owner)
		if err != nil {
			j.note("%s: could not compute the mailbox's size: %v", owner, err)
			return failed(smtp.Errorf(smtp.C451LocalError, "4.3.0", "<%s>: could not store the message, try again later", given))
		}
		need := size * int64(len(copies))
		if used+need > u.Quota {
			// RFC 3463 X.2.2: mailbox full; RFC 5321 section 4.2.2:
			// 552 storage allocation exceeded, or 452 for now.
			j.note("%s is over quota: the mailbox holds %d octets, the message needs %d more, the limit is %d: nothing stored (RFC 3463 X.2.2)",
				owner, used, need, u.Quota)
			if u.QuotaTemporary {
				return failed(smtp.Errorf(smtp.C452TooManyRecipients, "4.2.2", "<%s> Mailbox full, try again later", given))
			}
			return failed(smtp.Errorf(smtp.C552TooBig, "5.2.2", "<%s> Mailbox full", given))
		}
	}

	var done []string
	keptInbox := false
	mu.Unlock() // not held while handing mail to the MTA
	locked = false
	for _, s := range sends {
		why := fmt.Sprintf("line %d: %s", s.Line, describe(s))
		if j.delivered(owner) && strings.EqualFold(s.Address, owner) {
			j.note("%s%s → not sent: a loop back to the user", prefix, why)
			continue
		}
		// RFC 5228 section 4.2: the envelope sender may stay the
		// original one; the Delivered-To and Received fields go along
		// for loop protection.
		if err := j.submit(j.d.From.String(), []string{s.Address}, j.sendable(owner)); err != nil {
			j.note("%s%s → failed (%v): the message is kept in INBOX instead (RFC 5228 section 2.10.6)", prefix, why, err)
			if !keptInbox && !hasInbox(copies) {
				copies = append(copies, copyPlan{folder: mailbox.Inbox, why: "kept after a failed redirect"})
				keptInbox = true
			}
			continue
		}
		j.note("%s%s → sent to <%s>, MAIL FROM:%s", prefix, why, s.Address, j.d.From.Bracketed())
		done = append(done, "redirected to <"+s.Address+">")
	}
	mu.Lock()
	locked = true
	for _, c := range copies {
		where, err := j.store(owner, c, trace, prefix)
		if err != nil {
			j.note("%s: could not store the message: %v", owner, err)
			return failed(smtp.Errorf(smtp.C451LocalError, "4.3.0", "<%s>: could not store the message, try again later", given))
		}
		done = append(done, "delivered to "+where)
	}
	if vacation != nil {
		j.vacation(owner, given, u, *vacation, prefix)
	}
	if len(done) == 0 {
		done = append(done, "discarded by the user's script")
	}
	return result{done: done}
}

// store files one copy. Names that would leave the Maildir are refused by
// the mailbox package (CanonicalFolderName): the copy then goes to INBOX.
func (j *job) store(owner string, c copyPlan, trace []byte, prefix string) (string, error) {
	st := j.l.cfg.Store
	say := func(format string, args ...any) {
		if c.why == "" {
			j.note(format, args...)
			return
		}
		j.note(prefix+c.why+" → "+format, args...)
	}
	canon, err := mailbox.CanonicalFolderName(c.folder)
	if err != nil {
		say("bad folder name (%v): into INBOX instead", err)
		canon = mailbox.Inbox
	}
	if canon == mailbox.Inbox {
		d, err := st.DeliverBytes(owner, trace, j.d.Msg)
		if err != nil {
			return "", err
		}
		say("stored in %s's Maildir as new/%s", owner, d.Name)
		return "INBOX as new/" + d.Name, nil
	}
	u, err := st.User(owner)
	if err != nil {
		return "", err
	}
	f, err := u.Folder(canon)
	if errors.Is(err, mailbox.ErrNoFolder) {
		// RFC 5490 section 3.2 creates a missing folder only with
		// :create; the lab always creates it (as Dovecot's
		// lda_mailbox_autocreate does), so that a rule never loses its
		// folder to a typo, and says so.
		if err := u.CreateFolder(canon); err != nil && !errors.Is(err, mailbox.ErrFolderExists) {
			return "", err
		}
		if c.create {
			say("created folder %s (:create)", canon)
		} else {
			say("created folder %s (no :create: the lab creates missing folders anyway)", canon)
		}
		f, err = u.Folder(canon)
	}
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	buf.Grow(len(trace) + len(j.d.Msg))
	buf.Write(trace)
	buf.Write(j.d.Msg)
	uid, err := f.Append(&buf, 0, time.Time{})
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("UID %d", uid)
	if msgs, err := f.Messages(); err == nil {
		for _, m := range msgs {
			if m.UID == uid {
				name = "cur/" + m.Key + ":2,"
			}
		}
	}
	say("stored in %s as %s", canon, name)
	return canon + " as " + name, nil
}

// describe writes an action the way the script did, for notes.
func describe(a sieve.Action) string {
	switch a.Kind {
	case sieve.ActionFileinto:
		return fmt.Sprintf("fileinto %q", a.Mailbox)
	case sieve.ActionRedirect:
		return fmt.Sprintf("redirect %q", a.Address)
	case sieve.ActionReject, sieve.ActionEreject:
		return fmt.Sprintf("%s %q", a.Kind, oneLine(a.Reason))
	}
	return a.Kind
}

// dedupe drops copies into the same folder (RFC 5228 section 2.10.3:
// a message is filed into a mailbox once).
func dedupe(cs []copyPlan) []copyPlan {
	seen := map[string]bool{}
	var out []copyPlan
	for _, c := range cs {
		key := c.folder
		if canon, err := mailbox.CanonicalFolderName(c.folder); err == nil {
			key = canon
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, c)
	}
	return out
}

func hasInbox(cs []copyPlan) bool {
	for _, c := range cs {
		if canon, err := mailbox.CanonicalFolderName(c.folder); err == nil && canon == mailbox.Inbox {
			return true
		}
	}
	return false
}

// oneLine makes a reason fit one reply line: white space runs become one
// space, and it is cut at 200 octets.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
