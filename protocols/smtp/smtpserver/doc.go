// Package smtpserver is the server side of SMTP (RFC 5321) and LMTP
// (RFC 2033) on net.Conns: one goroutine per connection, one explicit State,
// one command table, replies returned as *smtp.Error. Mail itself goes to a
// Backend the agent provides (an MTA's queue, an MDA's mailboxes).
//
// Commands: HELO, EHLO (LMTP: LHLO instead of both), MAIL, RCPT, DATA, RSET,
// NOOP, QUIT, VRFY (252), HELP (214), EXPN (502), and STARTTLS and AUTH when
// offered. EHLO advertises PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES,
// HELP and, when offered, STARTTLS and AUTH PLAIN LOGIN.
//
// TLS (Options.TLSConfig) comes two ways. STARTTLS (RFC 3207), for ports 25
// and 587: listed in the EHLO reply while the connection is in clear;
// "220 2.0.0 Ready to start TLS", the handshake (bounded by
// TLSHandshakeTimeout), and the session starts over under TLS: the server
// forgets the EHLO name, the authentication and the transaction (section
// 4.2), waits for EHLO again, and the new EHLO reply lists AUTH and no
// STARTTLS. Replies: 501 5.5.4 STARTTLS with parameters; 503 5.5.1 TLS
// already active, or a transaction open; 502 5.5.1 no TLSConfig; 454 4.7.0
// a TLSConfig without a certificate. A handshake that fails is logged and
// the connection closed, with no further word in clear. Implicit TLS
// (Options.ImplicitTLS, port 465, RFC 8314 section 3.3): the handshake
// first, then the greeting. Options.RequireTLS answers every command but
// EHLO, HELO, LHLO, NOOP, RSET, QUIT and STARTTLS with 530 5.7.0 "Must
// issue a STARTTLS command first" until TLS is active. ConnInfo.TLS tells
// the backend the TLS state (nil in clear). The transcript is told through
// wire.AfterTLS and wire.TLSFailed; from the handshake on the session reads
// and writes the connection AfterTLS returns.
//
// SMTP AUTH (RFC 4954) is offered when Options.Authenticator is set (never
// with LMTP): under TLS, or in clear only with Options.AllowInsecureAuth.
// Options.RequireAuth makes a submission server (RFC 6409 section 4.3):
// MAIL before AUTH gets 530 5.7.0 Authentication required. Two mechanisms: PLAIN (RFC 4616), one base64 message "[authzid] NUL user
// NUL password", and LOGIN (draft-murchison-sasl-login: never an RFC, but
// widespread), user and password each in answer to a 334 prompt. Replies:
// 235 2.7.0 success; 535 5.7.8 wrong credentials, or an authorization
// identity other than the user's own; 501 5.5.2 a response that is not
// base64 or not a PLAIN message; 501 5.7.0 the client cancelled with "*";
// 504 5.5.4 unknown mechanism; 503 5.5.1 a second AUTH, AUTH during a
// transaction or after HELO; 500 5.5.6 a response line over
// Options.MaxAuthLineBytes; 538 5.7.11 AUTH in clear without
// AllowInsecureAuth (the EHLO reply does not list AUTH then); 502 5.5.1
// AUTH on a server that does not offer it. A success sets ConnInfo.User
// for the rest of the session (RSET does not undo it; STARTTLS does), which
// is how a backend decides to relay for its users; a failure counts
// towards Options.MaxErrors. MAIL takes the AUTH= parameter (RFC 4954
// section 5) only when AUTH is offered; before AUTH it is read as AUTH=<>.
//
// What to watch in a transcript: the state notes (Connected -> Ready -> Mail
// -> Rcpt -> Data -> Ready), the 503 5.5.1 answers to commands sent out of
// order, pipelined groups whose replies come back in one write, and the
// AUTH exchange: the lines carrying credentials are marked secret (masked
// "***" by the renderer; decode one with base64 -d to see why TLS matters)
// and notes say "authenticated as ..." or "authentication failed for ...".
// Around STARTTLS: the EHLO list before and after (STARTTLS, then AUTH),
// the handshake noted by the transcript, the state going back to
// Connected, and a note when bytes pipelined behind STARTTLS were
// discarded.
//
// # Standards
//
// RFC 5321 (sections 3.3 transactions, 4.1.1 commands, 4.1.4 order, 4.2
// replies, 4.5.2 transparency, 4.5.3 limits and timeouts), RFC 2033 (LMTP),
// RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2034 and
// RFC 3463 (enhanced status codes: every 2yz, 4yz and 5yz reply carries one,
// except the greeting and the answer to HELO/EHLO/LHLO, as RFC 2034 section
// 3 says; 354 and 334 are 3yz and have none), RFC 4954 (AUTH), RFC 4616
// (SASL PLAIN), draft-murchison-sasl-login (LOGIN, non-standard), RFC 3461
// section 4 (xtext, for AUTH=), RFC 3207 (STARTTLS), RFC 8314 (implicit
// TLS, section 3.3) and RFC 6409 (submission: section 4.3, authentication
// required).
//
// # Security
//
// Everything a client sends is untrusted network input. Command lines are
// bounded (Options.MaxCommandBytes), so are text lines (MaxTextLineBytes:
// an overlong line is cut in memory and the message refused), messages
// (MaxMessageBytes), recipients (MaxRecipients), errors per session
// (MaxErrors), connections (MaxConns) and the time every read and write may
// take. A panic in a session is recovered at the connection boundary,
// answered with 421 and logged. Without TLS nothing is encrypted and AUTH
// passwords would cross in clear (base64 only): AUTH waits for TLS unless
// Options.AllowInsecureAuth says otherwise. AUTH response lines are
// bounded (MaxAuthLineBytes), failed logins count towards MaxErrors, and
// an AUTH line with its initial response is bounded by MaxCommandBytes.
// The Authenticator sees only user names and passwords, never base64 or
// PLAIN's framing.
//
// STARTTLS is checked against the plaintext command injection of
// CVE-2011-0411 (Postfix and others, 2011): bytes a client pipelined
// behind STARTTLS crossed in clear, where a man in the middle could have
// added them, so they are discarded when the 220 is sent, never executed
// after the handshake as if they had come under TLS; the transcript gets
// the note "N bytes sent after STARTTLS were discarded". A TLS handshake
// is bounded by TLSHandshakeTimeout, and the TLS session reads and writes
// under the same deadlines, MaxErrors and Shutdown as one in clear. What
// STARTTLS cannot prevent, on ports 25 and 587: a man in the middle who
// strips STARTTLS from the EHLO reply keeps an opportunistic client in
// clear (RequireTLS and implicit TLS on 465 are the answers, RFC 8314).
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
// SMTPUTF8, DSN and CHUNKING are not implemented; nor are the
// AUTH mechanisms beyond PLAIN and LOGIN (CRAM-MD5, SCRAM, XOAUTH2), nor
// the 500 extra octets RFC 4954 section 3 grants a MAIL line carrying
// AUTH= (AUTH= values are short). AUTH takes response lines of up to
// 12288 octets (MaxAuthLineBytes). A TLS handshake may take 30 seconds
// (TLSHandshakeTimeout); a TLS session costs crypto/tls's buffers on top
// of a plain one.
package smtpserver
