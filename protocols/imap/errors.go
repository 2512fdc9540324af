package imap

import "fmt"

// Status is the status word of a tagged or untagged status response (RFC
// 3501 section 7.1).
type Status string

const (
	OK      Status = "OK"
	NO      Status = "NO"      // the command failed (operational error)
	BAD     Status = "BAD"     // protocol error: unknown command, bad arguments, wrong state
	BYE     Status = "BYE"     // the server is closing the connection
	PREAUTH Status = "PREAUTH" // greeting only: already authenticated
)

// Response codes (RFC 3501 section 7.1, RFC 4315, RFC 5530) the lab uses.
const (
	CodeAlert                = "ALERT"
	CodeTryCreate            = "TRYCREATE"
	CodeReadOnly             = "READ-ONLY"
	CodeReadWrite            = "READ-WRITE"
	CodeTooBig               = "TOOBIG"               // RFC 4469 and RFC 7888 section 4
	CodeAuthenticationFailed = "AUTHENTICATIONFAILED" // RFC 5530 section 3
	CodeAlreadyExists        = "ALREADYEXISTS"        // RFC 5530 section 3
	CodeNonExistent          = "NONEXISTENT"          // RFC 5530 section 3
	CodeCannot               = "CANNOT"               // RFC 5530 section 3
	CodeLimit                = "LIMIT"                // RFC 5530 section 3
	CodeParse                = "PARSE"
	CodeClientBug            = "CLIENTBUG" // RFC 5530 section 3
	CodeUnavailable          = "UNAVAILABLE"
	CodeServerBug            = "SERVERBUG"
	// CodePrivacyRequired: the operation needs privacy (TLS) first, e.g.
	// LOGIN while LOGINDISABLED is advertised (RFC 5530 section 3).
	CodePrivacyRequired = "PRIVACYREQUIRED"
)

// Error is an IMAP status response that is not a success: NO, BAD or BYE,
// with an optional response code. Servers return it from handlers and
// backends and it goes to the client as is (with the command's tag, or
// untagged for BYE); clients return it when the server refused something.
type Error struct {
	Status Status // NO, BAD or BYE
	Code   string // response code without brackets, e.g. "TRYCREATE" or "TOOBIG"; "" for none
	Text   string // human-readable text
}

// Error renders the response as it appears after the tag:
// "NO [TRYCREATE] No such mailbox".
func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s [%s] %s", e.Status, e.Code, e.Text)
	}
	return fmt.Sprintf("%s %s", e.Status, e.Text)
}

// Errorf returns an *Error with the given status, code and formatted text.
func Errorf(status Status, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Text: fmt.Sprintf(format, args...)}
}

// Bad returns a BAD *Error (a protocol or syntax error) with no code.
func Bad(format string, args ...any) *Error {
	return &Error{Status: BAD, Text: fmt.Sprintf(format, args...)}
}

// No returns a NO *Error (the command failed) with no code.
func No(format string, args ...any) *Error {
	return &Error{Status: NO, Text: fmt.Sprintf(format, args...)}
}
