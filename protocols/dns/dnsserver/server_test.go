package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/maillab/maillab/protocols/dns"
)

type exchange struct {
	proto  string
	client netip.AddrPort
	ex     dns.Exchange
}

type fixture struct {
	srv    *Server
	udp    net.PacketConn
	tcp    net.Listener
	served chan error

	mu  sync.Mutex
	exs []exchange
	got chan struct{} // one value per exchange
}

func authority(t *testing.T) *dns.Authority {
	t.Helper()
	recs := []dns.Record{
		{Name: "b.example", Type: "MX", Preference: 10, Value: "mx.b.example"},
		{Name: "mx.b.example", Type: "A", Value: "127.0.0.12"},
	}
	for i := range 30 {
		recs = append(recs, dns.Record{Name: "big.b.example", Type: "TXT", Value: strings.Repeat("x", 40) + string(rune('a'+i))})
	}
	a, err := dns.NewAuthority([]string{"b.example"}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func start(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{served: make(chan error, 1), got: make(chan struct{}, 100)}
	opts.OnExchange = func(proto string, client netip.AddrPort, ex dns.Exchange) {
		f.mu.Lock()
		f.exs = append(f.exs, exchange{proto, client, ex})
		f.mu.Unlock()
		f.got <- struct{}{}
	}
	var err error
	if f.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if f.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	f.srv = New(opts, authority(t))
	go func() { f.served <- f.srv.Serve(f.udp, f.tcp) }()
	t.Cleanup(func() { f.stop(t) })
	return f
}

func (f *fixture) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-f.served; err != nil {
		t.Errorf("Serve returned %v after Shutdown, want nil", err)
	}
	f.served <- nil // stop is idempotent for the Cleanup after an explicit stop
}

func (f *fixture) exchanges(t *testing.T, n int) []exchange {
	t.Helper()
	for range n {
		select {
		case <-f.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10s for %d exchanges", n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]exchange(nil), f.exs...)
}

func query(t *testing.T, id uint16, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func parse(t *testing.T, b []byte) *dnsmessage.Message {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func udpQuery(t *testing.T, c net.Conn, q []byte) *dnsmessage.Message {
	t.Helper()
	if _, err := c.Write(q); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, buf[:n])
}

func writeTCP(t *testing.T, c net.Conn, msgs ...[]byte) {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
}

func readTCP(t *testing.T, c net.Conn) *dnsmessage.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		t.Fatal(err)
	}
	return parse(t, msg)
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
}

func TestUDP(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("udp", f.udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := udpQuery(t, c, query(t, 4711, "b.example.", dnsmessage.TypeMX))
	if m.ID != 4711 || !m.Authoritative || len(m.Answers) != 1 || len(m.Additionals) != 1 {
		t.Errorf("got %+v", m)
	}
	exs := f.exchanges(t, 1)
	want := exchange{"udp", netip.MustParseAddrPort(c.LocalAddr().String()), dns.Exchange{
		Query: "query MX b.example (id 4711, UDP)",
		Answer: []string{
			"answer NOERROR aa: 1 MX record for b.example, 1 additional",
			"b.example. 300 IN MX 10 mx.b.example.",
			"additional: mx.b.example. 300 IN A 127.0.0.12",
		},
	}}
	if got := exs[0]; got.proto != want.proto || got.client != want.client || got.ex.Query != want.ex.Query || strings.Join(got.ex.Answer, "\n") != strings.Join(want.ex.Answer, "\n") {
		t.Errorf("OnExchange got %+v, want %+v", got, want)
	}
}

// A packet that is not worth an answer gets none; the next one is answered.
func TestUDPIgnoresGarbage(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("udp", f.udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{1, 2, 3})
	resp := query(t, 9, "b.example.", dnsmessage.TypeMX)
	resp[2] |= 0x80 // QR: a response
	c.Write(resp)
	m := udpQuery(t, c, query(t, 10, "b.example.", dnsmessage.TypeMX))
	if m.ID != 10 {
		t.Errorf("answer to id %d, want only 10 answered", m.ID)
	}
	if exs := f.exchanges(t, 1); len(exs) != 1 {
		t.Errorf("%d exchanges, want 1", len(exs))
	}
}

func TestUDPTruncatedThenTCP(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("udp", f.udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := udpQuery(t, c, query(t, 1, "big.b.example.", dnsmessage.TypeTXT))
	if !m.Truncated || len(m.Answers) != 0 {
		t.Fatalf("tc %v answers %d, want a truncated empty answer", m.Truncated, len(m.Answers))
	}
	tc, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	writeTCP(t, tc, query(t, 2, "big.b.example.", dnsmessage.TypeTXT))
	if m := readTCP(t, tc); m.Truncated || len(m.Answers) != 30 {
		t.Errorf("TCP: tc %v answers %d, want all 30", m.Truncated, len(m.Answers))
	}
	exs := f.exchanges(t, 2)
	if exs[0].proto != "udp" || exs[1].proto != "tcp" || !strings.HasPrefix(exs[1].ex.Query, "query TXT big.b.example (id 2, TCP)") {
		t.Errorf("exchanges %+v", exs)
	}
}

// RFC 7766 section 6.2.1: several queries on one connection, sent at once.
func TestTCPPipelined(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeTCP(t, c, query(t, 1, "b.example.", dnsmessage.TypeMX), query(t, 2, "nobody.b.example.", dnsmessage.TypeA), query(t, 3, "example.org.", dnsmessage.TypeA))
	for i, want := range []dnsmessage.RCode{dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError, dnsmessage.RCodeRefused} {
		m := readTCP(t, c)
		if m.ID != uint16(i+1) || m.RCode != want {
			t.Errorf("answer %d: id %d rcode %v, want %d %v", i, m.ID, m.RCode, i+1, want)
		}
	}
}

func TestTCPGarbageClosesConnection(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeTCP(t, c, []byte{1, 2, 3})
	expectClosed(t, c)
}

func TestTCPFormErrKeepsConnection(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := make([]byte, 12) // a header with no question
	bad[1] = 5
	writeTCP(t, c, bad, query(t, 6, "b.example.", dnsmessage.TypeMX))
	if m := readTCP(t, c); m.ID != 5 || m.RCode != dnsmessage.RCodeFormatError {
		t.Errorf("id %d rcode %v, want 5 FORMERR", m.ID, m.RCode)
	}
	if m := readTCP(t, c); m.ID != 6 || m.RCode != dnsmessage.RCodeSuccess {
		t.Errorf("id %d rcode %v, want 6 NOERROR", m.ID, m.RCode)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	f := start(t, Options{IdleTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	expectClosed(t, c)
}

// A client sending its message one octet at a time gets IdleTimeout for
// the whole message, not per octet.
func TestTCPSlowMessage(t *testing.T) {
	f := start(t, Options{IdleTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0, 100, 1})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte{1}); err != nil {
					return
				}
			}
		}
	}()
	expectClosed(t, c)
	close(stop)
	<-done
}

func TestTCPMaxConns(t *testing.T) {
	f := start(t, Options{MaxConns: 1})
	c1, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	writeTCP(t, c1, query(t, 1, "b.example.", dnsmessage.TypeMX))
	readTCP(t, c1) // the first session runs
	c2, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	expectClosed(t, c2)
	// The first connection still works.
	writeTCP(t, c1, query(t, 2, "b.example.", dnsmessage.TypeMX))
	if m := readTCP(t, c1); m.ID != 2 {
		t.Errorf("id %d", m.ID)
	}
}

func TestShutdownClosesIdleConnections(t *testing.T) {
	f := start(t, Options{})
	c, err := net.Dial("tcp", f.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeTCP(t, c, query(t, 1, "b.example.", dnsmessage.TypeMX))
	readTCP(t, c)
	f.stop(t)
	expectClosed(t, c)
	// The UDP socket is closed too.
	if _, _, err := f.udp.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("UDP socket still open: %v", err)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	srv := New(Options{}, authority(t))
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(pc, nil); err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
	if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve left the socket open: %v", err)
	}
	if err := srv.Serve(nil, nil); err == nil {
		t.Errorf("Serve(nil, nil) = nil, want an error")
	}
}

// When the TCP side fails, Serve stops the UDP side and reports it.
func TestServeFailureStopsBoth(t *testing.T) {
	srv := New(Options{}, authority(t))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Accept fails at once
	if err := srv.Serve(pc, ln); err == nil {
		t.Errorf("Serve = nil, want the accept failure")
	}
	srv.Shutdown(context.Background())
}
