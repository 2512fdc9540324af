// Package pop3server is the server side of POP3 (RFC 1939) on net.Conns:
// one goroutine per connection, one explicit pop3.State, one command
// table, responses returned as *pop3.Error. Maildrops come from a Backend
// the agent provides (the MDA's Maildir store); MemoryBackend serves tests.
//
// Commands: in the AUTHORIZATION state USER, PASS, APOP, AUTH (PLAIN only),
// STLS (with Options.TLSConfig), CAPA and QUIT; in the TRANSACTION state
// STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL, CAPA and QUIT. QUIT from
// TRANSACTION enters the UPDATE state, where the messages marked with DELE
// are removed. CAPA lists TOP, USER, SASL PLAIN, RESP-CODES,
// AUTH-RESP-CODE, PIPELINING, UIDL, IMPLEMENTATION maillab, EXPIRE only
// when Options.Expire is set, and STLS while TLS is offered and not yet
// active.
//
// TLS: with Options.TLSConfig the server offers STLS; with ImplicitTLS too
// it is a POP3S server (port 995), the handshake before the greeting.
// The rule for passwords: without a TLSConfig nothing changes (USER/PASS
// and AUTH PLAIN work in clear, as the existing labs expect). With one,
// USER, PASS and AUTH PLAIN are refused before TLS with
// "-ERR [AUTH] TLS required: send STLS first ..." and CAPA does not list
// them, unless Options.AllowInsecureAuth. APOP is always allowed: only a
// digest crosses the wire.
//
// What to watch in a transcript: the greeting's timestamp (what APOP
// hashes), STLS and the handshake note, CAPA before and after it, the
// state notes (Authorization -> Transaction -> Update), the
// masked PASS and AUTH lines, the message text after "+OK ... octets"
// (marked bulk, so renderers may elide it) ending with ".", and DELE
// removing nothing until QUIT.
//
// # Standards
//
// RFC 1939 (sections 3 states and framing, 4 AUTHORIZATION, 5
// TRANSACTION, 6 UPDATE, 7 optional commands: TOP, UIDL, USER/PASS, APOP),
// RFC 2449 (CAPA, response codes, PIPELINING, line lengths), RFC 3206
// ([SYS/TEMP], [SYS/PERM], [AUTH]), RFC 5034 (SASL AUTH), RFC 4616 (PLAIN),
// RFC 2595 section 4 (STLS), RFC 8314 sections 3.1 and 5 (POP3S, implicit
// TLS; no passwords in clear).
//
// # Security
//
// Everything a client sends is untrusted network input. Command lines are
// bounded (Options.MaxLineBytes), so are errors (MaxErrors), failed logins
// (MaxAuthFailures, each answered after AuthFailDelay), connections
// (MaxConns) and the time every read and write may take. A failed login
// says "[AUTH] invalid user name or password" whether the user exists or
// not. A panic in a session is recovered at the connection boundary,
// answered with "-ERR [SYS/TEMP]", logged, and the maildrop unlocked
// without deleting anything. Passwords cross the wire as they are
// (USER/PASS, AUTH PLAIN), which TLS protects once it is active, or as an
// MD5 digest (APOP, obsolete): the transcript marks them secret. Failed
// logins are noted in the transcript.
//
// TLS (Options.TLSConfig): credentials in clear are refused before STLS
// (see above). Plaintext command injection (CVE-2011-0411): whatever the
// client sent after STLS before the handshake is discarded unread, never
// executed inside TLS, and noted in the transcript. STLS is refused in the
// TRANSACTION state and once TLS is active. A failed handshake is reported
// to the transcript (wire.TLSFailed) and ends the session; a handshake
// must complete within 1 minute. The session after the handshake reads and
// writes through the connection wire.AfterTLS returns.
//
// # Limits
//
// Defaults (Options): 255-octet command lines (RFC 2449 section 4), 2048
// octets for a SASL response line, 10 errors, 3 failed logins with a
// 1-second delay each, 100 connections, a 10-minute idle timeout (the
// minimum autologout of RFC 1939 section 3; it deletes nothing) and a
// 1-minute write timeout. Message text is streamed from the Backend, never
// held whole in memory. Shutdown lets the current command finish (a RETR
// in progress is sent to its end), then closes each session with
// "-ERR [SYS/TEMP] server shutting down" and no UPDATE.
package pop3server
