// Package imapmsg turns a stored message into what an IMAP server says about
// it: the ENVELOPE and BODYSTRUCTURE of FETCH, the octets of BODY[section],
// and whether it matches a SEARCH key. It works on the MIME tree of
// mail.ParseMessage and knows nothing of connections or mailboxes.
//
//	C: a1 FETCH 1 (ENVELOPE BODY[1.MIME])
//	S: * 1 FETCH (ENVELOPE ("Thu, 15 Jan 2026 10:30:00 +0100" "Hi" ...) BODY[1.MIME] {44}
//
// # Standards
//
// RFC 3501 section 6.4.4 (SEARCH keys), section 6.4.5 (FETCH body
// sections and partial fetch), section 7.4.2 (ENVELOPE, BODY,
// BODYSTRUCTURE), section 9 (formal syntax: string, nstring, envelope,
// body); RFC 5322 section 3.3 (dates) and 3.4 (addresses and groups);
// RFC 2047 (encoded words, passed through in ENVELOPE, decoded for SEARCH);
// RFC 2231 (parameter values in BODYSTRUCTURE).
//
// # Security
//
// Everything here reads messages from anyone and section specs and search
// strings from the client: nothing panics, time is linear in the message
// (per search key) and memory is bounded by the size of the message.
// Strings that cannot be quoted are sent as literals, so a header with a
// CR, LF or quote cannot inject protocol text; NUL, which no IMAP string may
// hold (RFC 3501 section 9, CHAR8), becomes U+FFFD.
//
// # Limits
//
// SEARCH compares text case-insensitively after decoding encoded words,
// quoted-printable and base64; bodies in charsets other than UTF-8,
// US-ASCII and ISO-8859-1 are compared as raw octets. A search key tree
// deeper than 1000 levels matches nothing. Literals inside a section spec
// are accepted only in the `{n}` CRLF form, joined into the string.
package imapmsg
