// Package mail holds the vocabulary every maillab protocol shares: addresses
// and SMTP paths (RFC 5321 section 4.1.2), and later message headers.
//
// # Standards
//
// RFC 5321 section 4.1.2 (Mailbox, Path, Reverse-path, Forward-path),
// section 4.5.3.1 (size limits), RFC 5322 section 3.4.1 (addr-spec).
package mail

import "strings"

// Path is an SMTP reverse-path or forward-path reduced to its mailbox. The
// null reverse-path "<>" (RFC 5321 section 4.5.5) is the zero Path. A
// deprecated source route (<@a,@b:user@c>) is parsed and dropped (RFC 5321
// section 3.6.1 and appendix C): only the final mailbox is kept.
type Path struct {
	// Local is the local part, as written (case preserved, RFC 5321 section 2.4).
	Local string
	// Domain is the domain or address literal ("[192.0.2.1]"), as written.
	// It is empty only for the null path and for the bare "Postmaster"
	// recipient that RFC 5321 section 4.5.1 allows.
	Domain string
}

// IsNull reports whether p is the null reverse-path "<>".
func (p Path) IsNull() bool { return p.Local == "" && p.Domain == "" }

// String returns "local@domain", "Postmaster" for a bare postmaster, or ""
// for the null path.
func (p Path) String() string {
	if p.Domain == "" {
		return p.Local
	}
	return p.Local + "@" + p.Domain
}

// Bracketed returns the path as it is written in MAIL and RCPT: "<a@b>", "<>".
func (p Path) Bracketed() string { return "<" + p.String() + ">" }

// DomainFold returns the domain in lower case, for comparisons (domains are
// case-insensitive, RFC 5321 section 2.4).
func (p Path) DomainFold() string { return strings.ToLower(p.Domain) }
