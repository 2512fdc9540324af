package mda_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3client"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpclient"
	"github.com/maillab/maillab/transcripts"
)

// readLab is an MDA serving LMTP, POP3 and IMAP on a Maildir in a
// temporary directory; start and stop it again to restart it on the same
// directory.
type readLab struct {
	t     *testing.T
	dir   string
	rec   *transcripts.Recorder
	store *mailbox.Store
	m     *mda.MDA
}

func newReadLab(t *testing.T) *readLab {
	t.Helper()
	l := &readLab{t: t, dir: t.TempDir(), rec: transcripts.NewRecorder(transcripts.Options{})}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *readLab) start() {
	l.t.Helper()
	store, err := mailbox.Open(l.dir)
	if err != nil {
		l.t.Fatal(err)
	}
	m, err := mda.New(mda.Config{
		Name:  "mda.b.test",
		Store: store,
		Users: []string{"bob@b.test", "carol@b.test", "dave@b.test", "dave@c.test", "nopass@b.test"},
		Passwords: map[string]string{
			"Bob@B.test": "bob-secret", "carol@b.test": "carol",
			"dave@b.test": "d1", "dave@c.test": "d2", "nopass@b.test": "",
		},
		POP3Listen: "127.0.0.1:0",
		IMAPListen: "127.0.0.1:0",
		POP3:       pop3server.Options{AuthFailDelay: -1},
		Recorder:   l.rec,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		l.t.Fatal(err)
	}
	l.store, l.m = store, m
}

func (l *readLab) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.m.Stop(ctx); err != nil {
		l.t.Error(err)
	}
}

// maildir is bob@b.test's Maildir.
func (l *readLab) maildir() string { return filepath.Join(l.dir, "b.test", "bob") }

// deliver sends one message to bob@b.test over LMTP.
func (l *readLab) deliver(subject string) {
	l.t.Helper()
	dial := l.rec.Dialer("mx.b.test", "lmtp", nil)
	c, err := smtpclient.Dial(context.Background(), dial, l.m.Endpoints()["lmtp"], smtpclient.Options{LMTP: true, LocalName: "mx.b.test"})
	if err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(""); err != nil {
		l.t.Fatal(err)
	}
	if err := c.Mail(mail.Path{Local: "alice", Domain: "a.test"}, smtp.MailParams{}); err != nil {
		l.t.Fatal(err)
	}
	if err := c.Rcpt(mail.Path{Local: "bob", Domain: "b.test"}); err != nil {
		l.t.Fatal(err)
	}
	if r, err := c.Cmd("DATA"); err != nil || r.Code != 354 {
		l.t.Fatalf("DATA: %v %v", r, err)
	}
	replies, err := c.SendDataLMTP(strings.NewReader("Subject: " + subject + "\r\n\r\nHello Bob.\r\n"))
	if err != nil || len(replies) != 1 || replies[0].Code != 250 {
		l.t.Fatalf("delivery: %v %v", replies, err)
	}
	if err := c.Quit(); err != nil {
		l.t.Error(err)
	}
}

// files returns the names of the files in a directory of bob's Maildir.
func (l *readLab) files(sub string) []string {
	l.t.Helper()
	ents, err := os.ReadDir(filepath.Join(l.maildir(), sub))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (l *readLab) pop3(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *pop3client.Client {
	l.t.Helper()
	if dial == nil {
		dial = l.rec.Dialer("bob-laptop", "pop3", nil)
	}
	c, err := pop3client.Dial(context.Background(), dial, l.m.Endpoints()["pop3"], pop3client.Options{})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	return c
}

func (l *readLab) imap(user, pass string, opts imapclient.Options) *imapclient.Client {
	l.t.Helper()
	dial := l.rec.Dialer("bob-laptop", "imap", nil)
	c, err := imapclient.Dial(context.Background(), dial, l.m.Endpoints()["imap"], opts)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass); err != nil {
		l.t.Fatal(err)
	}
	return c
}

func TestEndpoints(t *testing.T) {
	l := newReadLab(t)
	ep := l.m.Endpoints()
	for _, p := range []string{"lmtp", "pop3", "imap"} {
		if _, _, err := net.SplitHostPort(ep[p]); err != nil || strings.HasSuffix(ep[p], ":0") {
			t.Errorf("%s endpoint %q", p, ep[p])
		}
	}
	if len(ep) != 3 {
		t.Errorf("endpoints %v", ep)
	}
}

func TestLMTPOnlyByDefault(t *testing.T) {
	store, _ := mailbox.Open(t.TempDir())
	m, err := mda.New(mda.Config{Name: "m", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	if ep := m.Endpoints(); len(ep) != 1 || ep["lmtp"] == "" {
		t.Errorf("endpoints %v, want lmtp only", ep)
	}
}

func TestStartFailsWhenAPortIsTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	store, _ := mailbox.Open(t.TempDir())
	m, err := mda.New(mda.Config{Name: "m", Store: store, POP3Listen: "127.0.0.1:0", IMAPListen: busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen IMAP") {
		t.Errorf("Start: %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestConfigPasswordForUnknownUser(t *testing.T) {
	store, _ := mailbox.Open(t.TempDir())
	_, err := mda.New(mda.Config{Name: "m", Store: store, Users: []string{"bob@b.test"}, Passwords: map[string]string{"eve@b.test": "x"}})
	if err == nil || !strings.Contains(err.Error(), "eve@b.test") {
		t.Errorf("err = %v", err)
	}
}

func TestPOP3RetrDeleQuit(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	l.deliver("two")
	c := l.pop3(nil)
	if err := c.Login("bob@b.test", "bob-secret"); err != nil {
		t.Fatal(err)
	}
	// Login selected the INBOX: the files moved from new/ to cur/.
	cur := l.files("cur")
	if len(cur) != 2 || len(l.files("new")) != 0 {
		t.Fatalf("cur %v new %v", cur, l.files("new"))
	}
	uidl, err := c.UIDL()
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range uidl {
		// The unique-id is the file name before ":2,".
		if want := strings.TrimSuffix(cur[i], ":2,"); u.UID != want {
			t.Errorf("UIDL %d = %q, want %q", i+1, u.UID, want)
		}
	}
	for i, name := range cur {
		want, err := os.ReadFile(filepath.Join(l.maildir(), "cur", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Retr(i + 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("RETR %d (-file +got):\n%s", i+1, diff)
		}
	}
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	if got := l.files("cur"); len(got) != 2 {
		t.Errorf("DELE removed a file before QUIT: %v", got)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cur[1:], l.files("cur")); diff != "" {
		t.Errorf("after QUIT (-want +got):\n%s", diff)
	}
	// The lock was released before "+OK".
	c2 := l.pop3(nil)
	if err := c2.Login("bob", "bob-secret"); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c2.Stat(); err != nil || n != 1 {
		t.Errorf("STAT after QUIT: %d %v", n, err)
	}
}

func TestPOP3DroppedConnectionRemovesNothing(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	closed := make(chan struct{})
	var once sync.Once
	cancel := l.rec.Subscribe(func(ev transcripts.Event) {
		if ev.Proto == "pop3" && ev.Kind == transcripts.KindClose {
			once.Do(func() { close(closed) })
		}
	})
	defer cancel()
	// An untapped dialer: the only tap is the server's, which records the
	// close once the session has released the maildrop.
	c := l.pop3((&net.Dialer{}).DialContext)
	if err := c.Login("bob@b.test", "bob-secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(1); err != nil {
		t.Fatal(err)
	}
	c.Close() // no QUIT
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not end the session")
	}
	if got := l.files("cur"); len(got) != 1 {
		t.Errorf("cur after a dropped session: %v", got)
	}
	c2 := l.pop3(nil)
	if err := c2.Login("bob@b.test", "bob-secret"); err != nil {
		t.Fatalf("login after a dropped session: %v", err)
	}
}

func TestPOP3SecondLoginInUse(t *testing.T) {
	l := newReadLab(t)
	c := l.pop3(nil)
	if err := c.Login("bob@b.test", "bob-secret"); err != nil {
		t.Fatal(err)
	}
	err := l.pop3(nil).Login("bob", "bob-secret")
	var e *pop3.Error
	if !errors.Is(err, pop3.ErrInUse) || !errors.As(err, &e) || e.Code != "IN-USE" {
		t.Errorf("second login: %v", err)
	}
	// Another user is not locked out.
	if err := l.pop3(nil).Login("carol@b.test", "carol"); err != nil {
		t.Errorf("carol: %v", err)
	}
}

func TestPOP3Auth(t *testing.T) {
	l := newReadLab(t)
	for _, tc := range []struct{ user, pass string }{
		{"bob@b.test", "wrong"},
		{"nobody@b.test", "bob-secret"},
		{"dave", "d1"},         // two users are called dave
		{"nopass@b.test", "x"}, // no password: no login
	} {
		err := l.pop3(nil).Login(tc.user, tc.pass)
		if !errors.Is(err, pop3.ErrAuth) {
			t.Errorf("%s/%q: %v, want [AUTH]", tc.user, tc.pass, err)
		}
	}
	for _, tc := range []struct{ user, pass string }{
		{"BOB@B.TEST", "bob-secret"},
		{"carol", "carol"},
		{"dave@c.test", "d2"},
	} {
		c := l.pop3(nil)
		if err := c.Login(tc.user, tc.pass); err != nil {
			t.Errorf("%s: %v", tc.user, err)
		}
		c.Quit()
	}
	c := l.pop3(nil)
	if err := c.APOP("bob", "bob-secret"); err != nil {
		t.Errorf("APOP: %v", err)
	}
	c.Quit()
	if err := l.pop3(nil).APOP("bob", "wrong"); !errors.Is(err, pop3.ErrAuth) {
		t.Errorf("APOP with a wrong secret: %v", err)
	}
	// The transcript masks the password.
	for _, ev := range l.rec.Events() {
		if ev.Kind == transcripts.KindLine && strings.Contains(ev.Line, "bob-secret") && !ev.Secret {
			t.Errorf("password in the transcript: %q", ev.Line)
		}
	}
}

func TestIMAPSelectFetchStoreMoveRestart(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	c := l.imap("bob", "bob-secret", imapclient.Options{})
	st, err := c.Select("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists != 1 || st.Recent != 1 {
		t.Errorf("SELECT: EXISTS %d RECENT %d, want 1 1", st.Exists, st.Recent)
	}
	if diff := cmp.Diff([]string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}, st.PermanentFlags); diff != "" {
		t.Errorf("PERMANENTFLAGS (-want +got):\n%s", diff)
	}
	cur := l.files("cur")
	if len(cur) != 1 || !strings.HasSuffix(cur[0], ":2,") {
		t.Fatalf("cur after SELECT: %v", cur)
	}
	want, err := os.ReadFile(filepath.Join(l.maildir(), "cur", cur[0]))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Fetch("1", "(UID BODY.PEEK[])")
	if err != nil || len(res) != 1 {
		t.Fatalf("FETCH: %v %v", res, err)
	}
	if diff := cmp.Diff(string(want), string(res[0].Body["BODY[]"])); diff != "" {
		t.Errorf("BODY[] (-file +got):\n%s", diff)
	}
	uid := res[0].UID

	if _, err := c.Store("1", "+FLAGS", []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{cur[0] + "S"}, l.files("cur")); diff != "" {
		t.Errorf("after STORE \\Seen (-want +got):\n%s", diff)
	}
	// A keyword is not kept (no "\*" in PERMANENTFLAGS): nothing changes.
	if _, err := c.Store("1", "+FLAGS", []string{`$Forwarded`}); err != nil {
		t.Fatal(err)
	}
	if got := l.files("cur"); len(got) != 1 || !strings.HasSuffix(got[0], ":2,S") {
		t.Errorf("after STORE $Forwarded: %v", got)
	}

	if err := c.Create("Archive"); err != nil {
		t.Fatal(err)
	}
	inbox, err := c.Status("INBOX", "UIDNEXT", "UIDVALIDITY")
	if err != nil {
		t.Fatal(err)
	}
	cu, err := c.Move("1", "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if cu == nil || cu.Source != "1" {
		t.Errorf("COPYUID %+v", cu)
	}
	moved, _ := os.ReadDir(filepath.Join(l.maildir(), ".Archive", "cur"))
	if len(moved) != 1 || moved[0].Name() != cur[0]+"S" || len(l.files("cur")) != 0 {
		t.Errorf("after MOVE: .Archive/cur %v, cur %v", moved, l.files("cur"))
	}
	arch, err := c.Select("Archive")
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Fetch("1", "(UID FLAGS)")
	if err != nil || len(res) != 1 {
		t.Fatalf("FETCH in Archive: %v %v", res, err)
	}
	archUID := res[0].UID
	if err := c.Logout(); err != nil {
		t.Error(err)
	}

	// Restart on the same directory: a new Store, a new MDA, new ports.
	l.stop()
	l.start()
	c = l.imap("bob@b.test", "bob-secret", imapclient.Options{})
	arch2, err := c.Select("Archive")
	if err != nil {
		t.Fatal(err)
	}
	if arch2.UIDValidity != arch.UIDValidity || arch2.UIDNext != arch.UIDNext {
		t.Errorf("Archive after restart: UIDVALIDITY %d UIDNEXT %d, want %d %d", arch2.UIDValidity, arch2.UIDNext, arch.UIDValidity, arch.UIDNext)
	}
	res, err = c.Fetch("1", "(UID FLAGS)")
	if err != nil || len(res) != 1 || res[0].UID != archUID || !slices.Contains(res[0].Flags, `\Seen`) {
		t.Errorf("Archive message after restart: %+v %v, want UID %d \\Seen", res, err, archUID)
	}
	inbox2, err := c.Status("INBOX", "UIDNEXT", "UIDVALIDITY")
	if err != nil {
		t.Fatal(err)
	}
	if inbox2.UIDValidity != inbox.UIDValidity || inbox2.UIDNext != uid+1 {
		t.Errorf("INBOX after restart: %+v, want UIDVALIDITY %d UIDNEXT %d", inbox2, inbox.UIDValidity, uid+1)
	}
}

func TestIMAPExamineIsReadOnly(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	c := l.imap("bob", "bob-secret", imapclient.Options{})
	st, err := c.Examine("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if !st.ReadOnly || st.Exists != 1 || st.Recent != 1 {
		t.Errorf("EXAMINE: %+v", st)
	}
	if len(l.files("new")) != 1 {
		t.Errorf("EXAMINE moved new/ to cur/: new %v", l.files("new"))
	}
	if _, err := c.Store("1", "+FLAGS", []string{`\Seen`}); err == nil {
		t.Error("STORE in a read-only mailbox succeeded")
	}
}

func TestIMAPSessionsSeeEachOthersFlags(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	a := l.imap("bob", "bob-secret", imapclient.Options{})
	var mu sync.Mutex
	var news []imapclient.Update
	b := l.imap("bob@b.test", "bob-secret", imapclient.Options{OnUnilateral: func(u imapclient.Update) {
		mu.Lock()
		news = append(news, u)
		mu.Unlock()
	}})
	if _, err := a.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store("1", "+FLAGS", []string{`\Flagged`}); err != nil {
		t.Fatal(err)
	}
	if err := b.Noop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, u := range news {
		if u.Kind == imapclient.UpdateFetch && u.Num == 1 && u.Fetch != nil && slices.Contains(u.Fetch.Flags, `\Flagged`) {
			found = true
		}
	}
	if !found {
		t.Errorf("b's news after a's STORE: %v", news)
	}
}

func TestIMAPIdleSeesLMTPDelivery(t *testing.T) {
	l := newReadLab(t)
	c := l.imap("bob", "bob-secret", imapclient.Options{})
	if st, err := c.Select("INBOX"); err != nil || st.Exists != 0 {
		t.Fatalf("SELECT: %+v %v", st, err)
	}
	idling := make(chan struct{})
	var once sync.Once
	cancel := l.rec.Subscribe(func(ev transcripts.Event) {
		if ev.Proto == "imap" && ev.Kind == transcripts.KindLine && strings.HasPrefix(ev.Line, "+ ") {
			once.Do(func() { close(idling) })
		}
	})
	defer cancel()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	got := make(chan imapclient.Update, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Idle(ctx, func(u imapclient.Update) bool {
			got <- u
			return u.Kind != imapclient.UpdateExists
		})
	}()
	select {
	case <-idling:
	case <-ctx.Done():
		t.Fatal("no IDLE continuation")
	}
	l.deliver("while idling")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(got)
	var exists []string
	for u := range got {
		exists = append(exists, u.String())
	}
	if !slices.Contains(exists, "1 EXISTS") {
		t.Errorf("news during IDLE: %v", exists)
	}
}

func TestIMAPListAndLsub(t *testing.T) {
	l := newReadLab(t)
	c := l.imap("bob", "bob-secret", imapclient.Options{})
	if err := c.Create("Archive/2024"); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Archive"); err == nil {
		t.Error("CREATE of an existing folder succeeded")
	} else if e := new(imapclient.Error); !errors.As(err, &e) || e.Code != "ALREADYEXISTS" {
		t.Errorf("CREATE Archive again: %v", err)
	}
	// Deleting a folder with inferiors leaves a \Noselect name.
	if err := c.Delete("Archive"); err != nil {
		t.Fatal(err)
	}
	list := func(got []imapclient.ListEntry, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range got {
			b.WriteString(e.Name + " (" + strings.Join(e.Attributes, " ") + ")\n")
		}
		return b.String()
	}
	want := "INBOX (\\HasNoChildren)\nArchive (\\Noselect \\HasChildren)\nArchive/2024 (\\HasNoChildren)\n"
	if diff := cmp.Diff(want, list(c.List("", "*"))); diff != "" {
		t.Errorf(`LIST "" "*" (-want +got):\n%s`, diff)
	}
	want = "INBOX (\\HasNoChildren)\nArchive (\\Noselect \\HasChildren)\n"
	if diff := cmp.Diff(want, list(c.List("", "%"))); diff != "" {
		t.Errorf(`LIST "" "%%" (-want +got):\n%s`, diff)
	}
	want = "Archive/2024 (\\HasNoChildren)\n"
	if diff := cmp.Diff(want, list(c.List("Archive/", "%"))); diff != "" {
		t.Errorf(`LIST "Archive/" "%%" (-want +got):\n%s`, diff)
	}
	if err := c.Subscribe("Archive/2024"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("Archive/2024 ()\n", list(c.Lsub("", "*"))); diff != "" {
		t.Errorf(`LSUB "" "*" (-want +got):\n%s`, diff)
	}
	if diff := cmp.Diff("Archive (\\Noselect)\n", list(c.Lsub("", "%"))); diff != "" {
		t.Errorf(`LSUB "" "%%" (-want +got):\n%s`, diff)
	}
	if err := c.Delete("INBOX"); err == nil {
		t.Error("DELETE INBOX succeeded")
	} else if e := new(imapclient.Error); !errors.As(err, &e) || e.Code != "CANNOT" {
		t.Errorf("DELETE INBOX: %v", err)
	}
	_, err := c.Append("Nowhere", nil, time.Time{}, []byte("Subject: x\r\n\r\nx\r\n"))
	if e := new(imapclient.Error); !errors.As(err, &e) || e.Code != "TRYCREATE" {
		t.Errorf("APPEND to a missing folder: %v", err)
	}
}

func TestIMAPLoginNames(t *testing.T) {
	l := newReadLab(t)
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"bob", "bob-secret", true},
		{"BOB@b.test", "bob-secret", true},
		{"bob", "wrong", false},
		{"dave", "d1", false}, // ambiguous: dave@b.test and dave@c.test
		{"dave@c.test", "d2", true},
		{"nopass", "", false},
		{"nopass", "x", false},
	} {
		dial := l.rec.Dialer("bob-laptop", "imap", nil)
		c, err := imapclient.Dial(context.Background(), dial, l.m.Endpoints()["imap"], imapclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Login(tc.user, tc.pass)
		c.Close()
		var e *imapclient.Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.user, err)
		case !tc.ok && (!errors.As(err, &e) || e.Code != "AUTHENTICATIONFAILED"):
			t.Errorf("%s/%q: %v, want NO [AUTHENTICATIONFAILED]", tc.user, tc.pass, err)
		}
	}
	// The server's note names the Maildir the login opened.
	found := false
	for _, ev := range l.rec.Events() {
		if ev.Kind == transcripts.KindNote && ev.Line == "logged in as bob@b.test" {
			found = true
		}
	}
	if !found {
		t.Error(`no note "logged in as bob@b.test"`)
	}
}

func TestIMAPFolderNameCannotEscape(t *testing.T) {
	l := newReadLab(t)
	l.deliver("one")
	c := l.imap("bob", "bob-secret", imapclient.Options{})
	bad := []string{"../x", "a/../../x", "../../../x", "/x", "a//x", "INBOX/../x"}
	for _, name := range bad {
		err := c.Create(name)
		var e *imapclient.Error
		if !errors.As(err, &e) || e.Status != "NO" {
			t.Errorf("CREATE %q: %v, want NO", name, err)
		}
		if _, err := c.Select(name); err == nil {
			t.Errorf("SELECT %q succeeded", name)
		}
		if _, err := c.Append(name, nil, time.Time{}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
			t.Errorf("APPEND %q succeeded", name)
		}
		if err := c.Rename("INBOX", name); err == nil {
			t.Errorf("RENAME INBOX %q succeeded", name)
		}
	}
	if _, err := c.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy("1", "../x"); err == nil {
		t.Error(`COPY to "../x" succeeded`)
	}
	// Nothing named x anywhere, and nothing new beside bob's Maildir.
	err := filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); n == "x" || n == ".x" || strings.HasPrefix(n, "..maillab") {
			t.Errorf("found %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	top, _ := os.ReadDir(l.dir)
	var names []string
	for _, e := range top {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"b.test"}, names); diff != "" {
		t.Errorf("store root (-want +got):\n%s", diff)
	}
	if n := l.files("cur"); len(n) != 1 {
		t.Errorf("INBOX after the attempts: %v", n)
	}
}
