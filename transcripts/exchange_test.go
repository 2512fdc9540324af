package transcripts_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
	"github.com/maillab/maillab/transcripts/render"
)

func TestExchange(t *testing.T) {
	clock := time.Date(2024, 11, 26, 10, 0, 0, 0, time.UTC)
	rec := transcripts.NewRecorder(transcripts.Options{Now: func() time.Time { return clock }})
	var mu sync.Mutex
	var delivered []transcripts.Event
	cancel := rec.Subscribe(func(e transcripts.Event) {
		mu.Lock()
		delivered = append(delivered, e)
		mu.Unlock()
	})
	defer cancel()
	C, S := wire.ClientToServer, wire.ServerToClient
	rec.Note("lab", "before")
	rec.Exchange("mx.a.example", "ns", "dns", "127.0.0.2:40312", "127.0.0.1:53", []transcripts.ExchangeLine{
		{C, "query MX b.example (id 4711, UDP)"},
		{S, "answer NOERROR aa: 1 MX record for b.example"},
		{S, "b.example. 300 IN MX 10 mx.b.example.\x1b[31m"},
	})
	rec.Exchange("127.0.0.9:5353", "ns", "dns", "127.0.0.9:5353", "127.0.0.1:53", []transcripts.ExchangeLine{
		{C, "unreadable packet of 3 octets (UDP)"},
	})
	evs := rec.Events()
	if diff := cmp.Diff(evs, delivered); diff != "" {
		t.Errorf("subscribers saw other events (-kept +delivered):\n%s", diff)
	}
	var b bytes.Buffer
	tx := render.NewText(&b, render.Options{})
	for _, e := range evs {
		if err := tx.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	tx.Flush()
	want := `
    lab  ·  before
#1  dns  mx.a.example (127.0.0.2:40312) → ns (127.0.0.1:53)
#1  mx.a.example  C: query MX b.example (id 4711, UDP)
#1  ns            S: answer NOERROR aa: 1 MX record for b.example
#1  ns            S: b.example. 300 IN MX 10 mx.b.example.\x1b[31m
#1  dns  answered
#2  dns  127.0.0.9:5353 → ns (127.0.0.1:53)
#2  127.0.0.9:5353  C: unreadable packet of 3 octets (UDP)
#2  dns  no answer
`
	if diff := cmp.Diff(want[1:], b.String()); diff != "" {
		t.Errorf("rendered (-want +got):\n%s", diff)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has Seq %d", i, e.Seq)
		}
	}
}

func TestExchangeRespectsMaxEvents(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{MaxEvents: 2})
	rec.Exchange("c", "s", "dns", "a:1", "b:2", []transcripts.ExchangeLine{{wire.ClientToServer, "query"}, {wire.ServerToClient, "answer"}})
	if n, d := len(rec.Events()), rec.Dropped(); n != 2 || d != 2 {
		t.Errorf("kept %d, dropped %d; want 2 and 2", n, d)
	}
}
