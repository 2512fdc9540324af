// Package imapserver is the server side of IMAP4rev1 (RFC 3501) on
// net.Conns: one goroutine per connection (two during IDLE), one explicit
// imap.State, one command table, responses returned as *imap.Error. Mail
// lives in a Backend the agent provides (the MDA's Maildir store);
// MemoryBackend serves tests.
//
// Commands: CAPABILITY, NOOP, LOGOUT, ID; STARTTLS, LOGIN, AUTHENTICATE PLAIN;
// SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
// LSUB, STATUS, APPEND, NAMESPACE, ENABLE, IDLE; CHECK, CLOSE, UNSELECT,
// EXPUNGE, SEARCH, FETCH, STORE, COPY, MOVE and the UID forms of FETCH,
// SEARCH, STORE, COPY, MOVE and EXPUNGE. CAPABILITY announces
// Capabilities.
//
// TLS: with Options.TLSConfig the server offers STARTTLS; with ImplicitTLS
// too it is an IMAPS server (port 993), the handshake before the
// greeting. The rule for passwords: without a TLSConfig nothing changes
// (LOGIN and AUTHENTICATE PLAIN work in clear, as the existing labs
// expect). With one, before TLS the capabilities carry STARTTLS and
// LOGINDISABLED and no AUTH=PLAIN, and LOGIN and AUTHENTICATE answer
// "NO [PRIVACYREQUIRED]", unless Options.AllowInsecureAuth (then
// STARTTLS and AUTH=PLAIN). Inside TLS: neither STARTTLS nor
// LOGINDISABLED, and AUTH=PLAIN. After STARTTLS the server sends no
// capabilities unasked: the client must ask again (RFC 3501 section
// 6.2.1).
//
// What to watch in a transcript: the capabilities before and after
// STARTTLS and the handshake note, the state notes (NotAuthenticated ->
// Authenticated -> Selected), the "+" continuation before each
// synchronizing literal, the untagged EXISTS/EXPUNGE/FETCH another session
// causes, arriving before the tagged response of the next command (or at
// once during IDLE), and the response codes: [READ-WRITE], [UIDVALIDITY],
// [APPENDUID], [COPYUID], [TRYCREATE].
//
// Sequence numbers are per session (RFC 3501 section 2.3.1.2): a message
// another session expunged stays in this session's view until an EXPUNGE
// response is allowed (section 7.4.1: not at the end of FETCH, STORE,
// SEARCH, COPY or MOVE by sequence number, whose numbers the client may
// still be using; yes after NOOP, CHECK, IDLE, the UID forms and the
// others). FETCH of such a message answers "NO [EXPUNGEISSUED]" (RFC 5530).
//
// A literal that lies about its size: the server reads exactly the octets
// announced. If the client sends fewer, the server takes the beginning of
// the next line as literal data and then parses the rest as the end of the
// command, which usually gives a BAD; if it sends more, the surplus is
// parsed as the rest of the command line (BAD too). A client that
// disconnects in the middle of a literal loses the whole command: nothing
// of it is executed, and what earlier commands committed stays.
//
// # Standards
//
// RFC 3501 (IMAP4rev1), RFC 7888 (LITERAL+), RFC 2177 (IDLE), RFC 4315
// (UIDPLUS: APPENDUID, COPYUID, UID EXPUNGE), RFC 6851 (MOVE), RFC 2342
// (NAMESPACE), RFC 5161 (ENABLE), RFC 2971 (ID), RFC 3691 (UNSELECT),
// RFC 4959 (SASL-IR), RFC 4616 (PLAIN), RFC 5530 (response codes,
// PRIVACYREQUIRED), RFC 2595 section 3 (STARTTLS, LOGINDISABLED), RFC 8314
// sections 3.2 and 5 (IMAPS, implicit TLS; no passwords in clear), RFC
// 9051 section 11 (the same rules in IMAP4rev2).
//
// # Security
//
// Everything a client sends is untrusted network input. Lines are bounded
// (Options.MaxLineBytes), literals (MaxLiteralBytes: a synchronizing one
// over it is refused before it is sent, a LITERAL+ one ends the session),
// list nesting (MaxDepth), errors per session (MaxErrors: BADs and failed
// logins, so password guessing is bounded too; each failed login is noted
// in the transcript and answered after AuthFailDelay), connections
// (MaxConns) and the time every read and write may take. A panic in a session is recovered
// at the connection boundary, answered with "* BYE" and logged.
//
// TLS (Options.TLSConfig): LOGINDISABLED before TLS (see above); a LOGIN
// with its password in a literal is refused before the "+", so the
// password never crosses in clear; AUTHENTICATE is refused before its "+",
// and an initial response sent in clear anyway is not looked at.
// Plaintext command injection (CVE-2011-0411): whatever the client sent
// after STARTTLS before the handshake is discarded unread, never executed
// inside TLS, and noted in the transcript. STARTTLS after login or inside
// TLS gets BAD. A failed handshake is reported to the transcript
// (wire.TLSFailed) and ends the session; a handshake must complete within
// 1 minute. The session after it reads and writes through the connection
// wire.AfterTLS returns; deadlines and Shutdown work as on a plain
// connection (tlsTransport).
//
// Passwords are marked secret for the transcript (a LOGIN line is
// masked by the transcript tap; a literal password and the AUTHENTICATE
// response are marked by the server); literal message data (APPEND, FETCH
// BODY[]) is marked bulk.
//
// # Limits
//
// Defaults (Options): 64 KiB lines, 25 MiB literals, 32 levels of lists,
// 10 errors, 100 connections, 30-minute autologout (RFC 3501 section 5.4),
// 1-minute write timeout. Each connection has 4 KiB read and write buffers
// (lines longer than that are assembled in a temporary slice) while it
// works, taken from pools and given back while it waits for its client
// (between commands and in IDLE), and one goroutine, which writes every
// response, so there is no locking on the output. While it waits for its
// client (between commands, in IDLE) a second, small goroutine reads, and
// the first waits for it on a channel, and in IDLE for the mailbox's
// Notify channel too, so that its stack shrinks (see waitClient); the
// reader is always collected before the session ends. A selected mailbox
// costs the session its UIDs (4 octets a message), or nothing when the
// Mailbox shares them among sessions (UIDLister). The idle cost of a
// connection is measured by BenchmarkIdleConnMemory,
// BenchmarkIdleSelectedMemory and, with the real store,
// BenchmarkIdleMDASessionMemory (about 2.4 KB of heap and 5.5 KB of
// stacks per IDLE session on a 1,000-message INBOX). While a mailbox is
// selected, the session keeps the header fields SEARCH has read
// (headerCache): at most about 2 MiB (headerCacheBytes, counted as the
// values' octets plus 64 per message and 16 per value: some 10,000
// messages' From), freed when the mailbox is closed or another selected.
//
// Reading: FETCH and SEARCH read each message at most once per command
// and parse its MIME structure only for BODY, BODYSTRUCTURE and numbered
// sections; ENVELOPE, RFC822.HEADER, BODY[HEADER...] and header search
// keys read only the header, through HeaderReader when the Mailbox has it.
// A FETCH response goes out through the write buffer, not a write per
// literal, also under a transcript tap that places marks ahead of the
// bytes written (see writeLiteral). A TLS session also costs what
// crypto/tls keeps (its record buffers); a plain one nothing more than
// before. Not implemented: CONDSTORE/QRESYNC, ESEARCH, SPECIAL-USE, LIST-EXTENDED, modified UTF-7
// mailbox names (names pass through as sent), IMAP4rev2.
package imapserver
