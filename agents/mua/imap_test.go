package mua

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/imap/imapserver"
	"github.com/maillab/maillab/transcripts"
)

// startIMAP serves a memory backend with bob's INBOX holding msgs, on
// loopback, tapped by rec as mx.b.test.
func startIMAP(t *testing.T, rec *transcripts.Recorder, msgs ...[]byte) (*imapserver.MemoryBackend, string) {
	t.Helper()
	be := imapserver.NewMemoryBackend()
	be.AddUser("bob", "s3cret-pw")
	for _, m := range msgs {
		if _, err := be.Deliver("bob", "INBOX", m); err != nil {
			t.Fatal(err)
		}
	}
	l := tapped(t, rec, "mx.b.test", "imap")
	srv := imapserver.New(imapserver.Options{}, be)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return be, l.Addr().String()
}

// connect opens an IMAP session for a new device called name.
func connect(t *testing.T, rec *transcripts.Recorder, addr, name string) *IMAPSession {
	t.Helper()
	s, err := newDevice(t, name, rec, nil).IMAP(t.Context(), addr, "bob", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, s *IMAPSession, folder string) []Summary {
	t.Helper()
	l, err := s.Messages(folder)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func summarySubject(s Summary) string { return s.Subject }

func TestIMAPReadOnOneDeviceIsSeenOnTheOther(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	lunch := message(t, "Lunch", "At noon?")
	_, addr := startIMAP(t, rec, lunch, message(t, "Reunión mañana", "¿Vienes?"))
	laptop := connect(t, rec, addr, "bob-laptop")
	phone := connect(t, rec, addr, "bob-phone")

	before := list(t, laptop, "INBOX")
	if got := subjects(before, summarySubject); !slices.Equal(got, []string{"Lunch", "Reunión mañana"}) {
		t.Fatalf("laptop lists %q", got)
	}
	first := before[0]
	if first.Has(`\Seen`) || first.From != "Alice Ruiz <alice@a.test>" || first.Size != int64(len(lunch)) ||
		first.Date != "Thu, 15 Jan 2026 10:30:00 +0100" {
		t.Errorf("first message: %+v", first)
	}

	raw, err := phone.Read("INBOX", first.UID)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(lunch) {
		t.Errorf("phone read %q", raw)
	}
	after := list(t, laptop, "INBOX")
	if !after[0].Has(`\Seen`) || after[1].Has(`\Seen`) {
		t.Errorf("laptop after the phone read message 1: %+v", after)
	}
	// The laptop was told, without asking for the list of flags.
	news := laptop.News()
	if !slices.ContainsFunc(news, func(u Update) bool {
		return u.Kind == imapclient.UpdateFetch && u.Fetch != nil && u.Fetch.UID == first.UID && slices.Contains(u.Fetch.Flags, `\Seen`)
	}) {
		t.Errorf("laptop's news %v: no FETCH with \\Seen", news)
	}

	// And the other way round, without reading.
	if err := laptop.MarkRead("INBOX", after[1].UID); err != nil {
		t.Fatal(err)
	}
	if l := list(t, phone, "INBOX"); !l[1].Has(`\Seen`) {
		t.Errorf("phone after the laptop marked message 2 read: %+v", l)
	}
	if err := laptop.MarkRead("INBOX", 99); err == nil || !strings.HasPrefix(err.Error(), "mua bob-laptop: IMAP UID STORE 99 ") {
		t.Errorf("MarkRead of a missing UID: %v", err)
	}

	lines := clientLines(rec, "bob-phone")
	for _, want := range []string{"C: a001 LOGIN bob s3cret-pw (secret)", "C: a002 SELECT INBOX", "C: a003 UID FETCH 1 (BODY[])"} {
		if !slices.Contains(lines, want) {
			t.Errorf("phone's lines lack %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

func TestIMAPMoveAndDeleteShowOnBothDevices(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec, message(t, "one", "1"), message(t, "two", "2"), message(t, "three", "3"))
	laptop := connect(t, rec, addr, "bob-laptop")
	phone := connect(t, rec, addr, "bob-phone")
	inbox := list(t, laptop, "INBOX")

	// Archive does not exist: the phone is told TRYCREATE and creates it.
	if err := phone.Move("INBOX", inbox[0].UID, "Archive"); err != nil {
		t.Fatal(err)
	}
	if got := subjects(list(t, laptop, "INBOX"), summarySubject); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("laptop's INBOX after the move: %q", got)
	}
	if !slices.ContainsFunc(laptop.News(), func(u Update) bool { return u.Kind == imapclient.UpdateExpunge }) {
		t.Error("the laptop was not told of the EXPUNGE")
	}
	folders, err := laptop.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(folders, func(f Folder) bool { return f.Name == "Archive" }) {
		t.Errorf("laptop's folders: %+v", folders)
	}
	if got := subjects(list(t, laptop, "Archive"), summarySubject); !slices.Equal(got, []string{"one"}) {
		t.Errorf("laptop's Archive: %q", got)
	}
	// Moving to an existing folder needs no CREATE.
	if err := phone.Move("INBOX", inbox[1].UID, "Archive"); err != nil {
		t.Fatal(err)
	}
	if got := subjects(list(t, laptop, "Archive"), summarySubject); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("laptop's Archive: %q", got)
	}

	if err := laptop.Delete("INBOX", inbox[2].UID); err != nil {
		t.Fatal(err)
	}
	if l := list(t, phone, "INBOX"); len(l) != 0 {
		t.Errorf("phone's INBOX after the laptop deleted: %+v", l)
	}

	lines := clientLines(rec, "bob-phone")
	if i := slices.Index(lines, "C: a004 CREATE Archive"); i < 1 || lines[i-1] != "C: a003 UID MOVE 1 Archive" || lines[i+1] != "C: a005 UID MOVE 1 Archive" {
		t.Errorf("phone's lines: MOVE, CREATE, MOVE expected:\n%s", strings.Join(lines, "\n"))
	}
	lines = clientLines(rec, "bob-laptop")
	for _, want := range []string{`UID STORE 3 +FLAGS.SILENT (\Deleted)`, "UID EXPUNGE 3"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, want) }) {
			t.Errorf("laptop's lines lack %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// whenIdling calls fn once the server has told agent "+ idling".
func whenIdling(t *testing.T, rec *transcripts.Recorder, agent string, fn func()) <-chan struct{} {
	idling := make(chan struct{}, 1)
	cancel := rec.Subscribe(func(e transcripts.Event) {
		if e.Kind == transcripts.KindLine && e.Client == agent && e.DirText == "S" && strings.HasPrefix(e.Line, "+ ") {
			select {
			case idling <- struct{}{}:
			default:
			}
		}
	})
	t.Cleanup(cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-idling:
			fn()
		case <-t.Context().Done():
		}
	}()
	return done
}

func isExists(u Update) bool { return u.Kind == imapclient.UpdateExists }

func TestIMAPIdleReturnsOnNewMail(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	be, addr := startIMAP(t, rec, message(t, "one", "1"))
	laptop := connect(t, rec, addr, "bob-laptop")
	phone := connect(t, rec, addr, "bob-phone")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// The MDA delivers while the phone idles.
	done := whenIdling(t, rec, "bob-phone", func() {
		if _, err := be.Deliver("bob", "INBOX", message(t, "two", "2")); err != nil {
			t.Error(err)
		}
	})
	got, err := phone.Idle(ctx, "INBOX", isExists)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1].String() != "2 EXISTS" {
		t.Errorf("Idle returned %v, want 2 EXISTS last", got)
	}

	// The laptop saves a message into the INBOX while the phone idles.
	done = whenIdling(t, rec, "bob-phone", func() {
		if _, err := laptop.Append("INBOX", message(t, "three", "3")); err != nil {
			t.Error(err)
		}
	})
	got, err = phone.Idle(ctx, "INBOX", isExists)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1].String() != "3 EXISTS" {
		t.Errorf("Idle returned %v, want 3 EXISTS last", got)
	}
	if got := subjects(list(t, phone, "INBOX"), summarySubject); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("phone's INBOX: %q", got)
	}

	want := []string{"C: a003 IDLE", "C: DONE", "C: a004 IDLE", "C: DONE"}
	if diff := cmp.Diff(want, clientLines(rec, "bob-phone")[2:6]); diff != "" {
		t.Errorf("phone's lines (-want +got):\n%s", diff)
	}
}

func TestIMAPIdleUntilCtxEnds(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec)
	phone := connect(t, rec, addr, "bob-phone")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := phone.Idle(ctx, "INBOX", isExists); !errors.Is(err, context.Canceled) ||
		!strings.HasPrefix(err.Error(), "mua bob-phone: IMAP IDLE") {
		t.Errorf("Idle with an ended ctx: %v", err)
	}
	// The ctx ends while idling: no news awaited is no error.
	ctx, cancel = context.WithCancel(t.Context())
	done := whenIdling(t, rec, "bob-phone", cancel)
	got, err := phone.Idle(ctx, "INBOX", nil)
	<-done
	if err != nil || len(got) != 0 {
		t.Errorf("Idle until ctx ends = %v, %v", got, err)
	}
	// With news awaited it is.
	ctx, cancel = context.WithCancel(t.Context())
	done = whenIdling(t, rec, "bob-phone", cancel)
	_, err = phone.Idle(ctx, "INBOX", isExists)
	<-done
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "mua bob-phone: IMAP IDLE INBOX: no awaited news") {
		t.Errorf("Idle for news that never came: %v", err)
	}
	// The session is still usable.
	if l := list(t, phone, "INBOX"); len(l) != 0 {
		t.Errorf("INBOX: %+v", l)
	}
	if err := phone.Logout(); err != nil {
		t.Error(err)
	}
}

func TestIMAPErrorsNameTheDeviceAndTheStep(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec)
	alice := newDevice(t, "alice-phone", rec, nil)

	_, err := alice.IMAP(t.Context(), addr, "bob", "guess-pw")
	var ie *imapclient.Error
	if !errors.As(err, &ie) || ie.Status != "NO" || !strings.HasPrefix(err.Error(), "mua alice-phone: IMAP LOGIN bob: NO ") ||
		strings.Contains(err.Error(), "guess-pw") {
		t.Errorf("wrong password: %v", err)
	}

	s, err := alice.IMAP(t.Context(), addr, "bob", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select("Archive"); err == nil || !strings.HasPrefix(err.Error(), "mua alice-phone: IMAP SELECT Archive: NO ") {
		t.Errorf("SELECT of a missing folder: %v", err)
	}
	if _, err := s.Read("INBOX", 7); err == nil || !strings.HasPrefix(err.Error(), "mua alice-phone: IMAP UID FETCH 7 (BODY[]): no message") {
		t.Errorf("Read of a missing UID: %v", err)
	}
	for _, e := range rec.Events() {
		if strings.Contains(e.Line, "guess-pw") && !e.Secret {
			t.Errorf("password in an event not marked secret: %+v", e)
		}
	}
}

func TestIMAPStepMode(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec, message(t, "one", "1"))

	var seen []string
	laptop := newDevice(t, "bob-laptop", rec, func(line string) error {
		seen = append(seen, line)
		return nil
	})
	msgs, err := laptop.FetchIMAP(t.Context(), addr, "bob", "s3cret-pw", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Subject != "one" || !strings.HasSuffix(string(msgs[0].Raw), "\r\n1\r\n") {
		t.Errorf("FetchIMAP = %+v", msgs)
	}
	want := []string{
		"a001 LOGIN bob ***",
		"a002 SELECT INBOX",
		"a003 UID FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)",
		"a004 UID FETCH 1 (BODY[])",
		"a005 LOGOUT",
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}

	errStop := errors.New("step mode: stopped")
	phone := newDevice(t, "bob-phone", rec, func(string) error { return errStop })
	if _, err := phone.IMAP(t.Context(), addr, "bob", "s3cret-pw"); !errors.Is(err, errStop) ||
		!strings.HasPrefix(err.Error(), "mua bob-phone: IMAP before a001 LOGIN bob ***: ") {
		t.Errorf("err = %v, want the step-mode error", err)
	}
	if lines := clientLines(rec, "bob-phone"); len(lines) != 0 {
		t.Errorf("the phone sent %q", lines)
	}
}

func TestFetchIMAPLeavesMailSeenOnTheServer(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec, message(t, "one", "1"), message(t, "two", "2"))
	phone := connect(t, rec, addr, "bob-phone")
	laptop := newDevice(t, "bob-laptop", rec, nil)
	msgs, err := laptop.FetchIMAP(t.Context(), addr, "bob", "s3cret-pw", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(msgs, func(m IMAPMessage) string { return m.Subject }); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("FetchIMAP read %q", got)
	}
	l := list(t, phone, "INBOX")
	if len(l) != 2 || !l[0].Has(`\Seen`) || !l[1].Has(`\seen`) {
		t.Errorf("phone's INBOX: %+v", l)
	}
	if len(laptop.Local()) != 0 {
		t.Error("an IMAP read filled the local store")
	}
}

func TestStopEndsOpenSessions(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	_, addr := startIMAP(t, rec)
	phone := newDevice(t, "bob-phone", rec, nil)
	s, err := phone.IMAP(t.Context(), addr, "bob", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lines := clientLines(rec, "bob-phone"); lines[len(lines)-1] != "C: a002 LOGOUT" {
		t.Errorf("phone's lines: %q", lines)
	}
	if _, err := s.List(); err == nil {
		t.Error("List after Stop worked")
	}
}
