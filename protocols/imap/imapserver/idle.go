package imapserver

import (
	"errors"
	"strings"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/wire"
)

// lineResult is one line read by the IDLE reader goroutine.
type lineResult struct {
	line []byte
	err  error
}

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
// client's DONE and the mailbox's Notify channel. The connection's
// goroutine stays the only writer; a second goroutine, started here and
// always waited for before cmdIdle returns, owns the reader for exactly
// one line. So a connection has one goroutine, two while in IDLE, and
// never more. Autologout (Options.IdleTimeout) and Shutdown end the
// reader's blocked read through its deadline, as they do for commands.
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

	var notify <-chan struct{}
	if c.sel != nil {
		notify = c.sel.mbox.Notify()
	}
	lines := make(chan lineResult, 1)
	c.idling.Store(true)
	go func() {
		line, err := wire.ReadLine(c.br, c.opts.MaxLineBytes)
		lines <- lineResult{line, err}
	}()
	var r lineResult
	for waiting := true; waiting; {
		select {
		case <-notify:
			c.reportUpdates(true)
			if err := c.bw.Flush(); err != nil {
				// The client is gone: stop the reader and leave.
				c.nc.Close()
				<-lines
				c.idling.Store(false)
				c.quit = true
				return nil
			}
		case r = <-lines:
			waiting = false
		}
	}
	c.idling.Store(false)
	switch {
	case errors.Is(r.err, wire.ErrLineTooLong):
		return imap.Bad("Expected DONE to end IDLE")
	case r.err != nil:
		c.readFailed(r.err)
		return nil
	case !strings.EqualFold(string(r.line), "DONE"):
		// RFC 2177 section 3: the client may send nothing but DONE.
		return imap.Bad("Expected DONE to end IDLE, got %q", truncate(string(r.line), 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
