package sieve

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/maillab/maillab/protocols/mail"
)

// Run runs the script on one message for one recipient (RFC 5228 section
// 2.10) and returns the actions it decided, the trace of what it tested,
// and whether the implicit keep stands.
//
// A runtime error (an action conflict such as reject with fileinto, more
// than MaxActions or MaxRedirects, MaxSteps used up) is an *Error at the
// command that caused it. The Result then holds the trace up to the error,
// no actions, and ImplicitKeep true: RFC 5228 section 2.10.6 says a failed
// script must not lose mail, so the caller files the message into the
// main mailbox and notes the error in the transcript.
//
// Run reads msg and env only; it is safe to call from many goroutines on
// one Script.
func (s *Script) Run(msg Message, env Envelope) (Result, error) {
	if msg == nil {
		msg = HeaderMessage(mail.Header{}, 0)
	}
	r := &runner{s: s, msg: msg, env: env, headers: map[string][]string{}}
	err := r.exec(s.cmds)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			se = &Error{Name: s.name, Msg: err.Error()}
		}
		r.note("error: %s; the message is kept (RFC 5228 section 2.10.6)", se.Msg)
		return Result{Trace: r.trace, ImplicitKeep: true}, se
	}
	if r.keepCancelled == nil {
		r.note("end: implicit keep: no action cancelled it (RFC 5228 section 2.10.2)")
	} else {
		r.note("end: no implicit keep: %s at line %d cancelled it", r.keepCancelled.Kind, r.keepCancelled.Line)
	}
	return Result{Actions: r.actions, Trace: r.trace, ImplicitKeep: r.keepCancelled == nil}, nil
}

type runner struct {
	s             *Script
	msg           Message
	env           Envelope
	steps         int
	trace         []string
	actions       []Action
	keepCancelled *Action // the first action that cancelled the implicit keep
	stopped       bool
	headers       map[string][]string // decoded header values, by lower-case name
}

func (r *runner) note(format string, args ...any) {
	switch {
	case len(r.trace) < MaxTraceLines:
		r.trace = append(r.trace, fmt.Sprintf(format, args...))
	case len(r.trace) == MaxTraceLines:
		r.trace = append(r.trace, "... trace cut short")
	}
}

func (r *runner) spend(n int) error {
	r.steps += n
	if r.steps > maxSteps {
		return errSteps
	}
	return nil
}

func (r *runner) errorf(at Pos, format string, args ...any) error {
	return errorAt(r.s.name, at, format, args...)
}

// exec runs a list of commands in order until its end or a stop (RFC
// 5228 section 3.3).
func (r *runner) exec(cmds []stmt) error {
	for _, st := range cmds {
		if r.stopped {
			return nil
		}
		if err := r.spend(1); err != nil {
			return r.stepError(st)
		}
		switch st := st.(type) {
		case *ifStmt:
			if err := r.execIf(st); err != nil {
				return err
			}
		case *stopStmt:
			r.note("line %d: stop", st.pos.Line)
			r.stopped = true
		case *actionStmt:
			if err := r.act(st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *runner) stepError(st stmt) error {
	var at Pos
	switch st := st.(type) {
	case *ifStmt:
		at = st.pos
	case *stopStmt:
		at = st.pos
	case *actionStmt:
		at = Pos{st.act.Line, st.act.Col}
	}
	return r.errorf(at, "script stopped: more than %d steps (RFC 5228 section 2.10.7)", maxSteps)
}

// execIf runs the block of the first branch whose test is true, else the
// else block (RFC 5228 section 3.1).
func (r *runner) execIf(st *ifStmt) error {
	for _, b := range st.branches {
		ok, err := r.eval(b.cond)
		if err != nil {
			if errors.Is(err, errSteps) {
				return r.errorf(b.cond.pos, "script stopped: more than %d steps (RFC 5228 section 2.10.7)", maxSteps)
			}
			return err
		}
		if ok {
			return r.exec(b.body)
		}
	}
	if st.hasElse {
		r.note("line %d: else", st.elsePos.Line)
		return r.exec(st.els)
	}
	return nil
}

// eval evaluates a test and notes its result in the trace.
func (r *runner) eval(t *testNode) (bool, error) {
	if err := r.spend(1); err != nil {
		return false, err
	}
	var (
		ok  bool
		why string // what made it true, for the trace
		err error
	)
	switch t.kind {
	case testTrue:
		ok = true
	case testFalse:
	case testNot:
		ok, err = r.eval(t.sub[0])
		ok = !ok
	case testAllof:
		// RFC 5228 section 5.2: true if all are true; the first false
		// one decides, and the tests after it are not run.
		ok = true
		for _, sub := range t.sub {
			if ok, err = r.eval(sub); !ok || err != nil {
				break
			}
		}
	case testAnyof:
		// RFC 5228 section 5.3: true if any is true.
		for _, sub := range t.sub {
			if ok, err = r.eval(sub); ok || err != nil {
				break
			}
		}
	case testExists:
		// RFC 5228 section 5.5: true if every named header exists.
		ok = true
		for _, n := range t.names {
			if len(r.msg.Header(n)) == 0 {
				ok, why = false, n+" is absent"
				break
			}
		}
	case testSize:
		// RFC 5228 section 5.9: a message of exactly the limit is
		// neither over nor under it.
		size := r.msg.Size()
		ok = t.over && size > t.limit || !t.over && size < t.limit
		why = fmt.Sprintf("size %d", size)
	case testHeader:
		ok, why, err = r.header(t)
	case testAddress:
		ok, why, err = r.address(t)
	case testEnvelope:
		ok, why, err = r.envelope(t)
	}
	if err != nil {
		return false, err
	}
	if why != "" {
		why = " (" + why + ")"
	}
	r.note("line %d: %s → %v%s", t.pos.Line, t.src, ok, why)
	return ok, nil
}

// decoded returns the values of a header field as a header test compares
// them: unfolded, RFC 2047 encoded words decoded (RFC 5228 section 2.7.2),
// white space around them removed.
func (r *runner) decoded(name string) []string {
	key := strings.ToLower(name)
	if vs, ok := r.headers[key]; ok {
		return vs
	}
	raw := r.msg.Header(name)
	vs := make([]string, len(raw))
	for i, v := range raw {
		vs[i] = strings.TrimSpace(mail.DecodeHeader(v))
	}
	r.headers[key] = vs
	return vs
}

// header runs the header test (RFC 5228 section 5.7): true if any value
// of any named field matches any key. An absent field matches nothing.
func (r *runner) header(t *testNode) (bool, string, error) {
	for _, n := range t.names {
		for _, v := range r.decoded(n) {
			ok, err := r.compare(t, v)
			if err != nil || ok {
				return ok, n + ": " + quoteShort(v), err
			}
		}
	}
	return false, "", nil
}

// address runs the address test (RFC 5228 section 5.1) on each address
// of each named field.
func (r *runner) address(t *testNode) (bool, string, error) {
	for _, n := range t.names {
		for _, v := range r.msg.Header(n) {
			if err := r.spend(len(v)); err != nil {
				return false, "", err
			}
			for _, a := range addressList(v) {
				part, has := addressPart(a, t.part)
				if !has {
					continue
				}
				ok, err := r.compare(t, part)
				if err != nil || ok {
					return ok, n + ": " + quoteShort(a), err
				}
			}
		}
	}
	return false, "", nil
}

// envelope runs the envelope test (RFC 5228 section 5.4).
func (r *runner) envelope(t *testNode) (bool, string, error) {
	for _, n := range t.names {
		var a string
		if strings.EqualFold(n, "from") {
			a = r.env.From
		} else {
			a = r.env.To
		}
		var part string
		if a == "" {
			// Section 5.4: the null reverse-path is matched as the empty
			// string, whatever the address part.
			part = ""
		} else {
			var has bool
			if part, has = addressPart(a, t.part); !has {
				continue
			}
		}
		ok, err := r.compare(t, part)
		if err != nil || ok {
			return ok, strings.ToLower(n) + " <" + a + ">", err
		}
	}
	return false, "", nil
}

// act records an action, after the checks of RFC 5228 section 2.10:
// conflicts, duplicates, limits, and the implicit keep.
func (r *runner) act(st *actionStmt) error {
	a := st.act
	at := Pos{a.Line, a.Col}
	if a.Vacation != nil {
		v := *a.Vacation
		v.Addresses = slices.Clone(v.Addresses)
		v.To = r.env.From
		if v.Subject == "" {
			// RFC 5230 section 4.3: "Auto: " and the original subject.
			subj := ""
			if vs := r.decoded("Subject"); len(vs) > 0 {
				subj = vs[0]
			}
			v.Subject = "Auto: " + subj
		}
		if ok, why := ShouldAutoReply(r.msg, r.env, v.Addresses); !ok {
			v.NoReply = why
		}
		a.Vacation = &v
	}

	// Conflicts. RFC 5429 section 2: reject and ereject cannot be
	// combined with actions that deliver (keep, fileinto, redirect) nor
	// with each other; RFC 5230 section 4.7: nor with vacation.
	rejects := a.Kind == ActionReject || a.Kind == ActionEreject
	for _, prev := range r.actions {
		prevRejects := prev.Kind == ActionReject || prev.Kind == ActionEreject
		switch {
		case rejects && prev.Kind != ActionDiscard, prevRejects && a.Kind != ActionDiscard:
			return r.errorf(at, "%s cannot be combined with %s at line %d (RFC 5429 section 2)", a.Kind, prev.Kind, prev.Line)
		case a.Kind == ActionVacation && prev.Kind == ActionVacation:
			return r.errorf(at, "vacation may be used once per run; it was already used at line %d", prev.Line)
		}
	}

	// Duplicates (RFC 5228 section 2.10.3): a message is filed into a
	// mailbox once, and sent to an address once.
	if i := r.duplicate(a); i >= 0 {
		prev := &r.actions[i]
		if a.Kind == ActionFileinto && a.Create {
			prev.Create = true
		}
		r.note("line %d: %s: already done at line %d, not repeated (RFC 5228 section 2.10.3)", a.Line, st.src, prev.Line)
		r.cancelKeep(a)
		return nil
	}

	if len(r.actions) >= MaxActions {
		return r.errorf(at, "more than %d actions (RFC 5228 section 2.10.4)", MaxActions)
	}
	if a.Kind == ActionRedirect {
		n := 0
		for _, prev := range r.actions {
			if prev.Kind == ActionRedirect {
				n++
			}
		}
		if n >= MaxRedirects {
			return r.errorf(at, "more than %d redirects (RFC 5228 section 2.10.4)", MaxRedirects)
		}
	}
	r.actions = append(r.actions, a)
	note := ""
	if r.keepCancelled == nil && r.cancelKeep(a) {
		note = " (cancels the implicit keep)"
	}
	if a.Vacation != nil {
		if a.Vacation.NoReply != "" {
			note = " → no reply: " + a.Vacation.NoReply
		} else {
			note = fmt.Sprintf(" → reply to <%s> unless one was sent in the last %d days", a.Vacation.To, a.Vacation.Days)
		}
	}
	r.note("line %d: %s%s", a.Line, st.src, note)
	return nil
}

// duplicate returns the index of an earlier action a repeats, or -1.
func (r *runner) duplicate(a Action) int {
	inbox := func(x Action) bool {
		return x.Kind == ActionKeep || x.Kind == ActionFileinto && strings.EqualFold(x.Mailbox, "INBOX")
	}
	for i, prev := range r.actions {
		switch {
		case inbox(a) && inbox(prev):
			// keep and fileinto "INBOX" file into the same mailbox.
			// INBOX is case-insensitive (RFC 3501 section 5.1).
			return i
		case a.Kind == ActionFileinto && prev.Kind == ActionFileinto && a.Mailbox == prev.Mailbox:
			return i
		case a.Kind == ActionRedirect && prev.Kind == ActionRedirect && strings.EqualFold(a.Address, prev.Address):
			return i
		case a.Kind == ActionDiscard && prev.Kind == ActionDiscard:
			return i
		}
	}
	return -1
}

// cancelKeep records that a cancels the implicit keep (RFC 5228 section
// 2.10.2: every action but vacation and the :copy forms does) and reports
// whether it does.
func (r *runner) cancelKeep(a Action) bool {
	if a.Kind == ActionVacation || a.Copy {
		return false
	}
	if r.keepCancelled == nil {
		r.keepCancelled = &a
	}
	return true
}
