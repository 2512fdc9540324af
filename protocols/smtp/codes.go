package smtp

import "fmt"

// Reply codes (RFC 5321 section 4.2.2 and 4.2.3, plus extensions). The
// first digit tells the client what to do (section 4.2.1): 2 done, 3 go on,
// 4 try again later, 5 do not repeat.
const (
	C211SystemStatus        Code = 211 // system status
	C214Help                Code = 214 // help text (HELP)
	C220Ready               Code = 220 // greeting: service ready
	C221Closing             Code = 221 // QUIT: closing the channel
	C235AuthSucceeded       Code = 235 // AUTH: authentication succeeded (RFC 4954 section 4)
	C250OK                  Code = 250 // requested action completed
	C251UserNotLocal        Code = 251 // not local, will forward
	C252CannotVRFY          Code = 252 // cannot verify, will try to deliver (RFC 5321 section 3.5.3)
	C334AuthChallenge       Code = 334 // AUTH: a base64 SASL challenge, answer with one line (RFC 4954 section 4)
	C354StartInput          Code = 354 // DATA: send the text, end with <CRLF>.<CRLF>
	C421Closing             Code = 421 // service not available, closing (any command, section 3.8)
	C450MailboxBusy         Code = 450 // mailbox unavailable for now (greylisting, busy)
	C451LocalError          Code = 451 // local error in processing
	C452TooManyRecipients   Code = 452 // too many recipients (section 4.5.3.1.10), or storage full
	C454TemporaryFailure    Code = 454 // temporary authentication failure (RFC 4954 section 6); TLS not available (RFC 3207)
	C455ParamsNotAccepted   Code = 455 // server cannot accommodate the parameters
	C500SyntaxError         Code = 500 // command unrecognised, syntax error, line too long
	C501SyntaxParams        Code = 501 // syntax error in parameters or arguments
	C502NotImplemented      Code = 502 // command recognised but not implemented (section 4.2.4)
	C503BadSequence         Code = 503 // bad sequence of commands
	C504ParamNotImpl        Code = 504 // command parameter not implemented; unknown AUTH mechanism (RFC 4954 section 4)
	C530AuthRequired        Code = 530 // authentication required (RFC 4954 section 6, with 5.7.0); also "Must issue a STARTTLS command first" (RFC 3207 section 4)
	C535AuthInvalid         Code = 535 // authentication credentials invalid (RFC 4954 section 6, with 5.7.8)
	C538EncryptionRequired  Code = 538 // the mechanism needs an encrypted connection (RFC 4954 section 6, with 5.7.11)
	C550MailboxUnavailable  Code = 550 // mailbox unavailable, or refused by policy (section 3.6.2)
	C551UserNotLocal        Code = 551 // user not local, try another path
	C552TooBig              Code = 552 // exceeded storage allocation: message too big (RFC 1870)
	C553MailboxName         Code = 553 // mailbox name not allowed (syntax)
	C554Failed              Code = 554 // transaction failed
	C555ParamsNotRecognized Code = 555 // MAIL/RCPT parameters not recognised
)

// Class returns the first digit of the code: 2, 3, 4 or 5.
func (c Code) Class() int { return int(c) / 100 }

// Errorf returns the reply code, enhanced status code (RFC 3463, "" for
// none) and text as an *Error, the form in which server handlers and
// backends return replies.
//
//	return smtp.Errorf(smtp.C550MailboxUnavailable, "5.1.1", "No mailbox %s here", to)
func Errorf(code Code, enhanced string, format string, args ...any) *Error {
	return &Error{Code: code, Enhanced: enhanced, Message: fmt.Sprintf(format, args...)}
}
