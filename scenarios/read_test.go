package scenarios

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/transcripts"
)

// devices is base with Bob's two devices.
var devices = strings.Replace(base, "steps:\n", `  - {name: bob-laptop, kind: mua, user: bob@example.test}
  - {name: bob-phone, kind: mua, user: bob@example.test}
steps:
`, 1)

func TestParseReadingSteps(t *testing.T) {
	sc, err := Parse("ok.yaml", []byte(devices+`  - pop3: {as: bob-laptop, via: mda.example.test, expect: {downloaded: 2, left: 0}}
  - pop3: {as: bob-phone, via: mda.example.test, delete: false, apop: true, expect: "-ERR [IN-USE]"}
  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: Hi}}
  - imap: {as: bob-phone, via: mda.example.test, do: move, folder: Work/2026, message: 2, to: Archive}
  - imap: {as: bob-laptop, via: mda.example.test, do: list, message: {uid: 7}, expect: {count: 1, flags: [\Seen], subjects: [Hi]}}
  - imap:
      as: bob-phone
      via: mda.example.test
      do: idle
      timeout: 2s
      while:
        - send: {as: laptop, via: mx.example.test, to: bob@example.test}
      expect: {count: 3}
  - expect: {device: bob-phone, count: 0}
  - expect: {mailbox: bob@example.test, folder: Archive, message: {subject: Hi}, flags: [\Seen], no_flags: [\Deleted], maildir_flags: S}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := sc.Steps[0].POP3
	if !p.Delete || p.APOP || p.Expect.Downloaded != 2 || p.Expect.Left != 0 || p.Expect.Skipped != -1 || p.Refusal != nil {
		t.Errorf("pop3 defaults: %+v %+v", p, p.Expect)
	}
	p = sc.Steps[1].POP3
	if p.Delete || !p.APOP || p.Refusal == nil || p.Refusal.String() != "-ERR [IN-USE]" || p.Refusal.Pos.String() != "ok.yaml:13:85" {
		t.Errorf("pop3 refusal: %+v %+v", p, p.Refusal)
	}
	im := sc.Steps[2].IMAP
	if im.Do != IMAPRead || im.Folder != "" || !im.Message.BySubj || im.Message.Subject != "Hi" || im.Timeout != DefaultWaitTimeout {
		t.Errorf("imap read: %+v", im)
	}
	if im := sc.Steps[3].IMAP; im.Message.Position != 2 || im.To != "Archive" || im.Folder != "Work/2026" {
		t.Errorf("imap move: %+v", im)
	}
	e := sc.Steps[4].IMAP.Expect
	if sc.Steps[4].IMAP.Message.UID != 7 || e.Count != 1 || !cmp.Equal(e.Flags, []string{`\Seen`}) || !e.HasSubjects {
		t.Errorf("imap list expect: %+v", e)
	}
	idle := sc.Steps[5].IMAP
	if idle.Timeout != 2*time.Second || len(idle.While) != 1 || idle.While[0].Send == nil || idle.Expect.Count != 3 ||
		idle.While[0].Pos.String() != "ok.yaml:23:11" {
		t.Errorf("imap idle: %+v", idle)
	}
	if x := sc.Steps[7].Expect; x.Folder != "Archive" || x.Ref == nil || x.MaildirFlags == nil || *x.MaildirFlags != "S" || x.Count != -1 {
		t.Errorf("expect on the store: %+v", x)
	}
}

func TestParseReadingStepErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // devices + these steps, or a whole file when it starts with "!"
		want string
	}{
		{"pop3 via an mta", `  - pop3: {as: bob-laptop, via: mx.example.test}`,
			`f.yaml:12:33: via: mx.example.test is an mta; mail is read from an mda (POP3 and IMAP)`},
		{"pop3 as an mda", `  - pop3: {as: mda.example.test, via: mda.example.test}`,
			`f.yaml:12:16: as: mda.example.test is an mda; a device is an mua`},
		{"pop3 without via", `  - pop3: {as: bob-laptop}`,
			`f.yaml:12:5: pop3: via is missing`},
		{"pop3 delete that is not a bool", `  - pop3: {as: bob-laptop, via: mda.example.test, delete: yes please}`,
			`f.yaml:12:59: delete: expected true or false, found "yes please"`},
		{"pop3 unknown count", `  - pop3: {as: bob-laptop, via: mda.example.test, expect: {fetched: 2}}`,
			`f.yaml:12:60: unknown key "fetched" in pop3 expect (known: deleted, downloaded, left, skipped)`},
		{"pop3 expect an SMTP code", `  - pop3: {as: bob-laptop, via: mda.example.test, expect: 550}`,
			`f.yaml:12:59: expect: expected counts such as {downloaded: 2}, or a refusal such as "-ERR" or "-ERR [IN-USE]", found "550"`},
		{"user without a password", "!" + strings.Replace(devices, "{address: bob@example.test, password: bob}", "{address: bob@example.test}", 1) +
			`  - pop3: {as: bob-phone, via: mda.example.test}`,
			`f.yaml:12:16: as: bob-phone reads the mail of bob@example.test, who has no password (add password: to the user)`},
		{"imap unknown action", `  - imap: {as: bob-phone, via: mda.example.test, do: reed}`,
			`f.yaml:12:54: do: unknown action "reed" (known: list, read, mark_read, move, delete, idle)`},
		{"imap without do", `  - imap: {as: bob-phone, via: mda.example.test}`,
			`f.yaml:12:5: imap: do is missing`},
		{"imap read without message", `  - imap: {as: bob-phone, via: mda.example.test, do: read}`,
			`f.yaml:12:5: imap read: message is missing (a position such as 1, {subject: ...} or {uid: ...})`},
		{"imap move without to", `  - imap: {as: bob-phone, via: mda.example.test, do: move, message: 1}`,
			`f.yaml:12:5: imap move: to is missing (the folder to move the message into)`},
		{"imap move into its own folder", `  - imap: {as: bob-phone, via: mda.example.test, do: move, message: 1, to: inbox}`,
			`f.yaml:12:76: to: the message is in INBOX already`},
		{"imap bad folder", `  - imap: {as: bob-phone, via: mda.example.test, do: list, folder: "Work//2026"}`,
			`f.yaml:12:68: folder: "Work//2026" is not a folder name: use names such as Archive or Work/2026 (no *, %, empty parts, . or ..)`},
		{"imap to on a read", `  - imap: {as: bob-phone, via: mda.example.test, do: read, message: 1, to: Archive}`,
			`f.yaml:12:76: to: only a move has a destination (not do: read)`},
		{"imap message with subject and uid", `  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: Hi, uid: 3}}`,
			`f.yaml:12:69: message: give exactly one of subject, uid`},
		{"imap message position 0", `  - imap: {as: bob-phone, via: mda.example.test, do: read, message: 0}`,
			`f.yaml:12:69: message: expected a position (1 is the oldest), {subject: ...} or {uid: ...}, found "0"`},
		{"imap unknown until", `  - imap: {as: bob-phone, via: mda.example.test, do: idle, until: mail}`,
			`f.yaml:12:67: until: unknown news "mail" (known: exists, expunge, flags, any)`},
		{"imap while on a list", "  - imap:\n      as: bob-phone\n      via: mda.example.test\n      do: list\n      while: [say: hi]",
			`f.yaml:16:14: while: only an idle runs steps meanwhile (not do: list)`},
		{"imap the idling device in while", "  - imap:\n      as: bob-phone\n      via: mda.example.test\n      do: idle\n      while:\n        - imap: {as: bob-phone, via: mda.example.test, do: list}",
			`f.yaml:17:22: as: bob-phone is idling; its session takes no other command until DONE (use another device)`},
		{"imap a mistake inside while", "  - imap:\n      as: bob-phone\n      via: mda.example.test\n      do: idle\n      while:\n        - send: {as: laptop, via: mda.example.test, to: bob@example.test}",
			`f.yaml:17:35: via: mda.example.test is an mda, which does not speak SMTP (send via an mta)`},
		{"imap flags without a message", `  - imap: {as: bob-phone, via: mda.example.test, do: list, expect: {flags: [\Seen]}}`,
			`f.yaml:12:76: flags: say which message (message: 1, {subject: ...} or {uid: ...})`},
		{"imap flags on an idle", `  - imap: {as: bob-phone, via: mda.example.test, do: idle, expect: {flags: [\Seen]}}`,
			`f.yaml:12:76: flags: checked by do: list, not idle`},
		{"imap unknown flag", `  - imap: {as: bob-phone, via: mda.example.test, do: list, message: 1, expect: {flags: [Seen]}}`,
			`f.yaml:12:88: flags: Seen is not a flag the lab keeps (\Seen, \Answered, \Flagged, \Deleted, \Draft, \Recent)`},
		{"imap expect an SMTP code", `  - imap: {as: bob-phone, via: mda.example.test, do: list, expect: "550 5.1.1"}`,
			`f.yaml:12:68: expect: expected checks such as {count: 2}, or a refusal such as NO or "NO [TRYCREATE]", found "550 5.1.1"`},
		{"expect mailbox and device", `  - expect: {mailbox: bob@example.test, device: bob-phone, count: 1}`,
			`f.yaml:12:49: expect: give mailbox or device, not both`},
		{"expect neither mailbox nor device", `  - expect: {count: 1}`,
			`f.yaml:12:5: expect: give mailbox (what the server holds) or device (what an mua downloaded)`},
		{"expect device that is an mta", `  - expect: {device: mx.example.test, count: 1}`,
			`f.yaml:12:22: device: mx.example.test is an mta; a device is an mua`},
		{"expect flags on a device", `  - expect: {device: bob-phone, count: 1, flags: [\Seen]}`,
			`f.yaml:12:50: flags: a device's local store is checked by count only`},
		{"expect bad maildir flags", `  - expect: {mailbox: bob@example.test, message: 1, maildir_flags: ":2,S"}`,
			`f.yaml:12:68: maildir_flags: ":2,S": the letters after ":2," are D, F, P, R, S and T`},
		{"expect recent on the store", `  - expect: {mailbox: bob@example.test, message: 1, flags: ["\\Recent"]}`,
			`f.yaml:12:60: flags: \Recent is not a flag the lab keeps (\Seen, \Answered, \Flagged, \Deleted, \Draft)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := devices + tt.file + "\n"
			if strings.HasPrefix(tt.file, "!") {
				file = tt.file[1:] + "\n"
			}
			sc, err := Parse("f.yaml", []byte(file))
			if err == nil {
				t.Fatalf("Parse succeeded (%d steps), want error:\n%s", len(sc.Steps), tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func failures(res *Result) []StepResult {
	var out []StepResult
	for _, r := range res.Steps {
		if !r.OK {
			out = append(out, r)
		}
	}
	return out
}

func TestFailingReadingExpectationsAreReportedWithPosition(t *testing.T) {
	sc, err := Parse("read.yaml", []byte(devices+`  - send: {as: laptop, via: mx.example.test, to: bob@example.test, subject: One, body: "1"}
  - send: {as: laptop, via: mx.example.test, to: bob@example.test, subject: Two, body: "2"}
  - wait: {mailbox: bob@example.test, count: 2}
  - pop3: {as: bob-laptop, via: mda.example.test, delete: false, expect: {downloaded: 2, left: 1}}
  - expect: {device: bob-laptop, count: 3}
  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: Two}}
  - imap: {as: bob-laptop, via: mda.example.test, do: list, message: {subject: One}, expect: {count: 2, flags: [\Seen]}}
  - expect: {mailbox: bob@example.test, message: {subject: Two}, flags: [\Flagged], maildir_flags: S}
  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: Three}}
  - imap: {as: bob-phone, via: mda.example.test, do: idle, timeout: 50ms}
  - imap: {as: bob-phone, via: mda.example.test, do: list, expect: {subjects: [One, Two]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{Now: fixedNow})
	res := runScenario(t, sc, opts)
	want := []StepResult{
		{Index: 4, Kind: "pop3", Pos: "read.yaml:15:96", Message: "expect 1 left on the server: got 2"},
		{Index: 5, Kind: "expect", Pos: "read.yaml:16:41", Message: `expect bob-laptop holds 3 downloaded messages: it holds 2 ("One", "Two")`},
		{Index: 7, Kind: "imap", Pos: "read.yaml:18:112", Message: `expect "One" is \Seen on bob-laptop: its flags are ()`},
		{Index: 8, Kind: "expect", Pos: "read.yaml:19:73", Message: `expect "Two" is \Flagged on the server: its flags are (\Seen)`},
		{Index: 9, Kind: "imap", Pos: "read.yaml:20:69", Message: `message {subject: "Three"} of INBOX: no message has that subject (it has "One", "Two")`},
		{Index: 10, Kind: "imap", Pos: "read.yaml:21:5", Message: "bob-phone idles until exists: no such news after 50ms"},
	}
	if diff := cmp.Diff(want, failures(res)); diff != "" {
		t.Errorf("failed steps (-want +got):\n%s", diff)
	}
	if n := len(res.Steps); n != len(sc.Steps) || !res.Steps[n-1].OK {
		t.Errorf("the session was not usable after a fruitless idle: %+v", res.Steps[n-1])
	}
	var notes []string
	for _, e := range opts.Recorder.Events() {
		if e.Kind == transcripts.KindNote && e.Agent == RunnerAgent && strings.Contains(e.Line, "FAILED") {
			notes = append(notes, e.Line)
		}
	}
	if len(notes) != 6 || !strings.HasSuffix(notes[2], "FAILED at read.yaml:18:112") {
		t.Errorf("transcript notes of failures = %q", notes)
	}
}

func TestPOP3RefusalInUse(t *testing.T) {
	sc, err := Parse("lock.yaml", []byte(devices+`  - pop3: {as: bob-phone, via: mda.example.test, expect: "-ERR [IN-USE]"}
  - pop3: {as: bob-phone, via: mda.example.test}
  - pop3: {as: bob-phone, via: mda.example.test, expect: "-ERR [AUTH]"}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lab, err := Start(ctx, sc, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop(ctx)
	// Another session holds Bob's maildrop (RFC 2449 section 8.1.1).
	u, err := lab.Store().User("bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := u.LockMaildrop()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	res, err := lab.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := failures(res)
	if len(got) != 2 || got[0].Index != 2 || !strings.HasPrefix(got[0].Message, "pop3: refused: -ERR [IN-USE] ") ||
		got[1].Index != 3 || got[1].Pos != "lock.yaml:14:58" || !strings.HasPrefix(got[1].Message, "pop3 refused with -ERR [AUTH]: got -ERR [IN-USE] ") {
		t.Errorf("failures: %+v", got)
	}
}

// TestIMAPSessionsEndWhenTheLabStops: the devices' sessions stay open
// across steps and are logged out, in order, by Stop; nothing is left
// running.
func TestIMAPSessionsEndWhenTheLabStops(t *testing.T) {
	sc, err := Parse("stop.yaml", []byte(devices+`  - imap: {as: bob-phone, via: mda.example.test, do: list}
  - imap: {as: bob-laptop, via: mda.example.test, do: list}
  - imap: {as: bob-phone, via: mda.example.test, do: list, folder: INBOX}
`))
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{Now: fixedNow})
	ctx := context.Background()
	lab, err := Start(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var opened, closed []string
	lines := func() []string {
		opened, closed = nil, nil
		var out []string
		for _, e := range opts.Recorder.Events() {
			if e.Proto != "imap" {
				continue
			}
			switch e.Kind {
			case transcripts.KindOpen:
				opened = append(opened, e.Client)
			case transcripts.KindClose:
				closed = append(closed, e.Client)
			case transcripts.KindLine:
				if e.DirText == "C" {
					out = append(out, e.Client+": "+e.Line)
				}
			}
		}
		return out
	}
	lines()
	if len(opened) != 2 || len(closed) != 0 {
		t.Fatalf("during the run: %d IMAP sessions opened (want one per device), %d closed", len(opened), len(closed))
	}
	if err := lab.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got := lines()
	if diff := cmp.Diff([]string{"bob-phone", "bob-laptop"}, closed); diff != "" {
		t.Errorf("sessions closed (-want +got):\n%s", diff)
	}
	if last := got[len(got)-2:]; last[0] != "bob-phone: a006 LOGOUT" || last[1] != "bob-laptop: a004 LOGOUT" {
		t.Errorf("last commands: %q", last)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestIdleWhileStepErrorEndsTheIdle: a while step that cannot be carried
// out stops the run, and the idle with it.
func TestIdleWhileStepErrorEndsTheIdle(t *testing.T) {
	sc, err := Parse("while.yaml", []byte(devices+`  - imap:
      as: bob-phone
      via: mda.example.test
      do: idle
      while:
        - send: {as: laptop, via: mx.example.test, to: bob@example.test}
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.BeforeCommand = func(agent, proto, line string) error {
		if agent == "laptop" && strings.HasPrefix(line, "MAIL") {
			return errStop
		}
		return nil
	}
	ctx := context.Background()
	lab, err := Start(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop(ctx)
	done := make(chan struct{})
	var res *Result
	go func() {
		defer close(done)
		res, err = lab.Run(ctx)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "while (while.yaml:17:11)") || len(res.Steps) != 1 {
		t.Errorf("Run = %+v, %v", res, err)
	}
}
