// Package smtpserver is the server side of SMTP (RFC 5321) and LMTP
// (RFC 2033) on net.Conns: one goroutine per connection, one explicit State,
// one command table, replies returned as *smtp.Error. Mail itself goes to a
// Backend the agent provides (an MTA's queue, an MDA's mailboxes).
//
// Commands: HELO, EHLO (LMTP: LHLO instead of both), MAIL, RCPT, DATA, RSET,
// NOOP, QUIT, VRFY (252), HELP (214), EXPN (502). EHLO advertises
// PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES and HELP.
//
// What to watch in a transcript: the state notes (Connected -> Ready -> Mail
// -> Rcpt -> Data -> Ready), the 503 5.5.1 answers to commands sent out of
// order, and pipelined groups whose replies come back in one write.
//
// # Standards
//
// RFC 5321 (sections 3.3 transactions, 4.1.1 commands, 4.1.4 order, 4.2
// replies, 4.5.2 transparency, 4.5.3 limits and timeouts), RFC 2033 (LMTP),
// RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2034 and
// RFC 3463 (enhanced status codes: every 2yz, 4yz and 5yz reply carries one,
// except the greeting and the answer to HELO/EHLO/LHLO, as RFC 2034 section
// 3 says; 354 is a 3yz and has none).
//
// # Security
//
// Everything a client sends is untrusted network input. Command lines are
// bounded (Options.MaxCommandBytes), so are text lines (MaxTextLineBytes:
// an overlong line is cut in memory and the message refused), messages
// (MaxMessageBytes), recipients (MaxRecipients), errors per session
// (MaxErrors), connections (MaxConns) and the time every read and write may
// take. A panic in a session is recovered at the connection boundary,
// answered with 421 and logged. Nothing is encrypted or authenticated: the
// lab runs on loopback.
//
// Message text is checked against two classic tricks:
//
//   - Bare LF (RFC 5322 section 2.3 forbids it): a line ending in LF alone is
//     accepted and passed on ending in CRLF, like Postfix's
//     "smtpd_forbid_bare_newline = normalize", but only CRLF "." CRLF ends
//     the text. A "." line ending in a bare LF, or after a line that did, is
//     message text. This closes "SMTP smuggling" (CVE-2023-51766 and
//     friends), where a second message hides behind a non-standard end of
//     data that one server honours and the next does not.
//   - NUL octets: not text (RFC 5322 section 3.5 excludes them); the message
//     is read to its end and refused with 554 5.6.0.
//
// # Limits
//
// Defaults (Options): 512-octet command lines and 1000-octet text lines
// (RFC 5321 section 4.5.3.1.4 and 4.5.3.1.6), 25 MiB messages, 100
// recipients (section 4.5.3.1.8), 10 errors, 100 connections, 5-minute read
// and data timeouts (section 4.5.3.2.7), 1-minute write timeout. After a
// refused DATA the server still reads the text to its final "." before it
// answers, however long that takes (each read bounded by DataTimeout).
// STARTTLS, AUTH, SMTPUTF8, DSN and CHUNKING are not implemented.
package smtpserver
