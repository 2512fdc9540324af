// Package smtp holds what the SMTP server and client share: reply codes
// (RFC 5321 section 4.2), enhanced status codes (RFC 3463), the Error type
// that carries a reply, and the command parsers.
//
// # Standards
//
// RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920
// (PIPELINING), RFC 2034 and RFC 3463 (enhanced status codes), RFC 2033
// (LMTP), RFC 4954 (AUTH: reply codes and the AUTH= parameter of MAIL, whose
// value is xtext, RFC 3461 section 4), RFC 3207 (STARTTLS: its 220, 454,
// 501 and 530 replies).
package smtp

import "fmt"

// Code is a three-digit SMTP reply code (RFC 5321 section 4.2).
type Code int

// Error is an SMTP reply that is not a success. Servers return it from
// handlers and backends and it goes to the client as is; clients return it
// when the server refused something.
type Error struct {
	Code     Code   // e.g. 550
	Enhanced string // RFC 3463 status, e.g. "5.1.1"; "" when none was sent
	Message  string // the reply text, lines joined by "\n"
}

// Error renders the reply as it appears on the wire (first line).
func (e *Error) Error() string {
	if e.Enhanced != "" {
		return fmt.Sprintf("%d %s %s", e.Code, e.Enhanced, e.Message)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

// Temporary reports whether the reply is a 4yz: the same request may
// succeed later (RFC 5321 section 4.2.1).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// MailParams are the ESMTP parameters of MAIL FROM the lab understands.
type MailParams struct {
	Size int64  // SIZE= (RFC 1870); 0 when absent
	Body string // BODY= value, upper-cased: "7BIT" or "8BITMIME" (RFC 6152); "" when absent
	// Auth is the AUTH= value (RFC 4954 section 5), xtext-decoded: the
	// mailbox that first submitted the message, e.g. "alice@a.test", or
	// "<>" when that is unknown; "" when absent.
	Auth string
}
