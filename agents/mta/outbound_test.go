package mta_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maillab/maillab/agents/mailbox"
	"github.com/maillab/maillab/agents/mda"
	"github.com/maillab/maillab/agents/mta"
	"github.com/maillab/maillab/agents/mua"
	"github.com/maillab/maillab/protocols/mail"
	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/smtp/smtpserver"
	"github.com/maillab/maillab/transcripts"
)

// remote is an SMTP server that stands for another domain's MTA: it
// accepts everything and keeps it in memory.
type remote struct {
	addr string
	b    *smtpserver.MemoryBackend
}

func startRemote(t *testing.T, ip string) *remote {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	b := &smtpserver.MemoryBackend{}
	srv := smtpserver.New(smtpserver.Options{Hostname: "mx.c.test"}, b)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		<-done
	})
	return &remote{addr: l.Addr().String(), b: b}
}

// outLab is one MTA for b.test, with its MDA, that sends mail for other
// domains through a smarthost address (so no DNS is needed here; the
// scenarios test MX routing with the lab's DNS agent).
type outLab struct {
	store *mailbox.Store
	rec   *transcripts.Recorder
	mta   *mta.MTA
}

func newOutLab(t *testing.T, cfg mta.Config) *outLab { return newDomainLab(t, "b.test", cfg) }

func newDomainLab(t *testing.T, domain string, cfg mta.Config) *outLab {
	t.Helper()
	l := &outLab{rec: transcripts.NewRecorder(transcripts.Options{Now: clock})}
	var err error
	l.store, err = mailbox.OpenWith(t.TempDir(), mailbox.Options{NoSync: true, Hostname: "mda." + domain})
	if err != nil {
		t.Fatal(err)
	}
	users := []string{"alice@" + domain, "bob@" + domain}
	m, err := mda.New(mda.Config{Name: "mda." + domain, Store: l.store, Users: users, Recorder: l.rec, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	var n atomic.Int64
	cfg.Name, cfg.Domains, cfg.Users = "mx."+domain, []string{domain}, users
	cfg.LMTP = m.Endpoints()["lmtp"]
	cfg.Recorder, cfg.Now = l.rec, clock
	cfg.IDs = func() string { return fmt.Sprintf("Q%d", n.Add(1)) }
	if cfg.QueueDir == "" {
		cfg.QueueDir = t.TempDir()
	}
	if cfg.Retry == nil {
		cfg.Retry = []time.Duration{20 * time.Millisecond}
	}
	l.mta, err = mta.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.mta.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.mta.Stop(context.Background()) })
	return l
}

// client dials the MTA from a chosen loopback address.
func (l *outLab) client(t *testing.T, from string) *mua.MUA {
	t.Helper()
	m, err := mua.New(mua.Config{Name: "client", Hostname: "client.test", Recorder: l.rec, Now: clock, LocalAddr: netip.MustParseAddr(from)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (l *outLab) send(t *testing.T, from, sender string, to ...string) error {
	t.Helper()
	c, err := l.client(t, from).Dial(context.Background(), l.mta.Endpoints()["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rcpts []mail.Path
	for _, r := range to {
		p, err := mail.ParseAddress(r)
		if err != nil {
			t.Fatal(err)
		}
		rcpts = append(rcpts, p)
	}
	fromPath, _ := mail.ParseAddress(sender)
	res, err := c.SendMail(fromPath, rcpts, strings.NewReader("Subject: test\r\nFrom: "+sender+"\r\n\r\nhello\r\n"), smtp.MailParams{})
	if err == nil && res != nil && len(res.Refused) > 0 {
		for _, e := range res.Refused {
			return e
		}
	}
	return err
}

func (l *outLab) notes() string {
	var b strings.Builder
	for _, e := range l.rec.Events() {
		if e.Kind == transcripts.KindNote {
			b.WriteString(e.Line + "\n")
		}
	}
	return b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClosedMTARefusesStrangers(t *testing.T) {
	r := startRemote(t, "127.0.0.1")
	for _, tc := range []struct {
		refusal       int
		code          smtp.Code
		enhanced      string
		trusted, from string
	}{
		{0, 550, "5.7.1", "127.0.0.2/32", "127.0.0.3"},
		{554, 554, "5.7.1", "127.0.0.2/32", "127.0.0.3"},
		{454, 454, "4.7.1", "127.0.0.2/32", "127.0.0.3"},
	} {
		t.Run(fmt.Sprint(tc.refusal), func(t *testing.T) {
			l := newOutLab(t, mta.Config{Smarthost: r.addr, RelayRefusal: tc.refusal, TrustedNets: []netip.Prefix{netip.MustParsePrefix(tc.trusted)}})
			err := l.send(t, tc.from, "spammer@evil.test", "victim@c.test")
			wantReply(t, err, tc.code, tc.enhanced, "Relay access denied")
			if !strings.Contains(l.notes(), "relaying refused") {
				t.Errorf("no note explains the refusal:\n%s", l.notes())
			}
			// Its own domain takes mail from anyone.
			if err := l.send(t, tc.from, "spammer@evil.test", "bob@b.test"); err != nil {
				t.Errorf("mail for its own domain refused: %v", err)
			}
			// The trusted network may relay.
			if err := l.send(t, "127.0.0.2", "bob@b.test", "carol@c.test"); err != nil {
				t.Fatalf("trusted client refused: %v", err)
			}
			waitFor(t, "the relayed message", func() bool { return len(r.b.Messages()) > 0 })
		})
	}
}

func TestOpenRelayRelaysForAnyone(t *testing.T) {
	r := startRemote(t, "127.0.0.1")
	l := newOutLab(t, mta.Config{Smarthost: r.addr, Policy: mta.PolicyOpen})
	if l.mta.Kind() != "open-relay" {
		t.Errorf("Kind = %q", l.mta.Kind())
	}
	if err := l.send(t, "127.0.0.9", "spammer@evil.test", "victim@c.test"); err != nil {
		t.Fatalf("open relay refused: %v", err)
	}
	waitFor(t, "the relayed spam", func() bool { return len(r.b.Messages()) == 1 })
	got := r.b.Messages()[0]
	if got.From.String() != "spammer@evil.test" || got.To[0].String() != "victim@c.test" {
		t.Errorf("relayed envelope %v -> %v", got.From, got.To)
	}
	if !strings.Contains(string(got.Data), "by mx.b.test (maillab) with ESMTP id Q1") {
		t.Errorf("no Received by the relay:\n%s", got.Data)
	}
	if !strings.Contains(l.notes(), "OPEN RELAY") {
		t.Errorf("the transcript does not label the open relaying:\n%s", l.notes())
	}
}

func TestSmarthostRelaysForListedHostsOnly(t *testing.T) {
	r := startRemote(t, "127.0.0.1")
	l := newOutLab(t, mta.Config{Smarthost: r.addr, Policy: mta.PolicySmarthost, RelayRefusal: 554,
		TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}})
	if l.mta.Kind() != "smarthost" {
		t.Errorf("Kind = %q", l.mta.Kind())
	}
	wantReply(t, l.send(t, "127.0.0.5", "x@office.test", "bob@c.test"), 554, "5.7.1", "Relay access denied")
	if err := l.send(t, "127.0.0.4", "x@office.test", "bob@c.test"); err != nil {
		t.Fatalf("listed host refused: %v", err)
	}
	waitFor(t, "the relayed message", func() bool { return len(r.b.Messages()) == 1 })
}

// A peer that is down defers the message; when it gives up, the sender
// gets one bounce from <>, stored in her mailbox.
func TestDeferThenBounce(t *testing.T) {
	// A port nobody listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	l := newOutLab(t, mta.Config{Smarthost: down, TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxAge: 300 * time.Millisecond, Retry: []time.Duration{50 * time.Millisecond}})
	if err := l.send(t, "127.0.0.1", "alice@b.test", "bob@c.test"); err != nil {
		t.Fatalf("send: %v", err)
	}
	waitFor(t, "the bounce", func() bool {
		msgs, _ := l.store.List("alice@b.test")
		if len(msgs) == 1 {
			return true
		}
		t.Logf("queue: %+v", l.mta.Queue().List())
		return false
	})
	msgs, _ := l.store.List("alice@b.test")
	raw, err := l.store.Read(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"Return-Path: <>", "multipart/report", "report-type=delivery-status", "Final-Recipient: rfc822; bob@c.test", "Action: failed"} {
		if !strings.Contains(s, want) {
			t.Errorf("bounce lacks %q:\n%s", want, s)
		}
	}
	waitFor(t, "an empty queue", func() bool { return l.mta.Queue().Len() == 0 })
	if n := strings.Count(l.notes(), "connection refused"); n < 2 {
		t.Errorf("expected at least two refused attempts in the notes, got %d:\n%s", n, l.notes())
	}
}

// A peer that answers 451 to RCPT once: the first attempt is deferred,
// the retry delivers, and the message arrives exactly once.
func TestFaultThenRetryDeliversOnce(t *testing.T) {
	peer := newDomainLab(t, "c.test", mta.Config{Faults: []mta.Fault{{Command: "RCPT", Reply: smtp.Errorf(451, "4.3.0", "Try again later"), Times: 1}}})
	sender := newOutLab(t, mta.Config{Smarthost: peer.mta.Endpoints()["smtp"], TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err := sender.send(t, "127.0.0.1", "alice@b.test", "bob@c.test"); err != nil {
		t.Fatalf("send: %v", err)
	}
	waitFor(t, "the retried delivery", func() bool {
		msgs, _ := peer.store.List("bob@c.test")
		return len(msgs) == 1
	})
	waitFor(t, "an empty queue", func() bool { return sender.mta.Queue().Len() == 0 })
	if msgs, _ := peer.store.List("bob@c.test"); len(msgs) != 1 {
		t.Errorf("bob has %d messages, want 1", len(msgs))
	}
	notes := sender.notes() + peer.notes()
	for _, want := range []string{"fault injected by the scenario: answering RCPT with 451", "delivered to <bob@c.test> via"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestHopLimit(t *testing.T) {
	l := newOutLab(t, mta.Config{MaxHops: 5})
	c, err := l.client(t, "127.0.0.1").Dial(context.Background(), l.mta.Endpoints()["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Repeat("Received: from x by y; Thu, 15 Jan 2026 10:30:00 +0100\r\n", 5) + "Subject: loop\r\n\r\nround and round\r\n"
	_, err = c.SendMail(mail.Path{Local: "a", Domain: "c.test"}, []mail.Path{{Local: "bob", Domain: "b.test"}}, strings.NewReader(msg), smtp.MailParams{})
	wantReply(t, err, 554, "5.4.6", "Too many hops")
}
