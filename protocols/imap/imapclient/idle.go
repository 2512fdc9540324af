package imapclient

import (
	"context"
	"fmt"
	"time"
)

// Idle waits for news from the server with IDLE (RFC 2177) and gives each
// EXISTS, RECENT, EXPUNGE, FETCH, ALERT or BYE to fn, on the caller's
// goroutine, until ctx ends or fn returns false; then it sends DONE and
// reads the server's OK. It returns nil then. Every Options.IdleInterval
// (29 minutes) it ends the IDLE and issues a new one (RFC 2177 section 3),
// so a server's 30-minute autologout never fires. The caller should check
// HasCap("IDLE") first; a server without IDLE answers BAD, returned as an
// error. fn must not call the Client.
//
//	C: a012 IDLE
//	S: + idling
//	S: * 19 EXISTS
//	C: DONE
//	S: a012 OK IDLE terminated
func (c *Client) Idle(ctx context.Context, fn func(Update) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("imapclient: IDLE: %w", err)
	}
	for {
		again, err := c.idleOnce(ctx, fn)
		if err != nil || !again {
			return err
		}
	}
}

// idleItem is what the reader goroutine of an IDLE hands over.
type idleItem struct {
	r   *response
	err error
}

// idleOnce runs one IDLE command and reports whether to issue another.
func (c *Client) idleOnce(ctx context.Context, fn func(Update) bool) (again bool, err error) {
	if c.pending != "" {
		return false, fmt.Errorf("imapclient: IDLE: raw command %s waits for Continue", c.pending)
	}
	stopping := false // DONE sent
	stopped := false  // fn returned false
	cmd := &command{verb: "IDLE", name: "IDLE", parts: []part{{text: "IDLE"}}}
	cmd.onUpdate = func(u Update) {
		if stopping || stopped {
			if c.opts.OnUnilateral != nil {
				c.opts.OnUnilateral(u)
			}
			return
		}
		if !fn(u) {
			stopped = true
		}
	}
	if err := c.start(cmd); err != nil {
		return false, err
	}
	// RFC 2177 section 3: the server answers IDLE with a continuation
	// request, or refuses it with a tagged NO or BAD.
	r, err := c.readUntil(cmd, true)
	if err != nil {
		return false, err
	}
	if r.kind == respTagged {
		if r.status != "OK" {
			return false, fmt.Errorf("imapclient: IDLE: %w", r.err())
		}
		return !stopped && ctx.Err() == nil, nil
	}

	// While idling the client only listens; news may take any time, so
	// the reads have no deadline until DONE is sent. The reader goroutine
	// ends after the tagged response or an error, and Idle never returns
	// before receiving that last item.
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return false, c.fail(fmt.Errorf("imapclient: IDLE: set read deadline: %w", err))
	}
	ch := make(chan idleItem)
	go func() {
		for {
			r, err := readResponse(c.br, c.lim)
			ch <- idleItem{r, err}
			if err != nil || r.kind == respTagged {
				return
			}
		}
	}()
	// abort gives up on the connection and waits for the reader to end.
	abort := func(err error) (bool, error) {
		c.fail(err)
		c.conn.Close()
		for it := range ch {
			if it.err != nil || it.r.kind == respTagged {
				break
			}
		}
		return false, err
	}
	timer, stopTimer := c.idleTimer(c.opts.IdleInterval)
	defer stopTimer()
	done := ctx.Done()
	again = true
	stop := func() error {
		stopping = true
		done, timer = nil, nil
		if err := c.conn.SetReadDeadline(time.Now().Add(c.opts.Timeout)); err != nil {
			return fmt.Errorf("imapclient: IDLE: set read deadline: %w", err)
		}
		if err := c.before("DONE", "", "", false); err != nil {
			return err
		}
		// RFC 2177 section 3: DONE, alone on a line, ends the IDLE.
		return c.writeLine("DONE", false)
	}
	for {
		if stopped && !stopping {
			again = false
			if err := stop(); err != nil {
				return abort(err)
			}
		}
		select {
		case <-done:
			again = false
			if err := stop(); err != nil {
				return abort(err)
			}
		case <-timer:
			if err := stop(); err != nil {
				return abort(err)
			}
		case it := <-ch:
			if it.err != nil {
				err := it.err
				if c.bye != nil {
					err = c.bye
				}
				return false, c.fail(fmt.Errorf("imapclient: IDLE: %w", prefixless(err)))
			}
			r := it.r
			switch r.kind {
			case respTagged:
				if r.tag != cmd.tag {
					return false, c.fail(fmt.Errorf("imapclient: IDLE: %w: tagged response for %s, expected %s", ErrMalformed, r.tag, cmd.tag))
				}
				if r.status != "OK" {
					return false, fmt.Errorf("imapclient: IDLE: %w", r.err())
				}
				// An OK before DONE: the server ended the IDLE itself.
				return again && !stopped && ctx.Err() == nil, nil
			case respContinuation:
				return abort(fmt.Errorf("imapclient: IDLE: %w: unexpected continuation request %q", ErrMalformed, clip(r.raw)))
			default:
				_ = c.untagged(cmd, r)
			}
		}
	}
}
