package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/mail"
)

// notes collects Note calls.
type notes struct {
	mu sync.Mutex
	l  []string
}

func (n *notes) add(id, text string) {
	n.mu.Lock()
	n.l = append(n.l, id+": "+text)
	n.mu.Unlock()
}

func (n *notes) find(sub string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, s := range n.l {
		if strings.Contains(s, sub) {
			out = append(out, s)
		}
	}
	return out
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.l, "\n")
}

// testOptions returns options for a fast queue in a fresh directory.
func testOptions(t *testing.T, d Deliverer) (Options, *notes) {
	t.Helper()
	n := &notes{}
	return Options{
		Dir:      t.TempDir(),
		Name:     "mta.a.example",
		Hostname: "mx.a.example",
		Schedule: []time.Duration{time.Millisecond, 2 * time.Millisecond},
		Deliver:  d,
		Note:     n.add,
	}, n
}

func openQueue(t *testing.T, opts Options) *Queue {
	t.Helper()
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopQueue(t, q) })
	return q
}

func stopQueue(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// idle reports whether q has nothing left: no message at all.
func idle(q *Queue) func() bool { return func() bool { return len(q.List()) == 0 } }

const testBody = "From: Alice <alice@a.example>\r\nTo: bob@b.example\r\nSubject: lunch?\r\nMessage-ID: <m1@a.example>\r\n\r\nAt noon?\r\n"

// recorder is a Deliverer that records its calls and answers with fn.
type recorder struct {
	mu    sync.Mutex
	calls []call
	fn    func(m *Message, rcpt string, n int) Result // n: calls for this message so far
}

type call struct {
	m     Message
	body  []byte
	rcpts []string
}

func (r *recorder) deliver(ctx context.Context, m *Message, body []byte, rcpts []string) []Result {
	r.mu.Lock()
	n := 0
	for _, c := range r.calls {
		if c.m.ID == m.ID {
			n++
		}
	}
	r.calls = append(r.calls, call{*m, slices.Clone(body), slices.Clone(rcpts)})
	r.mu.Unlock()
	var res []Result
	for _, rc := range rcpts {
		res = append(res, r.fn(m, rc, n))
	}
	return res
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) callsFor(id string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.m.ID == id {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) bounces() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.m.Bounce {
			out = append(out, c)
		}
	}
	return out
}

func delivered(rcpt string) Result {
	return Result{Rcpt: rcpt, Delivered: true, Status: "2.0.0", Diagnostic: "smtp; 250 2.0.0 Ok", RemoteMTA: "mx.b.example"}
}

func tempFail(rcpt string) Result {
	return Result{Rcpt: rcpt, Temporary: true, Status: "4.4.1", Diagnostic: "X-Maillab; connect to mx.b.example: connection refused", RemoteMTA: ""}
}

func permFail(rcpt string) Result {
	return Result{Rcpt: rcpt, Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in local recipient table", RemoteMTA: "mx.b.example"}
}

func TestPutListReadDir(t *testing.T) {
	opts, _ := testOptions(t, func(context.Context, *Message, []byte, []string) []Result { return nil })
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	opts.Now = func() time.Time { return clock }
	q := openQueue(t, opts)
	if err := q.Put("B2", "alice@a.example", []string{"bob@b.example", "carol@c.example", "bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Second)
	if err := q.Put("A1", "", []string{"dave@d.example"}, []byte("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := q.Put("A1", "x@a.example", []string{"y@b.example"}, nil); !errors.Is(err, ErrExists) {
		t.Errorf("Put of an existing id: %v, want ErrExists", err)
	}
	for _, bad := range []struct {
		id, from string
		rcpts    []string
	}{
		{"../x", "a@b", []string{"c@d"}},
		{"", "a@b", []string{"c@d"}},
		{".hidden", "a@b", []string{"c@d"}},
		{"OK1", "a@b", nil},
		{"OK2", "a@b\r\nBcc: evil@x", []string{"c@d"}},
		{"OK3", "a@b", []string{"c@d\n"}},
	} {
		if err := q.Put(bad.id, bad.from, bad.rcpts, nil); err == nil {
			t.Errorf("Put(%q, %q, %q) accepted", bad.id, bad.from, bad.rcpts)
		}
	}
	want := []Message{
		{ID: "B2", From: "alice@a.example", Arrived: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Size: int64(len(testBody)),
			Next:  time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
			Rcpts: []Recipient{{Addr: "bob@b.example", State: StatePending}, {Addr: "carol@c.example", State: StatePending}}},
		{ID: "A1", From: "", Arrived: time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC), Size: 18,
			Next:  time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC),
			Rcpts: []Recipient{{Addr: "dave@d.example", State: StatePending}}},
	}
	check := func(what string, got []Message) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, want %d: %+v", what, len(got), len(want), got)
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.From != w.From || !g.Arrived.Equal(w.Arrived) || g.Size != w.Size ||
				!g.Next.Equal(w.Next) || !slices.Equal(g.Rcpts, w.Rcpts) {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
		}
	}
	check("List", q.List())
	ms, err := ReadDir(opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	check("ReadDir", ms)
	if q.Len() != 2 {
		t.Errorf("Len = %d, want 2", q.Len())
	}
	body, err := os.ReadFile(filepath.Join(opts.Dir, "msg", "B2.eml"))
	if err != nil || string(body) != testBody {
		t.Errorf("msg/B2.eml = %q, %v", body, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(opts.Dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp/ not empty: %v", tmp)
	}
	// One queue per directory.
	if _, err := Open(opts); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	stopQueue(t, q)
	if err := q.Put("C3", "a@a.example", []string{"b@b.example"}, nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Put after Stop: %v, want ErrStopped", err)
	}
	// Reopened: the same messages.
	q2 := openQueue(t, opts)
	check("List after reopen", q2.List())
}

func TestReadDirMissing(t *testing.T) {
	if _, err := ReadDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("ReadDir of a missing directory: no error")
	}
}

func TestRetryThenSuccess(t *testing.T) {
	const fails = 3
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result {
		if n < fails {
			return tempFail(rcpt)
		}
		return delivered(rcpt)
	}}
	opts, n := testOptions(t, r.deliver)
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("R1", "alice@a.example", []string{"bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", idle(q))
	calls := r.callsFor("R1")
	if len(calls) != fails+1 {
		t.Fatalf("%d attempts, want %d", len(calls), fails+1)
	}
	for i, c := range calls {
		if c.m.Attempts != i {
			t.Errorf("attempt %d: Message.Attempts = %d", i+1, c.m.Attempts)
		}
		if string(c.body) != testBody {
			t.Errorf("attempt %d: body %q", i+1, c.body)
		}
	}
	if got := len(n.find("deferred: <bob@b.example>: 4.4.1")); got != fails {
		t.Errorf("%d deferred notes, want %d:\n%s", got, fails, n)
	}
	if len(n.find("R1: delivered to <bob@b.example> via mx.b.example")) != 1 {
		t.Errorf("no delivered note:\n%s", n)
	}
	if len(r.bounces()) != 0 {
		t.Error("bounce sent for a delivered message")
	}
	assertEmptyDir(t, opts.Dir)
}

// assertEmptyDir checks that a queue directory holds no message files.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"tmp", "msg", "env"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if len(des) != 0 {
			t.Errorf("%s/ still holds %v", sub, des)
		}
	}
}

func TestPartialDelivery(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result {
		if rcpt == "carol@c.example" && n == 0 {
			return tempFail(rcpt)
		}
		return delivered(rcpt)
	}}
	opts, _ := testOptions(t, r.deliver)
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("P1", "alice@a.example", []string{"bob@b.example", "carol@c.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", idle(q))
	calls := r.callsFor("P1")
	if len(calls) != 2 {
		t.Fatalf("%d attempts, want 2", len(calls))
	}
	if !slices.Equal(calls[0].rcpts, []string{"bob@b.example", "carol@c.example"}) || !slices.Equal(calls[1].rcpts, []string{"carol@c.example"}) {
		t.Errorf("attempts for %v then %v; want both, then carol only", calls[0].rcpts, calls[1].rcpts)
	}
	if st := calls[1].m.Rcpts[0]; st.State != StateDelivered || st.Attempts != 1 {
		t.Errorf("bob in the second attempt: %+v", st)
	}
	if st := calls[1].m.Rcpts[1]; st.State != StatePending || st.LastStatus != "4.4.1" {
		t.Errorf("carol in the second attempt: %+v", st)
	}
}

func TestPermanentFailureBounce(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result {
		if m.Bounce || rcpt == "ok@b.example" {
			return delivered(rcpt)
		}
		return permFail(rcpt)
	}}
	opts, n := testOptions(t, r.deliver)
	opts.IDs = func() string { return "BOUNCE1" }
	opts.Now = func() time.Time { return time.Date(2025, 3, 1, 10, 0, 0, 0, time.FixedZone("", 3600)) }
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("F1", "alice@a.example", []string{"bob@b.example", "ok@b.example", "carol@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bounce delivery", idle(q))
	bs := r.bounces()
	if len(bs) != 1 {
		t.Fatalf("%d bounces, want 1:\n%s", len(bs), n)
	}
	b := bs[0]
	if b.m.ID != "BOUNCE1" || b.m.From != "" || !slices.Equal(b.rcpts, []string{"alice@a.example"}) {
		t.Errorf("bounce %s from <%s> to %v; want BOUNCE1 from <> to alice", b.m.ID, b.m.From, b.rcpts)
	}
	if len(n.find("F1: bounce BOUNCE1 sent to <alice@a.example>: 2 recipients failed")) != 1 {
		t.Errorf("no bounce note:\n%s", n)
	}
	checkDSN(t, b.body, []string{"bob@b.example", "carol@b.example"}, "5.1.1")
	if t.Failed() || testing.Verbose() {
		t.Logf("DSN:\n%s", b.body)
	}
	assertEmptyDir(t, opts.Dir)
}

// checkDSN checks the structure of a bounce (RFC 3464, RFC 6522).
func checkDSN(t *testing.T, raw []byte, rcpts []string, status string) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Error("bare CR or LF in the DSN")
	}
	h, err := mail.ParseHeader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("DSN header: %v", err)
	}
	for name, want := range map[string]string{
		"From":           "\"Mail Delivery System\" <MAILER-DAEMON@mx.a.example>",
		"To":             "alice@a.example",
		"Subject":        "Undelivered Mail Returned to Sender",
		"Auto-Submitted": "auto-replied",
		"MIME-Version":   "1.0",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if h.Get("Date") == "" || h.Get("Message-ID") == "" {
		t.Error("no Date or Message-ID")
	}
	if _, err := time.Parse(mail.DateLayout, h.Get("Date")); err != nil {
		t.Errorf("Date: %v", err)
	}
	root, err := mail.ParseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if root.Type != "multipart" || root.Subtype != "report" || root.Params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %s/%s %v", root.Type, root.Subtype, root.Params)
	}
	if len(root.Children) != 3 {
		t.Fatalf("%d parts, want 3", len(root.Children))
	}
	types := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	for i, p := range root.Children {
		if got := p.Type + "/" + p.Subtype; got != types[i] {
			t.Errorf("part %d: %s, want %s", i+1, got, types[i])
		}
	}
	human := string(root.Children[0].Body)
	for _, r := range rcpts {
		if !strings.Contains(human, "<"+r+">") {
			t.Errorf("human part does not name %s:\n%s", r, human)
		}
	}
	// message/delivery-status: per-message fields, then one block per
	// recipient (RFC 3464 section 2.1), each parsed as a header.
	blocks := strings.Split(strings.TrimRight(string(root.Children[1].Body), "\r\n"), "\r\n\r\n")
	if len(blocks) != 1+len(rcpts) {
		t.Fatalf("%d delivery-status blocks, want %d:\n%s", len(blocks), 1+len(rcpts), root.Children[1].Body)
	}
	msgFields, err := mail.ParseHeader(strings.NewReader(blocks[0] + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := msgFields.Get("Reporting-MTA"); got != "dns; mx.a.example" {
		t.Errorf("Reporting-MTA: %q", got)
	}
	if msgFields.Get("Arrival-Date") == "" {
		t.Error("no Arrival-Date")
	}
	for i, r := range rcpts {
		f, err := mail.ParseHeader(strings.NewReader(blocks[1+i] + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Get("Final-Recipient"); got != "rfc822; "+r {
			t.Errorf("Final-Recipient %q, want rfc822; %s", got, r)
		}
		if f.Get("Action") != "failed" || f.Get("Status") != status {
			t.Errorf("%s: Action %q Status %q, want failed %s", r, f.Get("Action"), f.Get("Status"), status)
		}
		if f.Get("Last-Attempt-Date") == "" {
			t.Errorf("%s: no Last-Attempt-Date", r)
		}
		if status[0] == '5' {
			if f.Get("Remote-MTA") != "dns; mx.b.example" || !strings.HasPrefix(f.Get("Diagnostic-Code"), "smtp; 550 5.1.1 <"+r+">") {
				t.Errorf("%s: Remote-MTA %q Diagnostic-Code %q", r, f.Get("Remote-MTA"), f.Get("Diagnostic-Code"))
			}
		}
	}
	orig, err := mail.ParseHeader(bytes.NewReader(root.Children[2].Body))
	if err != nil || orig.Get("Subject") != "lunch?" || orig.Get("Message-ID") != "<m1@a.example>" {
		t.Errorf("returned header: %v %v", orig, err)
	}
	if strings.Contains(string(raw), "At noon?") {
		t.Error("the original body was returned")
	}
	// RFC 5322 section 2.1.1: at most 78 characters, except inside the
	// returned header (which is the original's).
	before, _, _ := bytes.Cut(raw, []byte("Content-Type: text/rfc822-headers"))
	for i, l := range strings.Split(string(before), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line %d has %d characters: %q", i+1, len(l), l)
		}
	}
}

func TestNoBounceForBounce(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return permFail(rcpt) }}
	opts, n := testOptions(t, r.deliver)
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("NB1", "", []string{"alice@a.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt", idle(q))
	if r.count() != 1 {
		t.Errorf("%d attempts, want 1 (the bounce of the bounce must not exist)", r.count())
	}
	if len(n.find("NB1: no bounce for a bounce, RFC 5321 section 3.6.3")) != 1 {
		t.Errorf("no note:\n%s", n)
	}
	assertEmptyDir(t, opts.Dir)
}

func TestBounceOfFailedBounceDropped(t *testing.T) {
	// The original and its bounce both fail: one bounce, then nothing.
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return permFail(rcpt) }}
	opts, n := testOptions(t, r.deliver)
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("O1", "alice@a.example", []string{"bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both attempts", idle(q))
	if r.count() != 2 || len(r.bounces()) != 1 {
		t.Errorf("%d attempts, %d of bounces; want 2 and 1", r.count(), len(r.bounces()))
	}
	if len(n.find("no bounce for a bounce")) != 1 {
		t.Errorf("notes:\n%s", n)
	}
}

func TestExpiry(t *testing.T) {
	// The clock (for dates) moves 10ms per attempt; the give-up time is
	// measured by the real clock.
	var mu sync.Mutex
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result {
		if m.Bounce {
			return delivered(rcpt)
		}
		mu.Lock()
		clock = clock.Add(10 * time.Millisecond)
		mu.Unlock()
		return tempFail(rcpt)
	}}
	opts, n := testOptions(t, r.deliver)
	opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	opts.MaxAge = 25 * time.Millisecond
	opts.Schedule = []time.Duration{5 * time.Millisecond}
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("E1", "alice@a.example", []string{"bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "expiry and bounce", idle(q))
	bs := r.bounces()
	if len(bs) != 1 {
		t.Fatalf("%d bounces, want 1:\n%s", len(bs), n)
	}
	// MaxAge counts real time from Put (Now only dates things): with a
	// 5ms schedule and 25ms to live there are several attempts, the last
	// one at the give-up time.
	if got := len(r.callsFor("E1")); got < 2 {
		t.Errorf("%d attempts before expiry, want at least 2", got)
	}
	checkDSN(t, bs[0].body, []string{"bob@b.example"}, "4.4.7")
	if testing.Verbose() {
		t.Logf("DSN:\n%s", bs[0].body)
	}
	if !bytes.Contains(bs[0].body, []byte("Diagnostic-Code: X-Maillab; connect to mx.b.example: connection refused")) {
		t.Errorf("the last answer is not in the DSN:\n%s", bs[0].body)
	}
	if len(n.find("E1: expired after 25ms in the queue: <bob@b.example>")) != 1 {
		t.Errorf("notes:\n%s", n)
	}
}

func TestStopCancelsAttempts(t *testing.T) {
	started := make(chan struct{}, 1)
	var returned atomic.Bool
	opts, _ := testOptions(t, func(ctx context.Context, m *Message, body []byte, rcpts []string) []Result {
		started <- struct{}{}
		<-ctx.Done()
		returned.Store(true)
		return []Result{{Rcpt: rcpts[0], Temporary: true, Status: "4.4.2", Diagnostic: "X-Maillab; " + ctx.Err().Error()}}
	})
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	if err := q.Put("S1", "alice@a.example", []string{"bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Error("Stop returned before the attempt")
	}
	if err := q.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	// The interrupted attempt is not counted, and the message is due.
	ms, err := ReadDir(opts.Dir)
	if err != nil || len(ms) != 1 {
		t.Fatalf("ReadDir: %v %v", ms, err)
	}
	if ms[0].Attempts != 0 || ms[0].Rcpts[0].State != StatePending || ms[0].Rcpts[0].Attempts != 0 {
		t.Errorf("after Stop: %+v", ms[0])
	}
}

func TestStopWithoutStart(t *testing.T) {
	opts, _ := testOptions(t, func(context.Context, *Message, []byte, []string) []Result { return nil })
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	stopQueue(t, q)
	stopQueue(t, q)
	q.Start() // after Stop: nothing
	stopQueue(t, q)
}

func TestRecovery(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return delivered(rcpt) }}
	opts, _ := testOptions(t, r.deliver)
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put("REC1", "alice@a.example", []string{"bob@b.example"}, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	stopQueue(t, q) // never started: as if the process died after the 250
	// Leftovers of an interrupted Put: a temporary file and a body without
	// its envelope.
	os.WriteFile(filepath.Join(opts.Dir, "tmp", "X.json.1.tmp"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(opts.Dir, "msg", "ORPHAN.eml"), []byte(testBody), 0o600)

	q2 := openQueue(t, opts)
	if _, err := os.Stat(filepath.Join(opts.Dir, "msg", "ORPHAN.eml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan body kept: %v", err)
	}
	q2.Start()
	waitFor(t, "recovered delivery", idle(q2))
	if len(r.callsFor("REC1")) != 1 {
		t.Errorf("%d attempts of the recovered message, want 1", len(r.callsFor("REC1")))
	}
	assertEmptyDir(t, opts.Dir)
}

func TestRecoveryOwedBounce(t *testing.T) {
	// A crash after the envelope recorded a failure and its bounce id, but
	// before the bounce was queued: the next process queues it.
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return delivered(rcpt) }}
	opts, n := testOptions(t, r.deliver)
	env := &envelope{Version: 1, ID: "OWE1", From: "alice@a.example", Arrived: time.Now(), Next: time.Now(), Attempts: 1,
		Rcpts: []rcptRecord{{Addr: "bob@b.example", State: StateFailed, Attempts: 1, LastStatus: "5.1.1",
			LastDiag: "smtp; 550 5.1.1 <bob@b.example>: User unknown", RemoteMTA: "mx.b.example", LastAttempt: time.Now(), DSN: "DSN1"}}}
	writeMessage(t, opts.Dir, env, testBody)
	q := openQueue(t, opts)
	q.Start()
	waitFor(t, "owed bounce", idle(q))
	bs := r.bounces()
	if len(bs) != 1 || bs[0].m.ID != "DSN1" {
		t.Fatalf("bounces %v, want DSN1:\n%s", bs, n)
	}
	checkDSN(t, bs[0].body, []string{"bob@b.example"}, "5.1.1")
	if len(r.callsFor("OWE1")) != 0 {
		t.Error("a failed recipient was attempted again")
	}
}

func TestRecoveryBounceAlreadyQueued(t *testing.T) {
	// A crash after the bounce was queued, before the original said so:
	// no second bounce.
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return delivered(rcpt) }}
	opts, _ := testOptions(t, r.deliver)
	env := &envelope{Version: 1, ID: "OWE2", From: "alice@a.example", Arrived: time.Now(), Next: time.Now(), Attempts: 1,
		Rcpts: []rcptRecord{{Addr: "bob@b.example", State: StateFailed, LastStatus: "5.1.1", DSN: "DSN2"}}}
	writeMessage(t, opts.Dir, env, testBody)
	writeMessage(t, opts.Dir, &envelope{Version: 1, ID: "DSN2", Bounce: true, Arrived: time.Now(), Next: time.Now(),
		Rcpts: []rcptRecord{{Addr: "alice@a.example", State: StatePending}}}, "Subject: the bounce\r\n\r\n")
	q := openQueue(t, opts)
	q.Start()
	waitFor(t, "the bounce", idle(q))
	if bs := r.bounces(); len(bs) != 1 || string(bs[0].body) != "Subject: the bounce\r\n\r\n" {
		t.Errorf("bounces: %v, want the one already queued", bs)
	}
}

// writeMessage puts a message in a queue directory as a queue would.
func writeMessage(t *testing.T, dir string, env *envelope, body string) {
	t.Helper()
	for _, sub := range []string{"tmp", "msg", "env"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data, err := env.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "msg", env.ID+".eml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "env", env.ID+".json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptEnvelope(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result { return delivered(rcpt) }}
	opts, n := testOptions(t, r.deliver)
	writeMessage(t, opts.Dir, &envelope{Version: 1, ID: "GOOD", From: "alice@a.example", Arrived: time.Now(), Next: time.Now(),
		Rcpts: []rcptRecord{{Addr: "bob@b.example", State: StatePending}}}, testBody)
	bad := map[string]string{
		"BAD1": "{not json",
		"BAD2": `{"version": 99, "id": "BAD2", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		"BAD3": `{"version": 1, "id": "OTHER", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		"BAD4": `{"version": 1, "id": "BAD4", "rcpts": [{"addr": "a@b", "state": "lost"}]}`,
		"BAD5": "",
	}
	for id, data := range bad {
		os.WriteFile(filepath.Join(opts.Dir, "env", id+".json"), []byte(data), 0o600)
		os.WriteFile(filepath.Join(opts.Dir, "msg", id+".eml"), []byte(testBody), 0o600)
	}
	// A good envelope whose body is gone.
	writeMessage(t, opts.Dir, &envelope{Version: 1, ID: "NOBODY", From: "alice@a.example", Arrived: time.Now(), Next: time.Now(),
		Rcpts: []rcptRecord{{Addr: "bob@b.example", State: StatePending}}}, "")
	os.Remove(filepath.Join(opts.Dir, "msg", "NOBODY.eml"))

	q := openQueue(t, opts)
	for id := range bad {
		for _, name := range []string{id + ".json", id + ".eml"} {
			if _, err := os.Stat(filepath.Join(opts.Dir, "corrupt", name)); err != nil {
				t.Errorf("corrupt/%s: %v", name, err)
			}
		}
		if len(n.find(id+": corrupt envelope "+id+".json moved to corrupt/")) != 1 {
			t.Errorf("no note for %s:\n%s", id, n)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "corrupt", "NOBODY.json")); err != nil {
		t.Errorf("envelope without body: %v", err)
	}
	if ms := q.List(); len(ms) != 1 || ms[0].ID != "GOOD" {
		t.Fatalf("List = %+v, want GOOD only", ms)
	}
	q.Start()
	waitFor(t, "delivery of the good message", idle(q))
	if r.count() != 1 {
		t.Errorf("%d attempts, want 1", r.count())
	}
}

func TestFull(t *testing.T) {
	opts, _ := testOptions(t, func(context.Context, *Message, []byte, []string) []Result { return nil })
	opts.MaxMessages = 2
	q := openQueue(t, opts)
	for i := range 2 {
		if err := q.Put(fmt.Sprint("M", i), "a@a.example", []string{"b@b.example"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Put("M2", "a@a.example", []string{"b@b.example"}, nil); !errors.Is(err, ErrFull) {
		t.Errorf("Put into a full queue: %v, want ErrFull", err)
	}
}

func TestWorkersBoundConcurrency(t *testing.T) {
	var running, most atomic.Int32
	opts, _ := testOptions(t, func(ctx context.Context, m *Message, body []byte, rcpts []string) []Result {
		n := running.Add(1)
		for {
			old := most.Load()
			if n <= old || most.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return []Result{delivered(rcpts[0])}
	})
	opts.Workers = 2
	q := openQueue(t, opts)
	for i := range 8 {
		if err := q.Put(fmt.Sprint("W", i), "a@a.example", []string{"b@b.example"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	q.Start()
	waitFor(t, "all deliveries", idle(q))
	if most.Load() > 2 {
		t.Errorf("%d attempts at once, Workers is 2", most.Load())
	}
}

func TestKick(t *testing.T) {
	r := &recorder{fn: func(m *Message, rcpt string, n int) Result {
		if n == 0 {
			return tempFail(rcpt)
		}
		return delivered(rcpt)
	}}
	opts, _ := testOptions(t, r.deliver)
	opts.Schedule = []time.Duration{time.Hour}
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("K1", "a@a.example", []string{"b@b.example"}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first attempt", func() bool { return len(r.callsFor("K1")) == 1 && q.List()[0].Attempts == 1 })
	if q.Len() != 1 {
		t.Fatalf("Len = %d", q.Len())
	}
	q.Kick()
	waitFor(t, "kicked delivery", idle(q))
}

func TestMissingResultIsTemporary(t *testing.T) {
	var calls atomic.Int32
	opts, n := testOptions(t, func(ctx context.Context, m *Message, body []byte, rcpts []string) []Result {
		if calls.Add(1) == 1 {
			// A stray result for someone else and none for bob.
			return []Result{{Rcpt: "mallory@x.example", Delivered: true}}
		}
		return []Result{delivered(rcpts[0])}
	})
	q := openQueue(t, opts)
	q.Start()
	if err := q.Put("MR1", "a@a.example", []string{"bob@b.example"}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", idle(q))
	if calls.Load() != 2 || len(n.find("MR1: deferred: <bob@b.example>: 4.3.0")) != 1 {
		t.Errorf("%d calls; notes:\n%s", calls.Load(), n)
	}
}
