package dnsagent

// Interop tests: the real dig (Debian package bind9-dnsutils) against the
// agent on loopback. A missing dig skips the test on a laptop and fails it
// under CI (CI=true), where every client is installed.

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maillab/maillab/internal/testtool"
	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/transcripts"
)

// digResult is what a user reads in dig's output.
type digResult struct {
	status     string
	flags      []string
	answer     []string // records, fields joined by one space
	authority  []string
	additional []string
	raw        string
}

var (
	digStatus = regexp.MustCompile(`(?m)^;; ->>HEADER<<- opcode: QUERY, status: ([A-Z]+), id: \d+$`)
	digFlags  = regexp.MustCompile(`(?m)^;; flags: ([a-z ]*);`)
)

func runDig(t *testing.T, dig, addr string, args ...string) digResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"@" + host, "-p", port, "+time=5", "+tries=1"}, args...)
	out, err := exec.CommandContext(ctx, dig, all...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	r := digResult{raw: string(out)}
	m := digStatus.FindStringSubmatch(r.raw)
	f := digFlags.FindStringSubmatch(r.raw)
	if m == nil || f == nil {
		t.Fatalf("dig %s: no header in output:\n%s", strings.Join(all, " "), out)
	}
	r.status, r.flags = m[1], strings.Fields(f[1])
	var section *[]string
	for _, line := range strings.Split(r.raw, "\n") {
		switch {
		case line == ";; ANSWER SECTION:":
			section = &r.answer
		case line == ";; AUTHORITY SECTION:":
			section = &r.authority
		case line == ";; ADDITIONAL SECTION:":
			section = &r.additional
		case line == "" || strings.HasPrefix(line, ";"):
			section = nil
		case section != nil:
			*section = append(*section, strings.Join(strings.Fields(line), " "))
		}
	}
	return r
}

func (r digResult) check(t *testing.T, status string, flags []string, noFlags []string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %s, want %s\n%s", r.status, status, r.raw)
	}
	for _, f := range flags {
		if !slices.Contains(r.flags, f) {
			t.Errorf("flags %v lack %s", r.flags, f)
		}
	}
	for _, f := range noFlags {
		if slices.Contains(r.flags, f) {
			t.Errorf("flags %v have %s", r.flags, f)
		}
	}
}

func TestDigInterop(t *testing.T) {
	dig := testtool.RequireWorkingTool(t, "dig", "-v")
	recs := slices.Clone(labRecords)
	for i := range 40 {
		recs = append(recs, dns.Record{Name: "big.b.example", Type: "TXT", Value: fmt.Sprintf("%02d %s", i, strings.Repeat("t", 40))})
	}
	rec := transcripts.NewRecorder(transcripts.Options{})
	closed := make(chan struct{}, 100)
	defer rec.Subscribe(func(e transcripts.Event) {
		if e.Kind == transcripts.KindClose {
			closed <- struct{}{}
		}
	})()
	s, err := New(Config{Name: "ns", Zones: []string{"a.example", "b.example", "0.0.127.in-addr.arpa"}, Records: recs, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	addr := s.Endpoints()["dns"]
	soaB := "b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300"

	t.Run("MX over UDP", func(t *testing.T) {
		r := runDig(t, dig, addr, "MX", "b.example")
		r.check(t, "NOERROR", []string{"qr", "aa", "rd"}, []string{"ra", "tc"})
		if want := []string{"b.example. 300 IN MX 10 mx.b.example."}; !slices.Equal(r.answer, want) {
			t.Errorf("answer %q, want %q", r.answer, want)
		}
		if !slices.Contains(r.additional, "mx.b.example. 300 IN A 127.0.0.12") {
			t.Errorf("additional %q lacks the exchange's address", r.additional)
		}
	})
	t.Run("MX over TCP", func(t *testing.T) {
		r := runDig(t, dig, addr, "+tcp", "MX", "B.EXAMPLE")
		r.check(t, "NOERROR", []string{"qr", "aa"}, nil)
		if want := []string{"B.EXAMPLE. 300 IN MX 10 mx.b.example."}; !slices.Equal(r.answer, want) {
			t.Errorf("answer %q, want %q (case of the question kept)", r.answer, want)
		}
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		r := runDig(t, dig, addr, "MX", "nobody.b.example")
		r.check(t, "NXDOMAIN", []string{"aa"}, nil)
		if len(r.answer) != 0 || !slices.Equal(r.authority, []string{soaB}) {
			t.Errorf("answer %q authority %q, want none and the SOA", r.answer, r.authority)
		}
	})
	t.Run("NODATA", func(t *testing.T) {
		r := runDig(t, dig, addr, "AAAA", "mx.b.example")
		r.check(t, "NOERROR", []string{"aa"}, nil)
		if len(r.answer) != 0 || !slices.Equal(r.authority, []string{soaB}) {
			t.Errorf("answer %q authority %q, want none and the SOA", r.answer, r.authority)
		}
	})
	t.Run("PTR", func(t *testing.T) {
		r := runDig(t, dig, addr, "-x", "127.0.0.12")
		r.check(t, "NOERROR", []string{"aa"}, nil)
		if want := []string{"12.0.0.127.in-addr.arpa. 300 IN PTR mx.b.example."}; !slices.Equal(r.answer, want) {
			t.Errorf("answer %q, want %q", r.answer, want)
		}
	})
	t.Run("null MX", func(t *testing.T) {
		r := runDig(t, dig, addr, "MX", "nomail.a.example")
		if want := []string{"nomail.a.example. 300 IN MX 0 ."}; !slices.Equal(r.answer, want) {
			t.Errorf("answer %q, want %q", r.answer, want)
		}
	})
	t.Run("REFUSED", func(t *testing.T) {
		r := runDig(t, dig, addr, "MX", "example.org")
		r.check(t, "REFUSED", nil, []string{"aa"})
	})
	t.Run("truncated", func(t *testing.T) {
		r := runDig(t, dig, addr, "+ignore", "+noedns", "TXT", "big.b.example")
		r.check(t, "NOERROR", []string{"aa", "tc"}, nil)
		if len(r.answer) != 0 {
			t.Errorf("truncated answer has %d records", len(r.answer))
		}
		// Without +ignore, dig retries over TCP by itself.
		r = runDig(t, dig, addr, "+noedns", "TXT", "big.b.example")
		r.check(t, "NOERROR", []string{"aa"}, []string{"tc"})
		if len(r.answer) != 40 || !strings.Contains(r.raw, "Truncated, retrying in TCP mode") {
			t.Errorf("%d records, want 40 after dig's TCP retry\n%s", len(r.answer), r.raw)
		}
	})

	// Every dig query is in the transcript, with dig's EDNS0 size: 10
	// queries, the last one maybe recorded just after dig read its answer.
	for range 10 {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("waited 10s for the transcript")
		}
	}
	var queries []string
	for _, e := range rec.Events() {
		if e.Kind == transcripts.KindLine && e.DirText == "C" {
			queries = append(queries, regexp.MustCompile(`id \d+`).ReplaceAllString(e.Line, "id N"))
		}
	}
	for _, want := range []string{
		"query MX b.example (id N, UDP, EDNS0 1232)",
		"query MX B.EXAMPLE (id N, TCP, EDNS0 1232)",
		"query PTR 12.0.0.127.in-addr.arpa (id N, UDP, EDNS0 1232)",
		"query TXT big.b.example (id N, UDP)",
		"query TXT big.b.example (id N, TCP)",
	} {
		if !slices.Contains(queries, want) {
			t.Errorf("transcript lacks %q; has\n%s", want, strings.Join(queries, "\n"))
		}
	}
}
