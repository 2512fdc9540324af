package scenarios

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/imap/imapclient"
	"github.com/maillab/maillab/protocols/pop3/pop3client"
	"github.com/maillab/maillab/transcripts"
)

// fixedNow is the lab clock of the tests: transcripts and Received dates
// render the same on every run.
func fixedNow() time.Time { return time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC) }

func testOptions(t *testing.T) Options {
	return Options{Dir: t.TempDir(), Now: fixedNow, IDs: SequentialIDs(), Repeatable: true}
}

// runScenario starts sc, runs it and stops it, failing t on errors.
func runScenario(t *testing.T, sc *Scenario, opts Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lab, err := Start(ctx, sc, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if err := lab.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	res, err := lab.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestEmbeddedScenariosRunAndPass(t *testing.T) {
	infos := List()
	if len(infos) < 2 {
		t.Fatalf("List() = %v, want the built-in scenarios", infos)
	}
	for _, info := range infos {
		t.Run(info.Name, func(t *testing.T) {
			sc, err := Load(info.Name)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if sc.Description == "" {
				t.Errorf("%s has no description", info.Name)
			}
			res := runScenario(t, sc, testOptions(t))
			for _, r := range res.Steps {
				if !r.OK {
					t.Errorf("step %d (%s) at %s failed: %s", r.Index, r.Kind, r.Pos, r.Message)
				}
			}
			if res.Failed != 0 || len(res.Steps) != len(sc.Steps) {
				t.Errorf("Failed = %d, %d of %d steps ran", res.Failed, len(res.Steps), len(sc.Steps))
			}
		})
	}
}

func TestDefaultIsEmbedded(t *testing.T) {
	if _, err := Load(Default); err != nil {
		t.Fatalf("Load(Default): %v", err)
	}
}

func TestLoadFileAndUnknownName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte(base+"  - say: hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := Load(path)
	if err != nil || sc.File != path {
		t.Fatalf("Load(%s) = %v, %v", path, sc, err)
	}
	_, err = Load("no-such-scenario")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no scenario called "no-such-scenario" (built in: first-message, lda-rules, open-relay-spam, pop-vs-imap, queue-and-retry, smarthost, smtp-mistakes, tls-and-auth, two-domains`) {
		t.Errorf("Load(unknown) error = %v", err)
	}
}

func TestFailingExpectationIsReportedWithPosition(t *testing.T) {
	sc, err := Parse("wrong.yaml", []byte(base+`  - send: {as: laptop, via: mx.example.test, to: bob@example.test, subject: Hi, body: Hello}
  - wait: {mailbox: bob@example.test}
  - expect:
      mailbox: bob@example.test
      count: 1
      headers: {Subject: Bye}
  - send: {as: laptop, via: mx.example.test, to: nobody@example.test, expect: 250}
  - expect: {mailbox: alice@example.test, count: 0}
  - wait: {mailbox: alice@example.test, count: 1, timeout: 50ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Recorder = transcripts.NewRecorder(transcripts.Options{Now: fixedNow})
	res := runScenario(t, sc, opts)
	if res.Failed != 3 {
		t.Errorf("Failed = %d, want 3", res.Failed)
	}
	want := []StepResult{
		{Index: 3, Kind: "expect", OK: false, Pos: "wrong.yaml:15:17", Message: "expect Subject: Bye: got Hi"},
		{Index: 4, Kind: "send", OK: false, Pos: "wrong.yaml:16:79", Message: "send refused with 250: got 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown"},
		{Index: 6, Kind: "wait", OK: false, Pos: "wrong.yaml:18:5", Message: "wait for 1 message in alice@example.test: 0 after 50ms"},
	}
	var got []StepResult
	for _, r := range res.Steps {
		if !r.OK {
			got = append(got, r)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failed steps (-want +got):\n%s", diff)
	}
	if !res.Steps[4].OK {
		t.Errorf("a failed expectation stopped later steps: %+v", res.Steps[4])
	}
	var notes []string
	for _, e := range opts.Recorder.Events() {
		if e.Kind == transcripts.KindNote && e.Agent == RunnerAgent && strings.Contains(e.Line, "FAILED") {
			notes = append(notes, e.Line)
		}
	}
	if len(notes) != 3 || !strings.HasSuffix(notes[0], "FAILED at wrong.yaml:15:17") {
		t.Errorf("transcript notes of failures = %q", notes)
	}
}

func TestStepErrorStopsTheRun(t *testing.T) {
	sc, err := Parse("hook.yaml", []byte(base+`  - say: before
  - send: {as: laptop, via: mx.example.test, to: bob@example.test}
  - say: after
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	var seen []string
	opts.BeforeCommand = func(agent, proto, line string) error {
		seen = append(seen, agent+": "+line)
		if strings.HasPrefix(line, "MAIL") {
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
	res, err := lab.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "step 2 (hook.yaml:11:5)") || !strings.Contains(err.Error(), errStop.Error()) {
		t.Fatalf("Run error = %v", err)
	}
	if len(res.Steps) != 2 || res.Steps[1].OK {
		t.Errorf("steps = %+v, want the run to end at step 2", res.Steps)
	}
	if len(seen) == 0 || !strings.HasPrefix(seen[0], "laptop: EHLO") {
		t.Errorf("BeforeCommand saw %q", seen)
	}
}

var errStop = &stopError{}

type stopError struct{}

func (*stopError) Error() string { return "stopped by the teacher" }

func TestPauseStep(t *testing.T) {
	sc, err := Parse("pause.yaml", []byte(base+"  - pause: look now\n  - say: after\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	var paused []string
	opts.Pause = func(text string) error { paused = append(paused, text); return nil }
	res := runScenario(t, sc, opts)
	if diff := cmp.Diff([]string{"look now"}, paused); diff != "" || len(res.Steps) != 2 {
		t.Errorf("pauses (-want +got):\n%s", diff)
	}
}

func TestStartFailureStopsWhatStarted(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// A port for the MDA that is free now; after the failed Start it must
	// be free again, or the MDA was left running.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mdaAddr := probe.Addr().String()
	probe.Close()
	file := strings.Replace(base, "kind: mda,", `kind: mda, listen: {lmtp: "`+mdaAddr+`"},`, 1)
	file = strings.Replace(file, "kind: mta,", `kind: mta, listen: {smtp: "`+busy.Addr().String()+`"},`, 1)
	sc, err := Parse("busy.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	lab, err := Start(context.Background(), sc, Options{})
	if err == nil {
		lab.Stop(context.Background())
		t.Fatal("Start succeeded on a busy port")
	}
	if !strings.Contains(err.Error(), "starting mta mx.example.test (busy.yaml:6:5)") {
		t.Errorf("error = %v", err)
	}
	l, err := net.Listen("tcp", mdaAddr)
	if err != nil {
		t.Errorf("the MDA still holds its port after a failed Start: %v", err)
	} else {
		l.Close()
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary lab directory left behind: %v", entries)
	}
}

func TestInfoJSON(t *testing.T) {
	sc, err := Load(Default)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	ctx := context.Background()
	lab, err := Start(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop(ctx)
	b, err := json.Marshal(lab.Info())
	if err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(string(b), "127.0.0.1:PORT")
	got = strings.ReplaceAll(got, filepath.Join(opts.Dir, "maildir"), "DIR")
	got = strings.ReplaceAll(got, opts.Dir, "LAB")
	want := `{"agents":[` +
		`{"name":"mx.example.test","kind":"mta","domains":["example.test"],"listen":{"smtp":"127.0.0.1:PORT"}},` +
		`{"name":"mda.example.test","kind":"mda","domains":["example.test"],"listen":{"imap":"127.0.0.1:PORT","lmtp":"127.0.0.1:PORT","pop3":"127.0.0.1:PORT"}},` +
		`{"name":"alice-laptop","kind":"mua","domains":[],"listen":{}}],` +
		`"users":[{"address":"alice@example.test","password":"alice"},{"address":"bob@example.test","password":"bob"}],` +
		`"maildir":"DIR","dir":"LAB","queues":[{"agent":"mx.example.test","dir":"LAB/queue/mx.example.test"}]}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Info JSON (-want +got):\n%s", diff)
	}
	if lab.Store() == nil {
		t.Error("Store() is nil")
	}
}

func TestPortBase(t *testing.T) {
	sc, err := Load(Default)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := planListeners(sc, Options{PortBase: 20000, Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"mx.example.test": {"smtp": "127.0.0.1:20000"},
		// An MDA's listeners in the kind's order: LMTP, POP3, IMAP.
		"mda.example.test": {"lmtp": "127.0.0.1:20001", "pop3": "127.0.0.1:20002", "imap": "127.0.0.1:20003"},
	}
	if diff := cmp.Diff(want, addrs); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
	if _, err := planListeners(sc, Options{PortBase: 65535, Host: "127.0.0.1"}); err == nil {
		t.Error("PortBase 65535 with four listeners accepted")
	}
}

func TestStartOrderPutsMDAFirst(t *testing.T) {
	sc, err := Load(Default)
	if err != nil {
		t.Fatal(err)
	}
	order, err := startOrder(sc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range order {
		names = append(names, a.Name)
	}
	if diff := cmp.Diff([]string{"mda.example.test", "mx.example.test", "alice-laptop"}, names); diff != "" {
		t.Errorf("start order (-want +got):\n%s", diff)
	}
}

func TestMDAServesPOP3AndIMAP(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pop3Addr := probe.Addr().String()
	probe.Close()
	file := strings.Replace(base, "kind: mda,", `kind: mda, listen: {pop3: "`+pop3Addr+`"},`, 1)
	sc, err := Parse("read.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lab, err := Start(ctx, sc, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop(ctx)
	listen := lab.Info().Agents[1].Listen
	if listen["pop3"] != pop3Addr || listen["imap"] == "" || listen["lmtp"] == "" {
		t.Errorf("mda listens on %v, want pop3 on %s", listen, pop3Addr)
	}
	dial := lab.Recorder().Dialer("laptop", "pop3", nil)
	p, err := pop3client.Dial(ctx, dial, pop3Addr, pop3client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The APOP timestamp comes from the lab's ids: the same on every run.
	if !regexp.MustCompile(` <[A-Z]\d{4}@mda\.example\.test>$`).MatchString(p.Greeting()) {
		t.Errorf("greeting %q", p.Greeting())
	}
	if err := p.Login("bob@example.test", "bob"); err != nil {
		t.Errorf("POP3 login with the scenario's password: %v", err)
	}
	dial = lab.Recorder().Dialer("laptop", "imap", nil)
	c, err := imapclient.Dial(ctx, dial, listen["imap"], imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "alice"); err != nil {
		t.Errorf("IMAP login with the scenario's password: %v", err)
	}
}

// max_connections bounds the sessions of the MDA's POP3 and IMAP servers:
// with 1, a second connection is refused while the first is open.
func TestMDAMaxConnections(t *testing.T) {
	file := strings.Replace(base, "kind: mda,", "kind: mda, max_connections: 1,", 1)
	sc, err := Parse("max.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lab, err := Start(ctx, sc, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop(ctx)
	listen := lab.Info().Agents[1].Listen
	for _, proto := range []string{"pop3", "imap"} {
		first, err := net.Dial("tcp", listen[proto])
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(first)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") && !strings.HasPrefix(line, "* OK") {
			t.Fatalf("%s: first greeting %q, %v", proto, line, err)
		}
		second, err := net.Dial("tcp", listen[proto])
		if err != nil {
			t.Fatal(err)
		}
		second.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(second).ReadString('\n')
		if !strings.HasPrefix(line, "-ERR") && !strings.HasPrefix(line, "* BYE") {
			t.Errorf("%s: second connection got %q, want a refusal", proto, line)
		}
		second.Close()
		first.Close()
	}
}
