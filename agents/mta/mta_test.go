package mta_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/agents/mta"
	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/transcripts"
)

var when = time.Date(2026, 1, 15, 10, 30, 0, 0, time.FixedZone("CET", 3600))

func clock() time.Time { return when }

type lab struct {
	store *mailbox.Store
	rec   *transcripts.Recorder
	mda   *mda.MDA
	mta   *mta.MTA
	mua   *mua.MUA
}

type labOptions struct {
	mtaUsers  []string // default bob, carol, dave @b.test
	mdaUsers  []string // default the same
	noSync    bool
	lmtp      string // default the MDA's address
	noMDA     bool
	idleConns int
	noRecord  bool
}

func newLab(t testing.TB, o labOptions) *lab {
	t.Helper()
	users := []string{"bob@b.test", "carol@b.test", "dave@b.test"}
	if o.mtaUsers == nil {
		o.mtaUsers = users
	}
	if o.mdaUsers == nil {
		o.mdaUsers = users
	}
	l := &lab{}
	if !o.noRecord {
		l.rec = transcripts.NewRecorder(transcripts.Options{Now: clock})
	}
	var err error
	l.store, err = mailbox.OpenWith(t.TempDir(), mailbox.Options{NoSync: o.noSync, Hostname: "mda.b.test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !o.noMDA {
		l.mda, err = mda.New(mda.Config{Name: "mda.b.test", Store: l.store, Users: o.mdaUsers, Recorder: l.rec, Now: clock, IDs: func() string { return "MDAID" }})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.mda.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := l.mda.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
		o.lmtp = l.mda.Endpoints()["lmtp"]
	}
	var n atomic.Int64
	l.mta, err = mta.New(mta.Config{
		Name: "mx.b.test", Domains: []string{"b.test"}, Users: o.mtaUsers, LMTP: o.lmtp,
		Recorder: l.rec, Now: clock, LMTPIdleConns: o.idleConns,
		IDs: func() string { return fmt.Sprintf("QID%d", n.Add(1)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mta.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.mta.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	l.mua, err = mua.New(mua.Config{Name: "alice-pc", Hostname: "pc.a.test", Recorder: l.rec, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) smtp() string { return l.mta.Endpoints()["smtp"] }

func (l *lab) inbox(t *testing.T, addr string) []mailbox.Message {
	t.Helper()
	msgs, err := l.store.List(addr)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestEndToEnd(t *testing.T) {
	l := newLab(t, labOptions{})
	d := mua.Draft{
		From:      "José Núñez <jose@a.test>",
		To:        []string{"Bob <bob@b.test>"},
		Bcc:       []string{"carol@b.test"},
		Subject:   "Reunión mañana",
		Body:      "Hola Bob,\n.a line starting with a dot\n..two dots\n.\nñandú, 8-bit text\nno final newline",
		MessageID: "e2e@pc.a.test",
	}
	res, err := l.mua.Send(context.Background(), l.smtp(), d)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := res.Final.String(); !strings.HasPrefix(got, "250 2.0.0 ") {
		t.Errorf("final reply %q", got)
	}
	if len(res.Delivered) != 2 {
		t.Errorf("delivered to %v", res.Delivered)
	}
	composed, err := mua.Compose(d, "pc.a.test", when)
	if err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"bob@b.test", "carol@b.test"} {
		msgs := l.inbox(t, rcpt)
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", rcpt, len(msgs))
		}
		raw, err := l.store.Read(msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		// The message as composed arrives byte for byte, after the trace
		// fields: dot-stuffed lines, 8-bit text and the final CRLF intact.
		if !bytes.HasSuffix(raw, composed) {
			t.Fatalf("stored message does not end with the composed one:\n%s", raw)
		}
		trace := string(raw[:len(raw)-len(composed)])
		want := "Return-Path: <jose@a.test>\r\n" +
			"Delivered-To: " + rcpt + "\r\n" +
			"Received: from mx.b.test ([127.0.0.1])\r\n\tby mda.b.test (maillab) with LMTP id MDAID\r\n\tfor <" + rcpt + ">; Thu, 15 Jan 2026 10:30:00 +0100\r\n" +
			// Two recipients: no FOR clause (RFC 5321 section 4.4).
			"Received: from pc.a.test ([127.0.0.1])\r\n\tby mx.b.test (maillab) with ESMTP id QID1\r\n\t; Thu, 15 Jan 2026 10:30:00 +0100\r\n"
		if trace != want {
			t.Errorf("trace fields:\n%s\nwant:\n%s", trace, want)
		}
		h, err := l.store.Header(msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := mail.DecodeHeader(h.Get("Subject")); got != "Reunión mañana" {
			t.Errorf("Subject = %q", got)
		}
		if len(h.Values("Received")) != 2 {
			t.Errorf("Received fields: %q", h.Values("Received"))
		}
		if h.Get("Bcc") != "" || bytes.Contains(raw, []byte("carol@b.test>\r\nCc")) {
			t.Errorf("Bcc leaked")
		}
		if !strings.Contains(string(raw), "\r\n\r\nHola Bob,\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nñandú, 8-bit text\r\nno final newline\r\n") {
			t.Errorf("body not byte-exact:\n%q", raw)
		}
	}
	if msgs := l.inbox(t, "dave@b.test"); len(msgs) != 0 {
		t.Errorf("dave got %d messages", len(msgs))
	}

	// The transcript shows both hops and the store notes, tagged with the
	// queue id.
	var sawBody8, sawMail, sawStored, sawQueued, lmtpTagged bool
	for _, e := range l.rec.Events() {
		switch {
		case e.Proto == "smtp" && e.Kind == transcripts.KindLine && e.Line == "MAIL FROM:<jose@a.test> SIZE="+fmt.Sprint(len(composed))+" BODY=8BITMIME":
			sawBody8 = true
		case e.Proto == "lmtp" && e.Kind == transcripts.KindLine && e.Line == "MAIL FROM:<jose@a.test> SIZE="+fmt.Sprint(len(composed)+len("Received: from pc.a.test ([127.0.0.1])\r\n\tby mx.b.test (maillab) with ESMTP id QID1\r\n\t; Thu, 15 Jan 2026 10:30:00 +0100\r\n"))+" BODY=8BITMIME":
			sawMail = true
			lmtpTagged = e.QueueID == "QID1"
		case e.Kind == transcripts.KindNote && strings.HasPrefix(e.Line, "stored in bob@b.test's Maildir as new/"):
			sawStored = true
		case e.Proto == "smtp" && e.Kind == transcripts.KindNote && e.Line == "stored by the MDA: queued as QID1":
			sawQueued = e.QueueID == "QID1"
		}
	}
	if !sawBody8 || !sawMail || !sawStored || !sawQueued || !lmtpTagged {
		t.Errorf("transcript: BODY=8BITMIME %v, LMTP MAIL %v (queue id %v), stored note %v, queued %v",
			sawBody8, sawMail, lmtpTagged, sawStored, sawQueued)
		for _, e := range l.rec.Events() {
			t.Logf("%d %s %s %s %q q=%s", e.Conn, e.Proto, e.Kind, e.DirText, e.Line, e.QueueID)
		}
	}
}

// A session may send many messages: the 250 after DATA must not count as
// an error (it did when it was returned as an *smtp.Error).
func TestManyMessagesOnOneConnection(t *testing.T) {
	l := newLab(t, labOptions{noRecord: true, noSync: true})
	c, err := l.mua.Dial(context.Background(), l.smtp())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 15 {
		if _, err := c.SendMail(mail.Path{Local: "a", Domain: "a.test"}, []mail.Path{{Local: "bob", Domain: "b.test"}}, strings.NewReader("x\r\n"), smtp.MailParams{}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if msgs := l.inbox(t, "bob@b.test"); len(msgs) != 15 {
		t.Errorf("%d messages stored", len(msgs))
	}
}

func wantReply(t *testing.T, err error, code smtp.Code, enhanced, text string) {
	t.Helper()
	var e *smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a %d reply", err, code)
	}
	if e.Code != code || e.Enhanced != enhanced || !strings.Contains(e.Message, text) {
		t.Errorf("reply %q, want %d %s ...%s...", e, code, enhanced, text)
	}
}

func TestRcptRefusals(t *testing.T) {
	l := newLab(t, labOptions{})
	c, err := l.mua.Dial(context.Background(), l.smtp())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(mail.Path{Local: "alice", Domain: "a.test"}, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt(mail.Path{Local: "nobody", Domain: "b.test"})
	wantReply(t, err, 550, "5.1.1", "<nobody@b.test>: Recipient address rejected: User unknown")
	err = c.Rcpt(mail.Path{Local: "bob", Domain: "elsewhere.test"})
	wantReply(t, err, 550, "5.7.1", "<bob@elsewhere.test>: Relay access denied")
	// A path that tries to climb out of the Maildir root is just an
	// unknown user.
	r, err := c.Cmd(`RCPT TO:<"../../etc"@b.test>`)
	if err != nil || r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Errorf("traversal RCPT: %v %v", r, err)
	}
	if err := c.Rcpt(mail.Path{Local: "BOB", Domain: "B.TEST"}); err != nil {
		t.Errorf("case-folded user refused: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func TestPostmaster(t *testing.T) {
	l := newLab(t, labOptions{})
	c, err := l.mua.Dial(context.Background(), l.smtp())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(mail.Path{Local: "alice", Domain: "a.test"}, smtp.MailParams{}); err != nil {
		t.Fatal(err)
	}
	// RFC 5321 section 4.5.1: the bare form too.
	for _, line := range []string{"RCPT TO:<Postmaster>", "RCPT TO:<POSTMASTER@b.test>"} {
		if r, err := c.Cmd(line); err != nil || r.Code != 250 {
			t.Fatalf("%s: %v %v", line, r, err)
		}
	}
	if r, err := c.Cmd("DATA"); err != nil || r.Code != 354 {
		t.Fatalf("DATA: %v %v", r, err)
	}
	r, err := c.SendData(strings.NewReader("Subject: hi postmaster\r\n\r\nhello\r\n"))
	if err != nil || r.Code != 250 {
		t.Fatalf("end of data: %v %v", r, err)
	}
	// Both went to bob, the first user, once.
	if msgs := l.inbox(t, "bob@b.test"); len(msgs) != 1 {
		t.Errorf("bob has %d messages, want 1", len(msgs))
	}
}

func TestMDADownGives451(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	l := newLab(t, labOptions{noMDA: true, lmtp: dead})
	_, err = l.mua.Send(context.Background(), l.smtp(), mua.Draft{From: "alice@a.test", To: []string{"bob@b.test"}, Body: "x"})
	wantReply(t, err, 451, "4.4.1", "unreachable")
	if msgs := l.inbox(t, "bob@b.test"); len(msgs) != 0 {
		t.Errorf("stored %v", msgs)
	}
}

func TestMDARefusals(t *testing.T) {
	// The MTA knows ghost@b.test, the MDA does not.
	l := newLab(t, labOptions{mtaUsers: []string{"bob@b.test", "ghost@b.test"}, mdaUsers: []string{"bob@b.test"}})
	_, err := l.mua.Send(context.Background(), l.smtp(), mua.Draft{From: "alice@a.test", To: []string{"ghost@b.test"}, Body: "x"})
	// Refused for everyone: the MDA's reply is passed on.
	wantReply(t, err, 550, "5.1.1", "<ghost@b.test>: no such user here")

	// Refused for some: 250, and a note about the bounce that is due.
	res, err := l.mua.Send(context.Background(), l.smtp(), mua.Draft{From: "alice@a.test", To: []string{"ghost@b.test", "bob@b.test"}, Body: "x"})
	if err != nil || res.Final.Code != 250 {
		t.Fatalf("partial: %v %v", res, err)
	}
	if msgs := l.inbox(t, "bob@b.test"); len(msgs) != 1 {
		t.Errorf("bob has %d messages", len(msgs))
	}
	found := false
	for _, e := range l.rec.Events() {
		if e.Kind == transcripts.KindNote && strings.Contains(e.Line, "the MDA refused ghost@b.test") && strings.Contains(e.Line, "bounce") {
			found = true
		}
	}
	if !found {
		t.Error("no bounce note in the transcript")
	}
}

func TestDisconnectMidDataStoresNothing(t *testing.T) {
	l := newLab(t, labOptions{})
	for _, target := range []struct{ addr, hello string }{
		{l.smtp(), "EHLO x.test"},
		{l.mda.Endpoints()["lmtp"], "LHLO x.test"},
	} {
		conn, err := net.Dial("tcp", target.addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		expect := func(prefix string) {
			t.Helper()
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("waiting for %q: %v", prefix, err)
				}
				if !strings.HasPrefix(line, prefix) {
					t.Fatalf("got %q, want %q", line, prefix)
				}
				if len(line) < 4 || line[3] == ' ' {
					return
				}
			}
		}
		send := func(s string) {
			if _, err := conn.Write([]byte(s + "\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		expect("220 ")
		send(target.hello)
		expect("250")
		send("MAIL FROM:<alice@a.test>")
		expect("250 ")
		send("RCPT TO:<bob@b.test>")
		expect("250 ")
		send("DATA")
		expect("354 ")
		send("Subject: half a message\r\n\r\nthe first half")
		conn.Close()
	}
	// Stopping waits for the sessions to end: after it nothing may be
	// left anywhere in the Maildir.
	if err := l.mta.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.mda.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir, _ := l.store.Maildir("bob@b.test")
	for _, sub := range []string{"new", "tmp", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		if len(entries) != 0 {
			t.Errorf("%s/ holds %d files", sub, len(entries))
		}
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	l := newLab(t, labOptions{noRecord: true})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := l.mua.Send(context.Background(), l.smtp(), mua.Draft{
				From: "alice@a.test", To: []string{"bob@b.test"}, Subject: fmt.Sprintf("message %02d", i), Body: "x",
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	msgs := l.inbox(t, "bob@b.test")
	if len(msgs) != n {
		t.Fatalf("%d messages stored, want %d", len(msgs), n)
	}
	subjects := map[string]bool{}
	for _, m := range msgs {
		h, err := l.store.Header(m)
		if err != nil {
			t.Fatal(err)
		}
		subjects[h.Get("Subject")] = true
	}
	if len(subjects) != n {
		t.Errorf("%d distinct messages, want %d", len(subjects), n)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]mta.Config{
		"no name":        {Domains: []string{"b.test"}, LMTP: "127.0.0.1:24"},
		"no domains":     {Name: "mx", LMTP: "127.0.0.1:24"},
		"no lmtp":        {Name: "mx", Domains: []string{"b.test"}},
		"user elsewhere": {Name: "mx", Domains: []string{"b.test"}, Users: []string{"x@c.test"}, LMTP: "127.0.0.1:24"},
		"bad user":       {Name: "mx", Domains: []string{"b.test"}, Users: []string{"x@@b.test"}, LMTP: "127.0.0.1:24"},
		"bad lmtp":       {Name: "mx", Domains: []string{"b.test"}, LMTP: "nowhere"},
	} {
		if _, err := mta.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "mta: config") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	store, err := mailbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mda.New(mda.Config{Name: "mda", Store: store, Users: []string{`"../x"@b.test`}}); err == nil {
		t.Error("mda accepted a user that escapes the store")
	}
	// Stop without Start, twice.
	m, err := mta.New(mta.Config{Name: "mx", Domains: []string{"b.test"}, LMTP: "127.0.0.1:24"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := m.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}
	if len(m.Endpoints()) != 0 {
		t.Error("endpoints before Start")
	}
}

// BenchmarkDeliverEndToEnd measures MTA + MDA over loopback: 10 clients,
// each message submitted on its own SMTP connection, as MUAs do.
func BenchmarkDeliverEndToEnd(b *testing.B) {
	msg := "Subject: bench\r\n\r\n" + strings.Repeat("a line of a message body, about 60 octets long...........\r\n", 50)
	for _, sync := range []bool{true, false} {
		for _, pool := range []int{-1, 4} {
			b.Run(fmt.Sprintf("sync=%v/lmtp-pool=%v", sync, pool > 0), func(b *testing.B) {
				l := newLab(b, labOptions{noSync: !sync, noRecord: true, idleConns: pool})
				var dialer net.Dialer
				_ = dialer
				from := mail.Path{Local: "alice", Domain: "a.test"}
				to := []mail.Path{{Local: "bob", Domain: "b.test"}}
				b.SetParallelism(5) // 5 x GOMAXPROCS(2) = 10 clients
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c, err := l.mua.Dial(context.Background(), l.smtp())
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := c.SendMail(from, to, strings.NewReader(msg), smtp.MailParams{}); err != nil {
							b.Error(err)
							c.Close()
							return
						}
						_ = c.Quit()
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
