package transcripts

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"

	"github.com/maillab/maillab/protocols/wire"
)

// summary renders an event the way these tests compare them: without
// times, sequence numbers and ports.
func summary(e Event) string {
	s := fmt.Sprintf("#%d %s", e.Conn, e.Kind)
	switch e.Kind {
	case KindOpen:
		s += fmt.Sprintf(" %s -> %s", e.Client, e.Server)
	case KindWire:
		s += " " + e.DirText + ": " + e.Line
	case KindLine:
		s += " " + e.DirText + ": " + e.Line
		if e.TLS {
			s += " [tls]"
		}
		if e.Bulk {
			s += " [bulk]"
		}
		if e.Secret {
			s += " [secret]"
		}
	default:
		if e.Agent != "" {
			s += " " + e.Agent + ":"
		}
		s += " " + e.Line
	}
	if e.QueueID != "" {
		s += " {" + e.QueueID + "}"
	}
	return s
}

func summaries(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, summary(e))
	}
	return out
}

// peer is one end of a line dialogue in a test.
type peer struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func newPeer(t *testing.T, c net.Conn) *peer { return &peer{t: t, c: c, r: bufio.NewReader(c)} }

func (p *peer) send(lines ...string) error {
	_, err := io.WriteString(p.c, strings.Join(lines, "\r\n")+"\r\n")
	return err
}

func (p *peer) expect(prefix string) error {
	line, err := p.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for %q: %w", prefix, err)
	}
	if !strings.HasPrefix(line, prefix) {
		return fmt.Errorf("got %q, want prefix %q", line, prefix)
	}
	return nil
}

// serve accepts one connection on l and runs fn on it in a goroutine; the
// returned channel gives fn's error once the connection is closed.
func serve(t *testing.T, l net.Listener, fn func(p *peer) error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		err = fn(newPeer(t, c))
		if cerr := c.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := nettest.NewLocalListener("tcp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// smtpServer greets at once, as a real server does, and waits for the
// client to hang up after QUIT.
func smtpServer(p *peer) error {
	if err := p.send("220 mx.a.test ESMTP"); err != nil {
		return err
	}
	if err := p.expect("EHLO"); err != nil {
		return err
	}
	if err := p.send("250-mx.a.test", "250 SIZE 1000"); err != nil {
		return err
	}
	if err := p.expect("QUIT"); err != nil {
		return err
	}
	if err := p.send("221 2.0.0 Bye"); err != nil {
		return err
	}
	if _, err := p.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("want EOF after 221, got %v", err)
	}
	return nil
}

func smtpClient(p *peer, name string) error {
	for _, step := range []func() error{
		func() error { return p.expect("220 ") },
		func() error { return p.send("EHLO " + name) },
		func() error { return p.expect("250-") },
		func() error { return p.expect("250 ") },
		func() error { return p.send("QUIT") },
		func() error { return p.expect("221 ") },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return p.c.Close()
}

func TestLabClientAndServerRecordedOnceAndNamed(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, smtpServer)
	dial := rec.Dialer("alice", "smtp", nil)
	c, err := dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := smtpClient(newPeer(t, c), "a.test"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#1 open alice -> mx.a.test",
		"#1 line S: 220 mx.a.test ESMTP",
		"#1 line C: EHLO a.test",
		"#1 line S: 250-mx.a.test",
		"#1 line S: 250 SIZE 1000",
		"#1 line C: QUIT",
		"#1 line S: 221 2.0.0 Bye",
		"#1 close closed by alice",
	}
	evs := rec.Events()
	if diff := cmp.Diff(want, summaries(evs)); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	open := evs[0]
	wantOpen := c.LocalAddr().String() + " -> " + l.Addr().String()
	if open.Line != wantOpen {
		t.Errorf("open line = %q, want %q", open.Line, wantOpen)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has Seq %d", i, e.Seq)
		}
	}
}

func TestConcurrentLabClientsEachNamed(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	wg.Add(1)
	go func() { // the accept loop, owned by this test
		defer wg.Done()
		for i := 0; i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				errs <- err
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := smtpServer(newPeer(t, c))
				c.Close()
				errs <- err
			}()
		}
	}()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("mua%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := rec.Dialer(name, "smtp", nil)(context.Background(), "tcp", l.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			errs <- smtpClient(newPeer(t, c), name)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	opens := 0
	for _, e := range rec.Events() {
		if e.Kind == KindOpen {
			opens++
		}
		if e.Kind == KindLine && strings.HasPrefix(e.Line, "EHLO ") && e.Line != "EHLO "+e.Client {
			t.Errorf("conn %d: client named %q but said %q", e.Conn, e.Client, e.Line)
		}
	}
	if opens != n {
		t.Errorf("%d open events, want %d", opens, n)
	}
}

func TestOutsideClientNamedByAddress(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, smtpServer)
	c, err := net.Dial("tcp", l.Addr().String()) // e.g. swaks
	if err != nil {
		t.Fatal(err)
	}
	if err := smtpClient(newPeer(t, c), "swaks"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if got, want := evs[0].Client, c.LocalAddr().String(); got != want {
		t.Errorf("client = %q, want its address %q", got, want)
	}
	if got := evs[len(evs)-1].Line; got != "closed by "+c.LocalAddr().String() {
		t.Errorf("close = %q", got)
	}
}

func TestDialerRecordsWhenServerIsNotTapped(t *testing.T) {
	rec := NewRecorder(Options{})
	l := listen(t)
	done := serve(t, l, smtpServer)
	c, err := rec.Dialer("mx.a.test", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := smtpClient(newPeer(t, c), "a.test"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv := l.Addr().String()
	want := []string{
		"#1 open mx.a.test -> " + srv,
		"#1 line S: 220 mx.a.test ESMTP",
		"#1 line C: EHLO a.test",
		"#1 line S: 250-mx.a.test",
		"#1 line S: 250 SIZE 1000",
		"#1 line C: QUIT",
		"#1 line S: 221 2.0.0 Bye",
		"#1 close closed by mx.a.test",
	}
	if diff := cmp.Diff(want, summaries(rec.Events())); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

// TestMarksQueueIDAndNotes plays a DATA exchange: the server marks the body
// bulk after 354, the client (the side that does not record) marks its AUTH
// LOGIN answers secret, and both add meaning.
func TestMarksQueueIDAndNotes(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, func(p *peer) error {
		tr := wire.TracerOf(p.c)
		steps := []func() error{
			func() error { return p.send("220 mx.a.test") },
			func() error { return p.expect("AUTH LOGIN") },
			func() error { return p.send("334 VXNlcm5hbWU6") },
			func() error { return p.expect("YWxpY2U=") },
			func() error { return p.send("235 2.7.0 OK") },
			func() error { return p.expect("AUTH PLAIN") },
			func() error { return p.send("235 2.7.0 OK") },
			func() error { return p.expect("DATA") },
			func() error { tr.State("Rcpt", "Data"); return p.send("354 go ahead") },
			func() error { tr.Mark(wire.ClientToServer, wire.MarkBulk); return p.expect("Subject") },
			func() error { return p.expect("") },
			func() error { return p.expect("hello") },
			func() error { return p.expect(".") },
			func() error {
				tr.Mark(wire.ClientToServer, wire.MarkNone)
				tr.QueueID("Q1")
				tr.Note("queued")
				return p.send("250 2.0.0 queued as Q1")
			},
			func() error { return p.expect("QUIT") },
			func() error { tr.QueueID(""); return p.send("221 bye") },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	})
	c, err := rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, c)
	tr := wire.TracerOf(c)
	steps := []func() error{
		func() error { return p.expect("220") },
		func() error { return p.send("AUTH LOGIN") },
		func() error { return p.expect("334") },
		func() error {
			// Marked by the client, which does not record: the mark must
			// still land on this line, whenever the server reads it.
			tr.Mark(wire.ClientToServer, wire.MarkSecret)
			err := p.send("YWxpY2U=")
			tr.Mark(wire.ClientToServer, wire.MarkNone)
			return err
		},
		func() error { return p.expect("235") },
		func() error { return p.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==") },
		func() error { return p.expect("235") },
		func() error { return p.send("DATA") },
		func() error { return p.expect("354") },
		func() error { return p.send("Subject: hi", "", "hello", ".") },
		func() error { return p.expect("250") },
		func() error { tr.State("Data", "Ready"); return p.send("QUIT") },
		func() error { return p.expect("221") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#1 open alice -> mx.a.test",
		"#1 line S: 220 mx.a.test",
		"#1 line C: AUTH LOGIN",
		"#1 line S: 334 VXNlcm5hbWU6",
		"#1 line C: YWxpY2U= [secret]",
		"#1 note " + PlaintextPasswordWarning,
		"#1 line S: 235 2.7.0 OK",
		"#1 line C: AUTH PLAIN AGFsaWNlAHNlY3JldA== [secret]",
		"#1 note " + PlaintextPasswordWarning,
		"#1 line S: 235 2.7.0 OK",
		"#1 line C: DATA",
		"#1 state mx.a.test: Rcpt -> Data",
		"#1 line S: 354 go ahead",
		"#1 line C: Subject: hi [bulk]",
		"#1 line C:  [bulk]",
		"#1 line C: hello [bulk]",
		"#1 line C: .",
		"#1 note mx.a.test: queued {Q1}",
		"#1 line S: 250 2.0.0 queued as Q1 {Q1}",
		"#1 state alice: Data -> Ready {Q1}",
		"#1 line C: QUIT {Q1}",
		"#1 line S: 221 bye",
		"#1 close closed by mx.a.test",
	}
	if diff := cmp.Diff(want, summaries(rec.Events())); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestStartTLSRecordsRecordsNotLines(t *testing.T) {
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, func(p *peer) error {
		if err := p.send("220 mx.a.test"); err != nil {
			return err
		}
		if err := p.expect("STARTTLS"); err != nil {
			return err
		}
		if err := p.send("220 2.0.0 Ready to start TLS"); err != nil {
			return err
		}
		if err := p.expect("\x16\x03\x01 binary hello"); err != nil {
			return err
		}
		return p.send("\x16\x03\x03 binary answer")
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, c)
	if err := p.expect("220"); err != nil {
		t.Fatal(err)
	}
	if err := p.send("STARTTLS"); err != nil {
		t.Fatal(err)
	}
	if err := p.expect("220"); err != nil {
		t.Fatal(err)
	}
	if err := p.send("\x16\x03\x01 binary hello"); err != nil {
		t.Fatal(err)
	}
	if err := p.expect("\x16"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := summaries(rec.Events())[1:]
	want := []string{
		"#1 line S: 220 mx.a.test",
		"#1 line C: STARTTLS",
		"#1 line S: 220 2.0.0 Ready to start TLS",
		"#1 note " + NoteStartTLS,
		// "\x16\x03\x01 b": a handshake record header announcing 0x2062 bytes.
		"#1 wire C: TLS record: handshake, 8290 bytes",
		"#1 wire S: TLS record: handshake, 8290 bytes",
		"#1 close closed by mx.a.test",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

// pipeTap returns a tapped recording server end and its plain peer.
func pipeTap(t *testing.T, rec *Recorder) (srv *Conn, cli net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	srv = newConn(a, rec, sideServer, true, nil)
	srv.open(&connRec{id: rec.newConnID(), client: "alice", server: "mx.a.test", proto: "smtp"}, "pipe", "pipe")
	t.Cleanup(func() { srv.Close(); b.Close() })
	return srv, b
}

func TestPartialAndOverlongLines(t *testing.T) {
	rec := NewRecorder(Options{})
	srv, cli := pipeTap(t, rec)
	long := strings.Repeat("x", MaxLineBytes+904)
	sent := make(chan error, 1)
	go func() {
		for _, chunk := range []string{"EH", "LO a.test\r", "\nNO", "OP\r\n" + long + "\r\n", "bad \xff\x1b[31m\r\n", "QUI"} {
			if _, err := io.WriteString(cli, chunk); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	want := len("EHLO a.test\r\nNOOP\r\n" + long + "\r\nbad \xff\x1b[31m\r\nQUI")
	if _, err := io.ReadFull(srv, make([]byte, want)); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	drained := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, cli)
		drained <- err
	}()
	if _, err := srv.Write([]byte("221 half")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close() // idempotent: one close event
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	wantEvents := []string{
		"#1 open alice -> mx.a.test",
		"#1 line C: EHLO a.test",
		"#1 line C: NOOP",
		"#1 line C: " + strings.Repeat("x", MaxLineBytes) + "…(904 more bytes)",
		`#1 line C: bad \xff\x1b[31m`,
		"#1 line C: QUI",
		"#1 line S: 221 half",
		"#1 close closed by mx.a.test",
	}
	if diff := cmp.Diff(wantEvents, summaries(rec.Events())); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestSplitterChunkBoundaries(t *testing.T) {
	in := "a\r\nbb\n\r\n" + strings.Repeat("y", MaxLineBytes) + "\r\nccc\r"
	var want []string
	feedAll := func(chunk int) []string {
		var s splitter
		var got []string
		emit := func(line []byte, extra, start int64) bool {
			got = append(got, fmt.Sprintf("%d:%s+%d", start, line, extra))
			return true
		}
		for i := 0; i < len(in); i += chunk {
			s.feed([]byte(in[i:min(i+chunk, len(in))]), emit)
		}
		if s.pending() {
			s.flushLine(emit)
		}
		return got
	}
	want = feedAll(len(in))
	if len(want) != 5 || want[0] != "0:a+0" || want[1] != "3:bb+0" || want[2] != "6:+0" || want[4] != fmt.Sprintf("%d:ccc+0", 10+MaxLineBytes) {
		t.Fatalf("whole input gives %.60q", want)
	}
	for _, chunk := range []int{1, 2, 3, 7, 4095, 4097} {
		if diff := cmp.Diff(want, feedAll(chunk)); diff != "" {
			t.Errorf("chunks of %d (-want +got):\n%s", chunk, diff)
		}
	}
}

func TestEscapeLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain ASCII":     "plain ASCII",
		"tab\there":       "tab\there",
		"señor ñandú":     "señor ñandú",
		"\x1b[2J":         `\x1b[2J`,
		"a\rb":            `a\rb`,
		"\xc3":            `\xc3`,
		"c1 \u0085":       `c1 \u0085`,
		"del\x7f":         `del\x7f`,
		"\xff\xfe\x00end": `\xff\xfe\x00end`,
	} {
		if got := escapeLine([]byte(in)); got != want {
			t.Errorf("escapeLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEventsBoundedAndDropsReported(t *testing.T) {
	rec := NewRecorder(Options{MaxEvents: 3})
	var seen int
	cancel := rec.Subscribe(func(Event) { seen++ })
	for i := 0; i < 5; i++ {
		rec.Note("runner", fmt.Sprintf("say: %d", i))
	}
	cancel()
	cancel()
	rec.Note("runner", "after cancel")
	if got := len(rec.Events()); got != 3 {
		t.Errorf("kept %d events, want 3", got)
	}
	if got := rec.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	if seen != 5 {
		t.Errorf("subscriber saw %d events, want 5", seen)
	}
}

func TestSubscribersSeeSeqOrder(t *testing.T) {
	now := time.Date(2024, 11, 26, 10, 0, 0, 0, time.UTC)
	rec := NewRecorder(Options{Now: func() time.Time { return now }})
	var mu sync.Mutex
	var seqs []int64
	rec.Subscribe(func(e Event) {
		mu.Lock()
		seqs = append(seqs, e.Seq)
		mu.Unlock()
		if !e.Time.Equal(now) {
			t.Errorf("time %v, want the injected clock", e.Time)
		}
	})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				rec.Note("runner", "x")
			}
		}()
	}
	wg.Wait()
	if len(seqs) != 800 {
		t.Fatalf("%d events delivered", len(seqs))
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("delivery %d has Seq %d", i, s)
		}
	}
}

// TestConnPassesNettest runs the x/net conformance suite on both tapped
// ends: the recording listener side and the dialer side.
func TestConnPassesNettest(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tapListener bool
	}{
		{"listener records", true},
		{"dialer records", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				rec := NewRecorder(Options{MaxEvents: 1000})
				ln, err := nettest.NewLocalListener("tcp")
				if err != nil {
					return nil, nil, nil, err
				}
				l := ln
				if tc.tapListener {
					l = rec.Listen(ln, "mx.a.test", "smtp")
				}
				type result struct {
					c   net.Conn
					err error
				}
				accepted := make(chan result, 1)
				go func() {
					c, err := l.Accept()
					accepted <- result{c, err}
				}()
				c1, err = rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", ln.Addr().String())
				if err != nil {
					l.Close()
					<-accepted
					return nil, nil, nil, err
				}
				r := <-accepted
				if r.err != nil {
					c1.Close()
					l.Close()
					return nil, nil, nil, r.err
				}
				stop = func() {
					c1.Close()
					r.c.Close()
					l.Close()
				}
				return c1, r.c, stop, nil
			})
		})
	}
}

// BenchmarkTap compares the throughput of a 10 MiB message through a
// tapped connection with a plain one.
func BenchmarkTap(b *testing.B) {
	line := strings.Repeat("0123456789", 7) + "abcdef\r\n"
	msg := []byte(strings.Repeat(line, 10<<20/len(line)))
	run := func(b *testing.B, tapped bool) {
		ln, err := nettest.NewLocalListener("tcp")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		rec := NewRecorder(Options{MaxEvents: 1})
		var l net.Listener = ln
		if tapped {
			l = rec.Listen(ln, "mx.a.test", "smtp")
		}
		drained := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				drained <- err
				return
			}
			defer c.Close()
			_, err = io.Copy(io.Discard, c)
			drained <- err
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if err := <-drained; err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) { run(b, false) })
	b.Run("tapped", func(b *testing.B) { run(b, true) })
}

// A recorder told to keep nothing still delivers every event to its
// subscribers: that is how a long-running "maillab up" renders a live
// transcript without its memory growing with every line.
func TestRecorderKeepingNothingStillDelivers(t *testing.T) {
	rec := NewRecorder(Options{MaxEvents: -1})
	var got []string
	cancel := rec.Subscribe(func(e Event) { got = append(got, e.Line) })
	defer cancel()
	for _, s := range []string{"one", "two", "three"} {
		rec.Note("runner", s)
	}
	if len(rec.Events()) != 0 || rec.Dropped() != 3 {
		t.Fatalf("kept %d events, dropped %d; want 0 and 3", len(rec.Events()), rec.Dropped())
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("subscriber got %q", got)
	}
}
