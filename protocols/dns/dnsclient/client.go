// Package dnsclient is the stub resolver of the lab's MTAs: it asks the lab
// DNS server (package dnsserver) for the MX records of a domain and the
// addresses of a host, as RFC 5321 section 5 describes, and nothing else.
// It sends every query to one server, with no cache and no recursion of its
// own (RD is not set: the lab server is authoritative).
//
// What to watch in a transcript: the MTA's "query MX b.example (id ..., UDP)"
// before it connects anywhere, then "query A mx.b.example"; an answer with
// the tc flag followed by the same question over TCP; a NXDOMAIN that makes
// the MTA bounce at once, and a timeout or SERVFAIL that makes it retry
// later.
//
// # Standards
//
// RFC 1035 (messages, section 4; UDP then TCP when truncated, section
// 4.2), RFC 7766 (TCP), RFC 2308 (NXDOMAIN and NODATA), RFC 5452 (random
// query ids; the id and the question of a reply are checked), RFC 5321
// section 5.1 (MX preference order), RFC 7505 (null MX).
//
// # Security
//
// Replies are untrusted network input: they are parsed with
// golang.org/x/net/dns/dnsmessage and bounded (UDP datagrams of at most
// 65535 octets, TCP messages of at most 65535). A UDP reply whose source,
// id or question does not match the query is ignored, as spoofed replies
// are (RFC 5452 section 9.1); at most maxStrays of them per attempt.
//
// # Limits
//
// Defaults (Resolver): 2 seconds per attempt, 2 attempts. Records other
// than the ones asked for (CNAME included) are ignored: the lab's zones
// have none.
package dnsclient

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/maillab/maillab/protocols/dns"
)

// Defaults of Resolver.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultAttempts = 2
)

// maxStrays bounds the mismatched UDP replies ignored in one attempt.
const maxStrays = 16

// Resolver is a stub resolver asking one server. The zero value is not
// usable: Server is required. A Resolver may be used from many goroutines.
type Resolver struct {
	Server    string        // "ip:port" of the lab DNS
	LocalAddr netip.Addr    // source address to bind (each lab host has its own loopback IP); zero = any
	Timeout   time.Duration // per attempt; 0 means 2s
	Attempts  int           // 0 means 2
	// ID, when not nil, returns the id of each query; nil means a random
	// one from crypto/rand (RFC 5452 section 9.2). Scenarios that compare
	// transcripts byte for byte inject a counter here.
	ID func() uint16
}

// MX is one mail exchanger of a domain. Host has no final dot; it is "."
// for a null MX (RFC 7505: the domain accepts no mail).
type MX struct {
	Host       string
	Preference uint16
}

// ErrNXDomain is wrapped by the error of a lookup whose name does not exist
// (RCODE 3, NXDOMAIN, RFC 2308 section 2.1): errors.Is(err, ErrNXDomain).
// That error is permanent: its Temporary method reports false.
var ErrNXDomain = errors.New("no such domain (NXDOMAIN)")

// ErrBadName is wrapped by the error of a lookup for a name that is not a
// valid host or domain name; like ErrNXDomain, it is permanent.
var ErrBadName = errors.New("invalid domain name")

// Error is the error of a failed lookup. Temporary reports whether asking
// again later may work: false for NXDOMAIN and invalid names, true for
// everything else (timeouts, SERVFAIL, REFUSED, unreadable replies), which
// an MTA retries from its queue (RFC 5321 section 4.5.4.1).
type Error struct {
	Name   string // the name looked up, "b.example"
	Type   string // "MX", "A", "AAAA"
	Server string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("dnsclient: lookup %s %s on %s: %v", e.Type, e.Name, e.Server, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the failure may go away (see Error).
func (e *Error) Temporary() bool {
	return !errors.Is(e.Err, ErrNXDomain) && !errors.Is(e.Err, ErrBadName)
}

// rcodeError is a reply's error RCODE other than NXDOMAIN.
type rcodeError struct{ rcode dnsmessage.RCode }

func (e *rcodeError) Error() string { return "server answered " + dns.RCodeName(e.rcode) }

// LookupMX returns the MX records of domain (RFC 5321 section 5.1), sorted
// by preference, then by host name. RFC 5321 section 5.1 asks clients to
// randomize MX records of equal preference, to spread the load; the lab
// does not, so that a scenario's transcript is the same on every run. A
// domain with no MX records (NODATA) gives nil and no error: the caller
// then uses the domain's own address (the implicit MX of RFC 5321 section
// 5.1). A null MX (RFC 7505) is returned as MX{Host: "."}.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	var mxs []MX
	err := r.lookup(ctx, domain, dnsmessage.TypeMX, func(p *dnsmessage.Parser, h dnsmessage.ResourceHeader) error {
		mx, err := p.MXResource()
		if err != nil {
			return err
		}
		host := mx.MX.String()
		if host != "." {
			host = strings.TrimSuffix(host, ".")
		}
		mxs = append(mxs, MX{Host: host, Preference: mx.Pref})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(mxs, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), cmp.Compare(strings.ToLower(a.Host), strings.ToLower(b.Host)))
	})
	return mxs, nil
}

// LookupIP returns the IPv4 addresses of host (A records), then its IPv6
// ones (AAAA), each in the order the server sent them. A host with neither
// gives nil and no error; a host that does not exist, an error wrapping
// ErrNXDomain.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, typ := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		err := r.lookup(ctx, host, typ, func(p *dnsmessage.Parser, h dnsmessage.ResourceHeader) error {
			if typ == dnsmessage.TypeA {
				a, err := p.AResource()
				if err != nil {
					return err
				}
				addrs = append(addrs, netip.AddrFrom4(a.A))
				return nil
			}
			a, err := p.AAAAResource()
			if err != nil {
				return err
			}
			addrs = append(addrs, netip.AddrFrom16(a.AAAA))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// lookup asks for name and typ and calls take for each answer record of
// that type owned by name.
func (r *Resolver) lookup(ctx context.Context, name string, typ dnsmessage.Type, take func(*dnsmessage.Parser, dnsmessage.ResourceHeader) error) error {
	e := &Error{Name: strings.TrimSuffix(name, "."), Type: dns.TypeName(typ), Server: r.Server}
	canon, err := dns.CanonicalName(name)
	if err != nil {
		e.Err = fmt.Errorf("%w: %v", ErrBadName, err)
		return e
	}
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(canon), Type: typ, Class: dnsmessage.ClassINET}
	reply, err := r.exchange(ctx, q)
	if err != nil {
		e.Err = err
		return e
	}
	if err := readAnswers(reply, q, take); err != nil {
		e.Err = err
		return e
	}
	return nil
}

// readAnswers calls take for each answer record of reply (already checked
// by checkReply) that answers q, after checking the RCODE.
func readAnswers(reply []byte, q dnsmessage.Question, take func(*dnsmessage.Parser, dnsmessage.ResourceHeader) error) error {
	var p dnsmessage.Parser
	h, err := p.Start(reply)
	if err != nil {
		return fmt.Errorf("unreadable reply: %w", err)
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return ErrNXDomain
	default:
		return &rcodeError{h.RCode}
	}
	if err := p.SkipAllQuestions(); err != nil {
		return fmt.Errorf("unreadable reply: %w", err)
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unreadable reply: %w", err)
		}
		if rh.Type != q.Type || rh.Class != q.Class || !sameName(rh.Name, q.Name) {
			// Not what was asked (a CNAME, say): the lab has none.
			if err := p.SkipAnswer(); err != nil {
				return fmt.Errorf("unreadable reply: %w", err)
			}
			continue
		}
		if err := take(&p, rh); err != nil {
			return fmt.Errorf("unreadable %s record in reply: %w", dns.TypeName(rh.Type), err)
		}
	}
}

// exchange sends q and returns the checked reply: over UDP, again over TCP
// when it comes truncated (RFC 1035 section 4.2.1, RFC 7766 section 5),
// Attempts times when no reply comes.
func (r *Resolver) exchange(ctx context.Context, q dnsmessage.Question) ([]byte, error) {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var last error
	for range attempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reply, err := r.attempt(ctx, q, "udp")
		if err == nil && truncated(reply) {
			reply, err = r.attempt(ctx, q, "tcp")
		}
		if err == nil {
			return reply, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, last
		}
	}
	return nil, last
}

func truncated(reply []byte) bool {
	return len(reply) >= 3 && reply[2]&0x02 != 0 // TC, RFC 1035 section 4.1.1
}

// attempt sends one query over network ("udp" or "tcp") and waits for its
// reply, at most Timeout.
func (r *Resolver) attempt(ctx context.Context, q dnsmessage.Question, network string) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := r.newID()
	msg, err := packQuery(id, q)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{}
	if r.LocalAddr.IsValid() {
		if network == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.LocalAddr, 0))
		} else {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.LocalAddr, 0))
		}
	}
	conn, err := d.DialContext(ctx, network, r.Server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var reply []byte
	if network == "udp" {
		reply, err = udpRoundTrip(conn, msg, id, q)
	} else {
		reply, err = tcpRoundTrip(conn, msg, id, q)
	}
	if err != nil {
		// The socket's deadline is the context's: whichever fires first,
		// say it as a timeout (or as the caller's cancellation).
		cause := context.Cause(ctx)
		var ne net.Error
		if cause == nil && errors.As(err, &ne) && ne.Timeout() {
			cause = context.DeadlineExceeded
		}
		if cause != nil {
			return nil, fmt.Errorf("no reply over %s within %v: %w", strings.ToUpper(network), timeout, cause)
		}
	}
	return reply, err
}

func udpRoundTrip(conn net.Conn, msg []byte, id uint16, q dnsmessage.Question) ([]byte, error) {
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	var last error
	for range maxStrays {
		// A connected UDP socket only receives from the server's address.
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if last = checkReply(buf[:n], id, q); last == nil {
			return append([]byte(nil), buf[:n]...), nil
		}
		// RFC 5452 section 9.1: a reply that does not match is dropped,
		// and the real one may still come.
	}
	return nil, last
}

func tcpRoundTrip(conn net.Conn, msg []byte, id uint16, q dnsmessage.Question) ([]byte, error) {
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
	if _, err := conn.Write(append(out, msg...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, fmt.Errorf("reading the TCP reply: %w", err)
	}
	reply := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, reply); err != nil {
		return nil, fmt.Errorf("reading the TCP reply: %w", err)
	}
	if err := checkReply(reply, id, q); err != nil {
		return nil, err
	}
	return reply, nil
}

// checkReply reports whether reply is the response to query id for q:
// QR set, opcode QUERY, same id, and the same single question (RFC 5452
// section 9.1; names compared case-insensitively, RFC 4343).
func checkReply(reply []byte, id uint16, q dnsmessage.Question) error {
	var p dnsmessage.Parser
	h, err := p.Start(reply)
	if err != nil {
		return fmt.Errorf("unreadable reply: %w", err)
	}
	switch {
	case !h.Response:
		return errors.New("reply is not a response (QR clear)")
	case h.ID != id:
		return fmt.Errorf("reply has id %d, want %d", h.ID, id)
	case h.OpCode != 0:
		return fmt.Errorf("reply has opcode %d, want 0 (QUERY)", h.OpCode)
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return fmt.Errorf("unreadable reply: %w", err)
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !sameName(qs[0].Name, q.Name) {
		return errors.New("reply does not repeat the question asked")
	}
	return nil
}

func sameName(a, b dnsmessage.Name) bool {
	return strings.EqualFold(a.String(), b.String())
}

func packQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 64), dnsmessage.Header{ID: id})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	return b.Finish()
}

func (r *Resolver) newID() uint16 {
	if r.ID != nil {
		return r.ID()
	}
	var b [2]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return binary.BigEndian.Uint16(b[:])
}
