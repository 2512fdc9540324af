package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/pop3"
)

// account returns the address and password a device logs in with: its
// user's, from the scenario's users.
func (s *stepRun) account(device string) (user, password string) {
	user = s.userOf(device)
	for _, u := range s.lab.sc.Users {
		if strings.EqualFold(u.Address, user) {
			return user, u.Password
		}
	}
	return user, ""
}

// refusal finds a server's refusal in a reading step's error: "-ERR
// [IN-USE] ..." from a POP3 server, "NO [TRYCREATE] ..." or "BAD ..." from
// an IMAP server.
func refusal(err error) (status, code, text string, ok bool) {
	var pe *pop3.Error
	if errors.As(err, &pe) {
		return "-ERR", pe.Code, "-ERR " + pe.Error(), true
	}
	var ie *imapclient.Error
	if errors.As(err, &ie) && ie.Status != "BYE" {
		return ie.Status, ie.Code, ie.Error(), true
	}
	return "", "", "", false
}

// outcome deals with the error of a reading action what: a refusal is
// checked against want (nil: none was expected), any other error stops the
// run. It returns done when the step has nothing more to check.
func (s *stepRun) outcome(err error, want *ServerReply, what string) (done bool, stop error) {
	status, code, text, refused := refusal(err)
	switch {
	case err != nil && !refused:
		return true, fmt.Errorf("%s: %w", what, err)
	case want == nil && refused:
		s.check(s.st.Pos, false, what, "refused: %s", text)
		return true, nil
	case want == nil:
		return false, nil
	case !refused:
		s.check(want.Pos, false, what+" refused with "+want.String(), "the server accepted it")
		return true, nil
	}
	s.check(want.Pos, want.Match(status, code), what+" refused with "+want.String(), "got %s", text)
	return true, nil
}

func (s *stepRun) pop3(ctx context.Context) error {
	p := s.st.POP3
	m, err := s.mua(p.As)
	if err != nil {
		return err
	}
	listener := "pop3"
	if p.TLS == "implicit" {
		listener = "pop3s"
	}
	server, err := s.lab.endpoint(p.Via, listener)
	if err != nil {
		return err
	}
	user, password := s.account(p.As)
	mode := "delete after download"
	if !p.Delete {
		mode = "leave on server"
	}
	s.say("%s downloads %s's mail over POP3 from %s (%s)", p.As, user, p.Via, mode)
	res, err := m.FetchPOP3(ctx, server, user, password, mua.POP3Options{Delete: p.Delete, APOP: p.APOP, TLS: mua.TLSMode(p.TLS)})
	s.lab.conns.waitClosed(ctx, p.As, "pop3")
	if done, stop := s.outcome(err, p.Refusal, "pop3"); done {
		return stop
	}
	var got []string
	for _, l := range res.Messages {
		got = append(got, fmt.Sprintf("%q", l.Subject))
	}
	s.say("%s downloaded %d %s%s, skipped %d it had already; the server deleted %d and holds %d",
		p.As, len(res.Messages), plural(len(res.Messages), "message"), listed(got), res.Skipped, res.Deleted, res.LeftOnServer)
	e := p.Expect
	if e == nil {
		s.check(s.st.Pos, true, "pop3", "")
		return nil
	}
	for _, c := range []struct {
		key       string
		want, got int
		what      string
	}{
		{"downloaded", e.Downloaded, len(res.Messages), "downloaded"},
		{"skipped", e.Skipped, res.Skipped, "skipped"},
		{"deleted", e.Deleted, res.Deleted, "deleted on the server"},
		{"left", e.Left, res.LeftOnServer, "left on the server"},
	} {
		if c.want >= 0 {
			s.check(e.at.of(c.key, s.st.Pos), c.got == c.want, fmt.Sprintf("expect %d %s", c.want, c.what), "got %d", c.got)
		}
	}
	return nil
}

func listed(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, ", ") + ")"
}

// session returns the device's IMAP session with the MDA via, opening it
// on first use; it stays open until the lab stops.
func (s *stepRun) session(ctx context.Context, device, via string) (*mua.IMAPSession, error) {
	l := s.lab
	l.mu.Lock()
	for _, ds := range l.sessions {
		if ds.device == device && ds.via == via {
			l.mu.Unlock()
			return ds.s, nil
		}
	}
	l.mu.Unlock()
	m, err := s.mua(device)
	if err != nil {
		return nil, err
	}
	mode := ""
	if s.st.IMAP != nil {
		mode = s.st.IMAP.TLS
	}
	listener, how := "imap", ""
	switch mode {
	case "implicit":
		listener, how = "imaps", ", with TLS from the first byte (IMAPS)"
	case "starttls":
		how = ", with STARTTLS"
	}
	server, err := l.endpoint(via, listener)
	if err != nil {
		return nil, err
	}
	user, password := s.account(device)
	s.say("%s connects to %s over IMAP as %s%s (the session stays open)", device, via, user, how)
	sess, err := m.IMAPWith(ctx, server, user, password, mua.TLSMode(mode))
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		sess.Close()
		return nil, fmt.Errorf("the lab is stopping")
	}
	l.sessions = append(l.sessions, &deviceSession{device: device, via: via, s: sess})
	return sess, nil
}

func (s *stepRun) imap(ctx context.Context) error {
	im := s.st.IMAP
	folder := cmpOr(im.Folder, mailbox.Inbox)
	sess, err := s.session(ctx, im.As, im.Via)
	if err != nil {
		done, stop := s.outcome(err, im.Refusal, "imap login")
		if !done {
			stop = err
		}
		return stop
	}
	switch im.Do {
	case IMAPList:
		return s.imapList(sess, folder)
	case IMAPIdle:
		return s.imapIdle(ctx, sess, folder)
	}
	verb := map[string]string{IMAPRead: "reads", IMAPMarkRead: "marks as read", IMAPMove: "moves", IMAPDelete: "deletes"}[im.Do]
	where := "in " + folder
	if im.Do == IMAPMove {
		where = "from " + folder + " to " + im.To
	}
	s.say("%s %s %s %s", im.As, verb, im.Message.describe(), where)
	uid, label, ok, err := s.pick(sess, folder, im.Message)
	if err != nil {
		done, stop := s.outcome(err, im.Refusal, "imap "+im.Do)
		if !done {
			stop = err
		}
		return stop
	}
	if !ok {
		return nil
	}
	switch im.Do {
	case IMAPRead:
		_, err = sess.Read(folder, uid)
	case IMAPMarkRead:
		err = sess.MarkRead(folder, uid)
	case IMAPMove:
		err = sess.Move(folder, uid, im.To)
	case IMAPDelete:
		err = sess.Delete(folder, uid)
	default:
		return fmt.Errorf("unknown imap action %q", im.Do)
	}
	if done, stop := s.outcome(err, im.Refusal, "imap "+im.Do); done {
		return stop
	}
	s.check(s.st.Pos, true, fmt.Sprintf("%s %s %s %s", im.As, verb, label, where), "")
	return nil
}

// describe names the message for a note, before it is looked up.
func (r *MessageRef) describe() string {
	switch {
	case r.BySubj:
		return fmt.Sprintf("%q", r.Subject)
	case r.UID > 0:
		return fmt.Sprintf("the message with UID %d", r.UID)
	}
	return fmt.Sprintf("message %d of the list", r.Position)
}

// pick finds the message ref names in folder. A UID needs no listing;
// a position or a subject is looked up in the device's listing, as a
// person picks a message from the list. ok is false when no message
// matched (a failed check has been recorded).
func (s *stepRun) pick(sess *mua.IMAPSession, folder string, ref *MessageRef) (uid uint32, label string, ok bool, err error) {
	if ref.UID > 0 {
		return ref.UID, fmt.Sprintf("UID %d", ref.UID), true, nil
	}
	list, err := sess.Messages(folder)
	if err != nil {
		return 0, "", false, err
	}
	i, ok := s.find(list, folder, ref)
	if !ok {
		return 0, "", false, nil
	}
	return list[i].UID, fmt.Sprintf("%q (UID %d)", list[i].Subject, list[i].UID), true, nil
}

// find returns the index of the message ref names in a listing, or
// records a failed check.
func (s *stepRun) find(list []mua.Summary, folder string, ref *MessageRef) (int, bool) {
	what := fmt.Sprintf("message %s of %s", ref, folder)
	switch {
	case ref.UID > 0:
		for i, m := range list {
			if m.UID == ref.UID {
				return i, true
			}
		}
		s.check(ref.Pos, false, what, "no message has UID %d", ref.UID)
	case ref.BySubj:
		at := -1
		n := 0
		for i, m := range list {
			if m.Subject == ref.Subject {
				at, n = i, n+1
			}
		}
		switch n {
		case 1:
			return at, true
		case 0:
			s.check(ref.Pos, false, what, "no message has that subject (%s)", subjects(list))
		default:
			s.check(ref.Pos, false, what, "%d messages have that subject; choose by uid or position", n)
		}
	default:
		if ref.Position <= len(list) {
			return ref.Position - 1, true
		}
		s.check(ref.Pos, false, what, "there %s %d", isAre(len(list)), len(list))
	}
	return 0, false
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func subjects(list []mua.Summary) string {
	if len(list) == 0 {
		return "the folder is empty"
	}
	var out []string
	for _, m := range list {
		out = append(out, fmt.Sprintf("%q", m.Subject))
	}
	return "it has " + strings.Join(out, ", ")
}

func (s *stepRun) imapList(sess *mua.IMAPSession, folder string) error {
	im := s.st.IMAP
	s.say("%s lists %s", im.As, folder)
	list, err := sess.Messages(folder)
	if done, stop := s.outcome(err, im.Refusal, "imap list"); done {
		return stop
	}
	var lines []string
	for _, m := range list {
		line := fmt.Sprintf("UID %d %q", m.UID, m.Subject)
		if len(m.Flags) > 0 {
			line += " (" + strings.Join(m.Flags, " ") + ")"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		s.say("%s sees %s empty", im.As, folder)
	} else {
		s.say("%s sees in %s: %s", im.As, folder, strings.Join(lines, "; "))
	}
	e := im.Expect
	if e == nil {
		s.check(s.st.Pos, true, "imap list", "")
		return nil
	}
	if e.Count >= 0 {
		s.check(e.at.of("count", s.st.Pos), len(list) == e.Count,
			fmt.Sprintf("expect %s sees %d %s in %s", im.As, e.Count, plural(e.Count, "message"), folder), "it sees %d", len(list))
	}
	if e.HasSubjects {
		var got []string
		for _, m := range list {
			got = append(got, m.Subject)
		}
		s.check(e.at.of("subjects", s.st.Pos), strings.Join(got, "\x00") == strings.Join(e.Subjects, "\x00"),
			fmt.Sprintf("expect %s lists %s", folder, quoteAll(e.Subjects)), "got %s", quoteAll(got))
	}
	if len(e.Flags)+len(e.NoFlags) == 0 || im.Message == nil {
		return nil
	}
	i, ok := s.find(list, folder, im.Message)
	if !ok {
		return nil
	}
	m := list[i]
	for _, f := range e.Flags {
		s.check(e.at.of("flags", s.st.Pos), m.Has(f), fmt.Sprintf("expect %q is %s on %s", m.Subject, f, im.As),
			"its flags are (%s)", strings.Join(m.Flags, " "))
	}
	for _, f := range e.NoFlags {
		s.check(e.at.of("no_flags", s.st.Pos), !m.Has(f), fmt.Sprintf("expect %q is not %s on %s", m.Subject, f, im.As),
			"its flags are (%s)", strings.Join(m.Flags, " "))
	}
	return nil
}

func quoteAll(items []string) string {
	if len(items) == 0 {
		return "nothing"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(out, ", ")
}

// untilText says what an idle waits for, for its note.
var untilText = map[string]string{
	"exists":  "new mail (* n EXISTS)",
	"expunge": "a message gone (* n EXPUNGE)",
	"flags":   "changed flags (* n FETCH)",
	"any":     "any change",
}

// awaited returns the until function of an idle.
func awaited(until string) func(mua.Update) bool {
	return func(u mua.Update) bool {
		switch until {
		case "expunge":
			return u.Kind == imapclient.UpdateExpunge
		case "flags":
			return u.Kind == imapclient.UpdateFetch
		case "any":
			return u.Kind == imapclient.UpdateExists || u.Kind == imapclient.UpdateExpunge || u.Kind == imapclient.UpdateFetch
		}
		return u.Kind == imapclient.UpdateExists
	}
}

// imapIdle idles in folder until the awaited news. Its while steps run
// once the server has answered IDLE with "+". The news they cause reaches
// the device as soon as the server sends it; with Options.Repeatable it is
// held until they have ended (Lab.holdWakes), so the transcript shows the
// same order every time.
func (s *stepRun) imapIdle(ctx context.Context, sess *mua.IMAPSession, folder string) error {
	im := s.st.IMAP
	until := cmpOr(im.Until, "exists")
	s.say("%s idles in %s until the server tells of %s", im.As, folder, untilText[until])
	idleCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		news []mua.Update
		err  error
	}
	done := make(chan result, 1)
	idling, unwatch := s.lab.conns.watchLine(im.As, "imap", "+")
	defer unwatch()
	go func() {
		news, err := sess.Idle(idleCtx, folder, awaited(until))
		done <- result{news, err}
	}()
	var r result
	finished := false
	if len(im.While) > 0 {
		select {
		case <-idling:
		case r = <-done:
			finished = true
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		}
		if !finished {
			release := func() {}
			if s.lab.opts.Repeatable {
				release = s.lab.holdWakes()
			}
			err := s.while(ctx)
			release()
			if err != nil {
				cancel()
				<-done
				return err
			}
		}
	}
	timedOut := false
	if !finished {
		timer := time.NewTimer(im.Timeout)
		select {
		case r = <-done:
		case <-timer.C:
			timedOut = true
			cancel()
			r = <-done
		}
		timer.Stop()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var told []string
	exists := -1
	got := false
	for _, u := range r.news {
		told = append(told, "* "+u.String())
		if u.Kind == imapclient.UpdateExists {
			exists = int(u.Num)
		}
		got = got || awaited(until)(u)
	}
	if len(told) > 0 {
		s.say("%s was told, without asking: %s", im.As, strings.Join(told, ", "))
	}
	if r.err != nil && !timedOut {
		if done, stop := s.outcome(r.err, im.Refusal, "imap idle"); done {
			return stop
		}
	}
	if im.Refusal != nil {
		s.check(im.Refusal.Pos, false, "imap idle refused with "+im.Refusal.String(), "the server accepted it")
		return nil
	}
	what := fmt.Sprintf("%s idles until %s", im.As, until)
	if !got {
		s.check(s.st.Pos, false, what, "no such news after %v", im.Timeout)
		return nil
	}
	if e := im.Expect; e != nil && e.Count >= 0 {
		s.check(e.at.of("count", s.st.Pos), exists == e.Count, fmt.Sprintf("expect %s told * %d EXISTS", im.As, e.Count),
			"got %s", quoteAll(told))
		return nil
	}
	s.check(s.st.Pos, true, what, "")
	return nil
}

// while runs the while steps of an idle, as part of it.
func (s *stepRun) while(ctx context.Context) error {
	root := s
	if s.root != nil {
		root = s.root
	}
	for i := range s.st.IMAP.While {
		st := &s.st.IMAP.While[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		n := &stepRun{lab: s.lab, st: st, res: s.res, root: root}
		if err := n.run(ctx); err != nil {
			return fmt.Errorf("while (%s): %w", st.Pos, err)
		}
	}
	return nil
}

// expectDevice checks a device's local store.
func (s *stepRun) expectDevice() error {
	e := s.st.Expect
	m, err := s.mua(e.Device)
	if err != nil {
		return err
	}
	local := m.Local()
	if e.Count >= 0 {
		var got []string
		for _, l := range local {
			got = append(got, fmt.Sprintf("%q", l.Subject))
		}
		s.check(e.at.of("count", s.st.Pos), len(local) == e.Count,
			fmt.Sprintf("expect %s holds %d downloaded %s", e.Device, e.Count, plural(e.Count, "message")),
			"it holds %d%s", len(local), listed(got))
	} else {
		s.check(s.st.Pos, true, fmt.Sprintf("expect %s", e.Device), "")
	}
	return nil
}

// storeMessage is a message of a folder as the store holds it.
type storeMessage struct {
	info    mailbox.MessageInfo
	header  mail.Header
	subject string
}

// expectFolder checks a folder of a mailbox through the store, in UID
// order: count, then one message's flags, file name and headers.
func (s *stepRun) expectFolder() error {
	e := s.st.Expect
	folder := cmpOr(e.Folder, mailbox.Inbox)
	where := e.Mailbox
	if folder != mailbox.Inbox {
		where += " " + folder
	}
	u, err := s.lab.store.User(e.Mailbox)
	if err != nil {
		return fmt.Errorf("expect %s: %w", where, err)
	}
	var msgs []storeMessage
	f, err := u.Folder(folder)
	switch {
	case errors.Is(err, mailbox.ErrNoFolder):
		// No such folder is an empty one, for count; a message check fails.
	case err != nil:
		return fmt.Errorf("expect %s: %w", where, err)
	default:
		infos, err := f.Messages()
		if err != nil {
			return fmt.Errorf("expect %s: %w", where, err)
		}
		for _, info := range infos {
			raw, err := f.Read(info.UID, 0)
			if errors.Is(err, mailbox.ErrNoMessage) {
				continue // expunged meanwhile
			}
			if err != nil {
				return fmt.Errorf("expect %s: reading UID %d: %w", where, info.UID, err)
			}
			h, _, _ := mail.SplitMessage(raw)
			msgs = append(msgs, storeMessage{info: info, header: h, subject: mail.DecodeHeader(h.Get("Subject"))})
		}
	}
	if e.Count >= 0 {
		s.check(e.at.of("count", s.st.Pos), len(msgs) == e.Count,
			fmt.Sprintf("expect %s has %d %s", where, e.Count, plural(e.Count, "message")), "it has %d", len(msgs))
	}
	checks := len(e.Headers)+len(e.HeaderCount)+len(e.Flags)+len(e.NoFlags) > 0 || e.MaildirFlags != nil
	if !checks {
		return nil
	}
	var m *storeMessage
	switch r := e.Ref; {
	case r != nil && r.BySubj:
		n := 0
		for i := range msgs {
			if msgs[i].subject == r.Subject {
				m = &msgs[i]
				n++
			}
		}
		if n != 1 {
			s.check(r.Pos, false, fmt.Sprintf("expect message %s of %s", r, where), "%d messages have that subject", n)
			return nil
		}
	case r != nil && r.UID > 0:
		for i := range msgs {
			if msgs[i].info.UID == r.UID {
				m = &msgs[i]
			}
		}
		if m == nil {
			s.check(r.Pos, false, fmt.Sprintf("expect message %s of %s", r, where), "no message has UID %d", r.UID)
			return nil
		}
	default:
		n := len(msgs)
		if e.Message > 0 {
			n = e.Message
		}
		if n < 1 || n > len(msgs) {
			p := e.at.of("message", e.at.of("mailbox", s.st.Pos))
			s.check(p, false, fmt.Sprintf("expect message %d of %s", n, where), "there are %d", len(msgs))
			return nil
		}
		m = &msgs[n-1]
	}
	have := flagNames(m.info.Flags)
	for _, f := range e.Flags {
		s.check(e.at.of("flags", s.st.Pos), containsFold(have, f), fmt.Sprintf("expect %q is %s on the server", m.subject, f),
			"its flags are (%s)", strings.Join(have, " "))
	}
	for _, f := range e.NoFlags {
		s.check(e.at.of("no_flags", s.st.Pos), !containsFold(have, f), fmt.Sprintf("expect %q is not %s on the server", m.subject, f),
			"its flags are (%s)", strings.Join(have, " "))
	}
	if want := e.MaildirFlags; want != nil {
		got, w := m.info.Flags.String(), sortLetters(*want)
		what := fmt.Sprintf("expect the file name of %q ends in :2,%s", m.subject, w)
		if w == "" {
			what = fmt.Sprintf("expect the file name of %q has no flag letters", m.subject)
		}
		s.check(e.at.of("maildir_flags", s.st.Pos), got == w, what, "it ends in :2,%s", got)
	}
	s.checkHeaders(e, m.header)
	return nil
}

// flagNames gives the IMAP names of the flags a file name keeps.
func flagNames(f mailbox.Flags) []string {
	var out []string
	for _, x := range []struct {
		flag mailbox.Flags
		name string
	}{
		{mailbox.FlagAnswered, `\Answered`},
		{mailbox.FlagDeleted, `\Deleted`},
		{mailbox.FlagDraft, `\Draft`},
		{mailbox.FlagFlagged, `\Flagged`},
		{mailbox.FlagSeen, `\Seen`},
	} {
		if f&x.flag != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// sortLetters puts Maildir flag letters in ASCII order, as file names
// have them.
func sortLetters(s string) string {
	var out []byte
	for _, c := range "DFPRST" {
		if strings.ContainsRune(s, c) {
			out = append(out, byte(c))
		}
	}
	return string(out)
}
