package smtpserver

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maillab/maillab/protocols/netconn"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// Authenticator checks the credentials a client gives with AUTH (RFC 4954).
// Both mechanisms the server offers, PLAIN and LOGIN, end in a user name and
// a password; the server decodes them and asks Authenticate.
//
// Authenticate returns nil to accept. To refuse it returns an *smtp.Error,
// which goes to the client as is: ErrAuthInvalid for an unknown user or a
// wrong password (the client must not learn which), or e.g. 454 4.7.0 for a
// temporary failure. A 2yz *smtp.Error accepts in the Authenticator's own
// words. Any other error is logged and answered "454 4.7.0 Temporary
// authentication failure" (RFC 4954 section 6). info is the session's
// ConnInfo (the client's address, its EHLO name); it must not be kept.
type Authenticator interface {
	Authenticate(info *ConnInfo, username, password string) error
}

// AuthenticatorFunc lets an ordinary function be an Authenticator.
type AuthenticatorFunc func(info *ConnInfo, username, password string) error

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(info *ConnInfo, username, password string) error {
	return f(info, username, password)
}

// ErrAuthInvalid is the refusal for a wrong user name or password (RFC 4954
// section 6).
var ErrAuthInvalid = smtp.Errorf(smtp.C535AuthInvalid, "5.7.8", "Authentication credentials invalid")

// Passwords is an Authenticator holding user names and their passwords, in
// memory and in clear, for tests and scenarios: {"alice@a.test": "secret"}.
// User names are compared exactly, passwords in constant time.
type Passwords map[string]string

// Authenticate implements Authenticator.
func (p Passwords) Authenticate(_ *ConnInfo, username, password string) error {
	want, ok := p[username]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return ErrAuthInvalid
	}
	return nil
}

// authMechanisms is what the EHLO reply lists after AUTH. PLAIN is RFC 4616.
// LOGIN was never standardised (draft-murchison-sasl-login, expired) but
// Outlook and many devices still use it; it is no safer than PLAIN.
const authMechanisms = "PLAIN LOGIN"

// LOGIN's prompts (draft-murchison-sasl-login section 2): "Username:" and
// "Password:" in base64.
const (
	loginUserPrompt     = "VXNlcm5hbWU6"
	loginPasswordPrompt = "UGFzc3dvcmQ6"
)

// authConfigured reports whether the server has AUTH at all: an
// Authenticator and SMTP, not LMTP.
func (c *conn) authConfigured() bool { return c.opts.Authenticator != nil && !c.opts.LMTP }

// authAdvertised reports whether the EHLO reply lists AUTH: the server has
// AUTH and it may run now (insecureAuthRefused says when it may not).
func (c *conn) authAdvertised() bool { return c.authConfigured() && !c.insecureAuthRefused() }

// insecureAuthRefused reports whether AUTH must wait for TLS: the
// connection is in clear and AllowInsecureAuth is off.
func (c *conn) insecureAuthRefused() bool { return c.info.TLS == nil && !c.opts.AllowInsecureAuth }

// cmdAuth logs the client in (RFC 4954 section 4) with PLAIN (RFC 4616),
// the credentials in one base64 message "[authzid] NUL user NUL password",
// sent with the command or after an empty 334 challenge:
//
//	C: AUTH PLAIN AGFsaWNlQGEudGVzdABzZWNyZXQ=
//	S: 235 2.7.0 Authentication successful
//
// or with LOGIN (draft-murchison-sasl-login), user and password each in
// answer to a prompt:
//
//	C: AUTH LOGIN
//	S: 334 VXNlcm5hbWU6
//	C: YWxpY2VAYS50ZXN0
//	S: 334 UGFzc3dvcmQ6
//	C: c2VjcmV0
//	S: 235 2.7.0 Authentication successful
//
// The lines carrying credentials are marked secret for the transcript.
func (c *conn) cmdAuth(arg string) error {
	if c.info.User != "" {
		// RFC 4954 section 4: one successful AUTH per session.
		return smtp.Errorf(smtp.C503BadSequence, "5.5.1", "Already authenticated: one AUTH per session (RFC 4954 section 4)")
	}
	if !c.info.ESMTP {
		return smtp.Errorf(smtp.C503BadSequence, "5.5.1", "AUTH is an ESMTP extension: say EHLO, not HELO")
	}
	if c.insecureAuthRefused() {
		// RFC 4954 section 6: 538 when the mechanism needs encryption.
		// Here every mechanism does: PLAIN and LOGIN send the password as
		// it is. STARTTLS lifts this.
		how := "STARTTLS first"
		if !c.tlsConfigured() {
			how = "and this one has no TLS"
		}
		return smtp.Errorf(smtp.C538EncryptionRequired, "5.7.11", "Encryption required for requested authentication mechanism: this server takes passwords only over TLS (%s)", how)
	}
	mech, ir, hasIR, err := parseAuthArg(arg)
	if err != nil {
		return err
	}
	var authzid, user, pass string
	switch mech {
	case "PLAIN":
		authzid, user, pass, err = c.authPlain(ir, hasIR)
	case "LOGIN":
		user, pass, err = c.authLogin(ir, hasIR)
	default:
		// RFC 4954 section 4: 504 5.5.4 for a mechanism not supported.
		name := " " + mech
		if !isSASLName(mech) {
			name = "" // not echoed: it is no mechanism name at all
		}
		return smtp.Errorf(smtp.C504ParamNotImpl, "5.5.4", "Unrecognized authentication type%s: this server offers %s", name, authMechanisms)
	}
	if err != nil {
		return err
	}
	if authzid != "" && authzid != user {
		// RFC 4616 section 2: with an authzid the server must check that
		// the user may act as that identity, and fail the authentication
		// if not. This server lets nobody act as another user. RFC 4954
		// has no code of its own for it: 535 5.7.8, before the password
		// is even checked, so the answer says nothing about it.
		c.tr.Note(fmt.Sprintf("authentication failed for %s (AUTH %s): may not act as %s (authorization identity)", shown(user), mech, shown(authzid)))
		return smtp.Errorf(smtp.C535AuthInvalid, "5.7.8", "Authentication credentials invalid: no user may act as another here (leave the authorization identity empty)")
	}
	return c.authenticate(mech, user, pass)
}

// authenticate asks the Authenticator and answers 235 or the refusal.
func (c *conn) authenticate(mech, user, pass string) error {
	var result error = ErrAuthInvalid
	if user != "" {
		result = c.opts.Authenticator.Authenticate(&c.info, user, pass)
	}
	if failed(result) {
		c.tr.Note(fmt.Sprintf("authentication failed for %s (AUTH %s)", shown(user), mech))
		if d := c.opts.AuthFailDelay; d > 0 {
			// Slow down guessing; Shutdown cuts the wait short.
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.srv.loop.Stopping():
				t.Stop()
			}
		}
		if _, ok := errors.AsType[*smtp.Error](result); !ok {
			c.opts.Logger.Error("smtpserver: authenticator error", "remote", c.info.RemoteAddr, "err", result)
			return smtp.Errorf(smtp.C454TemporaryFailure, "4.7.0", "Temporary authentication failure")
		}
		return result
	}
	c.info.User = user
	if c.info.TLS != nil {
		c.tr.Note(fmt.Sprintf("authenticated as %s (AUTH %s, under TLS)", shown(user), mech))
	} else {
		c.tr.Note(fmt.Sprintf("authenticated as %s (AUTH %s; the password crossed unencrypted: base64 is not encryption)", shown(user), mech))
	}
	c.succeed(result, smtp.C235AuthSucceeded, "2.7.0", "Authentication successful")
	return nil
}

// authPlain gets PLAIN's one message (RFC 4616 section 2): from the command
// line, or after an empty challenge, "334 " (RFC 4954 section 4).
func (c *conn) authPlain(ir string, hasIR bool) (authzid, user, pass string, err error) {
	var msg []byte
	if hasIR {
		msg, err = decodeInitialResponse(ir)
	} else {
		msg, err = c.readAuthResponse("")
	}
	if err != nil {
		return "", "", "", err
	}
	return parsePlain(msg)
}

// authLogin gets LOGIN's user name (the initial response, if given) and
// password, each in answer to its prompt.
func (c *conn) authLogin(ir string, hasIR bool) (user, pass string, err error) {
	var u, p []byte
	if hasIR {
		u, err = decodeInitialResponse(ir)
	} else {
		u, err = c.readAuthResponse(loginUserPrompt)
	}
	if err != nil {
		return "", "", err
	}
	if p, err = c.readAuthResponse(loginPasswordPrompt); err != nil {
		return "", "", err
	}
	return string(u), string(p), nil
}

// readAuthResponse sends a 334 challenge (base64, "" for an empty one) and
// reads the client's answer, one line marked secret for the transcript.
//
// The mark takes effect at the byte where the answer will start, which is
// right as long as the client waits for the 334, as it must: an answer sent
// ahead of its challenge has already crossed, and been recorded, by then.
func (c *conn) readAuthResponse(challenge string) ([]byte, error) {
	// RFC 4954 section 4: the text of a 334 is the challenge and nothing
	// else; RFC 2034 section 3: a 3yz has no enhanced code.
	c.reply(smtp.C334AuthChallenge, "", challenge)
	c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
	line, err := wire.ReadLine(c.br, c.opts.MaxAuthLineBytes)
	c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrLineTooLong):
		// RFC 4954 section 4: 500, with 5.5.6, for a line longer than
		// the server's authentication buffer.
		return nil, smtp.Errorf(smtp.C500SyntaxError, "5.5.6", "Authentication exchange line is too long (the limit is %d octets)", c.opts.MaxAuthLineBytes)
	case c.srv.loop.Interrupted(err):
		c.closeWith(smtp.C421Closing, "4.3.2", "Service shutting down")
		return nil, errHangUp
	case netconn.IsTimeout(err):
		c.closeWith(smtp.C421Closing, "4.4.2", "Idle timeout, closing connection")
		return nil, errHangUp
	default:
		return nil, errHangUp
	}
	return decodeResponse(string(line))
}

// parseAuthArg splits AUTH's argument: "mechanism [initial-response]" (RFC
// 4954 section 4). The mechanism comes back upper-cased (SASL mechanism
// names are case-insensitive).
func parseAuthArg(arg string) (mech, ir string, hasIR bool, err error) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return "", "", false, smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
	}
	if len(f) == 2 {
		ir, hasIR = f[1], true
	}
	return strings.ToUpper(f[0]), ir, hasIR, nil
}

// decodeInitialResponse decodes the initial response given with AUTH. RFC
// 4954 section 4: "=" stands for an empty one.
func decodeInitialResponse(ir string) ([]byte, error) {
	if ir == "=" {
		return []byte{}, nil
	}
	return decodeBase64(ir)
}

// decodeResponse decodes a line answering a 334 challenge.
func decodeResponse(line string) ([]byte, error) {
	if line == "*" {
		// RFC 4954 section 4: "*" cancels the exchange and the server
		// must answer 501. It names no enhanced code: 5.7.0 (other
		// security status, RFC 3463 section 3.8), as Postfix sends.
		return nil, smtp.Errorf(smtp.C501SyntaxParams, "5.7.0", "Authentication cancelled by the client")
	}
	return decodeBase64(line)
}

// decodeBase64 decodes a response. RFC 4954 section 4: one that cannot be
// decoded gets 501 5.5.2.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, smtp.Errorf(smtp.C501SyntaxParams, "5.5.2", "Cannot decode the response: it is not base64 (RFC 4648)")
	}
	return b, nil
}

// parsePlain splits PLAIN's message (RFC 4616 section 2):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
//
// authcid and passwd are not empty; none of the three holds a NUL; all are
// UTF-8.
func parsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	parts := strings.Split(string(msg), "\x00")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", "", smtp.Errorf(smtp.C501SyntaxParams, "5.5.2", "PLAIN expects base64 of: [authorization identity] NUL user NUL password (RFC 4616 section 2)")
	}
	for _, p := range parts {
		if !utf8.ValidString(p) {
			return "", "", "", smtp.Errorf(smtp.C501SyntaxParams, "5.5.2", "PLAIN identities and password must be UTF-8 (RFC 4616 section 2)")
		}
	}
	return parts[0], parts[1], parts[2], nil
}

// isSASLName reports whether s is a SASL mechanism name (RFC 4422 section
// 3.1): 1 to 20 upper-case letters, digits, "-" and "_".
func isSASLName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// shown makes a client's text safe and short for a note or a reply.
func shown(s string) string {
	const max = 64
	var b strings.Builder
	for i, r := range s {
		if i >= max {
			b.WriteString("...")
			break
		}
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
