package mua

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/pop3"
	"github.com/maillab/maillab/protocols/pop3/pop3server"
	"github.com/maillab/maillab/transcripts"
)

// Helpers shared by the reading tests.

// newDevice returns a MUA named name whose connections rec taps.
func newDevice(t *testing.T, name string, rec *transcripts.Recorder, before func(string) error) *MUA {
	t.Helper()
	cfg := Config{Name: name, Recorder: rec, Now: func() time.Time { return when }}
	if before != nil {
		cfg.BeforeCommand = func(_, line string) error { return before(line) }
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(context.Background()) })
	return m
}

// tapped listens on loopback with rec tapping the listener as agent.
func tapped(t *testing.T, rec *transcripts.Recorder, agent, proto string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return rec.Listen(l, agent, proto)
}

// clientLines returns the lines agent sent, as "C: line", with "(secret)"
// after those marked secret.
func clientLines(rec *transcripts.Recorder, agent string) []string {
	var out []string
	for _, e := range rec.Events() {
		if e.Kind != transcripts.KindLine || e.Client != agent || e.DirText != "C" {
			continue
		}
		s := "C: " + e.Line
		if e.Secret {
			s += " (secret)"
		}
		out = append(out, s)
	}
	return out
}

// message returns a message composed as Alice's MUA would.
func message(t *testing.T, subject, body string) []byte {
	t.Helper()
	b, err := Compose(Draft{
		From: "Alice Ruiz <alice@a.test>", To: []string{"bob@b.test"},
		Subject: subject, Body: body,
	}, "pc.a.test", when)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startPOP3 serves b on loopback, tapped by rec as mx.b.test.
func startPOP3(t *testing.T, rec *transcripts.Recorder, b *pop3server.MemoryBackend) string {
	t.Helper()
	l := tapped(t, rec, "mx.b.test", "pop3")
	srv := pop3server.New(pop3server.Options{AuthFailDelay: -1}, b)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func bobsMaildrop(t *testing.T, msgs ...[]byte) (*pop3server.MemoryBackend, []string) {
	t.Helper()
	b := &pop3server.MemoryBackend{}
	b.AddUser("bob", "s3cret-pw")
	var uids []string
	for _, m := range msgs {
		uids = append(uids, b.Deliver("bob", m))
	}
	return b, uids
}

func subjects[T any](list []T, subject func(T) string) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, subject(x))
	}
	return out
}

func localSubject(l LocalMessage) string { return l.Subject }

func TestFetchPOP3DeleteAfterDownloadEmptiesTheMaildrop(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	lunch := message(t, "Lunch", "At noon?")
	b, _ := bobsMaildrop(t, lunch, message(t, "Reunión mañana", "¿Vienes?"))
	addr := startPOP3(t, rec, b)
	laptop := newDevice(t, "bob-laptop", rec, nil)
	phone := newDevice(t, "bob-phone", rec, nil)

	res, err := laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Delete: true})
	if err != nil {
		t.Fatalf("laptop: %v", err)
	}
	if got, want := subjects(res.Messages, localSubject), []string{"Lunch", "Reunión mañana"}; !slices.Equal(got, want) {
		t.Errorf("laptop downloaded %q, want %q", got, want)
	}
	if res.Deleted != 2 || res.LeftOnServer != 0 || res.Skipped != 0 {
		t.Errorf("laptop result: deleted %d, left %d, skipped %d; want 2, 0, 0", res.Deleted, res.LeftOnServer, res.Skipped)
	}
	m := res.Messages[0]
	if m.From != "Alice Ruiz <alice@a.test>" || m.Date != "Thu, 15 Jan 2026 10:30:00 +0100" || m.UID == "" ||
		m.Size != int64(len(lunch)) || string(m.Raw) != string(lunch) {
		t.Errorf("first message: %+v", m)
	}
	if n := len(b.Messages("bob")); n != 0 {
		t.Errorf("the maildrop holds %d messages after QUIT, want 0", n)
	}

	res, err = phone.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Delete: true})
	if err != nil {
		t.Fatalf("phone: %v", err)
	}
	if len(res.Messages) != 0 || res.LeftOnServer != 0 {
		t.Errorf("phone downloaded %d, left %d; want an empty box", len(res.Messages), res.LeftOnServer)
	}
	if got, want := subjects(laptop.Local(), localSubject), []string{"Lunch", "Reunión mañana"}; !slices.Equal(got, want) {
		t.Errorf("laptop's local store: %q, want %q", got, want)
	}
	if n := len(phone.Local()); n != 0 {
		t.Errorf("phone's local store holds %d messages, want 0", n)
	}

	want := []string{
		"C: USER bob",
		"C: PASS s3cret-pw (secret)",
		"C: STAT",
		"C: UIDL",
		"C: RETR 1",
		"C: DELE 1",
		"C: RETR 2",
		"C: DELE 2",
		"C: QUIT",
	}
	if diff := cmp.Diff(want, clientLines(rec, "bob-laptop")); diff != "" {
		t.Errorf("laptop's lines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[:4], clientLines(rec, "bob-phone")[:4]); diff != "" {
		t.Errorf("phone's lines (-want +got):\n%s", diff)
	}
}

func TestFetchPOP3LeaveOnServerSkipsKnownUIDs(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	b, uids := bobsMaildrop(t, message(t, "one", "1"), message(t, "two", "2"), message(t, "three", "3"))
	addr := startPOP3(t, rec, b)
	laptop := newDevice(t, "bob-laptop", rec, nil)
	phone := newDevice(t, "bob-phone", rec, nil)

	// The laptop had message one from an earlier session.
	res, err := laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Seen: map[string]bool{uids[0]: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(res.Messages, localSubject); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("laptop downloaded %q, want two and three", got)
	}
	if res.Skipped != 1 || res.Deleted != 0 || res.LeftOnServer != 3 {
		t.Errorf("result: skipped %d, deleted %d, left %d; want 1, 0, 3", res.Skipped, res.Deleted, res.LeftOnServer)
	}
	if res.Messages[0].UID != uids[1] {
		t.Errorf("UID = %q, want %q", res.Messages[0].UID, uids[1])
	}
	if diff := cmp.Diff([]string{
		"C: USER bob", "C: PASS s3cret-pw (secret)", "C: STAT", "C: UIDL", "C: RETR 2", "C: RETR 3", "C: QUIT",
	}, clientLines(rec, "bob-laptop")); diff != "" {
		t.Errorf("laptop's lines (-want +got):\n%s", diff)
	}

	// Again: what it downloaded is in its local store now, so only the
	// message it had from elsewhere needs Seen.
	res, err = laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Seen: map[string]bool{uids[0]: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 0 || res.Skipped != 3 {
		t.Errorf("second session downloaded %d, skipped %d; want 0, 3", len(res.Messages), res.Skipped)
	}

	// Both devices get copies; nothing one does reaches the other.
	res, err = phone.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(res.Messages, localSubject); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("phone downloaded %q", got)
	}
	if n := len(b.Messages("bob")); n != 3 {
		t.Errorf("the maildrop holds %d messages, want 3", n)
	}
	if n := len(laptop.Local()); n != 2 {
		t.Errorf("laptop's local store holds %d, want 2", n)
	}

	// Switching to delete: the messages the laptop has go too.
	res, err = laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Delete: true, Seen: map[string]bool{uids[0]: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 0 || res.Deleted != 3 || res.LeftOnServer != 0 || len(b.Messages("bob")) != 0 {
		t.Errorf("delete run: downloaded %d, deleted %d, left %d", len(res.Messages), res.Deleted, res.LeftOnServer)
	}
}

func TestFetchPOP3APOP(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	b, _ := bobsMaildrop(t, message(t, "one", "1"))
	addr := startPOP3(t, rec, b)
	laptop := newDevice(t, "bob-laptop", rec, nil)
	res, err := laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{APOP: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Errorf("downloaded %d, want 1", len(res.Messages))
	}
	lines := clientLines(rec, "bob-laptop")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "C: APOP bob ") || strings.Contains(strings.Join(lines, "\n"), "s3cret-pw") {
		t.Errorf("lines = %q, want APOP first and no password", lines)
	}
}

func TestFetchPOP3WrongPasswordKeepsItOutOfTheError(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	b, _ := bobsMaildrop(t, message(t, "one", "1"))
	addr := startPOP3(t, rec, b)
	laptop := newDevice(t, "bob-laptop", rec, nil)
	res, err := laptop.FetchPOP3(t.Context(), addr, "bob", "guess-pw", POP3Options{Delete: true})
	if !errors.Is(err, pop3.ErrAuth) {
		t.Fatalf("err = %v, want [AUTH]", err)
	}
	if !strings.HasPrefix(err.Error(), "mua bob-laptop: POP3 PASS: ") || strings.Contains(err.Error(), "guess-pw") {
		t.Errorf("err = %q", err)
	}
	if res == nil || len(res.Messages) != 0 || res.Deleted != 0 {
		t.Errorf("result = %+v", res)
	}
	if n := len(b.Messages("bob")); n != 1 {
		t.Errorf("the maildrop holds %d, want 1", n)
	}
}

func TestFetchPOP3StepMode(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	b, _ := bobsMaildrop(t, message(t, "one", "1"))
	addr := startPOP3(t, rec, b)

	var seen []string
	laptop := newDevice(t, "bob-laptop", rec, func(line string) error {
		seen = append(seen, line)
		return nil
	})
	if _, err := laptop.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Delete: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"USER bob", "PASS ***", "STAT", "UIDL", "RETR 1", "DELE 1", "QUIT"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("BeforeCommand saw (-want +got):\n%s", diff)
	}

	// A class that stops at the first line: nothing is sent.
	b.Deliver("bob", message(t, "two", "2"))
	errStop := errors.New("step mode: stopped")
	phone := newDevice(t, "bob-phone", rec, func(string) error { return errStop })
	res, err := phone.FetchPOP3(t.Context(), addr, "bob", "s3cret-pw", POP3Options{Delete: true})
	if !errors.Is(err, errStop) || !strings.HasPrefix(err.Error(), "mua bob-phone: POP3 before USER bob: ") {
		t.Fatalf("err = %v, want the step-mode error", err)
	}
	if len(res.Messages) != 0 || len(phone.Local()) != 0 || len(b.Messages("bob")) != 1 {
		t.Errorf("after the abort: %+v, local %d, maildrop %d", res, len(phone.Local()), len(b.Messages("bob")))
	}
	if lines := clientLines(rec, "bob-phone"); len(lines) != 0 {
		t.Errorf("the phone sent %q", lines)
	}
}

func TestFetchPOP3Canceled(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	b, _ := bobsMaildrop(t, message(t, "one", "1"))
	addr := startPOP3(t, rec, b)
	ctx, cancel := context.WithCancelCause(t.Context())
	errBell := errors.New("class is over")
	laptop := newDevice(t, "bob-laptop", rec, func(line string) error {
		if line == "RETR 1" {
			cancel(errBell)
		}
		return nil
	})
	res, err := laptop.FetchPOP3(ctx, addr, "bob", "s3cret-pw", POP3Options{Delete: true})
	if !errors.Is(err, errBell) {
		t.Fatalf("err = %v, want the cause", err)
	}
	if res.LeftOnServer != 1 || len(b.Messages("bob")) != 1 {
		t.Errorf("left %d, maildrop %d; want 1, 1", res.LeftOnServer, len(b.Messages("bob")))
	}
}
