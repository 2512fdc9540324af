// Package pop3client is the client side of POP3 (RFC 1939) for the lab's
// MUA: USER/PASS and APOP logins, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP,
// RSET, QUIT and CAPA, plus Cmd for hand-typed dialogues. A "-ERR"
// response is returned as an error wrapping *pop3.Error, whose Code holds
// the RFC 2449 response code ("IN-USE", "AUTH", "SYS/TEMP"...).
//
// # Standards
//
// RFC 1939 (POP3), RFC 2449 (CAPA, response codes), RFC 3206 (SYS and
// AUTH response codes).
//
// # Security
//
// Everything the server sends is untrusted: every line is bounded
// (Options.MaxLineBytes), so is every multi-line response
// (MaxResponseBytes) and the wait for each of them (Timeout). A response
// over a limit is read to its final "." and dropped, so the session stays
// in step. Passwords go in clear (PASS) or as an MD5 digest (APOP): the
// PASS line is marked secret for the transcript, and the password never
// appears in an error message.
//
// # Limits
//
// Defaults (Options): a 1-minute timeout per command, 64 KiB per line and
// 64 MiB per multi-line response. The whole of a RETR is held in memory.
// STLS, AUTH (SASL) and pipelining are not used.
package pop3client
