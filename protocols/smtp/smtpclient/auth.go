package smtpclient

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// maxCommandBytes is the longest command line the client sends with an
// initial response, CRLF included (RFC 5321 section 4.5.3.1.4).
const maxCommandBytes = 512

// AuthMechanisms returns the SASL mechanisms the server listed after AUTH in
// its EHLO reply (RFC 4954 section 3), upper case, e.g. ["PLAIN" "LOGIN"];
// nil when it listed none or before Hello.
func (c *Client) AuthMechanisms() []string {
	f := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	if len(f) == 0 {
		return nil
	}
	return f
}

// Auth logs in with SMTP AUTH (RFC 4954), sending EHLO first if Hello was
// not called. mech is "PLAIN" (RFC 4616), whose one message
// "NUL user NUL password" goes with the command when it fits in a command
// line (RFC 4954 section 4):
//
//	C: AUTH PLAIN AGFsaWNlQGEudGVzdABzZWNyZXQ=
//	S: 235 2.7.0 Authentication successful
//
// or "LOGIN" (draft-murchison-sasl-login; not a standard, but widespread),
// which sends the user name and the password in answer to two prompts:
//
//	C: AUTH LOGIN
//	S: 334 VXNlcm5hbWU6
//	C: YWxpY2VAYS50ZXN0
//	S: 334 UGFzc3dvcmQ6
//	C: c2VjcmV0
//	S: 235 2.7.0 Authentication successful
//
// The mechanism must be one the server listed. A refusal (535 5.7.8 wrong
// credentials, 454 4.7.0, 538 5.7.11...) is returned as an error wrapping
// *smtp.Error. Neither the password nor the base64 lines appear in errors;
// the lines carrying them are marked secret for the transcript, and
// Options.BeforeCommand sees them as "***" ("AUTH PLAIN ***"). Nothing is
// encrypted: base64 is an encoding anyone can undo.
func (c *Client) Auth(mech, username, password string) error {
	mech = strings.ToUpper(mech)
	label := "AUTH " + mech
	if err := c.ensureHello(); err != nil {
		return err
	}
	if offered := c.AuthMechanisms(); !slices.Contains(offered, mech) {
		if offered == nil {
			return fmt.Errorf("smtpclient: %s: the server does not offer AUTH (its EHLO reply does not list it)", label)
		}
		return fmt.Errorf("smtpclient: %s: the server offers only AUTH %s", label, strings.Join(offered, " "))
	}
	var first, firstShown string
	var answers []string // base64 answers to the server's 334 challenges, in order
	switch mech {
	case "PLAIN":
		// RFC 4616 section 2: [authzid] NUL authcid NUL passwd, no
		// authzid here: the user acts as herself.
		if username == "" || password == "" || strings.ContainsRune(username+password, 0) {
			return fmt.Errorf("smtpclient: %s: user name and password must be non-empty and hold no NUL (RFC 4616 section 2)", label)
		}
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + username + "\x00" + password))
		first, firstShown = label+" "+ir, label+" ***"
		if len(first)+2 > maxCommandBytes {
			// RFC 4954 section 4: an initial response that would make the
			// line too long waits for the empty challenge instead.
			first, firstShown, answers = label, label, []string{ir}
		}
	case "LOGIN":
		first, firstShown = label, label
		answers = []string{
			base64.StdEncoding.EncodeToString([]byte(username)),
			base64.StdEncoding.EncodeToString([]byte(password)),
		}
	default:
		return fmt.Errorf("smtpclient: %s: mechanism not supported by this client (it speaks PLAIN and LOGIN)", label)
	}

	r, err := c.authLine(label, first, firstShown, first != firstShown)
	if err != nil {
		return err
	}
	for r.Code == 334 {
		if len(answers) == 0 {
			// RFC 4954 section 4: "*" cancels; the server answers 501.
			if r, err = c.authLine(label, "*", "*", false); err != nil {
				return err
			}
			return fmt.Errorf("smtpclient: %s: the server asked for more than %s sends; cancelled (server answered %q)", label, mech, r.String())
		}
		if r, err = c.authLine(label, answers[0], "***", true); err != nil {
			return err
		}
		answers = answers[1:]
	}
	if r.Class() != 2 {
		return replyError(label, r)
	}
	return nil
}

// authLine writes one line of an AUTH exchange and reads the reply. A secret
// line is marked so for the transcript (RFC 4954 section 4: PLAIN and LOGIN
// carry the password in base64 only); BeforeCommand sees shown instead of
// line, and errors name label, never the line.
func (c *Client) authLine(label, line, shown string, secret bool) (*Reply, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.opts.BeforeCommand != nil {
		if err := c.opts.BeforeCommand(shown); err != nil {
			err = fmt.Errorf("smtpclient: before %s: %w", shown, err)
			if !strings.HasPrefix(shown, "AUTH ") {
				// The server waits for an answer: the session is out of
				// step and cannot be used any more.
				c.fail(err)
			}
			return nil, err
		}
	}
	c.writeTimeout = c.opts.CommandTimeout
	if secret {
		c.tr.Mark(wire.ClientToServer, wire.MarkSecret)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	err := c.bw.Flush()
	if secret {
		c.tr.Mark(wire.ClientToServer, wire.MarkNone)
	}
	if err != nil {
		return nil, c.fail(fmt.Errorf("smtpclient: writing %s: %w", label, err))
	}
	r, err := c.readReply(c.opts.CommandTimeout)
	if err != nil {
		return nil, fmt.Errorf("smtpclient: %s: %w", label, unwrapPrefix(err))
	}
	return r, nil
}
