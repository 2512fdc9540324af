package lda_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/lda"
	"github.com/maillab/maillab/agents/lda/sieve"
	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/transcripts"
)

// lab is an MDA on 127.0.0.1:0 with an LDA as its Deliverer, and an SMTP
// server standing for the domain's MTA, which the LDA's Submit reaches
// through smtpclient.
type lab struct {
	t     *testing.T
	store *mailbox.Store
	lda   *lda.LDA
	mda   *mda.MDA
	rec   *transcripts.Recorder
	mta   *smtpserver.MemoryBackend
	cfg   lda.Config

	mu  sync.Mutex
	now time.Time
}

// setNow moves the LDA's clock.
func (l *lab) setNow(t time.Time) {
	l.mu.Lock()
	l.now = t
	l.mu.Unlock()
}

func (l *lab) clock() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

var testNow = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// newLab starts the lab; cfg gets its Store, Submit and Now here. With
// imap, the MDA serves IMAP too (bob's password is "bob").
func newLab(t *testing.T, cfg lda.Config, imap bool) *lab {
	t.Helper()
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, store: store, rec: transcripts.NewRecorder(transcripts.Options{}), mta: &smtpserver.MemoryBackend{}, now: testNow}
	srv := smtpserver.New(smtpserver.Options{Hostname: "mx.b.test"}, l.mta)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()); <-served })
	mtaAddr := ln.Addr().String()

	cfg.Store = store
	cfg.Hostname = "mda.b.test"
	if cfg.Submit == nil {
		cfg.Submit = func(ctx context.Context, from string, to []string, msg []byte) error {
			return submit(ctx, mtaAddr, from, to, msg)
		}
	}
	cfg.Now = l.clock
	l.cfg = cfg
	l.lda, err = lda.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for u := range cfg.Users {
		users = append(users, u)
	}
	slices.Sort(users)
	mc := mda.Config{
		Name: "mda.b.test", Store: store, Users: users, Recorder: l.rec, Deliverer: l.lda,
		Now: func() time.Time { return testNow },
	}
	if imap {
		mc.IMAPListen = "127.0.0.1:0"
		mc.Passwords = map[string]string{"bob@b.test": "bob"}
	}
	l.mda, err = mda.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mda.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.mda.Stop(context.Background()) })
	return l
}

// submit sends a message to the MTA at addr, as a Config.Submit does.
func submit(ctx context.Context, addr, from string, to []string, msg []byte) error {
	var d net.Dialer
	c, err := smtpclient.Dial(ctx, d.DialContext, addr, smtpclient.Options{LocalName: "mda.b.test"})
	if err != nil {
		return err
	}
	defer c.Close()
	var fp mail.Path
	if from != "" {
		if fp, err = mail.ParseAddress(from); err != nil {
			return err
		}
	}
	var tps []mail.Path
	for _, a := range to {
		p, err := mail.ParseAddress(a)
		if err != nil {
			return err
		}
		tps = append(tps, p)
	}
	if _, err := c.SendMail(fp, tps, bytes.NewReader(msg), smtp.MailParams{}); err != nil {
		return err
	}
	return c.Quit()
}

// send runs one LMTP transaction and returns each recipient's reply:
// the RCPT refusal, or the reply after the final ".".
func (l *lab) send(from string, rcpts []string, msg string) map[string]string {
	l.t.Helper()
	dial := l.rec.Dialer("mx.b.test", "lmtp", nil)
	c, err := smtpclient.Dial(context.Background(), dial, l.mda.Endpoints()["lmtp"], smtpclient.Options{LMTP: true, LocalName: "mx.b.test"})
	if err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	var fp mail.Path
	if from != "" {
		fp = mustPath(l.t, from)
	}
	var tps []mail.Path
	for _, r := range rcpts {
		tps = append(tps, mustPath(l.t, r))
	}
	res, _ := c.SendMail(fp, tps, strings.NewReader(msg), smtp.MailParams{})
	out := map[string]string{}
	for addr, e := range res.Refused {
		out[addr] = e.Error()
	}
	for i, p := range res.Accepted {
		if i < len(res.LMTP) {
			out[p.String()] = res.LMTP[i].String()
		}
	}
	_ = c.Quit()
	return out
}

func mustPath(t *testing.T, s string) mail.Path {
	t.Helper()
	p, err := mail.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// inbox returns the messages of addr's INBOX, read whole.
func (l *lab) inbox(addr string) []string {
	l.t.Helper()
	msgs, err := l.store.List(addr)
	if err != nil {
		l.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := l.store.Read(m)
		if err != nil {
			l.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// folder returns the messages of a folder of addr, read whole; nil when
// the folder does not exist.
func (l *lab) folder(addr, name string) []string {
	l.t.Helper()
	u, err := l.store.User(addr)
	if err != nil {
		l.t.Fatal(err)
	}
	f, err := u.Folder(name)
	if err != nil {
		return nil
	}
	msgs, err := f.Messages()
	if err != nil {
		l.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		b, err := f.Read(m.UID, 0)
		if err != nil {
			l.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// notes returns the transcript's notes.
func (l *lab) notes() []string {
	var out []string
	for _, ev := range l.rec.Events() {
		if ev.Kind == transcripts.KindNote {
			out = append(out, ev.Line)
		}
	}
	return out
}

// hasNote reports whether a note contains every part, in one line.
func (l *lab) hasNote(parts ...string) bool {
	for _, n := range l.notes() {
		ok := true
		for _, p := range parts {
			if !strings.Contains(n, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (l *lab) wantNote(parts ...string) {
	l.t.Helper()
	if !l.hasNote(parts...) {
		l.t.Errorf("no note with %q; notes:\n%s", parts, strings.Join(l.notes(), "\n"))
	}
}

func script(t *testing.T, name, src string) *sieve.Script {
	t.Helper()
	s, err := sieve.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func message(headers ...string) string {
	return strings.Join(headers, "\r\n") + "\r\n\r\nHello.\r\n"
}

// removeAll deletes every message file of addr's INBOX, as a POP3 client
// would.
func removeAll(t *testing.T, store *mailbox.Store, addr string) {
	t.Helper()
	dir, _ := store.Maildir(addr)
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			if err := os.Remove(filepath.Join(dir, sub, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}
