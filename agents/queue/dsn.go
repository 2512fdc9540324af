package queue

// This file: the bounce, a delivery status notification (RFC 3464) in a
// multipart/report (RFC 6522).

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/maillab/maillab/protocols/mail"
)

// maxReturnedHeader bounds the original header returned in a bounce.
const maxReturnedHeader = 64 << 10

// lineWidth is where text is wrapped and fields folded (RFC 5322 section
// 2.1.1: lines SHOULD be at most 78 characters).
const lineWidth = 78

// buildDSN returns the bounce with queue id bid that reports the failure
// of rcpts, recipients of env, to env.From. header is the original
// message's header block (nil if unreadable).
//
// Its structure, RFC 6522 section 3 and RFC 3464 section 2:
//
//	multipart/report; report-type=delivery-status
//	  text/plain                 what happened, for a person
//	  message/delivery-status    the same, for a program
//	  text/rfc822-headers        the original header, not the body
func buildDSN(hostname, bid string, env *envelope, rcpts []*rcptRecord, header []byte, now time.Time) []byte {
	human := humanPart(hostname, env, rcpts)
	status := statusPart(hostname, env, rcpts)

	// RFC 2046 section 5.1.1: the boundary must not occur in the parts.
	// The ids make it unlikely; checking makes it sure.
	base := "=_" + bid
	if len(base) > 60 {
		base = base[:60]
	}
	boundary := base + "/report"
	for n := 1; bytes.Contains(header, []byte(boundary)) || strings.Contains(human, boundary) || strings.Contains(status, boundary); n++ {
		boundary = fmt.Sprintf("%s/report.%d", base, n)
	}

	var b strings.Builder
	field := func(name, value string) { b.WriteString(fold(name+": "+value) + "\r\n") }
	// RFC 3464 section 2 and RFC 5321 section 4.5.5: from the mail system,
	// to the reverse-path of the original (not its From: field); the
	// envelope sender of the bounce is the null path.
	field("From", mail.FormatAddress("Mail Delivery System", "MAILER-DAEMON@"+hostname))
	field("To", env.From)
	field("Subject", "Undelivered Mail Returned to Sender")
	field("Date", now.Format(mail.DateLayout))
	field("Message-ID", "<"+bid+"@"+hostname+">")
	// RFC 3834 section 5: automatic responses say so, so that responders
	// do not answer them.
	field("Auto-Submitted", "auto-replied")
	field("MIME-Version", "1.0")
	field("Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a MIME-encapsulated delivery status notification\r\n(RFC 3464). Read it with a MIME-aware mail program.\r\n")

	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Description: Notification\r\n")
	if isASCII(human) {
		b.WriteString("Content-Type: text/plain; charset=us-ascii\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n" + human)

	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Description: Delivery report\r\n")
	b.WriteString("Content-Type: message/delivery-status\r\n")
	b.WriteString("\r\n" + status)

	// RFC 6522 section 3: the third part may return the header only
	// (text/rfc822-headers), which is all a sender needs to recognise the
	// message, and all a bounce to a forged sender should carry.
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Description: Undelivered message header\r\n")
	b.WriteString("Content-Type: text/rfc822-headers\r\n")
	b.WriteString("\r\n")
	b.Write(header)
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return []byte(b.String())
}

// humanPart is the first part: what happened, which recipients, what the
// remote servers said, and what to do.
func humanPart(hostname string, env *envelope, rcpts []*rcptRecord) string {
	var b strings.Builder
	para := func(s string) { b.WriteString(wrap(s, "", lineWidth) + "\r\n\r\n") }
	para("This is the mail system at host " + hostname + ".")
	para(fmt.Sprintf("Your message (queue id %s) could not be delivered to %s. "+
		"It was returned to you with this report; its header is attached.",
		env.ID, plural(len(rcpts), "recipient")))
	expired, refused := false, false
	for _, rc := range rcpts {
		var s string
		if rc.State == StateExpired {
			expired = true
			s = fmt.Sprintf("<%s>: delivery time expired: the message could not be delivered in %s.",
				rc.Addr, days(env.Arrived, rc.LastAttempt))
			if rc.LastDiag != "" {
				s += " The last answer was: " + humanDiag(rc.LastDiag)
			}
		} else {
			refused = true
			if rc.RemoteMTA != "" {
				s = fmt.Sprintf("<%s>: host %s said: %s", rc.Addr, rc.RemoteMTA, humanDiag(rc.LastDiag))
			} else {
				s = fmt.Sprintf("<%s>: %s", rc.Addr, humanDiag(orNone(rc.LastDiag)))
			}
		}
		b.WriteString(wrap(s, "    ", lineWidth) + "\r\n")
	}
	b.WriteString("\r\n")
	if refused {
		para("What to do: the receiving server refused the message for good. " +
			"Check the address for typing mistakes, or ask the recipient for " +
			"another one, then send your message again.")
	}
	if expired {
		para("What to do: the receiving server could not be reached or kept " +
			"answering \"try again later\". Your message was not delivered; " +
			"you may send it again later or tell the recipient another way.")
	}
	b.WriteString(wrap("For help, write to the postmaster of "+hostname+" and include this report.", "", lineWidth) + "\r\n")
	return b.String()
}

// statusPart is the message/delivery-status body: per-message fields, then
// one block per recipient (RFC 3464 sections 2.2 and 2.3).
func statusPart(hostname string, env *envelope, rcpts []*rcptRecord) string {
	var b strings.Builder
	field := func(name, value string) { b.WriteString(fold(name+": "+value) + "\r\n") }
	field("Reporting-MTA", "dns; "+hostname)                   // RFC 3464 section 2.2.2
	field("X-Maillab-Queue-ID", env.ID)                        // section 2.2: extension fields; Postfix has X-Postfix-Queue-ID
	field("Arrival-Date", env.Arrived.Format(mail.DateLayout)) // section 2.2.5
	for _, rc := range rcpts {
		b.WriteString("\r\n")
		field("Final-Recipient", "rfc822; "+rc.Addr) // section 2.3.2
		field("Action", "failed")                    // section 2.3.3: failed, for 5xx and for expiry alike
		// Section 2.3.4: an RFC 3463 code; 4.4.7 for a message that
		// expired in the queue.
		st := rc.LastStatus
		if !validStatus(st) || st[0] == '2' {
			st = "5.0.0"
		}
		field("Status", st)
		if rc.RemoteMTA != "" {
			field("Remote-MTA", "dns; "+rc.RemoteMTA) // section 2.3.5
		}
		if rc.LastDiag != "" {
			field("Diagnostic-Code", typedDiag(rc.LastDiag)) // section 2.3.6
		}
		if !rc.LastAttempt.IsZero() {
			field("Last-Attempt-Date", rc.LastAttempt.Format(mail.DateLayout)) // section 2.3.7
		}
	}
	return b.String()
}

// typedDiag returns d as an RFC 3464 diagnostic-code, "type; text": as it is
// when it starts with a type ("smtp; 550 ..."), else with the X-Maillab type
// (like Postfix's "X-Postfix; connect to ...: Connection refused").
func typedDiag(d string) string {
	if t, _, ok := strings.Cut(d, ";"); ok && isAtom(t) {
		return d
	}
	return "X-Maillab; " + d
}

// humanDiag is d without its diagnostic type, for the human part.
func humanDiag(d string) string {
	if t, rest, ok := strings.Cut(d, ";"); ok && isAtom(t) {
		return strings.TrimSpace(rest)
	}
	return d
}

func isAtom(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// originalHeader returns the header block of the message body (up to, not
// including, the empty line), with CRLF line endings, cut at a line
// boundary after maxReturnedHeader octets.
func originalHeader(body []byte) []byte {
	var out []byte
	for pos := 0; pos < len(body); {
		nl := bytes.IndexByte(body[pos:], '\n')
		var line []byte
		if nl < 0 {
			line, pos = body[pos:], len(body)
		} else {
			line, pos = body[pos:pos+nl], pos+nl+1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // RFC 5322 section 2.1: the empty line ends the header
		}
		if len(out)+len(line)+2 > maxReturnedHeader {
			break
		}
		// A lone CR inside a line would end it for some readers.
		line = bytes.ReplaceAll(line, []byte("\r"), []byte(" "))
		out = append(out, line...)
		out = append(out, '\r', '\n')
	}
	return out
}

// fold folds a header field at spaces so that its lines are at most
// lineWidth characters where possible (RFC 5322 section 2.2.3); a word
// longer than a line stays whole.
func fold(f string) string {
	if len(f) <= lineWidth {
		return f
	}
	var b strings.Builder
	lineLen := 0
	for i, w := range strings.Split(f, " ") {
		switch {
		case i == 0:
			b.WriteString(w)
			lineLen = len(w)
		case lineLen+1+len(w) > lineWidth && lineLen > 1:
			b.WriteString("\r\n " + w)
			lineLen = 1 + len(w)
		default:
			b.WriteString(" " + w)
			lineLen += 1 + len(w)
		}
	}
	return b.String()
}

// wrap wraps text at spaces into lines of at most width characters; lines
// after the first start with indent. Lines end in CRLF, the last one
// without.
func wrap(s, indent string, width int) string {
	var b strings.Builder
	lineLen := 0
	for _, w := range strings.Fields(s) {
		switch {
		case lineLen == 0:
			b.WriteString(w)
			lineLen = len(w)
		case lineLen+1+len(w) > width:
			b.WriteString("\r\n" + indent + w)
			lineLen = len(indent) + len(w)
		default:
			b.WriteString(" " + w)
			lineLen += 1 + len(w)
		}
	}
	return b.String()
}

// days says how long a message was in the queue, in words.
func days(from, to time.Time) string {
	d := to.Sub(from)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return d.Round(time.Millisecond).String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
