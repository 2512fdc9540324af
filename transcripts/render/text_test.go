package render_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fatih/color"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

func renderText(t *testing.T, opts render.Options, evs []transcripts.Event) string {
	t.Helper()
	var b bytes.Buffer
	tx := render.NewText(&b, opts)
	for _, e := range evs {
		if err := tx.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pick returns the events of dialogue at the given indexes.
func pick(idx ...int) []transcripts.Event {
	all := dialogue()
	var out []transcripts.Event
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

func TestTextWithAndWithoutExplanations(t *testing.T) {
	evs := pick(1, 10, 11, 12)
	for _, tc := range []struct {
		name string
		opts render.Options
		want string
	}{
		{"plain", render.Options{}, `
#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
#1  alice      C: RCPT TO:<nobody@b.test>
#1  mx.a.test  S: 550 5.1.1 No such user
#1  alice      C: QUIT
`},
		{"explained en", render.Options{Explain: true, Lang: "en"}, `
#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
#1  alice      C: RCPT TO:<nobody@b.test>
                  # RCPT TO gives one envelope recipient (forward-path); the client sends one RCPT
                    per recipient and the server accepts or refuses each one (RFC 5321 §4.1.1.3).
#1  mx.a.test  S: 550 5.1.1 No such user
                  # 550: the request was refused permanently: the mailbox does not exist or is
                    unavailable, or policy forbids it (for example relaying denied); the client must
                    not repeat it (RFC 5321 §4.2.3, §3.6.2). Enhanced status 5.1.1: bad destination
                    mailbox, the user does not exist here (RFC 3463 §3.2).
#1  alice      C: QUIT
                  # The client says goodbye; the server must answer 221 and close the connection
                    (RFC 5321 §4.1.1.10).
`},
		{"explained es", render.Options{Explain: true, Lang: "es"}, `
#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
#1  alice      C: RCPT TO:<nobody@b.test>
                  # RCPT TO indica un destinatario del sobre (ruta directa); el cliente envía un
                    RCPT por destinatario y el servidor acepta o rechaza cada uno (RFC 5321
                    §4.1.1.3).
#1  mx.a.test  S: 550 5.1.1 No such user
                  # 550: la petición se rechaza de forma permanente: el buzón no existe o no está
                    disponible, o la política lo prohíbe (por ejemplo, retransmisión denegada); el
                    cliente no debe repetirla (RFC 5321 §4.2.3, §3.6.2). Código de estado ampliado
                    5.1.1: buzón de destino incorrecto, el usuario no existe aquí (RFC 3463 §3.2).
#1  alice      C: QUIT
                  # El cliente se despide; el servidor debe responder 221 y cerrar la conexión
                    (RFC 5321 §4.1.1.10).
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderText(t, tc.opts, evs)
			if diff := cmp.Diff(strings.TrimPrefix(tc.want, "\n"), got); diff != "" {
				t.Errorf("transcript (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColorIsExplicit(t *testing.T) {
	saved := color.NoColor
	defer func() { color.NoColor = saved }()
	evs := pick(1, 10, 11)
	for _, global := range []bool{true, false} {
		color.NoColor = global // must not matter
		plain := renderText(t, render.Options{Color: false}, evs)
		if strings.Contains(plain, "\x1b[") {
			t.Errorf("Color off (global NoColor %v) gave escapes: %q", global, plain)
		}
		colored := renderText(t, render.Options{Color: true}, evs)
		for _, want := range []string{
			"\x1b[36m#1  alice      C: RCPT TO:<nobody@b.test>\x1b[0m",        // client: cyan
			"\x1b[31;1m#1  mx.a.test  S: 550 5.1.1 No such user\x1b[0",        // error: bold red
			"\x1b[2m#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1", // open: faint
		} {
			if !strings.Contains(colored, want) {
				t.Errorf("Color on (global NoColor %v): no %q in\n%q", global, want, colored)
			}
		}
	}
	server := renderText(t, render.Options{Color: true}, pick(1, 2))
	if !strings.Contains(server, "\x1b[32m#1  mx.a.test  S: 220") {
		t.Errorf("server line not green: %q", server)
	}
}

func bodyEvents(n int, end bool) []transcripts.Event {
	evs := pick(1)
	for i := 1; i <= n; i++ {
		evs = append(evs, transcripts.Event{Conn: 1, Client: "alice", Server: "mx.a.test", Proto: "smtp",
			Kind: transcripts.KindLine, Dir: wire.ClientToServer, DirText: "C", Line: fmt.Sprintf("line %d", i), Bulk: true})
	}
	if end {
		evs = append(evs, transcripts.Event{Conn: 1, Client: "alice", Server: "mx.a.test", Proto: "smtp",
			Kind: transcripts.KindLine, Dir: wire.ClientToServer, DirText: "C", Line: "."})
	}
	return evs
}

func TestBulkElided(t *testing.T) {
	got := renderText(t, render.Options{Explain: true}, bodyEvents(8, true))
	want := `#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
#1  alice      C: line 1
#1  alice      C: line 2
#1  alice      C: line 3
#1  alice      C: line 4
#1  alice      C: line 5
#1  alice      C: … 3 more lines of message text
#1  alice      C: .
                  # A line with a single dot ends the message text; the server now answers whether
                    it takes responsibility for the message (RFC 5321 §4.1.1.4, §4.5.2).
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	// A body cut short: Flush says how much was not shown.
	got = renderText(t, render.Options{}, bodyEvents(7, false))
	if !strings.HasSuffix(got, "#1  alice      C: line 5\n#1  alice      C: … 2 more lines of message text\n") {
		t.Errorf("unterminated body:\n%s", got)
	}
	// ShowBulk shows everything, and a short body has no summary.
	got = renderText(t, render.Options{ShowBulk: true}, bodyEvents(8, true))
	if !strings.Contains(got, "C: line 8\n") || strings.Contains(got, "more lines") {
		t.Errorf("ShowBulk:\n%s", got)
	}
	got = renderText(t, render.Options{}, bodyEvents(5, true))
	if strings.Contains(got, "more lines") {
		t.Errorf("5-line body has a summary:\n%s", got)
	}
}

func TestSecretsMasked(t *testing.T) {
	secret := func(line string) transcripts.Event {
		return transcripts.Event{Conn: 1, Client: "alice", Server: "mx.a.test", Proto: "smtp",
			Kind: transcripts.KindLine, Dir: wire.ClientToServer, DirText: "C", Line: line, Secret: true}
	}
	evs := append(pick(1), secret("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), secret("YWxpY2U="))
	got := renderText(t, render.Options{}, evs)
	want := `#1  smtp  alice (127.0.0.1:40312) → mx.a.test (127.0.0.1:2525)
#1  alice      C: AUTH PLAIN ***
#1  alice      C: ***
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	got = renderText(t, render.Options{ShowSecrets: true}, evs)
	if !strings.Contains(got, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\n") || !strings.Contains(got, "C: YWxpY2U=\n") {
		t.Errorf("ShowSecrets:\n%s", got)
	}
}

func TestErrorRepliesOfEveryProtocol(t *testing.T) {
	for line, isErr := range map[string]bool{
		"550 5.1.1 no": true, "421-closing": true, "250 OK": false, "354 go": false,
		"-ERR no such message": true, "+OK": false, "a001 NO [AUTHENTICATIONFAILED]": true,
		"* BAD junk": true, "a001 OK done": false, "5": false,
	} {
		e := transcripts.Event{Conn: 1, Client: "c", Server: "s", Proto: "x", Kind: transcripts.KindLine,
			Dir: wire.ServerToClient, DirText: "S", Line: line}
		got := renderText(t, render.Options{Color: true}, []transcripts.Event{e})
		if strings.Contains(got, "\x1b[31;1m") != isErr {
			t.Errorf("%q: error color %v, want %v", line, !isErr, isErr)
		}
	}
}

func TestTextConcurrentWrites(t *testing.T) {
	var b bytes.Buffer
	tx := render.NewText(&b, render.Options{Explain: true})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range dialogue() {
				if err := tx.Write(e); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "C: QUIT\n"); got != 4 {
		t.Errorf("%d QUIT lines, want 4", got)
	}
}

func TestJSONLinesDecodeBack(t *testing.T) {
	evs := dialogue()
	for i := range evs {
		evs[i].Seq = int64(i + 1)
		evs[i].Time = time.Date(2024, 11, 26, 10, 0, i, 0, time.UTC)
	}
	evs[3].QueueID = "Q1"
	evs[4].Bulk, evs[5].Secret = true, true
	var b bytes.Buffer
	j := render.NewJSON(&b)
	j.ShowSecrets = true // a faithful round trip
	for _, e := range evs {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	var got []transcripts.Event
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		var e transcripts.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if diff := cmp.Diff(evs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// A JSON transcript masks passwords unless asked, like the text one.
func TestJSONMasksSecrets(t *testing.T) {
	var b bytes.Buffer
	j := render.NewJSON(&b)
	for _, e := range []transcripts.Event{
		{Kind: transcripts.KindLine, Proto: "pop3", Line: "PASS hunter2", Secret: true},
		{Kind: transcripts.KindLine, Proto: "imap", Line: "a001 LOGIN bob hunter2", Secret: true},
		{Kind: transcripts.KindLine, Proto: "smtp", Line: "AUTH PLAIN AGJvYgBodW50ZXIy", Secret: true},
	} {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "AGJvYgBodW50ZXIy") {
		t.Fatalf("a password reached the JSON transcript:\n%s", out)
	}
	for _, want := range []string{`"PASS ***"`, `"a001 LOGIN ***"`, `"AUTH PLAIN ***"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON lacks %s:\n%s", want, out)
		}
	}
}

func TestNormalize(t *testing.T) {
	ev := func(conn int, client, queue, line string) transcripts.Event {
		return transcripts.Event{Seq: 40, Time: time.Now(), Conn: conn, Client: client, Server: "mx.a.test",
			Kind: transcripts.KindLine, QueueID: queue, Line: line}
	}
	in := []transcripts.Event{
		ev(1, "127.0.0.1:40312", "", "127.0.0.1:40312 -> 127.0.0.1:2525"),
		ev(1, "127.0.0.1:40312", "4F2A1B", "250 2.0.0 Ok: queued as 4F2A1B"),
		ev(1, "127.0.0.1:40312", "4F2A1B", "Received: from a.test ([127.0.0.1]:40312) by mx.a.test id 4F2A1B; Tue, 26 Nov 2024 10:00:00 +0000"),
		ev(1, "127.0.0.1:40312", "", "Message-ID: <1732600000.77@a.test>"),
		ev(1, "127.0.0.1:40312", "", "References: <x1@a.test> <1732600000.77@a.test>"),
		ev(1, "127.0.0.1:40312", "", "Date: 26 Nov 2024 10:00 GMT"),
		ev(2, "[::1]:5000", "9C", "stored as new/1732600000.M123P45Q6.mda.b.test,S=123 and cur/1732600001.M7P8.host:2,S."),
		ev(2, "[::1]:5000", "9C", "again new/1732600000.M123P45Q6.mda.b.test,S=123 for 9C, not 9CX nor 127.0.0.1:2525"),
	}
	got := render.Normalize(in)
	want := []string{
		"127.0.0.1:PORT1 -> 127.0.0.1:PORT2",
		"250 2.0.0 Ok: queued as <QUEUEID1>",
		"Received: from a.test ([127.0.0.1]:PORT1) by mx.a.test id <QUEUEID1>; <DATE>",
		"Message-ID: <MSGID1>",
		"References: <MSGID2> <MSGID1>",
		"Date: <DATE>",
		"stored as new/<MAILDIR1> and cur/<MAILDIR2>.",
		"again new/<MAILDIR1> for <QUEUEID2>, not 9CX nor 127.0.0.1:PORT2",
	}
	var lines []string
	for i, e := range got {
		lines = append(lines, e.Line)
		if e.Seq != int64(i+1) || !e.Time.IsZero() {
			t.Errorf("event %d: Seq %d, Time %v", i, e.Seq, e.Time)
		}
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if got[1].QueueID != "<QUEUEID1>" || got[6].QueueID != "<QUEUEID2>" {
		t.Errorf("queue ids %q, %q", got[1].QueueID, got[6].QueueID)
	}
	if got[0].Client != "127.0.0.1:PORT1" || got[6].Client != "[::1]:PORT3" {
		t.Errorf("clients %q, %q", got[0].Client, got[6].Client)
	}
	if in[0].Line != "127.0.0.1:40312 -> 127.0.0.1:2525" {
		t.Error("Normalize changed its input")
	}
}

// TestRecordedDialogueRendersStably records a real exchange between two
// tapped lab agents on loopback and checks what the class would read.
func TestRecordedDialogueRendersStably(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	ln, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	l := rec.Listen(ln, "mx.a.test", "smtp")
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		r := bufio.NewReader(c)
		tr := wire.TracerOf(c)
		for _, step := range []string{"220 mx.a.test ESMTP", "<EHLO", "250 mx.a.test", "<MAIL", "250 2.1.0 OK", "<QUIT", "221 2.0.0 Bye"} {
			if strings.HasPrefix(step, "<") {
				if _, err := r.ReadString('\n'); err != nil {
					c.Close()
					served <- err
					return
				}
				if step == "<MAIL" {
					tr.State("Ready", "Mail")
				}
				continue
			}
			if _, err := io.WriteString(c, step+"\r\n"); err != nil {
				c.Close()
				served <- err
				return
			}
		}
		// Closed before the test reads the events: the close is recorded.
		c.Close()
		served <- nil
	}()
	c, err := rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for _, step := range []string{">", "EHLO a.test", ">", "MAIL FROM:<alice@a.test>", ">", "QUIT", ">"} {
		if step == ">" {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := io.WriteString(c, step+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	c.Close()
	got := renderText(t, render.Options{}, render.Normalize(rec.Events()))
	want := `#1  smtp  alice (127.0.0.1:PORT1) → mx.a.test (127.0.0.1:PORT2)
#1  mx.a.test  S: 220 mx.a.test ESMTP
#1  alice      C: EHLO a.test
#1  mx.a.test  S: 250 mx.a.test
#1  alice      C: MAIL FROM:<alice@a.test>
#1  mx.a.test  ·  Ready -> Mail
#1  mx.a.test  S: 250 2.1.0 OK
#1  alice      C: QUIT
#1  mx.a.test  S: 221 2.0.0 Bye
#1  smtp  closed by mx.a.test
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}
