package queue

import (
	"reflect"
	"testing"
	"time"
)

func TestParseEnvelopeInvalid(t *testing.T) {
	for _, in := range []string{
		``,
		`null`,
		`[]`,
		`{"version": 1}`,
		`{"version": 2, "id": "A", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		`{"version": 1, "id": "../A", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		`{"version": 1, "id": "A", "rcpts": []}`,
		`{"version": 1, "id": "A", "rcpts": [{"addr": "", "state": "pending"}]}`,
		`{"version": 1, "id": "A", "rcpts": [{"addr": "a@b\r\nBcc: x", "state": "pending"}]}`,
		`{"version": 1, "id": "A", "from": "a\n", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		`{"version": 1, "id": "A", "rcpts": [{"addr": "a@b", "state": "sent"}]}`,
		`{"version": 1, "id": "A", "size": -1, "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
		`{"version": 1, "id": "A", "rcpts": [{"addr": "a@b", "state": "failed", "dsn": "x/y"}]}`,
		`{"version": 1, "id": "A", "arrived": "yesterday", "rcpts": [{"addr": "a@b", "state": "pending"}]}`,
	} {
		if e, err := parseEnvelope([]byte(in)); err == nil {
			t.Errorf("parseEnvelope(%q) = %+v, want an error", in, e)
		}
	}
}

func sampleEnvelope() *envelope {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	return &envelope{Version: 1, ID: "4F1C2A9B7E30", From: "alice@a.example", Arrived: t0, Size: 1234, Attempts: 2,
		Next: t0.Add(10 * time.Minute), Rcpts: []rcptRecord{
			{Addr: "bob@b.example", State: StateDelivered, Attempts: 1, LastStatus: "2.0.0", RemoteMTA: "mx.b.example", LastAttempt: t0},
			{Addr: "carol@c.example", State: StatePending, Attempts: 2, LastStatus: "4.4.1", LastDiag: "X-Maillab; connection refused", LastAttempt: t0.Add(5 * time.Minute)},
			{Addr: "dave@b.example", State: StateFailed, Attempts: 1, LastStatus: "5.1.1", LastDiag: "smtp; 550 5.1.1 unknown", DSN: "B0B0", DSNQueued: true},
		}}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	e := sampleEnvelope()
	data, err := e.marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

// FuzzEnvelope: parseEnvelope never panics, and what it accepts survives a
// round trip unchanged.
func FuzzEnvelope(f *testing.F) {
	data, _ := sampleEnvelope().marshal()
	f.Add(data)
	f.Add([]byte(`{"version": 1, "id": "A", "rcpts": [{"addr": "a@b", "state": "pending"}]}`))
	f.Add([]byte(`{"version": 1, "id": "A", "rcpts": [{"addr": "a@b", "state": "expired", "dsn": "B", "dsn_queued": true}]}`))
	f.Add([]byte(`{"version": 1, "id": "A", "from": "\u0000", "rcpts": null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := parseEnvelope(data)
		if err != nil {
			return
		}
		out, err := e.marshal()
		if err != nil {
			t.Fatalf("marshal of a parsed envelope: %v", err)
		}
		e2, err := parseEnvelope(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		out2, _ := e2.marshal()
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the envelope:\n%s\n%s", out, out2)
		}
	})
}
