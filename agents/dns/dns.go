// Package dnsagent is the lab's DNS agent (directory agents/dns): an
// authoritative name server for the lab's zones, on UDP and TCP on one
// port, through which the MTAs find each other's MX records (RFC 5321
// section 5). The package is named dnsagent so it can sit next to
// protocols/dns, whose Record type its Config uses.
//
// In a scenario (the shape the scenario schema is expected to give it):
//
//	agents:
//	  - name: ns
//	    kind: dns
//	    zones: [a.example, b.example, 0.0.127.in-addr.arpa]
//	    records:
//	      - {name: b.example, type: MX, preference: 10, value: mx.b.example}
//	      - {name: mx.b.example, type: A, value: 127.0.0.12}
//	      - {name: 12.0.0.127.in-addr.arpa, type: PTR, value: mx.b.example}
//	      - {name: nomail.a.example, type: MX, value: "."}   # null MX, RFC 7505
//
// What to watch in the transcript: every query is its own short
// connection (proto "dns") with the client's line and the server's lines,
// as package dns words them:
//
//	#7  dns  mx.a.example (127.0.0.2:40312) → ns (127.0.0.1:53)
//	#7  mx.a.example  C: query MX b.example (id 4711, UDP)
//	#7  ns            S: answer NOERROR aa: 1 MX record for b.example, 1 additional
//	#7  ns            S: b.example. 300 IN MX 10 mx.b.example.
//	#7  ns            S: additional: mx.b.example. 300 IN A 127.0.0.12
//	#7  dns  answered
//
// The MX answer comes before the MTA's SMTP connection; "aa" marks the
// answer as authoritative; NXDOMAIN makes the MTA bounce at once, while a
// missing answer (timeout) makes it retry later.
//
// # Standards
//
// Those of packages dns and dnsserver: RFC 1035, RFC 2308, RFC 6891,
// RFC 7766, RFC 7505.
//
// # Security
//
// The server answers anyone who can reach it and has no response rate
// limiting: it must listen on loopback only, as the lab does. Queries are
// untrusted input, bounded and parsed by packages dns and dnsserver; names
// are escaped in transcript lines.
//
// # Limits
//
// Those of dnsserver (100 TCP connections, 10-second idle timeout) and dns
// (512-octet UDP answers, or the EDNS0 size up to 1232; 10000 records).
// Zones are fixed when the agent is built. Packets not worth an answer (no
// DNS header, or a response) are dropped and not recorded.
package dnsagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/protocols/dns/dnsserver"
	"github.com/maillab/maillab/protocols/wire"
	"github.com/maillab/maillab/transcripts"
)

// bindAttempts bounds the tries to find a port free for both UDP and TCP
// when Listen asks for port 0.
const bindAttempts = 10

// Config configures a DNS agent.
type Config struct {
	Name       string // agent name in transcripts, e.g. "ns"; required
	Listen     string // "ip:port"; "" means "127.0.0.1:0"; UDP and TCP on the same port
	Zones      []string
	Records    []dns.Record
	Recorder   *transcripts.Recorder   // nil = no transcript
	ClientName func(netip.Addr) string // names the agent behind a source address; nil or "" → the address ("127.0.0.2:40312")
}

// Server is a running (or not yet started) DNS agent.
type Server struct {
	cfg  Config
	auth *dns.Authority

	mu   sync.Mutex
	srv  *dnsserver.Server
	done chan error
	addr string
}

// New checks cfg, zones and records included, and returns an agent that
// is not listening yet.
func New(cfg Config) (*Server, error) {
	if cfg.Name == "" {
		return nil, errors.New("dns agent: Name is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("dns agent %s: Listen: %w", cfg.Name, err)
	}
	auth, err := dns.NewAuthority(cfg.Zones, cfg.Records)
	if err != nil {
		return nil, fmt.Errorf("dns agent %s: %w", cfg.Name, err)
	}
	return &Server{cfg: cfg, auth: auth}, nil
}

// Name returns the agent's name.
func (s *Server) Name() string { return s.cfg.Name }

// Kind returns "dns".
func (s *Server) Kind() string { return "dns" }

// Start binds UDP and TCP on the same port and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return fmt.Errorf("dns agent %s: already started", s.cfg.Name)
	}
	pc, ln, err := listen(ctx, s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dns agent %s: %w", s.cfg.Name, err)
	}
	s.addr = pc.LocalAddr().String()
	opts := dnsserver.Options{}
	if s.cfg.Recorder != nil {
		opts.OnExchange = s.record
	}
	s.srv = dnsserver.New(opts, s.auth)
	s.done = make(chan error, 1)
	srv, done := s.srv, s.done
	go func() { done <- srv.Serve(pc, ln) }()
	return nil
}

// listen binds UDP, then TCP on the same port. With port 0 the kernel
// picks the UDP port, which may be taken for TCP: then both are released
// and tried again, a few times.
func listen(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	var lc net.ListenConfig
	var last error
	for range bindAttempts {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen UDP: %w", err)
		}
		udpPort := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, udpPort))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		last = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("listen TCP on the UDP port: %w", last)
}

// record writes one query and its answer to the transcript.
func (s *Server) record(proto string, client netip.AddrPort, ex dns.Exchange) {
	name := client.String()
	if s.cfg.ClientName != nil {
		if n := s.cfg.ClientName(client.Addr()); n != "" {
			name = n
		}
	}
	lines := make([]transcripts.ExchangeLine, 0, 1+len(ex.Answer))
	lines = append(lines, transcripts.ExchangeLine{Dir: wire.ClientToServer, Text: ex.Query})
	for _, l := range ex.Answer {
		lines = append(lines, transcripts.ExchangeLine{Dir: wire.ServerToClient, Text: l})
	}
	s.cfg.Recorder.Exchange(name, s.cfg.Name, "dns", client.String(), s.addr, lines)
}

// Stop shuts the server down and waits for it until ctx ends. It is safe
// to call twice, or without Start.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if serr := <-done; err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("dns agent %s: %w", s.cfg.Name, err)
	}
	return nil
}

// Endpoints returns {"dns": "127.0.0.1:PORT"} once started (the same port
// for UDP and TCP).
func (s *Server) Endpoints() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		return map[string]string{}
	}
	return map[string]string{"dns": s.addr}
}
