// Package smtpclient is the client side of SMTP (RFC 5321) and LMTP
// (RFC 2033) on a net.Conn: the greeting, EHLO/LHLO with HELO fallback, a
// mail transaction one command at a time or pipelined, dot-stuffed message
// bodies, per-recipient LMTP results, SMTP AUTH (PLAIN, LOGIN), TLS with
// STARTTLS or from the first byte (Options.ImplicitTLS), and raw commands
// for lessons that show what a server answers to a mistake.
//
// StartTLS sends STARTTLS, runs the handshake and moves the session onto
// the connection wire.AfterTLS returns, so the transcript records the
// decrypted lines; a failed handshake is reported with wire.TLSFailed. It
// then forgets the server's extensions (RFC 3207 section 4.2) and leaves
// the new EHLO to Hello, or to Auth, Mail and SendMail, which send it by
// themselves. Options.ImplicitTLS (port 465, RFC 8314 section 3.3) runs
// the handshake before the greeting.
//
// A Client is used by one goroutine at a time; Close may be called from
// another one to abort a blocked operation.
//
// # Standards
//
// RFC 5321 (SMTP: sections 3.1 greeting, 3.2 EHLO/HELO, 4.1.1 commands,
// 4.2 replies, 4.5.2 transparency, 4.5.3 limits and timeouts), RFC 2033
// (LMTP), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
// RFC 2034 and RFC 3463 (enhanced status codes), RFC 4954 (AUTH), RFC 4616
// (PLAIN), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS, section 3.3).
//
// # Security
//
// The client reads replies from a network peer it does not trust: every
// reply line is bounded (MaxReplyLineBytes) and so is the number of lines in
// a reply (Options.MaxReplyLines); a reply that breaks the grammar is an
// error, never a panic. Every read and write has a deadline. Raw lines given
// to Cmd may not hold CR or LF, so a caller cannot smuggle a second command.
//
// Without TLS nothing is encrypted: AUTH's base64 is an encoding anyone can
// undo. With TLS the server's certificate is checked against the
// tls.Config's roots and ServerName (filled in from the address Dial was
// given when empty); the transcript is told whether it was
// (InsecureSkipVerify off). StartTLS refuses a server whose EHLO reply
// does not list STARTTLS instead of going on in clear (what a man in the
// middle who strips the keyword hopes for), and it discards whatever the
// server sent behind its 220 before the handshake: "response injection",
// the client side of CVE-2011-0411, where text that crossed in clear
// would be read as replies that came under TLS. The transcript gets a
// note when that happens.
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
