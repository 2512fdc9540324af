package smtpclient

import (
	"errors"
	"fmt"
	"io"

	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
)

// ErrNoRecipients is wrapped by SendMail's error when the server accepted
// none of the recipients (or, in LMTP, delivered to none of them).
var ErrNoRecipients = errors.New("smtpclient: no recipient accepted")

// SendResult is what one SendMail transaction did, recipient by recipient.
type SendResult struct {
	// Accepted are the recipients the server accepted at RCPT, in order.
	Accepted []mail.Path
	// Refused maps an address (Path.String) to the server's refusal: at
	// RCPT or, in LMTP mode, in its reply after the final ".".
	Refused map[string]*smtp.Error
	// Delivered are the recipients the server took responsibility for: all
	// of Accepted after a 2yz final reply in SMTP; in LMTP those whose own
	// reply was a 2yz.
	Delivered []mail.Path
	// Final is the reply to the final "."; nil when the body was not sent.
	// In LMTP mode it is the last of LMTP.
	Final *Reply
	// LMTP holds, in LMTP mode, one reply per accepted recipient, in
	// Accepted order (RFC 2033 section 4.2).
	LMTP []*Reply
}

// SendMail runs a whole transaction: MAIL, one RCPT per recipient, DATA and
// the message (sending EHLO first when Hello was not called). When the
// server listed PIPELINING (RFC 2920) MAIL, every RCPT and DATA go as one
// group and the replies are read afterwards, in order; otherwise one command
// waits for its reply before the next.
//
// Recipients refused with 4yz/5yz are reported in the result and the others
// still get the message. When none is accepted the body is not sent, the
// transaction is reset, and the error wraps ErrNoRecipients and the first
// refusal. An error wrapping *smtp.Error is returned when MAIL, DATA or the
// final reply fails. The result is never nil.
//
// If msg fails while it is being sent the connection is closed instead of
// ending the message, so the server discards it.
func (c *Client) SendMail(from mail.Path, to []mail.Path, msg io.Reader, p smtp.MailParams) (*SendResult, error) {
	res := &SendResult{Refused: map[string]*smtp.Error{}}
	if len(to) == 0 {
		return res, errors.New("smtpclient: SendMail: no recipients given")
	}
	if err := c.ensureHello(); err != nil {
		return res, err
	}
	var err error
	if c.HasExtension("PIPELINING") {
		err = c.sendPipelined(res, from, to, p)
	} else {
		err = c.sendOneByOne(res, from, to, p)
	}
	if err != nil {
		return res, err
	}
	if err := c.sendBody(msg); err != nil {
		return res, err
	}
	if c.opts.LMTP {
		return res, c.finishLMTP(res)
	}
	r, err := c.readFinal()
	if err != nil {
		return res, err
	}
	c.rcpts = nil
	res.Final = r
	// RFC 5321 section 4.2.5: only a 2yz hands the message over.
	if r.Class() != 2 {
		return res, replyError("end of data", r)
	}
	res.Delivered = res.Accepted
	return res, nil
}

// sendOneByOne sends MAIL, RCPT... and DATA each after the previous reply.
// It returns nil when the server is waiting for the body.
func (c *Client) sendOneByOne(res *SendResult, from mail.Path, to []mail.Path, p smtp.MailParams) error {
	if err := c.Mail(from, p); err != nil {
		return err
	}
	var first error
	for _, rcpt := range to {
		line := "RCPT TO:" + rcpt.Bracketed()
		r, err := c.roundTrip(line)
		if err != nil {
			return err
		}
		first = c.noteRcpt(res, rcpt, line, r, first)
	}
	if len(res.Accepted) == 0 {
		c.resetQuietly()
		return noRecipients(first)
	}
	if err := c.startData(); err != nil {
		c.resetQuietly()
		return err
	}
	return nil
}

// sendPipelined sends MAIL, every RCPT and DATA as one group (RFC 2920
// section 3.1: DATA may only end a group) and then reads the replies in
// order. It returns nil when the server is waiting for the body.
func (c *Client) sendPipelined(res *SendResult, from mail.Path, to []mail.Path, p smtp.MailParams) error {
	mailCmd := c.mailLine(from, p)
	lines := make([]string, 0, len(to)+2)
	lines = append(lines, mailCmd)
	for _, rcpt := range to {
		lines = append(lines, "RCPT TO:"+rcpt.Bracketed())
	}
	lines = append(lines, "DATA")
	c.tr.Note(fmt.Sprintf("PIPELINING: %d commands sent as one group (RFC 2920)", len(lines)))
	if err := c.send(lines...); err != nil {
		return err
	}
	// RFC 2920 section 3.1: the client must check every reply of the group.
	read := func(line string) (*Reply, error) {
		r, err := c.readReply(c.opts.CommandTimeout)
		if err != nil {
			return nil, fmt.Errorf("smtpclient: %s: %w", line, unwrapPrefix(err))
		}
		// RFC 5321 section 3.8: a 421 may answer any command and the
		// server then closes; the rest of the group gets no reply.
		if r.Code == 421 {
			return nil, c.fail(replyError(line, r))
		}
		return r, nil
	}
	mr, err := read(mailCmd)
	if err != nil {
		return err
	}
	mailErr := error(nil)
	if mr.Class() != 2 {
		mailErr = replyError(mailCmd, mr)
	} else {
		c.rcpts = c.rcpts[:0]
	}
	var first error
	for i, rcpt := range to {
		r, err := read(lines[i+1])
		if err != nil {
			return err
		}
		if mailErr == nil {
			first = c.noteRcpt(res, rcpt, lines[i+1], r, first)
		}
	}
	dr, err := read("DATA")
	if err != nil {
		return err
	}
	if mailErr == nil && len(res.Accepted) > 0 {
		if dr.Code == 354 {
			return nil
		}
		c.resetQuietly()
		return replyError("DATA", dr)
	}
	// Nothing to send. RFC 2920 section 3.1: the client cannot assume DATA
	// was refused; if it got 354 it sends a lone "." and then RSET.
	if dr.Code == 354 {
		if err := c.endBody(c.beginBody()); err != nil {
			return err
		}
		if _, err := c.readFinal(); err != nil {
			return err
		}
	}
	if mailErr != nil {
		return mailErr
	}
	c.resetQuietly()
	return noRecipients(first)
}

// noteRcpt records the reply to one RCPT and returns the first refusal.
func (c *Client) noteRcpt(res *SendResult, rcpt mail.Path, line string, r *Reply, first error) error {
	if r.Class() == 2 {
		res.Accepted = append(res.Accepted, rcpt)
		c.rcpts = append(c.rcpts, rcpt.String())
		return first
	}
	// A 3yz to RCPT breaks the protocol; it is refused like a 4yz/5yz.
	res.Refused[rcpt.String()] = r.smtpError()
	err := replyError(line, r)
	if first == nil {
		first = err
	}
	return first
}

// finishLMTP reads the per-recipient replies after the final ".".
func (c *Client) finishLMTP(res *SendResult) error {
	replies, err := c.readLMTPReplies(len(res.Accepted))
	if err != nil {
		return err
	}
	res.LMTP = replies
	var first error
	for i, r := range replies {
		rcpt := res.Accepted[i]
		res.Final = r
		if r.Class() == 2 {
			res.Delivered = append(res.Delivered, rcpt)
			continue
		}
		err := replyError("DATA for "+rcpt.Bracketed(), r)
		res.Refused[rcpt.String()] = r.smtpError()
		if first == nil {
			first = err
		}
	}
	if len(res.Delivered) == 0 {
		return noRecipients(first)
	}
	return nil
}

// resetQuietly sends RSET after an aborted transaction. Its reply does not
// change the outcome; a transport error stays recorded in c.err.
func (c *Client) resetQuietly() {
	if _, err := c.roundTrip("RSET"); err == nil {
		c.rcpts = nil
	}
}

func noRecipients(first error) error {
	if first == nil {
		return ErrNoRecipients
	}
	return fmt.Errorf("%w; %w", ErrNoRecipients, unwrapPrefix(first))
}
