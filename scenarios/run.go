package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
)

// Result is what a run of the steps found.
type Result struct {
	Steps  []StepResult
	Failed int // steps whose expectation failed
}

// StepResult is the outcome of one step.
type StepResult struct {
	Index   int    // 1-based
	Kind    string // "say", "send", ...
	OK      bool
	Message string // what happened, or what was wrong
	Pos     string // file:line:col of the step, or of the check that failed
}

// waitPoll is how often a wait step looks at the Maildir.
const waitPoll = 10 * time.Millisecond

// Run executes the steps in order and notes each one in the transcript. A
// failed expectation is recorded and the run goes on; a step that cannot
// be carried out (an agent unreachable, the step hook or a pause saying
// stop, ctx done) ends the run with an error, and the Result so far.
func (l *Lab) Run(ctx context.Context) (*Result, error) {
	res := &Result{}
	for i := range l.sc.Steps {
		st := &l.sc.Steps[i]
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("scenarios: step %d (%s): %w", i+1, st.Pos, err)
		}
		r := StepResult{Index: i + 1, Kind: st.Kind, OK: true, Pos: st.Pos.String()}
		s := &stepRun{lab: l, st: st, res: &r}
		// In a Repeatable run the MTAs' queues deliver only during wait
		// steps, so their lines never mix with another step's.
		if st.Kind == StepWait && l.opts.Repeatable {
			l.openGate()
		}
		err := s.run(ctx)
		if st.Kind == StepWait && l.opts.Repeatable {
			l.closeGate(ctx)
		}
		if err != nil {
			r.OK = false
			r.Message = err.Error()
			l.note("step %d: %s: stopped: %v", r.Index, st.Kind, err)
			res.Steps = append(res.Steps, r)
			res.Failed++
			return res, fmt.Errorf("scenarios: step %d (%s): %w", i+1, st.Pos, err)
		}
		if !r.OK {
			res.Failed++
		}
		res.Steps = append(res.Steps, r)
	}
	return res, nil
}

func (l *Lab) note(format string, args ...any) {
	l.rec.Note(RunnerAgent, fmt.Sprintf(format, args...))
}

// stepRun carries one step's execution and collects its failures.
type stepRun struct {
	lab   *Lab
	st    *Step
	res   *StepResult
	fails []string
	// root is the step whose while list holds this one; its result
	// collects this one's failures. nil for a step of the scenario.
	root *stepRun
}

// check notes one check of the step and records a failure at p.
func (s *stepRun) check(p Pos, ok bool, what string, format string, args ...any) {
	if ok {
		s.lab.note("step %d: %s: ok", s.res.Index, what)
		return
	}
	msg := what + ": " + fmt.Sprintf(format, args...)
	s.lab.note("step %d: %s: FAILED at %s", s.res.Index, msg, p)
	r := s
	if s.root != nil {
		r = s.root
	}
	if len(r.fails) == 0 {
		s.res.Pos = p.String()
	}
	r.fails = append(r.fails, msg)
	s.res.OK = false
	s.res.Message = strings.Join(r.fails, "; ")
}

// say notes what the step does, before the wire shows it.
func (s *stepRun) say(format string, args ...any) {
	s.lab.note("step %d: %s", s.res.Index, fmt.Sprintf(format, args...))
}

func (s *stepRun) run(ctx context.Context) error {
	switch s.st.Kind {
	case StepSay:
		s.lab.rec.Note(RunnerAgent, s.st.Text)
		s.res.Message = s.st.Text
	case StepPause:
		s.lab.rec.Note(RunnerAgent, "pause: "+s.st.Text)
		s.res.Message = s.st.Text
		if s.lab.opts.Pause != nil {
			if err := s.lab.opts.Pause(s.st.Text); err != nil {
				return fmt.Errorf("pause: %w", err)
			}
		}
	case StepSend:
		return s.send(ctx)
	case StepWait:
		return s.wait(ctx)
	case StepExpect:
		return s.expect()
	case StepSMTP:
		return s.dialogue(ctx)
	case StepPOP3:
		return s.pop3(ctx)
	case StepIMAP:
		return s.imap(ctx)
	case StepStop, StepStart, StepFlush:
		return s.stopStart(ctx)
	default:
		return fmt.Errorf("unknown step kind %q", s.st.Kind)
	}
	return nil
}

func (s *stepRun) mua(name string) (*mua.MUA, error) {
	s.lab.mu.Lock()
	m, ok := s.lab.muas[name]
	s.lab.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mua %s is not running", name)
	}
	return m, nil
}

func (s *stepRun) userOf(name string) string {
	for _, a := range s.lab.sc.Agents {
		if a.Name == name {
			return a.User
		}
	}
	return ""
}

func (s *stepRun) send(ctx context.Context) error {
	snd := s.st.Send
	m, err := s.mua(snd.As)
	if err != nil {
		return err
	}
	port := cmpOr(snd.Port, "smtp")
	server, err := s.lab.endpoint(snd.Via, port)
	if err != nil {
		return err
	}
	var so mua.SendOptions
	switch {
	case port == "submissions":
		so.TLS = mua.TLSImplicit
	case snd.TLS == "starttls" || (port == "submission" && snd.TLS == ""):
		so.TLS = mua.TLSStartTLS
	}
	if (snd.Auth == nil && port != "smtp") || (snd.Auth != nil && *snd.Auth) {
		so.User, so.Password = s.account(snd.As)
	}
	from := snd.From
	if from == "" {
		from = s.userOf(snd.As)
	}
	rcpts := append(append(append([]string{}, snd.To...), snd.Cc...), snd.Bcc...)
	what := fmt.Sprintf("%s sends to %s via %s", snd.As, strings.Join(rcpts, ", "), snd.Via)
	if port != "smtp" || so.TLS != mua.TLSNone || so.User != "" {
		what += " (" + describeSend(port, so) + ")"
	}
	s.lab.note("step %d: %s", s.res.Index, what)
	draft := mua.Draft{
		From: from, To: snd.To, Cc: snd.Cc, Bcc: snd.Bcc,
		Subject: snd.Subject, Body: snd.Body, Headers: snd.Headers,
		// A stable id, so that the transcript renders the same twice.
		MessageID: fmt.Sprintf("<%s.%d@%s>", safeName(s.lab.sc.Name), s.res.Index, hostOf(s.lab.sc, snd.As)),
	}
	sent, err := m.SendWith(ctx, server, draft, so)
	s.lab.conns.waitClosed(ctx, snd.As, "smtp")
	refusal := refusalOf(sent, err)
	if err != nil && refusal == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p := s.st.Pos
	switch {
	case snd.Expect == nil && refusal == nil:
		s.check(p, true, "send", "")
	case snd.Expect == nil:
		s.check(p, false, "send", "refused: %s", refusal)
	case refusal == nil:
		s.check(snd.Expect.Pos, false, "send refused with "+snd.Expect.String(), "the message was accepted")
	default:
		s.check(snd.Expect.Pos, snd.Expect.Match(int(refusal.Code), refusal.Enhanced),
			"send refused with "+snd.Expect.String(), "got %s", refusal)
	}
	return nil
}

// refusalOf finds the server's refusal in a send: the error's, or the
// first refused recipient's.
func refusalOf(res *smtpclient.SendResult, err error) *smtp.Error {
	var se *smtp.Error
	if errors.As(err, &se) {
		return se
	}
	if res != nil {
		for _, a := range res.Refused {
			if se == nil || a.Error() < se.Error() {
				se = a
			}
		}
	}
	return se
}

func hostOf(sc *Scenario, agent string) string {
	for i := range sc.Agents {
		if sc.Agents[i].Name == agent {
			return sc.Agents[i].hostname(sc)
		}
	}
	return agent
}

func (s *stepRun) wait(ctx context.Context) error {
	w := s.st.Wait
	if w.Queue != "" {
		return s.waitQueue(ctx)
	}
	what := fmt.Sprintf("wait for %d %s in %s", w.Count, plural(w.Count, "message"), w.Mailbox)
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		var msgs []mailbox.Message
		var err error
		if berr := s.lab.between(ctx, func() { msgs, err = s.lab.store.List(w.Mailbox) }); berr != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", what, berr)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if len(msgs) >= w.Count {
			s.check(s.st.Pos, true, what, "")
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				s.check(s.st.Pos, false, what, "%d after %v", len(msgs), w.Timeout)
				return nil
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

func (s *stepRun) expect() error {
	e := s.st.Expect
	switch {
	case e.Device != "":
		return s.expectDevice()
	case e.newStyle():
		return s.expectFolder()
	}
	msgs, err := s.lab.store.List(e.Mailbox)
	if err != nil {
		return fmt.Errorf("expect %s: %w", e.Mailbox, err)
	}
	if e.Count >= 0 {
		s.check(e.at.of("count", s.st.Pos), len(msgs) == e.Count,
			fmt.Sprintf("expect %s has %d %s", e.Mailbox, e.Count, plural(e.Count, "message")),
			"it has %d", len(msgs))
	}
	if len(e.Headers) == 0 && len(e.HeaderCount) == 0 {
		return nil
	}
	n := len(msgs)
	if e.Message > 0 {
		n = e.Message
	}
	var h mail.Header
	if n < 1 || n > len(msgs) {
		p := e.at.of("message", e.at.of("mailbox", s.st.Pos))
		s.check(p, false, fmt.Sprintf("expect message %d of %s", n, e.Mailbox), "there are %d", len(msgs))
		return nil
	}
	h, err = s.lab.store.Header(msgs[n-1])
	if err != nil {
		return fmt.Errorf("expect %s: reading message %d: %w", e.Mailbox, n, err)
	}
	s.checkHeaders(e, h)
	return nil
}

// checkHeaders checks the headers and header_count of e on h.
func (s *stepRun) checkHeaders(e *Expect, h mail.Header) {
	for _, hc := range e.Headers {
		what := fmt.Sprintf("expect %s: %s", hc.Name, hc.Value)
		vals := h.Values(hc.Name)
		if len(vals) == 0 {
			s.check(hc.Pos, false, what, "the message has no %s field", hc.Name)
			continue
		}
		got := vals[0]
		decoded := mail.DecodeHeader(got)
		ok := got == hc.Value || decoded == hc.Value
		if decoded != got && decoded != hc.Value {
			got = fmt.Sprintf("%s (%s)", got, decoded)
		}
		s.check(hc.Pos, ok, what, "got %s", got)
	}
	for _, hc := range e.HeaderCount {
		got := len(h.Values(hc.Name))
		s.check(hc.Pos, got == hc.Count, fmt.Sprintf("expect %d %s %s", hc.Count, hc.Name, plural(hc.Count, "field")),
			"got %d", got)
	}
}

func (s *stepRun) dialogue(ctx context.Context) error {
	dl := s.st.SMTP
	m, err := s.mua(dl.As)
	if err != nil {
		return err
	}
	server, err := s.lab.endpoint(dl.Via, "smtp")
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s types SMTP to %s", dl.As, dl.Via)
	s.lab.note("step %d: %s", s.res.Index, what)
	c, err := m.Dial(ctx, server)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// Close aborts the session when ctx ends while a reply is awaited.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	quit := false
	for _, x := range dl.Exchanges {
		var r *smtpclient.Reply
		var err error
		if x.IsData {
			var body io.Reader = strings.NewReader(crlf(x.Data))
			if x.DataSize > 0 {
				body = filler(x.DataSize)
			}
			r, err = c.SendData(body)
		} else {
			r, err = c.Cmd(x.Send)
			quit = quit || strings.EqualFold(strings.TrimSpace(x.Send), "QUIT")
		}
		if err != nil {
			c.Close()
			s.lab.conns.waitClosed(ctx, dl.As, "smtp")
			return fmt.Errorf("%s: %s: %w", what, x.label(), err)
		}
		if quit {
			// The server closes after 221: let its close be recorded
			// before the note about the reply.
			s.lab.conns.waitClosed(ctx, dl.As, "smtp")
		}
		if x.Expect != nil {
			s.check(x.Expect.Pos, x.Expect.Match(r.Code, r.Enhanced),
				fmt.Sprintf("%s got %s", x.label(), x.Expect), "got %s", firstLine(r))
		}
	}
	if quit {
		c.Close()
	} else if err := c.Quit(); err != nil {
		return fmt.Errorf("%s: QUIT: %w", what, err)
	}
	s.lab.conns.waitClosed(ctx, dl.As, "smtp")
	if s.res.OK {
		s.lab.note("step %d: %s: ok", s.res.Index, what)
	}
	return nil
}

func (x *Exchange) label() string {
	switch {
	case x.DataSize > 0:
		return fmt.Sprintf("%d bytes of data", x.DataSize)
	case x.IsData:
		return "the message data"
	}
	return x.Send
}

func firstLine(r *smtpclient.Reply) string {
	s := r.String()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// crlf gives text CRLF line endings and a final line break.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// filler returns a message of at least n bytes, in whole lines: a header,
// then lines of digits, for lessons about size limits.
func filler(n int64) io.Reader {
	const head = "Subject: a large message\r\n\r\n"
	line := strings.Repeat("0123456789", 7) + "\r\n"
	lines := (n - int64(len(head)) + int64(len(line)) - 1) / int64(len(line))
	return io.MultiReader(strings.NewReader(head), &repeatReader{line: line, left: max(lines, 1)})
}

// repeatReader reads line, left times.
type repeatReader struct {
	line string
	left int64
	pos  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:], r.line[r.pos:])
		n += c
		r.pos += c
		if r.pos == len(r.line) {
			r.pos = 0
			r.left--
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// describeSend says how a send step connects, for its note.
func describeSend(port string, so mua.SendOptions) string {
	parts := []string{map[string]string{"smtp": "port 25", "submission": "submission port 587", "submissions": "submissions port 465"}[port]}
	switch so.TLS {
	case mua.TLSStartTLS:
		parts = append(parts, "STARTTLS")
	case mua.TLSImplicit:
		parts = append(parts, "TLS from the first byte")
	}
	if so.User != "" {
		parts = append(parts, "AUTH PLAIN as "+so.User)
	}
	return strings.Join(parts, ", ")
}
