package dnsagent

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/protocols/dns/dnsclient"
	"github.com/maillab/maillab/transcripts"
)

var labRecords = []dns.Record{
	{Name: "b.example", Type: "MX", Preference: 10, Value: "mx.b.example"},
	{Name: "mx.b.example", Type: "A", Value: "127.0.0.12"},
	{Name: "12.0.0.127.in-addr.arpa", Type: "PTR", Value: "mx.b.example"},
	{Name: "nomail.a.example", Type: "MX", Value: "."},
}

func startAgent(t *testing.T, rec *transcripts.Recorder) *Server {
	t.Helper()
	s, err := New(Config{
		Name:     "ns",
		Zones:    []string{"a.example", "b.example", "0.0.127.in-addr.arpa"},
		Records:  labRecords,
		Recorder: rec,
		ClientName: func(a netip.Addr) string {
			if a == netip.MustParseAddr("127.0.0.2") {
				return "mx.a.example"
			}
			return ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestAgentRecordsExchanges(t *testing.T) {
	rec := transcripts.NewRecorder(transcripts.Options{})
	closed := make(chan struct{}, 10)
	defer rec.Subscribe(func(e transcripts.Event) {
		if e.Kind == transcripts.KindClose {
			closed <- struct{}{}
		}
	})()
	s := startAgent(t, rec)
	if s.Name() != "ns" || s.Kind() != "dns" {
		t.Errorf("Name %q Kind %q", s.Name(), s.Kind())
	}
	addr := s.Endpoints()["dns"]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Endpoints %v", s.Endpoints())
	}
	n := uint16(0)
	r := &dnsclient.Resolver{Server: addr, LocalAddr: netip.MustParseAddr("127.0.0.2"), ID: func() uint16 { n++; return n }}
	mxs, err := r.LookupMX(context.Background(), "b.example")
	if err != nil || len(mxs) != 1 || mxs[0] != (dnsclient.MX{Host: "mx.b.example", Preference: 10}) {
		t.Fatalf("LookupMX: %v, %v", mxs, err)
	}
	if _, err := r.LookupMX(context.Background(), "nobody.b.example"); !errors.Is(err, dnsclient.ErrNXDomain) {
		t.Fatalf("LookupMX nobody: %v", err)
	}
	// OnExchange runs after the answer is sent: the events may come just
	// after the reply.
	for range 2 {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("waited 10s for the exchanges to be recorded")
		}
	}
	evs := rec.Events()
	var got []string
	for _, e := range evs {
		line := e.Line
		if e.Kind == transcripts.KindOpen {
			line = "open"
		}
		got = append(got, e.Client+" "+e.Server+" "+e.Proto+" "+string(e.Kind)+" "+e.DirText+" "+line)
	}
	want := []string{
		"mx.a.example ns dns open  open",
		"mx.a.example ns dns line C query MX b.example (id 1, UDP)",
		"mx.a.example ns dns line S answer NOERROR aa: 1 MX record for b.example, 1 additional",
		"mx.a.example ns dns line S b.example. 300 IN MX 10 mx.b.example.",
		"mx.a.example ns dns line S additional: mx.b.example. 300 IN A 127.0.0.12",
		"mx.a.example ns dns close  answered",
		"mx.a.example ns dns open  open",
		"mx.a.example ns dns line C query MX nobody.b.example (id 2, UDP)",
		"mx.a.example ns dns line S answer NXDOMAIN aa: no such name nobody.b.example",
		"mx.a.example ns dns line S authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300",
		"mx.a.example ns dns close  answered",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(evs[0].Line, "127.0.0.2:") || !strings.HasSuffix(evs[0].Line, " -> "+addr) {
		t.Errorf("open line %q", evs[0].Line)
	}
}

func TestAgentConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "dns agent: Name is required"},
		{Config{Name: "ns", Zones: []string{"b.example"}, Listen: "nope"}, "dns agent ns: Listen"},
		{Config{Name: "ns"}, "dns agent ns: dns: no zones"},
		{Config{Name: "ns", Zones: []string{"b.example"}, Records: []dns.Record{{Name: "c.example", Type: "A", Value: "127.0.0.1"}}}, "dns agent ns: dns: record 1 (A c.example)"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q...", tc.cfg, err, tc.want)
		}
	}
}

func TestAgentStopTwiceAndWithoutStart(t *testing.T) {
	s, err := New(Config{Name: "ns", Zones: []string{"b.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Error(err)
	}
	if len(s.Endpoints()) != 0 {
		t.Errorf("Endpoints before Start: %v", s.Endpoints())
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	for range 2 {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

// Listen with an explicit port binds that port for both transports.
func TestAgentExplicitPortTaken(t *testing.T) {
	a := startAgent(t, nil)
	s, err := New(Config{Name: "ns2", Zones: []string{"b.example"}, Listen: a.Endpoints()["dns"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		s.Stop(context.Background())
		t.Fatal("Start on a taken port succeeded")
	}
}
