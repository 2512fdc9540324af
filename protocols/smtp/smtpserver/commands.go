package smtpserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/maillab/maillab/protocols/smtp"
)

// cmdHelo introduces an old client, without extensions (RFC 5321 section
// 4.1.1.1).
//
//	C: HELO client.example.test
//	S: 250 mx.example.test greets client.example.test
func (c *conn) cmdHelo(arg string) error { return c.greet("HELO", arg, false) }

// cmdEhlo introduces a client and lists the extensions (RFC 5321 section
// 4.1.1.1).
//
//	C: EHLO client.example.test
//	S: 250-mx.example.test greets client.example.test
//	S: 250-PIPELINING
//	S: 250-SIZE 26214400
//	S: 250-8BITMIME
//	S: 250-ENHANCEDSTATUSCODES
//	S: 250-STARTTLS
//	S: 250 HELP
//
// STARTTLS is listed while the connection is in clear and the server has
// a TLSConfig; AUTH PLAIN LOGIN when the server offers AUTH
// (Options.Authenticator) and it may run now: under TLS, or in clear with
// AllowInsecureAuth. So a submission server's list changes with STARTTLS:
// STARTTLS before, AUTH after.
func (c *conn) cmdEhlo(arg string) error { return c.greet("EHLO", arg, true) }

// cmdLhlo is LMTP's EHLO (RFC 2033 section 4.1).
//
//	C: LHLO mx.example.test
//	S: 250-mda.example.test greets mx.example.test
//	S: 250 ...
func (c *conn) cmdLhlo(arg string) error { return c.greet("LHLO", arg, true) }

func (c *conn) greet(verb, arg string, esmtp bool) error {
	if arg == "" {
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "%s needs your host name: %s client.example.test", verb, verb)
	}
	// RFC 5321 section 4.1.4: a new EHLO resets the session like RSET. The
	// name is not checked against the client's address: section 4.1.4
	// forbids refusing a client for a mismatch.
	c.resetTransaction()
	c.info.Helo = arg
	c.info.ESMTP = esmtp
	c.setState(smtp.StateReady)
	first := fmt.Sprintf("%s greets %s", c.opts.Hostname, arg)
	if !esmtp {
		// RFC 2034 section 3: no enhanced code in the answer to HELO/EHLO.
		c.reply(smtp.C250OK, "", first)
		return nil
	}
	keywords := []string{
		first,
		"PIPELINING", // RFC 2920
		fmt.Sprintf("SIZE %d", c.opts.MaxMessageBytes), // RFC 1870 section 4
		"8BITMIME",            // RFC 6152
		"ENHANCEDSTATUSCODES", // RFC 2034
	}
	if c.starttlsAdvertised() {
		keywords = append(keywords, "STARTTLS") // RFC 3207 section 4
	}
	if c.authAdvertised() {
		keywords = append(keywords, "AUTH "+authMechanisms) // RFC 4954 section 3
	}
	c.reply(smtp.C250OK, "", append(keywords, "HELP")...)
	return nil
}

// cmdMail starts a mail transaction (RFC 5321 section 3.3).
//
//	C: MAIL FROM:<alice@example.test> SIZE=1200
//	S: 250 2.1.0 Sender <alice@example.test> OK
func (c *conn) cmdMail(arg string) error {
	if c.opts.RequireAuth && c.info.User == "" {
		// RFC 6409 section 4.3: a submission server refuses MAIL from a
		// client that has not authenticated; RFC 4954 section 6: 530 5.7.0.
		how := "AUTH first"
		if !c.authAdvertised() {
			how = "STARTTLS, EHLO, then AUTH"
		}
		return smtp.Errorf(smtp.C530AuthRequired, "5.7.0", "Authentication required (%s)", how)
	}
	from, params, err := smtp.ParseMailArg(arg)
	if err != nil {
		return err
	}
	if params.Size > c.opts.MaxMessageBytes {
		// RFC 1870 section 6.1: a declared size over the limit gets 552.
		return smtp.Errorf(smtp.C552TooBig, "5.3.4", "Message size %d exceeds the limit of %d octets", params.Size, c.opts.MaxMessageBytes)
	}
	if params.Auth != "" {
		if !c.authAdvertised() {
			// RFC 5321 section 4.1.1.11: as for any unknown parameter.
			return smtp.Errorf(smtp.C555ParamsNotRecognized, "5.5.4", "MAIL parameter AUTH not recognized")
		}
		if c.info.User == "" {
			// RFC 4954 section 5: from a client that has not
			// authenticated, AUTH= is taken as AUTH=<> (submitter unknown).
			params.Auth = "<>"
		}
	}
	result := c.sess.Mail(from, params)
	if failed(result) {
		return result
	}
	c.setState(smtp.StateMail)
	c.succeed(result, smtp.C250OK, "2.1.0", fmt.Sprintf("Sender %s OK", from.Bracketed()))
	return nil
}

// cmdRcpt adds a recipient (RFC 5321 section 4.1.1.3).
//
//	C: RCPT TO:<bob@example.test>
//	S: 250 2.1.5 Recipient <bob@example.test> OK
func (c *conn) cmdRcpt(arg string) error {
	to, err := smtp.ParseRcptArg(arg)
	if err != nil {
		return err
	}
	if len(c.rcpts) >= c.opts.MaxRecipients {
		// RFC 5321 section 4.5.3.1.10: 452 for too many recipients, so the
		// client sends the rest in another transaction.
		return smtp.Errorf(smtp.C452TooManyRecipients, "4.5.3", "Too many recipients (the limit is %d)", c.opts.MaxRecipients)
	}
	result := c.sess.Rcpt(to)
	if failed(result) {
		return result
	}
	c.rcpts = append(c.rcpts, to)
	c.setState(smtp.StateRcpt)
	c.succeed(result, smtp.C250OK, "2.1.5", fmt.Sprintf("Recipient %s OK", to.Bracketed()))
	return nil
}

// cmdRset aborts the transaction (RFC 5321 section 4.1.1.5).
//
//	C: RSET
//	S: 250 2.0.0 Reset OK
func (c *conn) cmdRset(arg string) error {
	if arg != "" {
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "RSET takes no argument")
	}
	c.resetTransaction()
	c.reply(smtp.C250OK, "2.0.0", "Reset OK")
	return nil
}

// cmdNoop does nothing (RFC 5321 section 4.1.1.9; an argument is ignored).
//
//	C: NOOP
//	S: 250 2.0.0 OK
func (c *conn) cmdNoop(string) error {
	c.reply(smtp.C250OK, "2.0.0", "OK")
	return nil
}

// cmdQuit ends the session (RFC 5321 section 4.1.1.10).
//
//	C: QUIT
//	S: 221 2.0.0 Bye
func (c *conn) cmdQuit(arg string) error {
	if arg != "" {
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "QUIT takes no argument")
	}
	c.closeWith(smtp.C221Closing, "2.0.0", c.opts.Hostname+" closing connection, bye")
	return nil
}

// cmdVrfy answers without saying whether the mailbox exists, as RFC 5321
// section 3.5.3 allows: VRFY would hand spammers the list of users
// (section 7.3).
//
//	C: VRFY bob
//	S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
func (c *conn) cmdVrfy(arg string) error {
	if arg == "" {
		return smtp.Errorf(smtp.C501SyntaxParams, "5.5.4", "VRFY needs a user name or address")
	}
	c.reply(smtp.C252CannotVRFY, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
	return nil
}

// cmdExpn is not implemented: lists stay private (RFC 5321 section 7.3).
// 502 says the command is known but not implemented (section 4.2.4).
//
//	C: EXPN staff
//	S: 502 5.5.1 EXPN not implemented
func (c *conn) cmdExpn(string) error {
	return smtp.Errorf(smtp.C502NotImplemented, "5.5.1", "EXPN not implemented")
}

// cmdHelp lists the commands, or explains one (RFC 5321 section 4.1.1.8).
//
//	C: HELP MAIL
//	S: 214 2.0.0 MAIL FROM:<address> [SIZE=octets] [BODY=7BIT|8BITMIME]: start a transaction
func (c *conn) cmdHelp(arg string) error {
	if arg != "" {
		cmd, ok := commands[strings.ToUpper(arg)]
		if !ok || cmd.proto&c.proto() == 0 || !c.offers(cmd) {
			return smtp.Errorf(smtp.C504ParamNotImpl, "5.5.4", "No help for %q", arg)
		}
		c.reply(smtp.C214Help, "2.0.0", cmd.help)
		return nil
	}
	var verbs []string
	for v, cmd := range commands {
		if cmd.proto&c.proto() != 0 && c.offers(cmd) {
			verbs = append(verbs, v)
		}
	}
	slices.Sort(verbs)
	c.reply(smtp.C214Help, "2.0.0",
		"Commands: "+strings.Join(verbs, " "),
		"HELP <command> explains one; RFC 5321 has the rest")
	return nil
}
