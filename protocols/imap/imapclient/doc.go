// Package imapclient is the client side of IMAP4rev1 (RFC 3501) on a
// net.Conn, for the lab's MUA and for scenarios that type IMAP by hand: the
// greeting, tagged commands (a001, a002, ...), a response reader that
// handles untagged data, continuation requests, response codes, quoted
// strings, literals and nested lists; STARTTLS (StartTLS) and IMAPS
// (DialTLS); LOGIN and AUTHENTICATE PLAIN; the
// mailbox commands (LIST, SELECT, STATUS, CREATE, ...); FETCH, SEARCH,
// STORE, COPY, MOVE, EXPUNGE and APPEND with their UID forms; IDLE; and a
// raw Cmd for dialogues a lesson writes line by line.
//
// The client keeps a model of the selected mailbox (Mailbox) that follows
// the EXISTS, EXPUNGE and RECENT responses the server may send at any time,
// and hands such news to Options.OnUnilateral, so a scenario can say "the
// phone was told about 1 new message".
//
// A Client is used by one goroutine at a time; Close may be called from
// another one to abort a blocked call. A NO, BAD or BYE comes back as an
// error wrapping *Error: "imapclient: SELECT Archive: NO [TRYCREATE] No
// such mailbox". After a transport error or a malformed response the Client
// is unusable: every later call returns that error.
//
// # Standards
//
// RFC 3501 (IMAP4rev1: section 4.3 literals, 6 commands, 7 responses, 9
// grammar), RFC 2595 section 3 and RFC 3501 section 6.2.1 (STARTTLS,
// LOGINDISABLED), RFC 8314 section 3.2 (IMAPS), RFC 2177 (IDLE), RFC 7888 (LITERAL+ and LITERAL-), RFC 4315
// (UIDPLUS: APPENDUID, COPYUID, UID EXPUNGE), RFC 6851 (MOVE), RFC 3691
// (UNSELECT), RFC 4616 (SASL PLAIN), RFC 4959 (SASL-IR), RFC 3516 (literal8
// of BINARY).
//
// # Security
//
// The client reads responses from a network peer it does not trust: every
// line is bounded (Options.MaxLineBytes), every literal and the literals of
// one response together are bounded (Options.MaxLiteral), so are the number
// of literals (MaxLiterals) and the nesting of lists (MaxDepth); a response
// that breaks the grammar is an error, never a panic. Every read and write
// has a deadline except the wait for news during IDLE. Arguments are quoted
// or sent as literals as RFC 3501 section 4 requires, and the free text a
// caller passes (FETCH items, SEARCH criteria, Cmd lines) may not hold CR or
// LF, so no caller can smuggle a second command. Passwords are marked
// secret for the transcript (wire.MarkSecret) and replaced by "***" for
// BeforeCommand; message bodies sent by APPEND are marked bulk. StartTLS
// and DialTLS check the server's certificate against the tls.Config's
// roots; Login refuses to send a password while the server announces
// LOGINDISABLED. Response injection (the mirror of CVE-2011-0411):
// whatever the server sent after its OK to STARTTLS before the handshake
// is discarded and noted, never read as a response, and the capabilities
// known before are forgotten. A failed handshake is reported to the
// transcript and leaves the Client unusable.
//
// # Limits
//
// Lines up to 64 KiB, literals up to 64 MiB per response, 1000 literals per
// response, lists nested 64 deep. Timeouts default to 5 minutes per read and
// write; IDLE is re-issued every 29 minutes. Mailbox names are sent and
// returned as they are: modified UTF-7 (RFC 3501 section 5.1.3) is not
// converted. SEARCH criteria and FETCH items are written as given (strings
// in them must be quoted by the caller, literals are not possible there).
// One command is in flight at a time: no pipelining. ESEARCH, CONDSTORE
// and NAMESPACE are not implemented; a raw Cmd can still send them.
package imapclient
