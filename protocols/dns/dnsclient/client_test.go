package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/protocols/dns/dnsserver"
)

// labServer runs the real server on 127.0.0.1 (UDP and TCP on the same
// port) and returns its address and the client addresses it saw.
func labServer(t *testing.T, records []dns.Record) (string, func() []netip.AddrPort) {
	t.Helper()
	a, err := dns.NewAuthority([]string{"b.example", "a.example"}, records)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("TCP port of %s taken: %v", pc.LocalAddr(), err)
	}
	var mu sync.Mutex
	var clients []netip.AddrPort
	srv := dnsserver.New(dnsserver.Options{OnExchange: func(proto string, c netip.AddrPort, ex dns.Exchange) {
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
	}}, a)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc, ln) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return pc.LocalAddr().String(), func() []netip.AddrPort {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(clients)
	}
}

var records = []dns.Record{
	{Name: "b.example", Type: "MX", Preference: 20, Value: "b.mx.b.example"},
	{Name: "b.example", Type: "MX", Preference: 10, Value: "z.mx.b.example"},
	{Name: "b.example", Type: "MX", Preference: 10, Value: "a.mx.b.example"},
	{Name: "a.mx.b.example", Type: "A", Value: "127.0.0.12"},
	{Name: "a.mx.b.example", Type: "AAAA", Value: "fd00::12"},
	{Name: "a.mx.b.example", Type: "A", Value: "127.0.0.13"},
	{Name: "null.a.example", Type: "MX", Value: "."},
	{Name: "nomx.a.example", Type: "A", Value: "127.0.0.1"},
}

func TestLookupMXSorted(t *testing.T) {
	addr, _ := labServer(t, records)
	r := &Resolver{Server: addr}
	got, err := r.LookupMX(context.Background(), "B.example.")
	if err != nil {
		t.Fatal(err)
	}
	want := []MX{{"a.mx.b.example", 10}, {"z.mx.b.example", 10}, {"b.mx.b.example", 20}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLookupMXNullAndNoData(t *testing.T) {
	addr, _ := labServer(t, records)
	r := &Resolver{Server: addr}
	got, err := r.LookupMX(context.Background(), "null.a.example")
	if err != nil || !slices.Equal(got, []MX{{".", 0}}) {
		t.Errorf("null MX: got %v, %v", got, err)
	}
	got, err = r.LookupMX(context.Background(), "nomx.a.example")
	if err != nil || got != nil {
		t.Errorf("NODATA: got %v, %v; want nil, nil", got, err)
	}
}

func TestLookupNXDomain(t *testing.T) {
	addr, _ := labServer(t, records)
	r := &Resolver{Server: addr}
	_, err := r.LookupMX(context.Background(), "nobody.b.example")
	if !errors.Is(err, ErrNXDomain) {
		t.Fatalf("got %v, want ErrNXDomain", err)
	}
	if temporary(err) {
		t.Errorf("NXDOMAIN is temporary")
	}
	if want := "dnsclient: lookup MX nobody.b.example on " + addr + ": no such domain (NXDOMAIN)"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if _, err := r.LookupIP(context.Background(), "nobody.b.example"); !errors.Is(err, ErrNXDomain) {
		t.Errorf("LookupIP: got %v, want ErrNXDomain", err)
	}
}

func temporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func TestLookupRefusedIsTemporary(t *testing.T) {
	addr, _ := labServer(t, records)
	r := &Resolver{Server: addr}
	_, err := r.LookupMX(context.Background(), "example.org")
	if err == nil || !temporary(err) || errors.Is(err, ErrNXDomain) {
		t.Fatalf("got %v, want a temporary error", err)
	}
	if want := "dnsclient: lookup MX example.org on " + addr + ": server answered REFUSED"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestLookupBadName(t *testing.T) {
	r := &Resolver{Server: "127.0.0.1:1"}
	for _, name := range []string{"", "b..example", "a b.example", "."} {
		_, err := r.LookupMX(context.Background(), name)
		if !errors.Is(err, ErrBadName) || temporary(err) {
			t.Errorf("%q: got %v, want a permanent ErrBadName", name, err)
		}
	}
}

func TestLookupIP(t *testing.T) {
	addr, clients := labServer(t, records)
	r := &Resolver{Server: addr, LocalAddr: netip.MustParseAddr("127.0.0.2")}
	got, err := r.LookupIP(context.Background(), "a.mx.b.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.12"), netip.MustParseAddr("127.0.0.13"), netip.MustParseAddr("fd00::12")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, c := range clients() {
		if c.Addr() != r.LocalAddr {
			t.Errorf("query from %v, want from LocalAddr %v", c, r.LocalAddr)
		}
	}
	got, err = r.LookupIP(context.Background(), "b.example")
	if err != nil || got != nil {
		t.Errorf("no addresses: got %v, %v; want nil, nil", got, err)
	}
}

// A truncated UDP answer is asked again over TCP (RFC 7766 section 5).
func TestLookupTruncatedRetriesOverTCP(t *testing.T) {
	var recs []dns.Record
	for i := range 60 {
		recs = append(recs, dns.Record{Name: "many.b.example", Type: "MX", Preference: uint16(60 - i), Value: fmt.Sprintf("mx%02d.b.example", i)})
	}
	addr, _ := labServer(t, recs)
	r := &Resolver{Server: addr}
	got, err := r.LookupMX(context.Background(), "many.b.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 || got[0] != (MX{"mx59.b.example", 1}) {
		t.Errorf("got %d records, first %v", len(got), got[0])
	}
}

// fakeServer answers each UDP query with what script returns for it (nil:
// no answer), and counts the queries.
type fakeServer struct {
	pc      net.PacketConn
	mu      sync.Mutex
	queries int
}

func newFake(t *testing.T, script func(q []byte) [][]byte) *fakeServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{pc: pc}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.queries++
			f.mu.Unlock()
			for _, reply := range script(append([]byte(nil), buf[:n]...)) {
				pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return f
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries
}

// reply builds a response to query with one MX record, then lets edit
// change the header before packing.
func reply(t *testing.T, query []byte, edit func(*dnsmessage.Message)) []byte {
	var m dnsmessage.Message
	if err := m.Unpack(query); err != nil {
		t.Error(err)
		return nil
	}
	m.Response, m.Authoritative = true, true
	m.Answers = []dnsmessage.Resource{{
		Header: dnsmessage.ResourceHeader{Name: m.Questions[0].Name, Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET, TTL: 300},
		Body:   &dnsmessage.MXResource{Pref: 5, MX: dnsmessage.MustNewName("mx.b.example.")},
	}}
	if edit != nil {
		edit(&m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Error(err)
	}
	return b
}

// RFC 5452 section 9.1: replies with another id or question are ignored.
func TestLookupIgnoresMismatchedReplies(t *testing.T) {
	f := newFake(t, func(q []byte) [][]byte {
		return [][]byte{
			reply(t, q, func(m *dnsmessage.Message) { m.ID++ }),
			reply(t, q, func(m *dnsmessage.Message) { m.Questions[0].Name = dnsmessage.MustNewName("evil.example.") }),
			reply(t, q, func(m *dnsmessage.Message) { m.Response = false }),
			{1, 2, 3},
			reply(t, q, func(m *dnsmessage.Message) { m.Questions[0].Name = dnsmessage.MustNewName("B.EXAMPLE.") }),
		}
	})
	r := &Resolver{Server: f.pc.LocalAddr().String(), ID: func() uint16 { return 4711 }}
	got, err := r.LookupMX(context.Background(), "b.example")
	if err != nil || !slices.Equal(got, []MX{{"mx.b.example", 5}}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestLookupTimeout(t *testing.T) {
	f := newFake(t, func([]byte) [][]byte { return nil })
	r := &Resolver{Server: f.pc.LocalAddr().String(), Timeout: 20 * time.Millisecond, Attempts: 3}
	_, err := r.LookupMX(context.Background(), "b.example")
	if err == nil || !temporary(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a temporary timeout", err)
	}
	if n := f.count(); n != 3 {
		t.Errorf("%d queries sent, want 3 attempts", n)
	}
}

func TestLookupCanceled(t *testing.T) {
	f := newFake(t, func([]byte) [][]byte { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &Resolver{Server: f.pc.LocalAddr().String()}
	if _, err := r.LookupMX(ctx, "b.example"); !errors.Is(err, context.Canceled) || !temporary(err) {
		t.Errorf("got %v, want context.Canceled, temporary", err)
	}
}

func TestLookupServfailAndBadReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*dnsmessage.Message)
		want string
	}{
		{"SERVFAIL", func(m *dnsmessage.Message) { m.RCode = dnsmessage.RCodeServerFailure; m.Answers = nil }, "server answered SERVFAIL"},
		{"bad MX", func(m *dnsmessage.Message) {
			m.Answers[0].Body = &dnsmessage.UnknownResource{Type: dnsmessage.TypeMX, Data: []byte{0}}
		}, "unreadable MX record in reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(q []byte) [][]byte { return [][]byte{reply(t, q, tc.edit)} })
			r := &Resolver{Server: f.pc.LocalAddr().String()}
			_, err := r.LookupMX(context.Background(), "b.example")
			if err == nil || !temporary(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a temporary error saying %q", err, tc.want)
			}
		})
	}
}

// FuzzReply feeds the resolver's reply parsing with arbitrary bytes: it
// must never panic, and accept only replies that match the question.
func FuzzReply(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("b.example."), Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET}
	query, _ := packQuery(7, q)
	f.Add(query)
	var m dnsmessage.Message
	m.Unpack(query)
	m.Response = true
	m.Answers = []dnsmessage.Resource{{
		Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET},
		Body:   &dnsmessage.MXResource{Pref: 1, MX: dnsmessage.MustNewName(".")},
	}}
	good, _ := m.Pack()
	f.Add(good)
	m.RCode = dnsmessage.RCodeNameError
	nx, _ := m.Pack()
	f.Add(nx)
	f.Add([]byte{0, 7, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 15, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkReply(b, 7, q); err != nil {
			return
		}
		var n int
		readAnswers(b, q, func(p *dnsmessage.Parser, h dnsmessage.ResourceHeader) error {
			if h.Type != dnsmessage.TypeMX || !sameName(h.Name, q.Name) {
				t.Fatalf("took a record of type %v for %v", h.Type, h.Name)
			}
			n++
			_, err := p.MXResource()
			return err
		})
		if n > len(b)/11 {
			t.Fatalf("%d records from %d octets", n, len(b))
		}
	})
}
