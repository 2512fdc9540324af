// Package dns is the lab's authoritative DNS: the record model (Record), the
// zones a server is authoritative for, and the answer logic (Authority.Answer)
// that turns one query packet into one response packet, as a real
// authoritative server would. It does no I/O: package dnsserver serves it on
// UDP and TCP, package dnsclient is the stub resolver the MTAs use to find
// each other's MX records.
//
// Every answer comes with an Exchange: a short, dig-like summary of the
// query and of the answer, which the DNS agent records in the transcript
// (DNS is binary, so the transcript cannot show its bytes as lines).
//
// What to watch in a transcript: the client's line
//
//	query MX b.example (id 4711, UDP)
//
// then the server's lines, the first with the response code and flags:
//
//	answer NOERROR aa: 1 MX record for b.example, 1 additional
//	b.example. 300 IN MX 10 mx.b.example.
//	additional: mx.b.example. 300 IN A 127.0.0.12
//
// "aa" (authoritative answer) says the server owns the zone; NXDOMAIN ("no
// such name") and NODATA ("answer NOERROR aa (no data): ...") are different
// negative answers, both carrying the zone's SOA so the asker knows how long
// it may remember them; REFUSED means the name is outside the server's
// zones; "tc" means the answer did not fit in a UDP datagram and the client
// must ask again over TCP. See Exchange for every line format.
//
// # Standards
//
// RFC 1035 (message format, section 4; authoritative answers, section
// 4.3.2; UDP 512-octet limit, section 4.2.1; TCP framing, section 4.2.2),
// RFC 2181 (TTLs, section 8; truncation, section 9), RFC 2308 (negative
// answers: NXDOMAIN and NODATA with the SOA in the authority section),
// RFC 4343 (case-insensitive names), RFC 6891 (EDNS0: the OPT record, the
// advertised UDP size, BADVERS), RFC 7505 (null MX), RFC 8020 (empty
// non-terminals answer NODATA, not NXDOMAIN), RFC 5321 section 5 (how an
// MTA uses MX and address records).
//
// Not implemented: CNAME, wildcards, delegations (NS records only at a zone
// apex), zone transfers (AXFR and IXFR are REFUSED), DNSSEC, UPDATE and
// NOTIFY (NOTIMP), recursion (RA is never set).
//
// # Security
//
// Answer reads untrusted network input. It never panics on it: packets are
// parsed with golang.org/x/net/dns/dnsmessage, which bounds compression
// pointers (loops and forward pointers are rejected); queries are bounded in
// size (512 octets over UDP, 65535 over TCP) and in records (one question,
// at most MaxQueryRecords others); a packet that is itself a response is
// never answered, so two servers cannot be made to talk to each other
// forever. Names are compared case-insensitively (RFC 4343) and shown
// escaped in Exchange lines, so a hostile name cannot drive a terminal.
//
// # Limits
//
// Responses over UDP fit in 512 octets, or in the EDNS0 size the client
// advertised, capped at 1232 (the size DNS Flag Day 2020 recommends to
// avoid IP fragmentation); over TCP in 65535. A record set that does not
// fit is truncated (TC) with no records at all, as RFC 2181 section 9 asks.
// The zones are fixed when the Authority is built: at most MaxRecords
// records, TXT values up to MaxTXTBytes.
package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// Limits of the record model and of the queries Answer accepts.
const (
	// DefaultTTL is the TTL of a Record whose TTL is 0, in seconds.
	DefaultTTL = 300
	// MaxTTL is the largest TTL (RFC 2181 section 8: 2^31 - 1 seconds).
	MaxTTL = 1<<31 - 1
	// MaxRecords bounds the records of an Authority.
	MaxRecords = 10000
	// MaxTXTBytes bounds the text of a TXT record (split into strings of
	// 255 octets on the wire, RFC 1035 section 3.3.14).
	MaxTXTBytes = 4000
	// MaxQueryRecords bounds the records a query may carry besides its
	// question (an OPT record, maybe a TSIG or a cookie-bearing OPT).
	MaxQueryRecords = 4
	// MaxUDPQuery and MaxTCPQuery bound the size of a query (RFC 1035
	// section 4.2.1: 512 octets over UDP; section 4.2.2: a 2-octet length
	// over TCP).
	MaxUDPQuery = 512
	MaxTCPQuery = 65535
	// MaxUDPResponse caps the EDNS0 size a client may advertise (RFC 6891
	// section 6.2.5 lets a server choose; 1232 is DNS Flag Day 2020's).
	MaxUDPResponse = 1232
)

// Record is one resource record of a lab zone, as a scenario writes it.
type Record struct {
	Name       string // owner name, e.g. "b.example" (trailing dot optional, case-insensitive)
	Type       string // "MX", "A", "AAAA", "TXT", "PTR", "NS" (upper case)
	TTL        uint32 // 0 means DefaultTTL (300)
	Preference uint16 // MX only
	Value      string // MX: exchange host name ("." for null MX, RFC 7505); A/AAAA: address; TXT: text; PTR/NS: host name
}

// String names the record the way NewAuthority's errors do: "MX b.example".
func (r Record) String() string { return r.Type + " " + r.Name }

// types are the record types a Record may have.
var types = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "AAAA": dnsmessage.TypeAAAA, "MX": dnsmessage.TypeMX,
	"TXT": dnsmessage.TypeTXT, "PTR": dnsmessage.TypePTR, "NS": dnsmessage.TypeNS,
}

// typeNames are the presentation names of the types Exchange lines show;
// others read "TYPE65" (RFC 3597 section 5).
var typeNames = map[dnsmessage.Type]string{
	dnsmessage.TypeA: "A", dnsmessage.TypeNS: "NS", dnsmessage.TypeCNAME: "CNAME",
	dnsmessage.TypeSOA: "SOA", dnsmessage.TypePTR: "PTR", dnsmessage.TypeMX: "MX",
	dnsmessage.TypeTXT: "TXT", dnsmessage.TypeAAAA: "AAAA", dnsmessage.TypeSRV: "SRV",
	dnsmessage.TypeOPT: "OPT", dnsmessage.TypeWKS: "WKS", dnsmessage.TypeHINFO: "HINFO",
	dnsmessage.TypeMINFO: "MINFO", dnsmessage.TypeAXFR: "AXFR", dnsmessage.TypeALL: "ANY",
	dnsmessage.TypeSVCB: "SVCB", dnsmessage.TypeHTTPS: "HTTPS", 251: "IXFR",
	typeMAILA: "MAILA", typeMAILB: "MAILB", 43: "DS", 46: "RRSIG",
	47: "NSEC", 48: "DNSKEY", 52: "TLSA", 257: "CAA",
}

// TypeName returns the presentation name of t: "MX", or "TYPE65" for a
// type without one (RFC 3597 section 5).
func TypeName(t dnsmessage.Type) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE%d", uint16(t))
}

// ClassName returns "IN", "CH", "HS", "ANY" or "CLASS7" (RFC 3597).
func ClassName(c dnsmessage.Class) string {
	switch c {
	case dnsmessage.ClassINET:
		return "IN"
	case dnsmessage.ClassCHAOS:
		return "CH"
	case dnsmessage.ClassHESIOD:
		return "HS"
	case dnsmessage.ClassANY:
		return "ANY"
	}
	return fmt.Sprintf("CLASS%d", uint16(c))
}

// RCodeName returns "NOERROR", "NXDOMAIN"... or "RCODE11".
func RCodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	case rcodeBadVers:
		return "BADVERS"
	}
	return fmt.Sprintf("RCODE%d", uint16(rc))
}

// Query types dnsmessage does not name (RFC 1035 section 3.2.3).
const (
	typeMAILB dnsmessage.Type = 253
	typeMAILA dnsmessage.Type = 254
)

// rcodeBadVers is the extended RCODE 16 (RFC 6891 section 9).
const rcodeBadVers dnsmessage.RCode = 16

// CanonicalName returns name in the form Authority compares: lower case
// (RFC 4343), with a trailing dot, checked as a host or owner name: labels
// of 1 to 63 letters, digits, hyphens or underscores, 253 octets at most
// without the final dot (RFC 1035 sections 2.3.1 and 2.3.4; underscores
// for names such as "_dmarc.b.example"). The root "." is not accepted.
func CanonicalName(name string) (string, error) {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return "", errors.New("empty name")
	}
	if len(n) > 253 {
		return "", fmt.Errorf("name of %d octets, more than 253", len(n))
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" {
			return "", fmt.Errorf("empty label in %q", name)
		}
		if len(label) > 63 {
			return "", fmt.Errorf("label of %d octets, more than 63, in %q", len(label), name)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("character %q not allowed in name %q (letters, digits, '-' and '_' only)", c, name)
			}
		}
	}
	return lowerASCII(n) + ".", nil
}

// lowerASCII lower-cases ASCII letters only: DNS names are compared
// octet by octet except for A-Z (RFC 4343 section 3).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// parseAddr parses the value of an A (want4) or AAAA record.
func parseAddr(v string, want4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q has a zone", v)
	}
	if want4 && !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", v)
	}
	if !want4 && !a.Is6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv6 address", v)
	}
	return a, nil
}
