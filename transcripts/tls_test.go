package transcripts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/internal/tlstest"
	"github.com/maillab/maillab/protocols/wire"
)

// newTestPKI makes a CA and a certificate it issued for mx.a.test (package
// labca is an agent, above transcripts); the transcript names both.
func newTestPKI(t *testing.T) *tlstest.CA { return tlstest.NewFor(t, "test lab CA", "mx.a.test") }

// only keeps the events of the given kinds.
func only(evs []Event, kinds ...Kind) []Event {
	var out []Event
	for _, e := range evs {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
			}
		}
	}
	return out
}

// tlsServer plays an SMTP server: STARTTLS (or implicit TLS), then EHLO,
// AUTH PLAIN marked secret, QUIT, all inside TLS.
func tlsServer(cfg *tls.Config, implicit bool) func(p *peer) error {
	return func(p *peer) error {
		raw := p.c
		if !implicit {
			if err := p.send("220 mx.a.test ESMTP"); err != nil {
				return err
			}
			if err := p.expect("STARTTLS"); err != nil {
				return err
			}
			if err := p.send("220 2.0.0 Ready to start TLS"); err != nil {
				return err
			}
		}
		tc := tls.Server(raw, cfg)
		if err := tc.Handshake(); err != nil {
			wire.TLSFailed(raw, err)
			return nil
		}
		c := wire.AfterTLS(raw, tc, false)
		p = newPeer(p.t, c)
		if implicit {
			if err := p.send("220 mx.a.test ESMTP"); err != nil {
				return err
			}
		}
		wire.TracerOf(c).State("Connected", "Ready")
		for _, step := range []struct{ want, reply string }{
			{"EHLO", "250-mx.a.test\r\n250 AUTH PLAIN"},
			{"AUTH PLAIN", "334 "},
			{"AGFsaWNl", "235 2.7.0 OK"},
			{"QUIT", "221 2.0.0 Bye"},
		} {
			if err := p.expect(step.want); err != nil {
				return err
			}
			if step.want == "AUTH PLAIN" {
				wire.TracerOf(c).Mark(wire.ClientToServer, wire.MarkSecret)
			}
			if step.want == "AGFsaWNl" {
				wire.TracerOf(c).Mark(wire.ClientToServer, wire.MarkNone)
			}
			if err := p.send(step.reply); err != nil {
				return err
			}
		}
		// serve closes the socket (tapped or not).
		return nil
	}
}

// tlsClient plays the client of tlsServer and returns the TLS state it saw.
func tlsClient(t *testing.T, raw net.Conn, cfg *tls.Config, implicit bool) (tls.ConnectionState, error) {
	t.Helper()
	p := newPeer(t, raw)
	if !implicit {
		for _, s := range []struct{ want, send string }{{"220", "STARTTLS"}} {
			if err := p.expect(s.want); err != nil {
				return tls.ConnectionState{}, err
			}
			if err := p.send(s.send); err != nil {
				return tls.ConnectionState{}, err
			}
		}
		if err := p.expect("220"); err != nil {
			return tls.ConnectionState{}, err
		}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.Handshake(); err != nil {
		wire.TLSFailed(raw, err)
		raw.Close()
		return tls.ConnectionState{}, err
	}
	c := wire.AfterTLS(raw, tc, true)
	defer c.Close()
	p = newPeer(t, c)
	if implicit {
		if err := p.expect("220"); err != nil {
			return tls.ConnectionState{}, err
		}
	}
	for _, s := range []struct{ send, want string }{
		{"EHLO alice.a.test", "250-"},
		{"", "250 "},
		{"AUTH PLAIN", "334"},
		{"AGFsaWNlAHNlY3JldA==", "235"},
		{"QUIT", "221"},
	} {
		if s.send != "" {
			if err := p.send(s.send); err != nil {
				return tls.ConnectionState{}, err
			}
		}
		if err := p.expect(s.want); err != nil {
			return tls.ConnectionState{}, err
		}
	}
	return tc.ConnectionState(), nil
}

func TestTLSStartTLSBetweenLabAgents(t *testing.T) {
	pki := newTestPKI(t)
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, tlsServer(pki.ServerConfig(), false))
	raw, err := rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := tlsClient(t, raw, pki.ClientConfig("mx.a.test"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	want := []string{
		"#1 line S: 220 mx.a.test ESMTP",
		"#1 line C: STARTTLS",
		"#1 line S: 220 2.0.0 Ready to start TLS",
		"#1 note " + NoteStartTLS,
		"#1 line C: EHLO alice.a.test [tls]",
		"#1 line S: 250-mx.a.test [tls]",
		"#1 line S: 250 AUTH PLAIN [tls]",
		"#1 line C: AUTH PLAIN [tls]",
		"#1 line S: 334  [tls]",
		// Inside TLS: secret, and no warning.
		"#1 line C: AGFsaWNlAHNlY3JldA== [tls] [secret]",
		"#1 line S: 235 2.7.0 OK [tls]",
		"#1 line C: QUIT [tls]",
		"#1 line S: 221 2.0.0 Bye [tls]",
		"#1 close closed by mx.a.test",
	}
	if diff := cmp.Diff(want, summaries(only(evs, KindLine, KindNote, KindClose))); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	hs := only(evs, KindTLS)
	if len(hs) != 1 {
		t.Fatalf("%d handshake events, want 1: %v", len(hs), summaries(hs))
	}
	wantHS := tls.VersionName(cs.Version) + " handshake done: cipher " + tls.CipherSuiteName(cs.CipherSuite) +
		", server certificate CN=mx.a.test (issued by test lab CA), verified by the client"
	if hs[0].Line != wantHS || hs[0].Agent != "alice" || hs[0].TLS {
		t.Errorf("handshake event %+v\nwant line %q by alice", hs[0], wantHS)
	}
	states := only(evs, KindState)
	if len(states) != 1 || !states[0].TLS || states[0].Agent != "mx.a.test" {
		t.Errorf("state events %+v, want one, inside TLS, by mx.a.test", states)
	}
	checkWire(t, evs)
}

// checkWire checks the KindWire events of a TLS 1.3 session: the client
// opens with a handshake record, both sides send application data, and
// every wire event comes after the TLS start.
func checkWire(t *testing.T, evs []Event) {
	t.Helper()
	ws := only(evs, KindWire)
	if len(ws) == 0 {
		t.Fatal("no wire events")
	}
	if ws[0].Dir != wire.ClientToServer || !strings.HasPrefix(ws[0].Line, "TLS record: handshake, ") {
		t.Errorf("first wire event %q", summary(ws[0]))
	}
	seen := map[string]bool{}
	for _, e := range ws {
		if !strings.HasPrefix(e.Line, "TLS record: ") || !strings.HasSuffix(e.Line, " bytes") {
			t.Errorf("wire event %q", summary(e))
		}
		seen[e.DirText+" "+strings.Split(e.Line, ",")[0]] = true
	}
	for _, k := range []string{"C TLS record: application data", "S TLS record: application data", "S TLS record: handshake"} {
		if !seen[k] {
			t.Errorf("no %q record among %v", k, summaries(ws))
		}
	}
}

func TestTLSImplicitFromAnOutsideClient(t *testing.T) {
	pki := newTestPKI(t)
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "submissions")
	done := serve(t, l, tlsServer(pki.ServerConfig(), true))
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsClient(t, raw, pki.ClientConfig("mx.a.test"), true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if evs[1].Kind != KindNote || evs[1].Line != NoteImplicitTLS {
		t.Errorf("event after open: %q, want the implicit TLS note", summary(evs[1]))
	}
	lines := only(evs, KindLine)
	if len(lines) != 10 || lines[0].Line != "220 mx.a.test ESMTP" || !lines[0].TLS {
		t.Errorf("lines: %v", summaries(lines))
	}
	for _, e := range only(evs, KindNote) {
		if e.Line == PlaintextPasswordWarning {
			t.Error("plaintext warning inside TLS")
		}
	}
	hs := only(evs, KindTLS)
	if len(hs) != 1 || hs[0].Agent != "mx.a.test" ||
		!strings.Contains(hs[0].Line, "server name mx.a.test asked by the client (SNI)") {
		t.Errorf("handshake events: %v", summaries(hs))
	}
	checkWire(t, evs)
}

func TestTLSDialerRecordsWhenServerIsNotTapped(t *testing.T) {
	pki := newTestPKI(t)
	rec := NewRecorder(Options{})
	l := listen(t)
	done := serve(t, l, tlsServer(pki.ServerConfig(), false))
	raw, err := rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsClient(t, raw, pki.ClientConfig("mx.a.test"), false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if hs := only(evs, KindTLS); len(hs) != 1 || !strings.HasSuffix(hs[0].Line, ", verified by the client") {
		t.Errorf("handshake events: %v", summaries(hs))
	}
	if n := len(only(evs, KindLine)); n != 12 {
		t.Errorf("%d lines, want 12: %v", n, summaries(only(evs, KindLine)))
	}
	checkWire(t, evs)
}

func TestTLSFailedWhenTheClientDoesNotTrustTheCA(t *testing.T) {
	pki := newTestPKI(t)
	rec := NewRecorder(Options{})
	l := rec.Listen(listen(t), "mx.a.test", "smtp")
	done := serve(t, l, tlsServer(pki.ServerConfig(), false))
	raw, err := rec.Dialer("alice", "smtp", nil)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := pki.ClientConfig("mx.a.test")
	cfg.RootCAs = x509.NewCertPool()
	if _, err := tlsClient(t, raw, cfg, false); err == nil {
		t.Fatal("handshake succeeded without the CA")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	notes := map[string]string{}
	for _, e := range only(rec.Events(), KindNote) {
		if strings.HasPrefix(e.Line, TLSFailedPrefix) {
			notes[e.Agent] = e.Line
		}
	}
	if got := notes["alice"]; !strings.HasPrefix(got, TLSFailedPrefix+"the client does not trust the certificate") ||
		!strings.Contains(got, "x509: certificate signed by unknown authority") {
		t.Errorf("client's note %q", got)
	}
	if got := notes["mx.a.test"]; !strings.HasPrefix(got, TLSFailedPrefix+"the client rejected the certificate: remote error: tls:") {
		t.Errorf("server's note %q", got)
	}
	if n := len(only(rec.Events(), KindTLS)); n != 0 {
		t.Errorf("%d handshake events after a failure", n)
	}
}

func TestTLSPlaintextPasswordWarning(t *testing.T) {
	for _, tc := range []struct {
		proto string
		lines []string
		warns int
	}{
		{"pop3", []string{"USER bob", "PASS secret"}, 1},
		{"imap", []string{"a1 LOGIN bob secret"}, 1},
		{"smtp", []string{"AUTH PLAIN AGJvYgBzZWNyZXQ=", "AUTH PLAIN AGJvYgBzZWNyZXQ="}, 2},
		{"smtp", []string{"EHLO x", "MAIL FROM:<a@b>"}, 0},
	} {
		rec := NewRecorder(Options{})
		srv, cli := pipeTap(t, rec)
		srv.cr.proto = tc.proto
		go func() {
			for _, l := range tc.lines {
				cli.Write([]byte(l + "\r\n"))
			}
			cli.Close()
		}()
		buf := make([]byte, 64)
		for {
			if _, err := srv.Read(buf); err != nil {
				break
			}
		}
		warns := 0
		for _, e := range rec.Events() {
			if e.Line == PlaintextPasswordWarning {
				warns++
			}
		}
		if warns != tc.warns {
			t.Errorf("%s %q: %d warnings, want %d: %v", tc.proto, tc.lines, warns, tc.warns, summaries(rec.Events()))
		}
	}
}

func TestTLSEventsSurviveJSON(t *testing.T) {
	for _, e := range []Event{
		{Seq: 1, Conn: 1, Kind: KindTLS, Agent: "alice", Line: "TLS 1.3 handshake done: cipher TLS_AES_128_GCM_SHA256"},
		{Seq: 2, Conn: 1, Kind: KindWire, Dir: wire.ClientToServer, DirText: "C", Line: "TLS record: application data, 41 bytes"},
		{Seq: 3, Conn: 1, Kind: KindLine, Dir: wire.ServerToClient, DirText: "S", Line: "250 OK", TLS: true},
	} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", b, diff)
		}
	}
}

func TestTLSWireEventsBounded(t *testing.T) {
	rec := NewRecorder(Options{MaxEvents: -1})
	var wires, notes int
	rec.Subscribe(func(e Event) {
		switch e.Kind {
		case KindWire:
			wires++
		case KindNote:
			notes++
		}
	})
	srv, cli := pipeTap(t, rec)
	srv.cr.tlsOn.Store(true)
	rec1 := []byte{23, 3, 3, 0, 1, 'x'}
	go func() {
		cli.Write([]byte(strings.Repeat(string(rec1), MaxWireEvents+50)))
		cli.Close()
	}()
	buf := make([]byte, 4096)
	for {
		if _, err := srv.Read(buf); err != nil {
			break
		}
	}
	if wires != MaxWireEvents || notes != 1 {
		t.Errorf("%d wire events, %d notes; want %d and 1", wires, notes, MaxWireEvents)
	}
}

func TestRecordParserAcrossChunks(t *testing.T) {
	stream := []byte{22, 3, 1, 0, 2, 'a', 'b', 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 0, 21, 3, 3, 0, 2, 1, 0, 'G', 'E', 'T', ' ', '/'}
	want := []string{
		"TLS record: handshake, 2 bytes",
		"TLS record: change cipher spec, 1 bytes",
		"TLS record: application data, 0 bytes",
		"TLS record: alert, 2 bytes",
		`error: not a TLS record (starts 47 45 54 20 2f, "GET /")`,
	}
	for chunk := 1; chunk <= len(stream); chunk++ {
		var rp recordParser
		var got []string
		for i := 0; i < len(stream); i += chunk {
			rp.feed(stream[i:min(i+chunk, len(stream))], func(h recordHeader, err error) {
				if err != nil {
					got = append(got, "error: "+err.Error())
					return
				}
				got = append(got, h.String())
			})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("chunks of %d (-want +got):\n%s", chunk, diff)
		}
	}
}

// FuzzRecordParser feeds arbitrary bytes, cut anywhere, to the record
// parser: it must not panic, must stop at the first bad header, and must
// find the same records however the bytes are cut.
func FuzzRecordParser(f *testing.F) {
	f.Add([]byte{22, 3, 1, 0, 5, 1, 2, 3, 4, 5, 23, 3, 3, 0, 0}, uint8(3))
	f.Add([]byte("220 mx.a.test ESMTP\r\n"), uint8(1))
	f.Add([]byte{24, 3, 4, 0xff, 0xff}, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		collect := func(size int) []string {
			var rp recordParser
			var out []string
			for i := 0; i < len(b); i += size {
				rp.feed(b[i:min(i+size, len(b))], func(h recordHeader, err error) {
					if err != nil {
						out = append(out, "bad")
						return
					}
					if h.Length > maxRecordLen {
						t.Fatalf("length %d accepted", h.Length)
					}
					out = append(out, h.String())
				})
			}
			return out
		}
		whole := collect(max(len(b), 1))
		cutUp := collect(int(cut)%7 + 1)
		if diff := cmp.Diff(whole, cutUp); diff != "" {
			t.Errorf("whole vs cut (-whole +cut):\n%s", diff)
		}
		for i, s := range whole {
			if s == "bad" && i != len(whole)-1 {
				t.Errorf("records after a bad header: %v", whole)
			}
		}
		if len(b) >= recordHeaderLen {
			h, err := parseRecordHeader(b)
			if err == nil && (h.Type < 20 || h.Type > 24) {
				t.Errorf("type %d accepted", h.Type)
			}
		}
	})
}
