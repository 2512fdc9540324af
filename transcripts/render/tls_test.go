package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

// tlsDialogue is a submission session as the tap records it: a password
// in the clear, STARTTLS, the handshake (recorded by the client side
// before the server read the client's last records), decrypted lines.
func tlsDialogue() []transcripts.Event {
	base := transcripts.Event{Conn: 1, Client: "alice", Server: "mx.a.example", Proto: "smtp"}
	ev := func(k transcripts.Kind, d wire.Direction, line string, f ...func(*transcripts.Event)) transcripts.Event {
		e := base
		e.Kind, e.Dir, e.Line = k, d, line
		if d != 0 {
			e.DirText = d.String()
		}
		for _, fn := range f {
			fn(&e)
		}
		return e
	}
	c, s := wire.ClientToServer, wire.ServerToClient
	secret := func(e *transcripts.Event) { e.Secret = true }
	inTLS := func(e *transcripts.Event) { e.TLS = true }
	byAlice := func(e *transcripts.Event) { e.Agent = "alice" }
	evs := []transcripts.Event{
		ev(transcripts.KindOpen, 0, "127.0.0.1:40312 -> 127.0.0.1:2587"),
		ev(transcripts.KindLine, s, "220 mx.a.example ESMTP"),
		ev(transcripts.KindLine, c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==", secret),
		ev(transcripts.KindNote, 0, transcripts.PlaintextPasswordWarning),
		ev(transcripts.KindLine, s, "235 2.7.0 OK"),
		ev(transcripts.KindLine, c, "STARTTLS"),
		ev(transcripts.KindLine, s, "220 2.0.0 Ready to start TLS"),
		ev(transcripts.KindNote, 0, transcripts.NoteStartTLS),
		ev(transcripts.KindWire, c, "TLS record: handshake, 1721 bytes"),
		ev(transcripts.KindWire, s, "TLS record: handshake, 122 bytes"),
		ev(transcripts.KindWire, s, "TLS record: application data, 1062 bytes"),
		ev(transcripts.KindTLS, 0, "TLS 1.3 handshake done: cipher TLS_CHACHA20_POLY1305_SHA256, server certificate CN=mx.a.example (issued by maillab lab CA 5f3a9c01), verified by the client", byAlice),
		ev(transcripts.KindWire, c, "TLS record: application data, 53 bytes"),
		ev(transcripts.KindWire, c, "TLS record: application data, 41 bytes"),
		ev(transcripts.KindLine, c, "EHLO alice.a.example", inTLS),
		ev(transcripts.KindState, 0, "Connected -> Ready", inTLS, func(e *transcripts.Event) { e.Agent = "mx.a.example" }),
		ev(transcripts.KindLine, s, "250 mx.a.example", inTLS),
		ev(transcripts.KindWire, s, "TLS record: application data, 35 bytes"),
		ev(transcripts.KindLine, c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==", secret, inTLS),
		ev(transcripts.KindWire, c, "TLS record: application data, 50 bytes"),
		ev(transcripts.KindClose, 0, "closed by alice"),
	}
	for i := range evs {
		evs[i].Seq = int64(i + 1)
	}
	return evs
}

func TestTLSDecryptedViewHidesRecords(t *testing.T) {
	got := renderText(t, render.Options{}, render.Normalize(tlsDialogue()))
	want := `#1  smtp  alice (127.0.0.1:PORT1) → mx.a.example (127.0.0.1:PORT2)
#1  mx.a.example  S: 220 mx.a.example ESMTP
#1  alice         C: AUTH PLAIN ***
#1                ·  ` + transcripts.PlaintextPasswordWarning + `
#1  mx.a.example  S: 235 2.7.0 OK
#1  alice         C: STARTTLS
#1  mx.a.example  S: 220 2.0.0 Ready to start TLS
#1                ·  ` + transcripts.NoteStartTLS + `
#1  alice         ≡  TLS 1.3 handshake done: cipher <CIPHER>, server certificate CN=mx.a.example (issued by maillab lab CA <CAID>), verified by the client
#1  alice         C: EHLO alice.a.example
#1  mx.a.example  ·  Connected -> Ready
#1  mx.a.example  S: 250 mx.a.example
#1  alice         C: AUTH PLAIN ***
#1  smtp  closed by alice
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTLSWireViewShowsWhatASnifferSees(t *testing.T) {
	got := renderText(t, render.Options{Wire: true}, render.Normalize(tlsDialogue()))
	want := `#1  smtp  alice (127.0.0.1:PORT1) → mx.a.example (127.0.0.1:PORT2)
#1  mx.a.example  S: 220 mx.a.example ESMTP
#1  alice         C: AUTH PLAIN *** (readable by anyone on the link)
#1                ·  ` + transcripts.PlaintextPasswordWarning + `
#1  mx.a.example  S: 235 2.7.0 OK
#1  alice         C: STARTTLS
#1  mx.a.example  S: 220 2.0.0 Ready to start TLS
#1                ·  ` + transcripts.NoteStartTLS + `
#1  alice         C: [TLS record: handshake, <N> bytes]
#1  mx.a.example  S: [TLS record: handshake, <N> bytes]
#1  mx.a.example  S: [TLS record: application data, <N> bytes]
#1  alice         C: [TLS record: application data, <N> bytes]
#1  alice         C: [TLS record: application data, <N> bytes]
#1  alice         ≡  TLS 1.3 handshake done: cipher <CIPHER>, server certificate CN=mx.a.example (issued by maillab lab CA <CAID>), verified by the client
#1  mx.a.example  S: [TLS record: application data, <N> bytes]
#1  alice         C: [TLS record: application data, <N> bytes]
#1  smtp  closed by alice
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	shown := renderText(t, render.Options{Wire: true, ShowSecrets: true}, tlsDialogue())
	if !strings.Contains(shown, "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\n") {
		t.Errorf("wire view with ShowSecrets does not show the password as it crossed:\n%s", shown)
	}
	if strings.Count(shown, "AGFsaWNlAHNlY3JldA==") != 1 {
		t.Errorf("wire view shows the password sent inside TLS:\n%s", shown)
	}
}

func TestTLSNormalizePlacesTheHandshakeStably(t *testing.T) {
	evs := tlsDialogue()
	// The same session where the handshake event was recorded earlier,
	// before the client's last handshake records were read.
	early := append([]transcripts.Event(nil), evs...)
	hs := early[11]
	copy(early[9:12], early[8:11])
	early[8] = hs
	// And one where the client recorded it late, after its first line.
	late := append([]transcripts.Event(nil), evs...)
	copy(late[11:15], late[12:16])
	late[15] = hs
	want := render.Normalize(evs)
	for name, v := range map[string][]transcripts.Event{"early": early, "late": late} {
		if diff := cmp.Diff(want, render.Normalize(v)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	n := render.Normalize(evs)
	if n[13].Kind != transcripts.KindTLS {
		t.Errorf("handshake at %d, want just before the first event inside TLS", 13)
	}
}

func TestTLSJSONKeepsEveryEvent(t *testing.T) {
	var b bytes.Buffer
	j := render.NewJSON(&b)
	evs := tlsDialogue()
	for _, e := range evs {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("%d JSON lines for %d events", len(lines), len(evs))
	}
	kinds := map[transcripts.Kind]int{}
	for i, l := range lines {
		var e transcripts.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		kinds[e.Kind]++
		if e.Secret && strings.Contains(e.Line, "AGFsaWNl") {
			t.Errorf("secret not masked: %s", l)
		}
		if e.Kind != evs[i].Kind || e.TLS != evs[i].TLS || e.Dir != evs[i].Dir {
			t.Errorf("event %d: got %+v, want %+v", i, e, evs[i])
		}
	}
	if kinds[transcripts.KindTLS] != 1 || kinds[transcripts.KindWire] != 7 {
		t.Errorf("kinds %v", kinds)
	}
	if !strings.Contains(b.String(), `"kind":"wire","dir":"C","line":"TLS record: handshake, 1721 bytes"`) {
		t.Errorf("JSON of a wire event:\n%s", b.String())
	}
}

func TestTLSColors(t *testing.T) {
	got := renderText(t, render.Options{Color: true}, tlsDialogue())
	for _, want := range []string{
		"\x1b[33;1m#1                ·  WARNING:", // the warning: bold yellow
		"\x1b[35m#1  alice         ≡  TLS 1.3",    // the handshake: magenta
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%q", want, got)
		}
	}
}

func TestTLSExplained(t *testing.T) {
	got := renderText(t, render.Options{Explain: true, Wire: true, Width: -1}, tlsDialogue())
	if !strings.Contains(got, "# The TLS handshake is over") || !strings.Contains(got, "# A TLS record of encrypted data") {
		t.Errorf("no TLS explanations:\n%s", got)
	}
}
