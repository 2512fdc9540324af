// Package smtpclient is the client side of SMTP (RFC 5321) and LMTP
// (RFC 2033) on a net.Conn: the greeting, EHLO/LHLO with HELO fallback, a
// mail transaction one command at a time or pipelined, dot-stuffed message
// bodies, per-recipient LMTP results, and raw commands for lessons that show
// what a server answers to a mistake.
//
// A Client is used by one goroutine at a time; Close may be called from
// another one to abort a blocked operation.
//
// # Standards
//
// RFC 5321 (SMTP: sections 3.1 greeting, 3.2 EHLO/HELO, 4.1.1 commands,
// 4.2 replies, 4.5.2 transparency, 4.5.3 limits and timeouts), RFC 2033
// (LMTP), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
// RFC 2034 and RFC 3463 (enhanced status codes).
//
// # Security
//
// The client reads replies from a network peer it does not trust: every
// reply line is bounded (MaxReplyLineBytes) and so is the number of lines in
// a reply (Options.MaxReplyLines); a reply that breaks the grammar is an
// error, never a panic. Every read and write has a deadline. Raw lines given
// to Cmd may not hold CR or LF, so a caller cannot smuggle a second command.
// Nothing here is encrypted or authenticated: the lab runs on loopback.
//
// # Limits
//
// Reply lines may be up to MaxReplyLineBytes (4096) octets including CRLF,
// more than the 512 of RFC 5321 section 4.5.3.1.5, to tolerate chatty
// servers; replies have at most Options.MaxReplyLines lines (default 100).
// Timeouts default to RFC 5321 section 4.5.3.2: 5 minutes for the greeting
// and commands, 3 minutes per data block, 10 minutes for the reply to the
// final ".". After a transport error or a malformed reply the Client is
// unusable: every later call returns that error.
package smtpclient
