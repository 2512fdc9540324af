package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// Exchange is one query and its answer as a transcript shows them: DNS
// messages are binary, so the DNS agent records these lines instead of
// bytes. The wording is stable: golden transcripts contain it.
//
// The client's line names the type, the name, the query id and the
// transport, and the EDNS0 UDP size when the query carried an OPT record:
//
//	query MX b.example (id 4711, UDP)
//	query A mx.b.example (id 4712, TCP)
//	query AAAA b.example (id 33, UDP, EDNS0 1232)
//	query CH TXT version.bind (id 7, UDP)       (a class other than IN)
//	query (id 7, UDP, opcode UPDATE)            (no question was read)
//
// The server's first line gives the RCODE and the flags (aa: authoritative
// answer; tc: truncated), then what the answer says:
//
//	answer NOERROR aa: 1 MX record for b.example, 1 additional
//	answer NOERROR aa: 3 records of any type for b.example
//	answer NOERROR aa (no data): b.example has no AAAA record
//	answer NXDOMAIN aa: no such name nobody.b.example
//	answer NOERROR aa tc: 60 TXT records for b.example do not fit in 512 octets over UDP, ask again over TCP
//	answer NOERROR aa: 40 MX records for b.example (additional records left out to fit in 512 octets)
//	answer REFUSED: example.org is outside this server's zones
//	answer REFUSED: zone transfers (AXFR) are not offered
//	answer REFUSED: only class IN is served
//	answer FORMERR: 2 questions, exactly 1 expected
//	answer NOTIMP: opcode UPDATE is not implemented, only QUERY
//	answer BADVERS: EDNS version 1 is not supported, only 0
//
// Then one line per record sent, dig-like (owner, TTL, class, type, data),
// those of the authority and additional sections prefixed:
//
//	b.example. 300 IN MX 10 mx.b.example.
//	authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300
//	additional: mx.b.example. 300 IN A 127.0.0.12
//
// Names are shown as the question wrote them (case kept), without the final
// dot in prose, with it in records; octets that are not printable ASCII
// appear as \DDD (RFC 1035 section 5.1).
type Exchange struct {
	Query  string   // the client's line
	Answer []string // the server's lines, the first with the RCODE and flags; nil when nothing was sent
}

// Answer returns the response to one query packet received over UDP
// (overUDP) or TCP (without the 2-octet length prefix), and the Exchange
// summarising both. When query is not worth an answer (not even the
// 12-octet header parses, or it is itself a response) resp is nil, ex.Query
// says what arrived, and err says why; the server then sends nothing
// (RFC 1035 section 4.1.1 gives no way to answer a packet without an id).
// Every other query gets a response, NOERROR or not, and a nil error.
func (a *Authority) Answer(query []byte, overUDP bool) (resp []byte, ex Exchange, err error) {
	t := &txn{a: a, udp: overUDP, proto: "TCP"}
	if overUDP {
		t.proto = "UDP"
	}
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		ex.Query = fmt.Sprintf("unreadable packet of %d octets (%s)", len(query), t.proto)
		return nil, ex, fmt.Errorf("dns: no answer to an unreadable packet of %d octets: %w", len(query), err)
	}
	t.hdr = h
	if h.Response {
		// Answering responses would let a spoofed packet set two servers
		// answering each other forever.
		ex.Query = fmt.Sprintf("response (id %d, %s) sent to the server", h.ID, t.proto)
		return nil, ex, errors.New("dns: no answer to a packet that is itself a response (QR set, RFC 1035 section 4.1.1)")
	}
	t.parse(&p, query)
	return t.respond()
}

// txn is one query being answered.
type txn struct {
	a     *Authority
	udp   bool
	proto string // "UDP" or "TCP"

	hdr        dnsmessage.Header
	q          *dnsmessage.Question // nil until read
	echoQ      bool                 // the response repeats the question
	opt        bool                 // the query had a valid OPT record
	optSize    int
	optVersion uint8

	rcode                         dnsmessage.RCode
	aa                            bool
	answer, authority, additional []out
	summary                       string // what the first line says after "answer RCODE flags: "
	noData                        bool
}

// out is a record to send, with the owner name as it goes on the wire.
type out struct {
	owner dnsmessage.Name
	r     *rr
}

// parse reads the query and decides the answer: it sets rcode, aa, the
// sections and the summary.
func (t *txn) parse(p *dnsmessage.Parser, query []byte) {
	maxLen := MaxTCPQuery
	if t.udp {
		maxLen = MaxUDPQuery
	}
	// The header parsed, so query has its 12 octets: the counts are
	// at 4 (QDCOUNT), 6 (ANCOUNT), 8 (NSCOUNT), 10 (ARCOUNT).
	qd := int(binary.BigEndian.Uint16(query[4:]))
	others := int(binary.BigEndian.Uint16(query[6:])) + int(binary.BigEndian.Uint16(query[8:])) + int(binary.BigEndian.Uint16(query[10:]))
	switch {
	case len(query) > maxLen:
		// RFC 1035 section 4.2.1: 512 octets over UDP (without EDNS0,
		// which only raises the size of responses).
		t.fail(dnsmessage.RCodeFormatError, "query of %d octets, more than %d over %s", len(query), maxLen, t.proto)
		return
	case t.hdr.OpCode != 0:
		// RFC 1035 section 4.1.1: opcodes other than QUERY (IQUERY is
		// obsolete, RFC 3425; NOTIFY and UPDATE concern zone masters).
		if qd == 1 {
			if q, err := p.Question(); err == nil {
				t.q, t.echoQ = &q, true
			}
		}
		t.fail(dnsmessage.RCodeNotImplemented, "opcode %s is not implemented, only QUERY", opcodeName(t.hdr.OpCode))
		return
	case qd != 1:
		// RFC 9619: a QUERY has exactly one question.
		t.fail(dnsmessage.RCodeFormatError, "%d questions, exactly 1 expected", qd)
		return
	case others > MaxQueryRecords:
		t.fail(dnsmessage.RCodeFormatError, "%d records besides the question, at most %d expected", others, MaxQueryRecords)
		return
	}
	if questionCompressed(query) {
		// The question is the first name of a query: a compression
		// pointer there (RFC 1035 section 4.1.4) can only point at the
		// header or forward, a trick, not a use.
		t.fail(dnsmessage.RCodeFormatError, "compression pointer in the question, with nothing before it to point to")
		return
	}
	q, err := p.Question()
	if err != nil {
		t.fail(dnsmessage.RCodeFormatError, "unreadable question: %v", err)
		return
	}
	t.q = &q
	if err := p.SkipAllQuestions(); err != nil { // none left: QDCOUNT is 1
		t.fail(dnsmessage.RCodeFormatError, "unreadable question section: %v", err)
		return
	}
	if err := p.SkipAllAnswers(); err != nil {
		t.fail(dnsmessage.RCodeFormatError, "unreadable answer section: %v", err)
		return
	}
	if err := p.SkipAllAuthorities(); err != nil {
		t.fail(dnsmessage.RCodeFormatError, "unreadable authority section: %v", err)
		return
	}
	for { // at most MaxQueryRecords records: the counts were checked above
		rh, err := p.AdditionalHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			t.fail(dnsmessage.RCodeFormatError, "unreadable additional section: %v", err)
			return
		}
		if rh.Type != dnsmessage.TypeOPT {
			if err := p.SkipAdditional(); err != nil {
				t.fail(dnsmessage.RCodeFormatError, "unreadable additional section: %v", err)
				return
			}
			continue
		}
		switch {
		case t.opt:
			t.opt = false // RFC 6891 section 7: no OPT in a FORMERR about OPT.
			t.fail(dnsmessage.RCodeFormatError, "two OPT records (RFC 6891 section 6.1.1 allows one)")
			return
		case rh.Name.Length != 1:
			t.fail(dnsmessage.RCodeFormatError, "OPT record not owned by the root name (RFC 6891 section 6.1.2)")
			return
		}
		if _, err := p.OPTResource(); err != nil {
			t.fail(dnsmessage.RCodeFormatError, "unreadable OPT record: %v", err)
			return
		}
		t.opt = true
		// RFC 6891 section 6.2.5: a size below 512 is treated as 512.
		t.optSize = max(int(rh.Class), MaxUDPQuery)
		t.optVersion = uint8(rh.TTL >> 16)
	}
	t.echoQ = true
	if t.optVersion != 0 {
		// RFC 6891 section 6.1.3: answer BADVERS, with the version we do.
		t.fail(rcodeBadVers, "EDNS version %d is not supported, only 0", t.optVersion)
		return
	}
	t.lookup()
}

// questionCompressed reports whether the first question's name, right
// after the 12-octet header, uses a compression pointer (or a reserved
// label type, which dnsmessage rejects anyway).
func questionCompressed(query []byte) bool {
	for i := 12; i < len(query); { // i grows by at least 1 each turn
		l := query[i]
		switch {
		case l == 0:
			return false
		case l&0xC0 != 0:
			return true
		}
		i += 1 + int(l)
	}
	return false
}

// lookup answers the question as the authority for the zones (RFC 1035
// section 4.3.2, RFC 2308 for the negative answers).
func (t *txn) lookup() {
	q := t.q
	switch {
	case q.Class != dnsmessage.ClassINET:
		t.fail(dnsmessage.RCodeRefused, "only class IN is served")
		return
	case q.Type == dnsmessage.TypeAXFR || q.Type == 251: // IXFR
		t.fail(dnsmessage.RCodeRefused, "zone transfers (%s) are not offered", TypeName(q.Type))
		return
	case q.Type == typeMAILA || q.Type == typeMAILB:
		// Obsolete query types (RFC 1035 section 3.2.3, RFC 2505).
		t.fail(dnsmessage.RCodeNotImplemented, "query type %s is not implemented", TypeName(q.Type))
		return
	}
	qname := q.Name.String()
	name := lowerASCII(qname)
	z := t.a.zoneOf(name)
	if z == nil && (name == "invalid." || strings.HasSuffix(name, ".invalid.")) {
		// RFC 6761 section 6.4: names under .invalid never exist, and a
		// name server should say so at once rather than refuse. (A mail
		// server then bounces mail for them instead of retrying for days:
		// maillab relaytest aims its probes at relay-test.invalid.)
		t.fail(dnsmessage.RCodeNameError, "no such name %s: .invalid names never exist (RFC 6761)", prose(q.Name))
		return
	}
	if z == nil {
		// Not our zone, and we do not recurse: REFUSED (RFC 1035
		// section 4.1.1; RFC 8906 section 3.1.4 prefers it to silence).
		t.fail(dnsmessage.RCodeRefused, "%s is outside this server's zones", prose(q.Name))
		return
	}
	t.aa = true // RFC 1035 section 4.1.1: we own the zone.
	n := t.a.nodes[name]
	if n == nil {
		// RFC 2308 section 2.1: NXDOMAIN, with the SOA for caching.
		t.rcode = dnsmessage.RCodeNameError
		t.summary = "no such name " + prose(q.Name)
		t.addSOA(qname, z)
		return
	}
	for _, r := range n.rrs {
		if q.Type == dnsmessage.TypeALL || r.typ == q.Type {
			t.answer = append(t.answer, out{owner: q.Name, r: r})
		}
	}
	if len(t.answer) == 0 {
		// RFC 2308 section 2.2: NODATA is NOERROR with no answers and
		// the SOA; empty non-terminals answer so too (RFC 8020).
		t.noData = true
		t.summary = fmt.Sprintf("%s has no %s record", prose(q.Name), TypeName(q.Type))
		t.addSOA(qname, z)
		return
	}
	// RFC 1035 sections 3.3.9 and 3.3.11: the addresses of MX exchanges
	// and name servers go to the additional section when known.
	seen := make(map[string]bool)
	for _, o := range t.answer {
		target := o.r.value
		if target == "" || target == "." || seen[target] || (o.r.typ != dnsmessage.TypeMX && o.r.typ != dnsmessage.TypeNS) {
			continue
		}
		seen[target] = true
		if tn := t.a.nodes[target]; tn != nil {
			for _, r := range tn.rrs {
				if r.typ == dnsmessage.TypeA || r.typ == dnsmessage.TypeAAAA {
					t.additional = append(t.additional, out{owner: mustName(target), r: r})
				}
			}
		}
	}
	kind := TypeName(q.Type) + " "
	if q.Type == dnsmessage.TypeALL {
		kind = ""
	}
	t.summary = fmt.Sprintf("%d %s%s", len(t.answer), kind, plural(len(t.answer), "record"))
	if q.Type == dnsmessage.TypeALL {
		t.summary += " of any type"
	}
	t.summary += " for " + prose(q.Name)
}

// addSOA puts the zone's SOA in the authority section, its owner written
// as the tail of the question's name (so in the question's case).
func (t *txn) addSOA(qname string, z *zone) {
	owner := z.soa.owner
	if len(qname) >= len(owner) {
		owner = qname[len(qname)-len(owner):]
	}
	n, err := dnsmessage.NewName(owner)
	if err != nil {
		n = mustName(z.soa.owner)
	}
	t.authority = append(t.authority, out{owner: n, r: z.soa})
}

// fail sets an error answer: no records, no AA.
func (t *txn) fail(rc dnsmessage.RCode, format string, args ...any) {
	t.rcode, t.aa = rc, false
	t.answer, t.authority, t.additional = nil, nil, nil
	t.summary = fmt.Sprintf(format, args...)
}

// limit is the largest response the client can take (RFC 1035 section
// 4.2.1, RFC 6891 section 6.2.3).
func (t *txn) limit() int {
	switch {
	case !t.udp:
		return 65535
	case t.opt:
		return min(t.optSize, MaxUDPResponse)
	}
	return 512
}

// respond builds the response, truncating it when it does not fit, and
// the Exchange.
func (t *txn) respond() ([]byte, Exchange, error) {
	limit := t.limit()
	dropped, tc := false, false
	resp, err := t.build(true, true, false)
	if err == nil && len(resp) > limit && len(t.additional) > 0 {
		// RFC 2181 section 9: additional data may be left out without TC.
		dropped = true
		resp, err = t.build(true, false, false)
	}
	if err == nil && len(resp) > limit {
		// RFC 2181 section 9: an RRset that does not fit is not sent in
		// part; TC tells the client to ask again over TCP (RFC 7766).
		tc = true
		resp, err = t.build(false, false, true)
	}
	if err != nil {
		// Our records are valid by construction; say so if not.
		t.fail(dnsmessage.RCodeServerFailure, "internal error building the answer: %v", err)
		if resp, err = t.build(false, false, false); err != nil {
			return nil, Exchange{Query: t.queryLine()}, fmt.Errorf("dns: building a response: %w", err)
		}
	}
	return resp, t.exchange(limit, dropped, tc), nil
}

// build packs the response with the sections asked for.
func (t *txn) build(records, additional, tc bool) ([]byte, error) {
	h := dnsmessage.Header{
		ID: t.hdr.ID, Response: true, OpCode: t.hdr.OpCode,
		Authoritative:    t.aa,
		Truncated:        tc,
		RecursionDesired: t.hdr.RecursionDesired, // RFC 1035 section 4.1.1: copied
		RCode:            t.rcode & 0xF,          // the rest goes in the OPT record
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if t.echoQ && t.q != nil {
		if err := b.Question(*t.q); err != nil {
			return nil, err
		}
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if records {
		if err := addAll(&b, t.answer); err != nil {
			return nil, err
		}
	}
	if err := b.StartAuthorities(); err != nil {
		return nil, err
	}
	if records {
		if err := addAll(&b, t.authority); err != nil {
			return nil, err
		}
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	if records && additional {
		if err := addAll(&b, t.additional); err != nil {
			return nil, err
		}
	}
	if t.opt {
		// RFC 6891 section 7: a response to a query with OPT has OPT.
		var rh dnsmessage.ResourceHeader
		if err := rh.SetEDNS0(MaxUDPResponse, t.rcode, false); err != nil {
			return nil, err
		}
		if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

func addAll(b *dnsmessage.Builder, outs []out) error {
	for _, o := range outs {
		h := dnsmessage.ResourceHeader{Name: o.owner, Type: o.r.typ, Class: dnsmessage.ClassINET, TTL: o.r.ttl}
		var err error
		switch body := o.r.body.(type) {
		case *dnsmessage.AResource:
			err = b.AResource(h, *body)
		case *dnsmessage.AAAAResource:
			err = b.AAAAResource(h, *body)
		case *dnsmessage.MXResource:
			err = b.MXResource(h, *body)
		case *dnsmessage.NSResource:
			err = b.NSResource(h, *body)
		case *dnsmessage.PTRResource:
			err = b.PTRResource(h, *body)
		case *dnsmessage.TXTResource:
			err = b.TXTResource(h, *body)
		case *dnsmessage.SOAResource:
			err = b.SOAResource(h, *body)
		default:
			err = fmt.Errorf("record type %s not packable", TypeName(o.r.typ))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// queryLine is the client's line of the Exchange.
func (t *txn) queryLine() string {
	var b strings.Builder
	b.WriteString("query ")
	if t.q != nil {
		if t.q.Class != dnsmessage.ClassINET {
			b.WriteString(ClassName(t.q.Class) + " ")
		}
		b.WriteString(TypeName(t.q.Type) + " " + prose(t.q.Name) + " ")
	}
	fmt.Fprintf(&b, "(id %d, %s", t.hdr.ID, t.proto)
	if t.q == nil && t.hdr.OpCode != 0 {
		b.WriteString(", opcode " + opcodeName(t.hdr.OpCode))
	}
	if t.opt {
		fmt.Fprintf(&b, ", EDNS0 %d", t.optSize)
	}
	b.WriteString(")")
	return b.String()
}

// exchange returns the Exchange of the response built.
func (t *txn) exchange(limit int, dropped, tc bool) Exchange {
	var first strings.Builder
	first.WriteString("answer " + RCodeName(t.rcode))
	if t.aa {
		first.WriteString(" aa")
	}
	if tc {
		first.WriteString(" tc")
	}
	if t.noData {
		first.WriteString(" (no data)")
	}
	first.WriteString(": " + t.summary)
	switch {
	case tc:
		fmt.Fprintf(&first, " do not fit in %d octets over %s", limit, t.proto)
		if t.udp {
			first.WriteString(", ask again over TCP")
		}
	case dropped:
		fmt.Fprintf(&first, " (additional records left out to fit in %d octets)", limit)
	case len(t.additional) > 0:
		fmt.Fprintf(&first, ", %d additional", len(t.additional))
	}
	lines := []string{first.String()}
	if !tc {
		for _, o := range t.answer {
			lines = append(lines, o.line())
		}
		for _, o := range t.authority {
			lines = append(lines, "authority: "+o.line())
		}
		if !dropped {
			for _, o := range t.additional {
				lines = append(lines, "additional: "+o.line())
			}
		}
	}
	return Exchange{Query: t.queryLine(), Answer: lines}
}

// line is the record in dig's presentation form.
func (o out) line() string {
	return presentName(o.owner) + " " + strconv.FormatUint(uint64(o.r.ttl), 10) + " IN " + TypeName(o.r.typ) + " " + o.r.text
}

func opcodeName(op dnsmessage.OpCode) string {
	switch op {
	case 0:
		return "QUERY"
	case 1:
		return "IQUERY"
	case 2:
		return "STATUS"
	case 4:
		return "NOTIFY"
	case 5:
		return "UPDATE"
	case 6:
		return "DSO"
	}
	return strconv.Itoa(int(op))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// prose is a name as sentences show it: without its final dot.
func prose(n dnsmessage.Name) string {
	s := presentName(n)
	if len(s) > 1 {
		return strings.TrimSuffix(s, ".")
	}
	return s
}

// presentName is n with every octet that is not printable ASCII, and the
// characters that have a meaning in master files, escaped (RFC 1035
// section 5.1: \DDD, or \X).
func presentName(n dnsmessage.Name) string {
	s := n.String()
	return escape(s, ' ', func(c byte) bool {
		return c == '"' || c == '\\' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$'
	})
}

// quoteTXT is one TXT string as dig shows it: in double quotes.
func quoteTXT(s string) string {
	return `"` + escape(s, ' '-1, func(c byte) bool { return c == '"' || c == '\\' }) + `"`
}

// escape writes octets up to ctl and from 0x7f as \DDD, special ones as \X.
func escape(s string, ctl byte, special func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ctl || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		case special(c):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
