// Package pop3client is the client side of POP3 (RFC 1939) for the lab's
// MUA: STLS (StartTLS) and POP3S (DialTLS), USER/PASS, AUTH PLAIN
// (AuthPlain) and APOP logins, STAT, LIST, UIDL, RETR, TOP, DELE, NOOP,
// RSET, QUIT and CAPA, plus Cmd for hand-typed dialogues. A "-ERR"
// response is returned as an error wrapping *pop3.Error, whose Code holds
// the RFC 2449 response code ("IN-USE", "AUTH", "SYS/TEMP"...).
//
// # Standards
//
// RFC 1939 (POP3), RFC 2449 (CAPA, response codes), RFC 3206 (SYS and
// AUTH response codes), RFC 2595 section 4 (STLS), RFC 8314 section 3.1
// (POP3S), RFC 5034 (SASL AUTH), RFC 4616 (PLAIN).
//
// # Security
//
// Everything the server sends is untrusted: every line is bounded
// (Options.MaxLineBytes), so is every multi-line response
// (MaxResponseBytes) and the wait for each of them (Timeout). A response
// over a limit is read to its final "." and dropped, so the session stays
// in step. Passwords go as they are (PASS, AUTH PLAIN: use them inside
// TLS) or as an MD5 digest (APOP): the PASS and AUTH lines are marked
// secret for the transcript, and the password never appears in an error
// message. StartTLS and DialTLS check the server's certificate against
// the tls.Config's roots (the transcript is told it was verified unless
// InsecureSkipVerify). Response injection (the mirror of CVE-2011-0411):
// whatever the server sent after "+OK" to STLS before the handshake is
// discarded and noted, never read as a response. A failed handshake is
// reported to the transcript and leaves the Client unusable.
//
// # Limits
//
// Defaults (Options): a 1-minute timeout per command, 64 KiB per line and
// 64 MiB per multi-line response. The whole of a RETR is held in memory.
// Pipelining is not used; AUTH mechanisms other than PLAIN are not
// implemented.
package pop3client
