package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// run is the scheduler: it sleeps until the first message is due (or a Put,
// Kick or finished attempt pokes it), waits for a free worker slot, and
// starts one attempt goroutine per due message. It never spins: with
// nothing due it blocks on the timer, with no free slot on the slots
// channel.
func (q *Queue) run() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		dueNow, wait := false, time.Duration(-1)
		if len(q.due) > 0 {
			if d := time.Until(q.due[0].due); d <= 0 {
				dueNow = true
			} else {
				wait = d
			}
		}
		q.mu.Unlock()

		var slot chan<- struct{}
		if dueNow {
			slot = q.slots // only try for a slot when there is work
		}
		var tick <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait) // Go 1.23 timers: Reset needs no drain
			tick = timer.C
		}
		select {
		case <-q.ctx.Done():
			return
		case <-q.wake:
		case <-tick:
		case slot <- struct{}{}:
			q.mu.Lock()
			if len(q.due) == 0 || time.Until(q.due[0].due) > 0 {
				// Kicked or removed meanwhile: give the slot back.
				q.mu.Unlock()
				<-q.slots
				continue
			}
			e := heap.Pop(&q.due).(*entry)
			e.inFlight = true
			q.wg.Add(1)
			q.mu.Unlock()
			go func() {
				defer q.wg.Done()
				defer func() { <-q.slots }()
				q.attempt(q.ctx, e)
			}()
		}
	}
}

// attempt makes one delivery attempt for e's pending recipients, records
// the results durably, queues the bounces owed, and either removes the
// message or schedules its next attempt.
func (q *Queue) attempt(ctx context.Context, e *entry) {
	q.mu.Lock()
	env := e.env.clone()
	q.mu.Unlock()
	id := env.ID
	if q.opts.Hold != nil {
		release, err := q.opts.Hold(ctx)
		if err != nil {
			// Not an attempt: due again as soon as the queue runs.
			q.reschedule(e, env, 0, false)
			return
		}
		// After the results, notes, bounces and the next schedule.
		defer release()
	}

	var released []string
	var retryIn time.Duration = -1 // when the message must be attempted again
	if env.hasPending() {
		var notes []string
		notes, retryIn = q.deliver(ctx, env)
		// The results are on disk before anything else happens: before
		// the notes that report them, before the bounces they owe (whose
		// ids the envelope names), before the next attempt.
		if err := q.writeEnvelope(env); err != nil {
			// Kept in memory: the next write will hold it. A crash before
			// then repeats the deliveries (RFC 5321 section 6.1).
			q.note(id, fmt.Sprintf("cannot record the attempt: %v", err))
			q.reschedule(e, env, q.retryWait(env), true)
			q.poke()
			return
		}
		for _, n := range notes {
			q.note(id, n)
		}
	}
	// Bounces owed by this attempt, or left over from a crash.
	owed, err := q.queueBounces(env)
	if err != nil {
		q.note(id, fmt.Sprintf("bounce not queued, will try again: %v", err))
		if retryIn < 0 {
			retryIn = q.retryWait(env)
		}
	}
	if len(owed) > 0 {
		if err := q.writeEnvelope(env); err != nil {
			// The bounces stay held (not attempted) until an envelope
			// saying they are queued is on disk: the next attempt finds
			// them in the queue and tries again.
			q.note(id, fmt.Sprintf("cannot record the bounce: %v", err))
			if retryIn < 0 {
				retryIn = q.retryWait(env)
			}
			for i := range env.Rcpts {
				env.Rcpts[i].DSNQueued = false
			}
		} else {
			released = owed
		}
	}
	done := true
	for i := range env.Rcpts {
		if !env.Rcpts[i].final() {
			done = false
		}
	}
	if done {
		if err := q.remove(id); err != nil {
			q.note(id, fmt.Sprintf("cannot remove finished message: %v", err))
		}
		q.mu.Lock()
		delete(q.entries, id)
		q.mu.Unlock()
	} else {
		if retryIn < 0 {
			retryIn = q.retryWait(env)
		}
		q.reschedule(e, env, retryIn, true)
	}
	for _, b := range released {
		q.release(b)
	}
	q.poke()
}

// deliver calls the Deliverer for env's pending recipients and applies
// the results to env. It returns the notes to make once env is on disk,
// and the wait before the next attempt (-1: none needed, or the default).
func (q *Queue) deliver(ctx context.Context, env *envelope) (notes []string, retryIn time.Duration) {
	retryIn = -1
	var pending []string
	for _, r := range env.Rcpts {
		if r.State == StatePending {
			pending = append(pending, r.Addr)
		}
	}
	var results []Result
	body, err := os.ReadFile(q.bodyPath(env.ID))
	if err != nil {
		for _, r := range pending {
			results = append(results, Result{Rcpt: r, Temporary: true, Status: "4.3.0",
				Diagnostic: "X-Maillab; queue file unreadable: " + err.Error()})
		}
	} else {
		m := env.message()
		results = q.opts.Deliver(ctx, &m, body, pending)
	}
	stopping := ctx.Err() != nil
	now := q.opts.Now()

	byAddr := make(map[string]Result, len(results))
	for _, r := range results {
		if _, dup := byAddr[r.Rcpt]; !dup {
			byAddr[r.Rcpt] = r
		}
	}
	counted := false
	var deferred []string
	var failed []*rcptRecord
	for i := range env.Rcpts {
		rc := &env.Rcpts[i]
		if rc.State != StatePending {
			continue
		}
		r, ok := byAddr[rc.Addr]
		if !ok {
			r = Result{Temporary: true, Status: "4.3.0", Diagnostic: "X-Maillab; no result from the delivery attempt"}
		}
		if stopping && !r.Delivered && r.Temporary {
			// Interrupted by Stop, not refused: not an attempt.
			continue
		}
		counted = true
		rc.Attempts++
		rc.LastAttempt = now
		rc.LastStatus = cleanStatus(r.Status, r.Delivered, r.Temporary)
		rc.LastDiag = cleanText(r.Diagnostic, maxDiagBytes)
		rc.RemoteMTA = cleanText(r.RemoteMTA, 255)
		switch {
		case r.Delivered:
			rc.State = StateDelivered
			notes = append(notes, fmt.Sprintf("delivered to <%s>%s", rc.Addr, via(rc.RemoteMTA)))
		case !r.Temporary:
			rc.State = StateFailed
			failed = append(failed, rc)
			notes = append(notes, fmt.Sprintf("failed: <%s>: %s %s", rc.Addr, rc.LastStatus, rc.LastDiag))
		default:
			deferred = append(deferred, fmt.Sprintf("<%s>: %s %s", rc.Addr, rc.LastStatus, rc.LastDiag))
		}
	}
	if counted {
		env.Attempts++
	}
	if env.hasPending() {
		queued := env.Queued
		if queued.IsZero() {
			queued = env.Arrived
		}
		deadline := queued.Add(q.opts.MaxAge)
		realNow := time.Now()
		switch {
		case stopping && !counted:
			env.Next = now // attempt again as soon as the queue runs again
			retryIn = 0
		case !realNow.Before(deadline):
			// RFC 5321 section 4.5.4.1: give up after the give-up time;
			// RFC 3463: 4.4.7, delivery time expired.
			for i := range env.Rcpts {
				rc := &env.Rcpts[i]
				if rc.State == StatePending {
					rc.State = StateExpired
					rc.LastStatus = "4.4.7"
					failed = append(failed, rc)
					notes = append(notes, fmt.Sprintf("expired after %v in the queue: <%s> (last answer: %s)",
						q.opts.MaxAge, rc.Addr, orNone(rc.LastDiag)))
				}
			}
		default:
			wait := q.retryWait(env)
			when := fmt.Sprintf("next attempt in %v", wait)
			if realNow.Add(wait).After(deadline) {
				// One last attempt at the give-up time, not after it.
				wait = deadline.Sub(realNow)
				when = "last attempt at the give-up time"
			}
			env.Next = now.Add(wait)
			retryIn = wait
			if len(deferred) > 0 {
				notes = append(notes, fmt.Sprintf("deferred: %s; %s (attempt %d)",
					strings.Join(deferred, ", "), when, env.Attempts+1))
			}
		}
	}
	if len(failed) > 0 {
		if env.From == "" {
			// RFC 5321 sections 3.6.3 and 4.5.5: a message from the null
			// reverse-path is itself a notification; never answer it.
			notes = append(notes, "no bounce for a bounce, RFC 5321 section 3.6.3")
		} else {
			bid := q.newID()
			for _, rc := range failed {
				rc.DSN = bid
			}
		}
	}
	return notes, retryIn
}

// queueBounces queues the bounces env owes (failed or expired recipients
// with a DSN id not yet queued), one per id, marks them queued in env, and
// returns their ids. The bounces are held: the caller releases them once
// env is on disk, so a bounce is never delivered (and removed) before its
// original records it as queued, which would make a crash send it twice.
func (q *Queue) queueBounces(env *envelope) (queued []string, err error) {
	groups := map[string][]*rcptRecord{}
	var order []string
	for i := range env.Rcpts {
		rc := &env.Rcpts[i]
		if (rc.State == StateFailed || rc.State == StateExpired) && rc.DSN != "" && !rc.DSNQueued {
			if groups[rc.DSN] == nil {
				order = append(order, rc.DSN)
			}
			groups[rc.DSN] = append(groups[rc.DSN], rc)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	var header []byte
	if body, rerr := os.ReadFile(q.bodyPath(env.ID)); rerr == nil {
		header = originalHeader(body)
	}
	for _, bid := range order {
		q.mu.Lock()
		_, exists := q.entries[bid]
		q.mu.Unlock()
		if !exists {
			dsn := buildDSN(q.opts.Hostname, bid, env, groups[bid], header, q.opts.Now())
			perr := q.put(bid, "", []string{env.From}, dsn, true, true)
			if perr != nil && !errors.Is(perr, ErrExists) {
				err = errors.Join(err, perr)
				continue
			}
			if perr == nil {
				q.note(env.ID, fmt.Sprintf("bounce %s sent to <%s>: %s (RFC 3464 DSN from <>)",
					bid, env.From, plural(len(groups[bid]), "recipient")+" failed"))
			}
		}
		// Already in the queue (a crash came after the Put of the bounce
		// and before this envelope said so): just record it.
		queued = append(queued, bid)
		for _, rc := range groups[bid] {
			rc.DSNQueued = true
		}
	}
	return queued, err
}

// reschedule puts e back in the schedule with env as its state.
func (q *Queue) reschedule(e *entry, env *envelope, wait time.Duration, publish bool) {
	q.mu.Lock()
	if publish {
		e.env = env
	}
	e.inFlight = false
	e.due = time.Now().Add(max(0, wait))
	if e.index < 0 {
		heap.Push(&q.due, e)
	}
	q.mu.Unlock()
}

// retryWait is the wait before the next attempt: Schedule[n-1] after the
// n-th attempt, the last value repeating (RFC 5321 section 4.5.4.1).
func (q *Queue) retryWait(env *envelope) time.Duration {
	n := max(env.Attempts, 1)
	return q.opts.Schedule[min(n-1, len(q.opts.Schedule)-1)]
}

// writeEnvelope writes env durably: tmp/, fsync, rename over env/ID.json,
// fsync env/.
func (q *Queue) writeEnvelope(env *envelope) error {
	data, err := env.marshal()
	if err != nil {
		return err
	}
	return writeDurable(q.tmpDir, q.envPath(env.ID), data)
}

// remove deletes a finished message: the envelope first, durably (once it
// is gone nothing is attempted again), then the body.
func (q *Queue) remove(id string) error {
	if err := removeDurable(q.envPath(id)); err != nil {
		return err
	}
	if err := os.Remove(q.bodyPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// newID returns a fresh queue id for a bounce.
func (q *Queue) newID() string {
	for range 10 {
		id := q.opts.IDs()
		q.mu.Lock()
		_, used := q.entries[id]
		q.mu.Unlock()
		if validID(id) && !used {
			return id
		}
	}
	return randomID()
}

func (q *Queue) note(id, text string) { q.opts.Note(id, text) }

// cleanStatus returns status if it is an RFC 3463 code (class.subject.detail),
// or a generic one for the outcome.
func cleanStatus(status string, delivered, temporary bool) string {
	if validStatus(status) {
		return status
	}
	switch {
	case delivered:
		return "2.0.0"
	case temporary:
		return "4.0.0"
	}
	return "5.0.0"
}

// validStatus: RFC 3463 section 2, class "." subject "." detail, with
// class 2, 4 or 5, subject up to 3 digits, detail up to 3 digits.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// cleanText makes remote text safe to store and to put in a header field:
// control characters (CR and LF among them) become spaces, runs of spaces
// shrink to one, invalid UTF-8 is dropped, and the result is cut to max
// octets.
func cleanText(s string, max int) string {
	var b strings.Builder
	space := false
	for _, c := range strings.ToValidUTF8(s, "") {
		if c < 0x20 || c == 0x7f || c == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+len(string(c)) > max {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}

func via(host string) string {
	if host == "" {
		return ""
	}
	return " via " + host
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// plural returns "1 recipient", "2 recipients".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
