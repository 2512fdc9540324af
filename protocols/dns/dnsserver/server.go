// Package dnsserver serves a dns.Authority over UDP and TCP on the same
// port, as an authoritative name server does (RFC 1035 section 4.2). UDP
// queries are answered one at a time by one goroutine; each TCP connection
// has its own, and may carry several queries, each message preceded by its
// length in two octets (RFC 1035 section 4.2.2, RFC 7766).
//
// With each answer, just before it is sent, Options.OnExchange receives the transport, the
// client's address and the dns.Exchange (the dig-like lines the DNS agent
// records in the transcript).
//
// What to watch in a transcript: most queries arrive over UDP; an answer
// with the tc flag is followed by the same query again over TCP, from
// another source port.
//
// # Standards
//
// RFC 1035 section 4.2 (UDP and TCP transports), RFC 7766 (DNS over TCP:
// several queries per connection, answers in order here, idle timeout),
// RFC 6891 (EDNS0 sizes, through package dns).
//
// # Security
//
// Both ports take untrusted network input. A UDP datagram is read whole
// into a 64 KiB buffer and given to dns.Authority.Answer, which bounds it
// (512 octets) and never panics on it; packets that are not worth an answer
// (no header, or a response) get none, so the server cannot be used to
// bounce packets between servers. A UDP answer is never larger than the
// query asked for (512 octets, or the EDNS0 size up to 1232), which limits
// the amplification a spoofed source address could cause; this lab server
// has no response rate limiting (RRL) and must listen on loopback only, as
// the lab does. TCP connections are bounded in number (MaxConns), in idle
// time (IdleTimeout, also the time a whole message may take to arrive) and
// in message size (65535 octets, the most the length prefix can say).
//
// # Limits
//
// Defaults (Options): 100 TCP connections (one more is closed at once),
// a 10-second idle timeout per TCP connection (RFC 7766 section 6.2.3
// leaves it to the server; a few seconds is common), a 10-second write
// timeout. Queries on one TCP connection are answered in the order they
// arrive (RFC 7766 section 6.2.1.1 allows it).
package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/maillab/maillab/protocols/dns"
	"github.com/maillab/maillab/protocols/netconn"
)

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// IdleTimeout bounds how long a TCP connection waits for its next
	// query, and how long one query may take to arrive; 0 means 10s.
	IdleTimeout time.Duration
	// WriteTimeout bounds the write of each TCP answer; 0 means 10s.
	WriteTimeout time.Duration
	// MaxConns bounds the open TCP connections; one more is closed at
	// once (DNS has no way to say "busy" before a query). 0 means 100.
	MaxConns int
	// OnExchange, when not nil, is called with each answer just before it
	// is sent, with proto "udp" or "tcp", the client's address and the
	// summary of the query and answer: a transcript then shows the answer
	// before anything the client does with it. It runs on the goroutine
	// that answers: queries wait for it, so it must be quick.
	OnExchange func(proto string, client netip.AddrPort, ex dns.Exchange)
	// Logger receives failures to read or write; nil discards them.
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultIdleTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxConns     = 100
)

// maxUDPErrors bounds the consecutive read failures on the UDP socket
// before Serve gives up.
const maxUDPErrors = 100

// Server answers DNS queries over UDP and TCP from one dns.Authority.
type Server struct {
	opts Options
	auth *dns.Authority
	loop *netconn.Loop

	mu       sync.Mutex
	shutting bool
	udp      []net.PacketConn
	udpDone  sync.WaitGroup // one per UDP goroutine
}

// New returns a Server answering from auth.
func New(opts Options, auth *dns.Authority) *Server {
	netconn.SetDefault(&opts.IdleTimeout, DefaultIdleTimeout)
	netconn.SetDefault(&opts.WriteTimeout, DefaultWriteTimeout)
	netconn.SetDefault(&opts.MaxConns, DefaultMaxConns)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts: opts,
		auth: auth,
		loop: netconn.NewLoop(netconn.Config{
			Name:         "dnsserver",
			MaxConns:     opts.MaxConns,
			Refusal:      "", // DNS has no greeting to refuse with: just close.
			WriteTimeout: opts.WriteTimeout,
			Logger:       opts.Logger,
		}),
	}
}

// Serve answers queries arriving on udpConn and on connections accepted by
// tcpListener (either may be nil, not both) until Shutdown, which makes it
// return nil. When one side fails, Serve closes the other and returns the
// failure. Serve closes udpConn and tcpListener when it returns.
func (s *Server) Serve(udpConn net.PacketConn, tcpListener net.Listener) error {
	if udpConn == nil && tcpListener == nil {
		return errors.New("dnsserver: Serve needs a UDP socket or a TCP listener")
	}
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	fail := func(err error) {
		if err == nil {
			return
		}
		emu.Lock()
		errs = append(errs, err)
		emu.Unlock()
		// One side failed: stop the other, so Serve returns.
		if udpConn != nil {
			udpConn.Close()
		}
		if tcpListener != nil {
			tcpListener.Close()
		}
	}
	if udpConn != nil {
		s.mu.Lock()
		if s.shutting {
			s.mu.Unlock()
			udpConn.Close()
			if tcpListener != nil {
				tcpListener.Close()
			}
			return nil
		}
		s.udp = append(s.udp, udpConn)
		s.udpDone.Add(1)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.udpDone.Done()
			defer udpConn.Close()
			fail(s.serveUDP(udpConn))
		}()
	}
	if tcpListener != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(s.loop.Serve(tcpListener, func(c *netconn.Conn) netconn.Session { return &tcpSession{s: s, c: c} }))
		}()
	}
	wg.Wait()
	if s.isShutting() {
		return nil
	}
	return errors.Join(errs...)
}

// Shutdown stops both transports: the UDP socket is closed (a query being
// answered is answered first), no TCP connection is accepted any more, and
// every TCP connection waiting for its next query is closed; one whose
// query is being read or answered ends after it. Shutdown waits for all of
// it until ctx is done, then closes the remaining connections and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting = true
	udp := s.udp
	s.udp = nil
	s.mu.Unlock()
	for _, c := range udp {
		c.Close()
	}
	err := s.loop.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		s.udpDone.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("dnsserver: %w", ctx.Err())
		}
	}
	return err
}

func (s *Server) isShutting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

// serveUDP answers the datagrams of pc until it is closed.
func (s *Server) serveUDP(pc net.PacketConn) error {
	// One more octet than the largest message, so an oversized datagram is
	// seen whole enough to be refused (dns.Answer checks 512).
	buf := make([]byte, 65536)
	failures := 0
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if s.isShutting() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// A failure reading one datagram (an ICMP error reported on
			// the socket) does not end the server; many in a row do.
			if failures++; failures >= maxUDPErrors {
				return fmt.Errorf("dnsserver: UDP read: %w", err)
			}
			s.opts.Logger.Warn("dnsserver: UDP read", "err", err)
			continue
		}
		failures = 0
		resp, ex, err := s.auth.Answer(buf[:n], true)
		if err != nil {
			s.opts.Logger.Debug("dnsserver: UDP packet not answered", "remote", addr, "err", err)
			continue
		}
		if s.opts.OnExchange != nil {
			s.opts.OnExchange("udp", addrPort(addr), ex)
		}
		if _, err := pc.WriteTo(resp, addr); err != nil {
			s.opts.Logger.Debug("dnsserver: UDP write", "remote", addr, "err", err)
		}
	}
}

// tcpSession is one TCP connection: queries in, answers out, in order.
type tcpSession struct {
	s *Server
	c *netconn.Conn
}

// Serve answers queries until the client closes, goes idle, sends
// something that is not worth an answer, or the server shuts down.
func (t *tcpSession) Serve() (linger bool) {
	client := addrPort(t.c.NetConn().RemoteAddr())
	var lenBuf [2]byte
	for {
		// RFC 7766 section 6.2.3: the server closes idle connections.
		if err := t.read(lenBuf[:1], true); err != nil {
			return !errors.Is(err, io.EOF)
		}
		deadline := time.Now().Add(t.s.opts.IdleTimeout)
		if err := t.readBy(lenBuf[1:], deadline); err != nil {
			return !errors.Is(err, io.EOF)
		}
		// RFC 1035 section 4.2.2: a two-octet length, then the message.
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if err := t.readBy(msg, deadline); err != nil {
			return !errors.Is(err, io.EOF)
		}
		resp, ex, err := t.s.auth.Answer(msg, false)
		if err != nil {
			t.s.opts.Logger.Debug("dnsserver: TCP message not answered, closing", "remote", client, "err", err)
			return true
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp))) // Answer keeps TCP responses within 65535 octets
		copy(out[2:], resp)
		if t.s.opts.OnExchange != nil {
			t.s.opts.OnExchange("tcp", client, ex)
		}
		_, werr := t.c.Write(out, t.s.opts.WriteTimeout)
		if werr != nil {
			t.s.opts.Logger.Debug("dnsserver: TCP write", "remote", client, "err", werr)
			return false
		}
	}
}

// read fills p, the first read idle (Shutdown may interrupt it).
func (t *tcpSession) read(p []byte, idle bool) error {
	for len(p) > 0 {
		n, err := t.c.Read(p, t.s.opts.IdleTimeout, idle)
		p = p[n:]
		if err != nil && len(p) > 0 {
			return err
		}
	}
	return nil
}

// readBy fills p before deadline: a slow client cannot keep a connection
// by sending one octet at a time.
func (t *tcpSession) readBy(p []byte, deadline time.Time) error {
	for len(p) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("dnsserver: message not received within %v", t.s.opts.IdleTimeout)
		}
		n, err := t.c.Read(p, left, false)
		p = p[n:]
		if err != nil && len(p) > 0 {
			return err
		}
	}
	return nil
}

// addrPort returns a UDP or TCP address as a netip.AddrPort (zero when it
// is neither).
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return unmap(a.AddrPort())
	case *net.TCPAddr:
		return unmap(a.AddrPort())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// unmap turns ::ffff:127.0.0.1 (a dual-stack socket's view) into 127.0.0.1.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
