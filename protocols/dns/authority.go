package dns

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// SOA values synthesized for every zone (RFC 1035 section 3.3.13). The lab
// never transfers zones, so refresh, retry and expire only have to be
// plausible; minimum is the negative-caching TTL (RFC 2308 section 4).
const (
	soaSerial  = 1
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
	soaMinimum = DefaultTTL
)

// maxZoneName bounds a zone's canonical name so that "hostmaster.<zone>"
// fits in a DNS name (255 octets, RFC 1035 section 2.3.4).
const maxZoneName = 240

// Authority answers queries for a fixed set of zones. It is immutable once
// built, so one Authority may answer from many goroutines at once.
type Authority struct {
	zones []*zone          // longest name first, for the closest enclosing zone
	nodes map[string]*node // by canonical owner name; empty non-terminals have no records
}

// zone is one zone the Authority serves.
type zone struct {
	name string // canonical, "b.example."
	soa  *rr
}

// node is one owner name: its records, or none for an empty non-terminal.
type node struct {
	rrs []*rr
}

// rr is a record ready to be sent: its header fields, its body for the
// Builder, and its RDATA in presentation form for Exchange lines.
type rr struct {
	typ   dnsmessage.Type
	ttl   uint32
	owner string // canonical owner name
	body  dnsmessage.ResourceBody
	text  string // "10 mx.b.example."
	value string // canonical target name of MX, NS, PTR, for additional processing
}

// NewAuthority checks zones and records and returns an Authority serving
// them. Every record must belong to one of the zones; errors name the
// record: `record 3 (MX b.example): ...` (records count from 1). Each zone
// gets a synthesized SOA whose MNAME is the zone's first NS record, or
// "ns.<zone>" when it has none.
func NewAuthority(zones []string, records []Record) (*Authority, error) {
	if len(zones) == 0 {
		return nil, fmt.Errorf("dns: no zones")
	}
	if len(records) > MaxRecords {
		return nil, fmt.Errorf("dns: %d records, more than %d", len(records), MaxRecords)
	}
	a := &Authority{nodes: make(map[string]*node)}
	seen := make(map[string]bool)
	for i, z := range zones {
		name, err := CanonicalName(z)
		if err != nil {
			return nil, fmt.Errorf("dns: zone %d (%q): %w", i+1, z, err)
		}
		if len(name) > maxZoneName {
			// The SOA names "hostmaster.<zone>", which must fit in 255 octets.
			return nil, fmt.Errorf("dns: zone %d (%q): name longer than %d octets", i+1, z, maxZoneName)
		}
		if seen[name] {
			return nil, fmt.Errorf("dns: zone %d (%q): listed twice", i+1, z)
		}
		seen[name] = true
		a.zones = append(a.zones, &zone{name: name})
		a.nodes[name] = &node{}
	}
	sort.SliceStable(a.zones, func(i, j int) bool { return len(a.zones[i].name) > len(a.zones[j].name) })

	type key struct {
		owner string
		typ   dnsmessage.Type
		text  string
	}
	dup := make(map[key]int)
	for i, rec := range records {
		r, z, err := a.newRR(rec)
		if err != nil {
			return nil, fmt.Errorf("dns: record %d (%s): %w", i+1, rec, err)
		}
		k := key{r.owner, r.typ, r.text}
		if j, ok := dup[k]; ok {
			return nil, fmt.Errorf("dns: record %d (%s): same as record %d", i+1, rec, j)
		}
		dup[k] = i + 1
		if r.typ == dnsmessage.TypeNS && r.owner != z.name {
			// Delegations need referrals and glue: out of the lab's scope.
			return nil, fmt.Errorf("dns: record %d (%s): NS records are only supported at a zone apex (%s), the lab does no delegation", i+1, rec, z.name)
		}
		n := a.nodes[r.owner]
		if n == nil {
			n = &node{}
			a.nodes[r.owner] = n
			// RFC 8020: the names between a record and its zone apex
			// exist, even with no records (empty non-terminals).
			for p := parent(r.owner); len(p) > len(z.name); p = parent(p) {
				if a.nodes[p] == nil {
					a.nodes[p] = &node{}
				}
			}
		}
		if r.typ == dnsmessage.TypeMX {
			for _, o := range n.rrs {
				if o.typ == dnsmessage.TypeMX && (o.value == "." || r.value == ".") {
					// RFC 7505 section 3: a null MX is the only MX of its name.
					return nil, fmt.Errorf("dns: record %d (%s): a null MX must be the only MX record of its name (RFC 7505 section 3)", i+1, rec)
				}
			}
		}
		n.rrs = append(n.rrs, r)
	}
	for _, z := range a.zones {
		mname := "ns." + z.name
		for _, r := range a.nodes[z.name].rrs {
			if r.typ == dnsmessage.TypeNS {
				mname = r.value
				break
			}
		}
		soa := dnsmessage.SOAResource{
			NS: mustName(mname), MBox: mustName("hostmaster." + z.name),
			Serial: soaSerial, Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, MinTTL: soaMinimum,
		}
		z.soa = &rr{
			typ: dnsmessage.TypeSOA, ttl: DefaultTTL, owner: z.name, body: &soa,
			text: fmt.Sprintf("%s hostmaster.%s %d %d %d %d %d", mname, z.name, soaSerial, soaRefresh, soaRetry, soaExpire, soaMinimum),
		}
		apex := a.nodes[z.name]
		apex.rrs = append([]*rr{z.soa}, apex.rrs...)
	}
	return a, nil
}

// newRR checks rec and returns it as an rr, with the zone it belongs to.
func (a *Authority) newRR(rec Record) (*rr, *zone, error) {
	owner, err := CanonicalName(rec.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("owner name: %w", err)
	}
	z := a.zoneOf(owner)
	if z == nil {
		return nil, nil, fmt.Errorf("%s is in none of the zones %s", owner, a.zoneList())
	}
	typ, ok := types[rec.Type]
	if !ok {
		return nil, nil, fmt.Errorf("type %q not supported (A, AAAA, MX, NS, PTR, TXT)", rec.Type)
	}
	ttl := rec.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl > MaxTTL {
		return nil, nil, fmt.Errorf("TTL %d larger than %d (RFC 2181 section 8)", ttl, MaxTTL)
	}
	if rec.Preference != 0 && typ != dnsmessage.TypeMX {
		return nil, nil, fmt.Errorf("preference is only for MX records")
	}
	r := &rr{typ: typ, ttl: ttl, owner: owner}
	switch typ {
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		ip, err := parseAddr(rec.Value, typ == dnsmessage.TypeA)
		if err != nil {
			return nil, nil, err
		}
		if typ == dnsmessage.TypeA {
			r.body = &dnsmessage.AResource{A: ip.As4()}
		} else {
			r.body = &dnsmessage.AAAAResource{AAAA: ip.As16()}
		}
		r.text = ip.String()
	case dnsmessage.TypeMX:
		if rec.Value == "." {
			// RFC 7505 section 3: the null MX has preference 0 and "." as exchange.
			if rec.Preference != 0 {
				return nil, nil, fmt.Errorf("a null MX (\".\") must have preference 0 (RFC 7505 section 3)")
			}
			r.value = "."
		} else if r.value, err = CanonicalName(rec.Value); err != nil {
			return nil, nil, fmt.Errorf("exchange: %w", err)
		}
		r.body = &dnsmessage.MXResource{Pref: rec.Preference, MX: mustName(r.value)}
		r.text = strconv.Itoa(int(rec.Preference)) + " " + r.value
	case dnsmessage.TypeNS, dnsmessage.TypePTR:
		if r.value, err = CanonicalName(rec.Value); err != nil {
			return nil, nil, fmt.Errorf("host name: %w", err)
		}
		if typ == dnsmessage.TypeNS {
			r.body = &dnsmessage.NSResource{NS: mustName(r.value)}
		} else {
			r.body = &dnsmessage.PTRResource{PTR: mustName(r.value)}
		}
		r.text = r.value
	case dnsmessage.TypeTXT:
		if len(rec.Value) > MaxTXTBytes {
			return nil, nil, fmt.Errorf("text of %d octets, more than %d", len(rec.Value), MaxTXTBytes)
		}
		// RFC 1035 section 3.3.14: one or more strings of up to 255 octets.
		var parts []string
		v := rec.Value
		for len(v) > 255 {
			parts, v = append(parts, v[:255]), v[255:]
		}
		parts = append(parts, v)
		r.body = &dnsmessage.TXTResource{TXT: parts}
		quoted := make([]string, len(parts))
		for i, p := range parts {
			quoted[i] = quoteTXT(p)
		}
		r.text = strings.Join(quoted, " ")
	}
	return r, z, nil
}

// zoneOf returns the closest zone enclosing the canonical name, or nil.
func (a *Authority) zoneOf(name string) *zone {
	for _, z := range a.zones {
		if inZone(name, z.name) {
			return z
		}
	}
	return nil
}

func (a *Authority) zoneList() string {
	names := make([]string, len(a.zones))
	for i, z := range a.zones {
		names[i] = z.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// inZone reports whether the canonical name is zone or below it.
func inZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

// parent returns the canonical name without its first label.
func parent(name string) string {
	_, rest, _ := strings.Cut(name, ".")
	return rest
}

// mustName converts a canonical name (validated, at most 254 octets) into
// a dnsmessage.Name.
func mustName(s string) dnsmessage.Name {
	n, err := dnsmessage.NewName(s)
	if err != nil {
		// CanonicalName bounds names to 254 octets: unreachable.
		panic("dns: invalid canonical name " + s)
	}
	return n
}
