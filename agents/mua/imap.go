package mua

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maillab/maillab/protocols/imap"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/mail"
)

// Update is one piece of news an IMAP server pushes to a session unasked:
// "* 3 EXISTS" (new mail), "* 1 FETCH (UID 7 FLAGS (\Seen))" (another
// device read message 1), "* 2 EXPUNGE" (another device moved or deleted
// message 2). Kind tells which: imapclient.UpdateExists, UpdateFetch,
// UpdateExpunge...
type Update = imapclient.Update

// Folder is a mailbox of the account, as LIST shows it (RFC 3501 section
// 7.2.2).
type Folder struct {
	Name       string   // "INBOX", "Archive", "Work/2026"
	Delimiter  string   // hierarchy delimiter, "" when the server has none
	Attributes []string // `\Noselect`, `\HasChildren`, `\Sent`...
}

// Summary is one line of a device's message list.
type Summary struct {
	UID     uint32   // the message's UID in its folder (RFC 3501 section 2.3.1.1)
	Flags   []string // `\Seen`, `\Flagged`, `\Deleted`... as the server has them
	Subject string   // decoded (RFC 2047)
	From    string   // "Alice Ruiz <alice@a.test>", name decoded
	Date    string   // the Date field, as written
	Size    int64    // RFC822.SIZE: octets
}

// Has reports whether the message has flag (case-insensitive, RFC 3501
// section 2.3.2).
func (s Summary) Has(flag string) bool {
	return slices.ContainsFunc(s.Flags, func(f string) bool { return strings.EqualFold(f, flag) })
}

// IMAPMessage is a message FetchIMAP read.
type IMAPMessage struct {
	Summary        // Flags as they were before it was read
	Raw     []byte // BODY[]: the whole message
}

// IMAPSession is a device connected to an IMAP server, logged in, that
// stays connected across scenario steps like a phone does. Its methods
// select the folder they are given when it is not the selected one, and
// may be called from several goroutines: they run one at a time (an Idle
// holds the session until it returns). Close may be called at any time.
//
// News the server sends during a step that is not the step's own answer
// (flags another device changed, messages it expunged, new mail) is kept
// for News; during Idle it is returned by Idle.
type IMAPSession struct {
	m            *MUA
	server, user string
	c            *imapclient.Client

	mu       sync.Mutex // one step at a time: the client is not for concurrent use
	selected string     // canonical name of the selected folder, "" for none

	newsMu sync.Mutex
	news   []Update
}

// IMAP connects to the IMAP server at server ("127.0.0.1:1143") and logs in
// as user with LOGIN (RFC 3501 section 6.2.3), marked secret in the
// transcript. ctx bounds the connection and the login only: the session
// then stays open until Logout or Close (or the MUA's Stop).
func (m *MUA) IMAP(ctx context.Context, server, user, password string) (*IMAPSession, error) {
	return m.IMAPWith(ctx, server, user, password, TLSNone)
}

// IMAPWith is IMAP with TLS: STARTTLS before LOGIN (RFC 2595 section 3;
// the server may refuse LOGIN in clear with LOGINDISABLED), or IMAPS from
// the first byte (port 993, RFC 8314).
func (m *MUA) IMAPWith(ctx context.Context, server, user, password string, mode TLSMode) (*IMAPSession, error) {
	s := &IMAPSession{m: m, server: server, user: user}
	copts := imapclient.Options{
		BeforeCommand: m.hook("imap"),
		OnUnilateral:  s.record,
	}
	var c *imapclient.Client
	var err error
	var tcfg *tls.Config
	if mode != TLSNone {
		if tcfg, err = m.tlsFor(server); err != nil {
			return nil, err
		}
	}
	if mode == TLSImplicit {
		c, err = imapclient.DialTLS(ctx, m.dialerFor("imap"), server, tcfg, copts)
	} else {
		c, err = imapclient.Dial(ctx, m.dialerFor("imap"), server, copts)
	}
	if err != nil {
		return nil, m.fail("IMAP", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	if mode == TLSStartTLS {
		if err := c.StartTLS(tcfg); err != nil {
			stop()
			c.Close()
			return nil, m.fail("IMAP", err)
		}
	}
	err = c.Login(user, password)
	if !stop() {
		c.Close()
		return nil, m.fail("IMAP", fmt.Errorf("LOGIN %s: %w", user, context.Cause(ctx)))
	}
	if err != nil {
		c.Close()
		return nil, m.fail("IMAP", err)
	}
	s.c = c
	m.mu.Lock()
	if m.sessions == nil {
		m.sessions = map[*IMAPSession]struct{}{}
	}
	m.sessions[s] = struct{}{}
	m.mu.Unlock()
	return s, nil
}

// record keeps news for News; it is the client's OnUnilateral.
func (s *IMAPSession) record(u Update) {
	s.newsMu.Lock()
	defer s.newsMu.Unlock()
	s.news = append(s.news, u)
}

// News returns the news the server pushed outside Idle since the last
// call, oldest first, and forgets it.
func (s *IMAPSession) News() []Update {
	s.newsMu.Lock()
	defer s.newsMu.Unlock()
	n := s.news
	s.news = nil
	return n
}

func (s *IMAPSession) fail(err error) error { return s.m.fail("IMAP", err) }

// List lists the account's folders: LIST "" * (RFC 3501 section 6.3.8).
func (s *IMAPSession) List() ([]Folder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.c.List("", "*")
	if err != nil {
		return nil, s.fail(err)
	}
	out := make([]Folder, len(l))
	for i, e := range l {
		out[i] = Folder{Name: e.Name, Delimiter: e.Delimiter, Attributes: e.Attributes}
	}
	return out, nil
}

// Select opens folder read-write (RFC 3501 section 6.3.1), even when it is
// the selected one, and returns its status: Exists messages, UIDValidity,
// UIDNext...
func (s *IMAPSession) Select(folder string) (*imapclient.MailboxStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sel(folder)
}

func (s *IMAPSession) sel(folder string) (*imapclient.MailboxStatus, error) {
	st, err := s.c.Select(folder)
	if err != nil {
		s.selected = ""
		return nil, s.fail(err)
	}
	s.selected = imap.CanonicalMailbox(folder)
	return st, nil
}

// open selects folder unless it is selected already; fresh says it had to.
func (s *IMAPSession) open(folder string) (fresh bool, err error) {
	if s.selected == imap.CanonicalMailbox(folder) && s.c.State() == imapclient.StateSelected {
		return false, nil
	}
	_, err = s.sel(folder)
	return true, err
}

func uidSet(uid uint32) string { return strconv.FormatUint(uint64(uid), 10) }

// Messages lists folder's messages, by UID:
//
//	C: a005 UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)
//	S: * 1 FETCH (UID 1 FLAGS (\Seen) ENVELOPE ("Thu, 15 Jan ..." "Lunch" ...) RFC822.SIZE 412)
//	S: a005 OK UID FETCH completed
//
// When folder was selected already, a NOOP first lets the server tell what
// changed since the last step (RFC 3501 section 6.1.2: new messages,
// flags, expunges), so the list is up to date.
func (s *IMAPSession) Messages(folder string) ([]Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh, err := s.open(folder)
	if err != nil {
		return nil, err
	}
	if !fresh {
		if err := s.c.Noop(); err != nil {
			return nil, s.fail(err)
		}
	}
	// The UID form answers an empty mailbox with no data, where "FETCH
	// 1:*" is an error (RFC 3501 section 9: no sequence number is valid).
	res, err := s.c.UIDFetch("1:*", "(UID FLAGS ENVELOPE RFC822.SIZE)")
	if err != nil {
		return nil, s.fail(err)
	}
	out := make([]Summary, 0, len(res))
	for _, r := range res {
		if r.UID == 0 {
			continue
		}
		out = append(out, summaryOf(r))
	}
	slices.SortFunc(out, func(a, b Summary) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}

func summaryOf(r imapclient.FetchResult) Summary {
	sum := Summary{UID: r.UID, Flags: r.Flags, Size: r.Size}
	if e := r.Envelope; e != nil {
		// ENVELOPE strings come as written: encoded words undecoded.
		sum.Subject = mail.DecodeHeader(e.Subject)
		sum.Date = e.Date
		if len(e.From) > 0 {
			a := e.From[0]
			sum.From = showAddress(mail.DecodeHeader(a.Name), a.Mailbox+"@"+a.Host)
		}
	}
	return sum
}

// Read returns the message with uid in folder, as a real client does to
// show it: BODY[], not BODY.PEEK[], so the server sets \Seen (RFC 3501
// section 6.4.5) and every other device sees it read.
//
//	C: a006 UID FETCH 7 (BODY[])
//	S: * 1 FETCH (UID 7 BODY[] {412} ... FLAGS (\Seen))
func (s *IMAPSession) Read(folder string, uid uint32) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.open(folder); err != nil {
		return nil, err
	}
	res, err := s.c.UIDFetch(uidSet(uid), "(BODY[])")
	if err != nil {
		return nil, s.fail(err)
	}
	for _, r := range res {
		if b, ok := r.Body["BODY[]"]; ok && r.UID == uid {
			return b, nil
		}
	}
	return nil, s.fail(fmt.Errorf("UID FETCH %d (BODY[]): no message with UID %d in %s", uid, uid, folder))
}

// MarkRead sets \Seen on the message with uid in folder without reading it:
//
//	C: a007 UID STORE 7 +FLAGS (\Seen)
//	S: * 1 FETCH (UID 7 FLAGS (\Seen))
func (s *IMAPSession) MarkRead(folder string, uid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.open(folder); err != nil {
		return err
	}
	res, err := s.c.UIDStore(uidSet(uid), "+FLAGS", []string{`\Seen`})
	if err != nil {
		return s.fail(err)
	}
	// RFC 3501 section 6.4.8: a UID that is not there is no error, just
	// no FETCH response; a device asked to mark it should say so.
	if !slices.ContainsFunc(res, func(r imapclient.FetchResult) bool { return r.UID == uid }) {
		return s.fail(fmt.Errorf("UID STORE %d +FLAGS (\\Seen): no message with UID %d in %s", uid, uid, folder))
	}
	return nil
}

// Move moves the message with uid from folder to dest with UID MOVE (RFC
// 6851; the client falls back to COPY, STORE \Deleted and EXPUNGE on a
// server without MOVE). When the server answers NO [TRYCREATE] (RFC 3501
// section 6.4.7: dest does not exist) it creates dest and tries again.
//
//	C: a008 UID MOVE 7 Archive
//	S: a008 NO [TRYCREATE] No such mailbox Archive
//	C: a009 CREATE Archive
//	C: a010 UID MOVE 7 Archive
//	S: * OK [COPYUID 12 7 1]
//	S: * 1 EXPUNGE
func (s *IMAPSession) Move(folder string, uid uint32, dest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.open(folder); err != nil {
		return err
	}
	_, err := s.c.UIDMove(uidSet(uid), dest)
	var e *imapclient.Error
	if errors.As(err, &e) && e.Code == imap.CodeTryCreate {
		if err := s.c.Create(dest); err != nil {
			return s.fail(err)
		}
		_, err = s.c.UIDMove(uidSet(uid), dest)
	}
	if err != nil {
		return s.fail(err)
	}
	return nil
}

// Delete removes the message with uid from folder: STORE +FLAGS.SILENT
// (\Deleted), then UID EXPUNGE of that message only when the server has
// UIDPLUS (RFC 4315 section 2.1), else EXPUNGE, which also removes any
// other message already marked \Deleted in folder.
func (s *IMAPSession) Delete(folder string, uid uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.open(folder); err != nil {
		return err
	}
	set := uidSet(uid)
	if _, err := s.c.UIDStore(set, "+FLAGS.SILENT", []string{`\Deleted`}); err != nil {
		return s.fail(err)
	}
	uidplus, err := s.c.HasCap("UIDPLUS")
	if err != nil {
		return s.fail(err)
	}
	if !uidplus {
		if _, err := s.c.Expunge(); err != nil {
			return s.fail(err)
		}
		return nil
	}
	// imapclient has no UID EXPUNGE of its own: the raw command, whose
	// NO or BAD is a response, not an error.
	r, err := s.c.Cmd("UID EXPUNGE " + set)
	if err != nil {
		return s.fail(err)
	}
	if r.Status != "OK" {
		return s.fail(fmt.Errorf("UID EXPUNGE %s: %w", set, &imapclient.Error{Status: r.Status, Code: r.Code, Arg: r.Arg, Text: r.Text}))
	}
	return nil
}

// Append adds msg to folder with flags (RFC 3501 section 6.3.11), as a
// client saves a sent message or a draft, and returns its UID when the
// server says (APPENDUID, RFC 4315), 0 otherwise. Devices with folder
// selected are told at once ("* n EXISTS").
func (s *IMAPSession) Append(folder string, msg []byte, flags ...string) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	au, err := s.c.Append(folder, flags, time.Time{}, msg)
	if err != nil {
		return 0, s.fail(err)
	}
	if au == nil {
		return 0, nil
	}
	return au.UID, nil
}

// Idle selects folder and waits in IDLE (RFC 2177) for the server's news,
// the way a phone waits for new mail, until until returns true for one
// update or ctx ends; then it sends DONE. It returns every update the
// server pushed, in order.
//
//	C: a011 IDLE
//	S: + idling
//	S: * 3 EXISTS                  another device, or the MDA, added a message
//	C: DONE
//	S: a011 OK IDLE completed
//
// With until nil it idles until ctx ends and returns no error then; with
// until set, ctx ending first is an error wrapping context.Cause(ctx) (the
// updates are returned all the same). A server without IDLE is an error.
// The session stays usable after either.
func (s *IMAPSession) Idle(ctx context.Context, folder string, until func(Update) bool) ([]Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.open(folder); err != nil {
		return nil, err
	}
	ok, err := s.c.HasCap("IDLE")
	if err != nil {
		return nil, s.fail(err)
	}
	if !ok {
		return nil, s.fail(errors.New("IDLE: the server does not announce IDLE (RFC 2177)"))
	}
	got := []Update{}
	done := false
	err = s.c.Idle(ctx, func(u Update) bool {
		got = append(got, u)
		if until != nil && until(u) {
			done = true
			return false
		}
		return true
	})
	if err != nil {
		return got, s.fail(err)
	}
	if until != nil && !done {
		return got, s.fail(fmt.Errorf("IDLE %s: no awaited news: %w", folder, context.Cause(ctx)))
	}
	return got, nil
}

// Logout ends the session politely (RFC 3501 section 6.1.3) and closes the
// connection.
func (s *IMAPSession) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.forget(s)
	if err := s.c.Logout(); err != nil {
		return s.fail(err)
	}
	return nil
}

// Close closes the connection without LOGOUT, like a phone losing its
// network; it aborts a step in progress (an Idle) and may be called from
// any goroutine.
func (s *IMAPSession) Close() error {
	s.m.forget(s)
	if err := s.c.Close(); err != nil {
		return s.fail(err)
	}
	return nil
}

// stop ends the session for MUA.Stop: LOGOUT bounded by ctx when no step
// runs, otherwise Close.
func (s *IMAPSession) stop(ctx context.Context) {
	if !s.mu.TryLock() {
		s.Close()
		return
	}
	defer s.mu.Unlock()
	s.m.forget(s)
	halt := context.AfterFunc(ctx, func() { s.c.Close() })
	defer halt()
	_ = s.c.Logout()
}

// forget removes s from the sessions Stop ends.
func (m *MUA) forget(s *IMAPSession) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, s)
}

// FetchIMAP is a one-shot IMAP reading, for the command line: it logs in,
// lists folder ("" means INBOX) and reads every message in it (which sets
// \Seen on them), then logs out. ctx bounds the whole exchange. The
// messages read before an error are returned with it.
func (m *MUA) FetchIMAP(ctx context.Context, server, user, password, folder string) ([]IMAPMessage, error) {
	return m.FetchIMAPWith(ctx, server, user, password, folder, TLSNone)
}

// FetchIMAPWith is FetchIMAP with TLS (see IMAPWith). With listOnly it
// reads only the summaries (UID FETCH of FLAGS, ENVELOPE and size, which
// changes no flag), not the messages.
func (m *MUA) FetchIMAPWith(ctx context.Context, server, user, password, folder string, mode TLSMode, listOnly ...bool) ([]IMAPMessage, error) {
	if folder == "" {
		folder = "INBOX"
	}
	s, err := m.IMAPWith(ctx, server, user, password, mode)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	fail := func(out []IMAPMessage, err error) ([]IMAPMessage, error) {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (stopped: %w)", err, context.Cause(ctx))
		}
		return out, err
	}
	list, err := s.Messages(folder)
	if err != nil {
		return fail(nil, err)
	}
	out := make([]IMAPMessage, 0, len(list))
	for _, sum := range list {
		if len(listOnly) > 0 && listOnly[0] {
			out = append(out, IMAPMessage{Summary: sum})
			continue
		}
		raw, err := s.Read(folder, sum.UID)
		if err != nil {
			return fail(out, err)
		}
		out = append(out, IMAPMessage{Summary: sum, Raw: raw})
	}
	if err := s.Logout(); err != nil {
		return fail(out, err)
	}
	return out, nil
}
