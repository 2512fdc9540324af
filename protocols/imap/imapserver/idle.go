package imapserver

import (
	"bytes"
	"errors"
	"strings"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/wire"
)

// cmdIdle waits for changes and pushes them as they happen, until the
// client sends DONE (RFC 2177 section 3).
//
//	C: a1 IDLE
//	S: + idling
//	S: * 4 EXISTS
//	C: DONE
//	S: a1 OK IDLE completed
//
// Design: while idling the session must wait for two things at once, the
// client's DONE and the mailbox's Notify channel. It waits as between
// commands (readClient): a goroutine reads from the client, holding no
// buffer, while the connection's goroutine waits for it and for Notify,
// and stays the only writer. That reader goroutine is always collected
// before the session ends. So a connection has at most two goroutines,
// and an idle one a small stack (see waitClient). cmdIdle only starts
// IDLE: the run loop waits (idleLine) and ends it (endIdle), from as deep
// in the stack as a wait for a command, not from under execute and
// cmdIdle: waiting from here, the session's goroutine kept the 8 KiB
// stack its commands grew instead of halving it (10.4 KB of stacks per
// IDLE session instead of 6 in BenchmarkIdleMDASessionMemory).
// Autologout (Options.IdleTimeout) and Shutdown end the blocked read
// through its deadline, as they do for commands.
func (c *conn) cmdIdle(cmd *imap.Command) error {
	if err := nargs(cmd, 0, 0); err != nil {
		return err
	}
	c.writeString("+ idling\r\n")
	c.reportUpdates(true)
	if err := c.bw.Flush(); err != nil {
		c.quit = true
		return nil
	}
	c.idleTag = cmd.Tag
	return errIdling
}

// errIdling tells execute that IDLE began: no response yet.
var errIdling = errors.New("imapserver: idling")

// idleNotify is the channel that says the selected mailbox changed, nil
// when none is selected.
func (c *conn) idleNotify() <-chan struct{} {
	if c.sel == nil {
		return nil
	}
	return c.sel.mbox.Notify()
}

// endIdle ends IDLE with the line idleLine read, or its error, and sends
// the tagged response as execute does for other commands.
func (c *conn) endIdle(line []byte, err error) {
	tag := c.idleTag
	c.idleTag = ""
	switch {
	case errors.Is(err, wire.ErrLineTooLong):
		err = imap.Bad("Expected DONE to end IDLE")
	case err != nil:
		c.readFailed(err)
		return
	case !strings.EqualFold(string(line), "DONE"):
		// RFC 2177 section 3: the client may send nothing but DONE.
		err = imap.Bad("Expected DONE to end IDLE, got %q", truncate(string(line), 40))
	}
	c.reportUpdates(false)
	if err != nil {
		c.fail(tag, err)
		return
	}
	c.respond(tag, &imap.Error{Status: imap.OK, Text: "IDLE completed"})
}

// idleLine reads the client's line ending IDLE, reporting updates whenever
// notify fires meanwhile. A line that came in part is kept in br (Peek,
// which does not consume) while the rest is waited for.
func (c *conn) idleLine(notify <-chan struct{}) ([]byte, error) {
	for {
		n := c.br.Buffered()
		if b, _ := c.br.Peek(n); n > 0 && (bytes.IndexByte(b, '\n') >= 0 || n == c.br.Size()) {
			// A whole line, or one longer than the buffer (not DONE).
			return wire.ReadLine(c.br, c.opts.MaxLineBytes)
		}
		if len(c.pending) == 0 {
			err := c.readClient(notify)
			if errors.Is(err, errNotified) {
				c.reportUpdates(true)
				if err := c.bw.Flush(); err != nil {
					return nil, err
				}
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		// What readClient read is in pending: into br with it, without
		// consuming anything (a read of pending, which cannot block).
		c.br.Peek(n + 1)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
