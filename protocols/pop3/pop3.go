// Package pop3 holds what the POP3 server and client share: the Error type
// that carries a "-ERR [CODE] text" response, the response codes of RFC 2449
// and RFC 3206, the State type, the command-line parser and the APOP digest.
//
// # Standards
//
// RFC 1939 (POP3, STD 53), RFC 2449 (CAPA and extended response codes),
// RFC 3206 (SYS and AUTH response codes), RFC 5034 (SASL AUTH), RFC 4616
// (PLAIN).
//
// # Security
//
// The parsers read untrusted network input; they never panic and bound
// nothing themselves: callers read lines with wire.ReadLine and a limit.
// APOP is MD5-based and kept for history (RFC 1939 section 7); it protects
// the password on the wire but not the mail.
//
// # Limits
//
// MaxCommandBytes (255 octets, RFC 2449 section 4) and MaxResponseBytes
// (512 octets, RFC 2449 section 4) are the limits the server and client
// apply by default.
package pop3

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
)

// Line limits of RFC 2449 section 4, CRLF included.
const (
	// MaxCommandBytes: "Keywords and arguments ... commands MUST NOT exceed
	// 255 octets, including the terminating CRLF."
	MaxCommandBytes = 255
	// MaxResponseBytes: "The maximum length of the first line of a
	// command response (including the initial greeting) is ... 512 octets,
	// including the terminating CRLF."
	MaxResponseBytes = 512
)

// Response codes: the bracketed word after "-ERR" (RFC 2449 section 8).
const (
	// CodeInUse: the maildrop is locked by another session (RFC 2449
	// section 8.1.1). Sent after USER/PASS, APOP or AUTH.
	CodeInUse = "IN-USE"
	// CodeLoginDelay: logged in too recently (RFC 2449 section 8.1.2).
	CodeLoginDelay = "LOGIN-DELAY"
	// CodeSysTemp: a temporary problem on the server, try again later
	// (RFC 3206 section 4).
	CodeSysTemp = "SYS/TEMP"
	// CodeSysPerm: a permanent problem on the server; a client should not
	// retry without help (RFC 3206 section 4).
	CodeSysPerm = "SYS/PERM"
	// CodeAuth: the credentials were wrong (RFC 3206 section 5), as
	// opposed to a problem on the server.
	CodeAuth = "AUTH"
)

// Error is a "-ERR" response. Servers return it from handlers and backends
// and it goes to the client as is; clients return it when the server
// refused something.
type Error struct {
	Code string // response code without brackets, e.g. "IN-USE"; "" when none
	Text string // the human-readable rest of the line
}

// Error renders the response as it appears on the wire, without "-ERR ".
func (e *Error) Error() string {
	if e.Code != "" {
		return "[" + e.Code + "] " + e.Text
	}
	return e.Text
}

// Is makes errors.Is(err, ErrInUse) (and the other sentinels) true for any
// *Error with the same non-empty Code, whatever its text.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}

// Temporary reports whether the same command may succeed later: IN-USE,
// LOGIN-DELAY and SYS/TEMP (RFC 2449 section 8.1, RFC 3206 section 4).
func (e *Error) Temporary() bool {
	switch e.Code {
	case CodeInUse, CodeLoginDelay, CodeSysTemp:
		return true
	}
	return false
}

// Sentinels a Backend returns (or wraps, or copies with its own
// text: errors.Is matches on the code). The server sends them as
// "-ERR [CODE] text".
var (
	// ErrInUse: the maildrop is locked by another session.
	ErrInUse = &Error{Code: CodeInUse, Text: "maildrop already locked by another session"}
	// ErrAuth: unknown user or wrong password. Say no more than that: the
	// client must not learn which of the two was wrong.
	ErrAuth = &Error{Code: CodeAuth, Text: "invalid user name or password"}
	// ErrTemp: a temporary failure (disk, lock timeout); try later.
	ErrTemp = &Error{Code: CodeSysTemp, Text: "temporary failure, try again later"}
)

// ParseError reads the text of a "-ERR" line (without "-ERR" and its space)
// into an Error: a leading "[CODE]" becomes Code (RFC 2449 section 8).
func ParseError(text string) *Error {
	if strings.HasPrefix(text, "[") {
		if end := strings.IndexByte(text, ']'); end > 1 {
			code := text[1:end]
			if validCode(code) {
				return &Error{Code: code, Text: strings.TrimLeft(text[end+1:], " ")}
			}
		}
	}
	return &Error{Text: text}
}

// validCode checks the resp-code syntax of RFC 2449 section 9:
// resp-level *("/" resp-level), resp-level = 1*rchar, rchar = %x21-2E / %x30-5C / %x5E-7F.
func validCode(code string) bool {
	for _, level := range strings.Split(code, "/") {
		if level == "" {
			return false
		}
		for i := 0; i < len(level); i++ {
			c := level[i]
			if c < 0x21 || c > 0x7e || c == '/' || c == ']' {
				return false
			}
		}
	}
	return true
}

// APOPDigest returns the hex MD5 of timestamp followed by secret, what a
// client sends in "APOP name digest" (RFC 1939 section 7). The timestamp
// includes its angle brackets, as in the greeting.
func APOPDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

// ErrSyntax is wrapped by the parsers' errors.
var ErrSyntax = errors.New("pop3: syntax error")
