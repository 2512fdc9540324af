package dns

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

var labZones = []string{"b.example", "A.Example.", "0.0.127.in-addr.arpa"}

var labRecords = []Record{
	{Name: "b.example", Type: "MX", Preference: 10, Value: "mx.b.example"},
	{Name: "b.example", Type: "MX", Preference: 20, Value: "mx2.b.example."},
	{Name: "mx.b.example", Type: "A", Value: "127.0.0.12"},
	{Name: "mx.b.example", Type: "AAAA", Value: "fd00::12"},
	{Name: "mx2.b.example", Type: "A", Value: "127.0.0.13", TTL: 60},
	{Name: "b.example", Type: "TXT", Value: `v=spf1 ip4:127.0.0.12 "-all"`},
	{Name: "b.example", Type: "NS", Value: "ns.b.example"},
	{Name: "ns.b.example", Type: "A", Value: "127.0.0.53"},
	{Name: "null.a.example", Type: "MX", Value: "."},
	{Name: "host.deep.a.example", Type: "A", Value: "127.0.0.20"},
	{Name: "12.0.0.127.in-addr.arpa", Type: "PTR", Value: "mx.b.example"},
}

func labAuthority(t testing.TB) *Authority {
	t.Helper()
	a, err := NewAuthority(labZones, labRecords)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// query packs a query for name and type, with an OPT record of size
// udpSize when udpSize > 0.
func query(t testing.TB, id uint16, name string, typ dnsmessage.Type, udpSize int) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	if udpSize > 0 {
		b.StartAdditionals()
		var rh dnsmessage.ResourceHeader
		rh.SetEDNS0(udpSize, 0, false)
		if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func unpack(t testing.TB, resp []byte) *dnsmessage.Message {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	return &m
}

func TestAnswer(t *testing.T) {
	a := labAuthority(t)
	for _, tc := range []struct {
		name    string
		qname   string
		qtype   dnsmessage.Type
		rcode   dnsmessage.RCode
		aa      bool
		answers int
		ex      []string
	}{
		{"MX with additional addresses", "b.example.", dnsmessage.TypeMX, dnsmessage.RCodeSuccess, true, 2, []string{
			"answer NOERROR aa: 2 MX records for b.example, 3 additional",
			"b.example. 300 IN MX 10 mx.b.example.",
			"b.example. 300 IN MX 20 mx2.b.example.",
			"additional: mx.b.example. 300 IN A 127.0.0.12",
			"additional: mx.b.example. 300 IN AAAA fd00::12",
			"additional: mx2.b.example. 60 IN A 127.0.0.13",
		}},
		{"case kept from the question", "B.Example.", dnsmessage.TypeTXT, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 TXT record for B.Example",
			`B.Example. 300 IN TXT "v=spf1 ip4:127.0.0.12 \"-all\""`,
		}},
		{"A", "mx.b.example.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 A record for mx.b.example",
			"mx.b.example. 300 IN A 127.0.0.12",
		}},
		{"NODATA", "mx2.b.example.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, true, 0, []string{
			"answer NOERROR aa (no data): mx2.b.example has no AAAA record",
			"authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300",
		}},
		{"NODATA at an empty non-terminal", "DEEP.a.example.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, true, 0, []string{
			"answer NOERROR aa (no data): DEEP.a.example has no A record",
			"authority: a.example. 300 IN SOA ns.a.example. hostmaster.a.example. 1 3600 600 86400 300",
		}},
		{"NXDOMAIN", "nobody.B.example.", dnsmessage.TypeMX, dnsmessage.RCodeNameError, true, 0, []string{
			"answer NXDOMAIN aa: no such name nobody.B.example",
			"authority: B.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300",
		}},
		{"NXDOMAIN below an existing name", "x.mx.b.example.", dnsmessage.TypeA, dnsmessage.RCodeNameError, true, 0, nil},
		{"null MX", "null.a.example.", dnsmessage.TypeMX, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 MX record for null.a.example",
			"null.a.example. 300 IN MX 0 .",
		}},
		{"PTR", "12.0.0.127.in-addr.arpa.", dnsmessage.TypePTR, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 PTR record for 12.0.0.127.in-addr.arpa",
			"12.0.0.127.in-addr.arpa. 300 IN PTR mx.b.example.",
		}},
		{"SOA at the apex", "a.example.", dnsmessage.TypeSOA, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 SOA record for a.example",
			"a.example. 300 IN SOA ns.a.example. hostmaster.a.example. 1 3600 600 86400 300",
		}},
		{"NS with glue", "b.example.", dnsmessage.TypeNS, dnsmessage.RCodeSuccess, true, 1, []string{
			"answer NOERROR aa: 1 NS record for b.example, 1 additional",
			"b.example. 300 IN NS ns.b.example.",
			"additional: ns.b.example. 300 IN A 127.0.0.53",
		}},
		{"ANY", "b.example.", dnsmessage.TypeALL, dnsmessage.RCodeSuccess, true, 5, nil},
		{"unknown type is NODATA", "b.example.", dnsmessage.TypeSRV, dnsmessage.RCodeSuccess, true, 0, []string{
			"answer NOERROR aa (no data): b.example has no SRV record",
			"authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300",
		}},
		{"outside the zones", "example.org.", dnsmessage.TypeMX, dnsmessage.RCodeRefused, false, 0, []string{
			"answer REFUSED: example.org is outside this server's zones",
		}},
		{"parent of a zone", "example.", dnsmessage.TypeMX, dnsmessage.RCodeRefused, false, 0, nil},
		{"suffix that is not a parent", "xb.example.", dnsmessage.TypeMX, dnsmessage.RCodeRefused, false, 0, nil},
		{"root", ".", dnsmessage.TypeNS, dnsmessage.RCodeRefused, false, 0, nil},
		{"AXFR", "b.example.", dnsmessage.TypeAXFR, dnsmessage.RCodeRefused, false, 0, []string{
			"answer REFUSED: zone transfers (AXFR) are not offered",
		}},
		{"MAILB", "b.example.", typeMAILB, dnsmessage.RCodeNotImplemented, false, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ex, err := a.Answer(query(t, 4711, tc.qname, tc.qtype, 0), true)
			if err != nil {
				t.Fatal(err)
			}
			m := unpack(t, resp)
			if m.ID != 4711 || !m.Response || m.RCode != tc.rcode || m.Authoritative != tc.aa || len(m.Answers) != tc.answers {
				t.Errorf("got id %d qr %v rcode %v aa %v answers %d, want 4711 true %v %v %d",
					m.ID, m.Response, m.RCode, m.Authoritative, len(m.Answers), tc.rcode, tc.aa, tc.answers)
			}
			if !m.RecursionDesired || m.RecursionAvailable {
				t.Errorf("rd %v ra %v, want RD copied and RA clear", m.RecursionDesired, m.RecursionAvailable)
			}
			if len(m.Questions) != 1 || m.Questions[0].Name.String() != tc.qname {
				t.Errorf("question not echoed as asked: %v", m.Questions)
			}
			for _, rr := range m.Answers {
				if rr.Header.Name.String() != tc.qname {
					t.Errorf("answer owner %s, want the question's %s", rr.Header.Name, tc.qname)
				}
			}
			negative := tc.aa && tc.answers == 0
			if negative && (len(m.Authorities) != 1 || m.Authorities[0].Header.Type != dnsmessage.TypeSOA) {
				t.Errorf("negative answer without SOA in authority: %v", m.Authorities)
			}
			if tc.ex != nil {
				if diff := cmp.Diff(tc.ex, ex.Answer); diff != "" {
					t.Errorf("Exchange.Answer (-want +got):\n%s", diff)
				}
			}
			wantQuery := "query " + TypeName(tc.qtype) + " " + strings.TrimSuffix(tc.qname, ".")
			if tc.qname == "." {
				wantQuery = "query NS ."
			}
			if want := wantQuery + " (id 4711, UDP)"; ex.Query != want {
				t.Errorf("Exchange.Query = %q, want %q", ex.Query, want)
			}
		})
	}
}

func TestAnswerMXAdditionalWithNullMX(t *testing.T) {
	a := labAuthority(t)
	resp, _, err := a.Answer(query(t, 1, "null.a.example.", dnsmessage.TypeMX, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	m := unpack(t, resp)
	mx := m.Answers[0].Body.(*dnsmessage.MXResource)
	if mx.MX.String() != "." || mx.Pref != 0 || len(m.Additionals) != 0 {
		t.Errorf("null MX answered as %v pref %d with %d additional", mx.MX, mx.Pref, len(m.Additionals))
	}
}

func TestAnswerEDNS0(t *testing.T) {
	a := labAuthority(t)
	resp, ex, err := a.Answer(query(t, 9, "b.example.", dnsmessage.TypeMX, 4096), true)
	if err != nil {
		t.Fatal(err)
	}
	m := unpack(t, resp)
	if len(m.Additionals) != 4 || m.Additionals[3].Header.Type != dnsmessage.TypeOPT {
		t.Fatalf("want 3 addresses and an OPT echoed, got %v", m.Additionals)
	}
	if size := int(m.Additionals[3].Header.Class); size != MaxUDPResponse {
		t.Errorf("OPT advertises %d, want %d", size, MaxUDPResponse)
	}
	if want := "query MX b.example (id 9, UDP, EDNS0 4096)"; ex.Query != want {
		t.Errorf("Query = %q, want %q", ex.Query, want)
	}
}

func TestAnswerEDNSBadVersion(t *testing.T) {
	a := labAuthority(t)
	q := query(t, 9, "b.example.", dnsmessage.TypeMX, 1232)
	// The OPT record is last: its TTL's second octet is the version.
	q[len(q)-2-4+1] = 1
	resp, ex, err := a.Answer(q, true)
	if err != nil {
		t.Fatal(err)
	}
	m := unpack(t, resp)
	opt := m.Additionals[len(m.Additionals)-1].Header
	if got := opt.ExtendedRCode(m.RCode); got != rcodeBadVers {
		t.Errorf("rcode %v, want BADVERS", got)
	}
	if want := "answer BADVERS: EDNS version 1 is not supported, only 0"; ex.Answer[0] != want {
		t.Errorf("got %q, want %q", ex.Answer[0], want)
	}
}

// bigAuthority has 60 TXT records of 40 octets on one name: 3 kB.
func bigAuthority(t testing.TB) *Authority {
	var recs []Record
	for i := range 60 {
		recs = append(recs, Record{Name: "big.b.example", Type: "TXT", Value: strings.Repeat(string(rune('a'+i%26)), 39) + string(rune('0'+i/26))})
	}
	for i := range 40 {
		recs = append(recs,
			Record{Name: "many.b.example", Type: "MX", Preference: uint16(i), Value: "mx" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".b.example"},
			Record{Name: "mx" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".b.example", Type: "AAAA", Value: "fd00::1"})
	}
	a, err := NewAuthority([]string{"b.example"}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAnswerTruncated(t *testing.T) {
	a := bigAuthority(t)
	for _, tc := range []struct {
		name    string
		udp     bool
		size    int
		tc      bool
		answers int
		first   string
	}{
		{"UDP 512", true, 0, true, 0, "answer NOERROR aa tc: 60 TXT records for big.b.example do not fit in 512 octets over UDP, ask again over TCP"},
		{"UDP EDNS0 4096 capped at 1232", true, 4096, true, 0, "answer NOERROR aa tc: 60 TXT records for big.b.example do not fit in 1232 octets over UDP, ask again over TCP"},
		{"EDNS0 below 512 counts as 512", true, 100, true, 0, "answer NOERROR aa tc: 60 TXT records for big.b.example do not fit in 512 octets over UDP, ask again over TCP"},
		{"TCP", false, 0, false, 60, "answer NOERROR aa: 60 TXT records for big.b.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ex, err := a.Answer(query(t, 1, "big.b.example.", dnsmessage.TypeTXT, tc.size), tc.udp)
			if err != nil {
				t.Fatal(err)
			}
			m := unpack(t, resp)
			limit := 512
			if tc.size > 512 {
				limit = MaxUDPResponse
			}
			if tc.udp && len(resp) > limit {
				t.Errorf("UDP response of %d octets, more than %d", len(resp), limit)
			}
			if m.Truncated != tc.tc || len(m.Answers) != tc.answers {
				t.Errorf("tc %v answers %d, want %v %d", m.Truncated, len(m.Answers), tc.tc, tc.answers)
			}
			if tc.size > 0 && m.Additionals[len(m.Additionals)-1].Header.Type != dnsmessage.TypeOPT {
				t.Errorf("truncated answer lost its OPT record")
			}
			if ex.Answer[0] != tc.first {
				t.Errorf("got %q, want %q", ex.Answer[0], tc.first)
			}
			if tc.tc && len(ex.Answer) != 1 {
				t.Errorf("a truncated answer shows records: %q", ex.Answer)
			}
		})
	}
}

// RFC 2181 section 9: additional records are left out before the answer
// is truncated.
func TestAnswerDropsAdditionalBeforeTruncating(t *testing.T) {
	a := bigAuthority(t)
	resp, ex, err := a.Answer(query(t, 1, "many.b.example.", dnsmessage.TypeMX, 1232), true)
	if err != nil {
		t.Fatal(err)
	}
	m := unpack(t, resp)
	if m.Truncated || len(m.Answers) != 40 || len(m.Additionals) != 1 {
		t.Errorf("tc %v, %d answers, %d additional; want all 40 MX and only the OPT", m.Truncated, len(m.Answers), len(m.Additionals))
	}
	if want := "answer NOERROR aa: 40 MX records for many.b.example (additional records left out to fit in 1232 octets)"; ex.Answer[0] != want {
		t.Errorf("got %q, want %q", ex.Answer[0], want)
	}
	if len(ex.Answer) != 41 {
		t.Errorf("%d lines, want 41", len(ex.Answer))
	}
}

// header returns a bare 12-octet header with the given flags and counts.
func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// A question "b.example. MX IN" in wire form.
var questionMX = []byte{1, 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 15, 0, 1}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestAnswerMalformed(t *testing.T) {
	a := labAuthority(t)
	for _, tc := range []struct {
		name  string
		udp   bool
		pkt   []byte
		rcode dnsmessage.RCode
		first string
	}{
		{"no question", true, header(1, 0, 0, 0, 0, 0), dnsmessage.RCodeFormatError, "answer FORMERR: 0 questions, exactly 1 expected"},
		{"two questions", true, cat(header(1, 0, 2, 0, 0, 0), questionMX, questionMX), dnsmessage.RCodeFormatError, "answer FORMERR: 2 questions, exactly 1 expected"},
		{"question cut short", true, cat(header(1, 0, 1, 0, 0, 0), questionMX[:5]), dnsmessage.RCodeFormatError, ""},
		{"question type missing", true, cat(header(1, 0, 1, 0, 0, 0), questionMX[:11]), dnsmessage.RCodeFormatError, ""},
		{"counts lie", true, cat(header(1, 0, 1, 2, 0, 0), questionMX), dnsmessage.RCodeFormatError, ""},
		{"too many records", true, cat(header(1, 0, 1, 0, 0, 9), questionMX), dnsmessage.RCodeFormatError, "answer FORMERR: 9 records besides the question, at most 4 expected"},
		{"65535 additional records", false, cat(header(1, 0, 1, 0, 0, 0xffff), questionMX), dnsmessage.RCodeFormatError, ""},
		{"UDP query over 512", true, cat(header(1, 0, 1, 0, 0, 0), questionMX, make([]byte, 500)), dnsmessage.RCodeFormatError, "answer FORMERR: query of 527 octets, more than 512 over UDP"},
		{"TCP query over 65535", false, cat(header(1, 0, 1, 0, 0, 0), questionMX, make([]byte, 65535)), dnsmessage.RCodeFormatError, "answer FORMERR: query of 65562 octets, more than 65535 over TCP"},
		{"pointer loop", true, cat(header(1, 0, 1, 0, 0, 0), []byte{0xc0, 12, 0, 15, 0, 1}), dnsmessage.RCodeFormatError, ""},
		{"forward pointer", true, cat(header(1, 0, 1, 0, 0, 0), []byte{0xc0, 18, 0, 15, 0, 1}, questionMX), dnsmessage.RCodeFormatError, "answer FORMERR: compression pointer in the question, with nothing before it to point to"},
		{"label then pointer", true, cat(header(1, 0, 1, 0, 0, 0), []byte{1, 'x', 0xc0, 20, 0, 15, 0, 1}, questionMX), dnsmessage.RCodeFormatError, "answer FORMERR: compression pointer in the question, with nothing before it to point to"},
		{"pointer into the header", true, cat(header(1, 0, 1, 0, 0, 0), []byte{0xc0, 2, 0, 15, 0, 1}), dnsmessage.RCodeFormatError, ""},
		{"label too long", true, cat(header(1, 0, 1, 0, 0, 0), []byte{70, 'b', 0, 0, 15, 0, 1}), dnsmessage.RCodeFormatError, ""},
		{"reserved label type", true, cat(header(1, 0, 1, 0, 0, 0), []byte{0x80, 1, 0, 15, 0, 1}), dnsmessage.RCodeFormatError, ""},
		{"UPDATE", true, cat(header(1, 5<<11, 1, 0, 0, 0), questionMX), dnsmessage.RCodeNotImplemented, "answer NOTIMP: opcode UPDATE is not implemented, only QUERY"},
		{"opcode 15", true, header(1, 15<<11, 0, 0, 0, 0), dnsmessage.RCodeNotImplemented, "answer NOTIMP: opcode 15 is not implemented, only QUERY"},
		{"class CH", true, cat(header(1, 0, 1, 0, 0, 0), questionMX[:13], []byte{0, 3}), dnsmessage.RCodeRefused, "answer REFUSED: only class IN is served"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ex, err := a.Answer(tc.pkt, tc.udp)
			if err != nil {
				t.Fatal(err)
			}
			m := unpack(t, resp)
			if m.ID != 1 || !m.Response || m.RCode != tc.rcode || m.Authoritative || len(m.Answers)+len(m.Authorities)+len(m.Additionals) != 0 {
				t.Errorf("got %+v, want a bare %v", m.Header, tc.rcode)
			}
			if tc.first != "" && ex.Answer[0] != tc.first {
				t.Errorf("got %q, want %q", ex.Answer[0], tc.first)
			}
			if !strings.HasPrefix(ex.Answer[0], "answer "+RCodeName(tc.rcode)+": ") {
				t.Errorf("first line %q", ex.Answer[0])
			}
		})
	}
}

func TestAnswerNoResponse(t *testing.T) {
	a := labAuthority(t)
	for _, tc := range []struct {
		name  string
		pkt   []byte
		query string
	}{
		{"empty", nil, "unreadable packet of 0 octets (UDP)"},
		{"short header", []byte{1, 2, 3}, "unreadable packet of 3 octets (UDP)"},
		{"a response", cat(header(77, 1<<15, 1, 0, 0, 0), questionMX), "response (id 77, UDP) sent to the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, ex, err := a.Answer(tc.pkt, true)
			if err == nil || resp != nil {
				t.Fatalf("got %x, %v; want no response and an error", resp, err)
			}
			if ex.Query != tc.query || ex.Answer != nil {
				t.Errorf("Exchange %+v, want query %q and no answer", ex, tc.query)
			}
		})
	}
}

func TestAnswerEscapesHostileNames(t *testing.T) {
	a := labAuthority(t)
	q := cat(header(3, 0, 1, 0, 0, 0), []byte{4, 'a', 0x1b, '[', 'm', 1, 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1})
	_, ex, err := a.Answer(q, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := `query A a\027[m.b.example (id 3, UDP)`; ex.Query != want {
		t.Errorf("Query = %q, want %q", ex.Query, want)
	}
	if want := `answer NXDOMAIN aa: no such name a\027[m.b.example`; ex.Answer[0] != want {
		t.Errorf("Answer[0] = %q, want %q", ex.Answer[0], want)
	}
}

func TestNewAuthorityErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		zones   []string
		records []Record
		want    string
	}{
		{"no zones", nil, nil, "dns: no zones"},
		{"bad zone", []string{"b..example"}, nil, `dns: zone 1 ("b..example"): empty label`},
		{"root zone", []string{"."}, nil, `dns: zone 1 ("."): empty name`},
		{"zone twice", []string{"b.example", "B.EXAMPLE."}, nil, `dns: zone 2 ("B.EXAMPLE."): listed twice`},
		{"outside", []string{"b.example"}, []Record{{Name: "c.example", Type: "A", Value: "127.0.0.1"}}, "dns: record 1 (A c.example): c.example. is in none of the zones b.example."},
		{"bad type", []string{"b.example"}, []Record{{Name: "b.example", Type: "CNAME", Value: "x"}}, `dns: record 1 (CNAME b.example): type "CNAME" not supported`},
		{"lower-case type", []string{"b.example"}, []Record{{Name: "b.example", Type: "mx", Value: "x"}}, `type "mx" not supported`},
		{"bad A", []string{"b.example"}, []Record{{Name: "b.example", Type: "A", Value: "::1"}}, `dns: record 1 (A b.example): "::1" is not an IPv4 address`},
		{"bad AAAA", []string{"b.example"}, []Record{{Name: "b.example", Type: "AAAA", Value: "127.0.0.1"}}, `"127.0.0.1" is not an IPv6 address`},
		{"A not an address", []string{"b.example"}, []Record{{Name: "b.example", Type: "A", Value: "mx"}}, `ParseAddr`},
		{"bad exchange", []string{"b.example"}, []Record{{Name: "b.example", Type: "MX", Value: "mx b"}}, `exchange: character ' ' not allowed`},
		{"null MX preference", []string{"b.example"}, []Record{{Name: "b.example", Type: "MX", Preference: 10, Value: "."}}, "must have preference 0"},
		{"null MX not alone", []string{"b.example"}, []Record{{Name: "b.example", Type: "MX", Value: "."}, {Name: "b.example", Type: "MX", Preference: 10, Value: "mx.b.example"}}, "record 2 (MX b.example): a null MX must be the only MX record"},
		{"preference on A", []string{"b.example"}, []Record{{Name: "b.example", Type: "A", Preference: 1, Value: "127.0.0.1"}}, "preference is only for MX"},
		{"duplicate", []string{"b.example"}, []Record{{Name: "b.example", Type: "A", Value: "127.0.0.1"}, {Name: "B.example.", Type: "A", Value: "127.0.0.1"}}, "record 2 (A B.example.): same as record 1"},
		{"delegation", []string{"b.example"}, []Record{{Name: "sub.b.example", Type: "NS", Value: "ns.sub.b.example"}}, "NS records are only supported at a zone apex"},
		{"TTL", []string{"b.example"}, []Record{{Name: "b.example", Type: "A", TTL: 1 << 31, Value: "127.0.0.1"}}, "RFC 2181 section 8"},
		{"long TXT", []string{"b.example"}, []Record{{Name: "b.example", Type: "TXT", Value: strings.Repeat("x", MaxTXTBytes+1)}}, "more than 4000"},
		{"long label", []string{"b.example"}, []Record{{Name: strings.Repeat("x", 64) + ".b.example", Type: "A", Value: "127.0.0.1"}}, "more than 63"},
		{"wildcard", []string{"b.example"}, []Record{{Name: "*.b.example", Type: "A", Value: "127.0.0.1"}}, `character '*' not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAuthority(tc.zones, tc.records)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNewAuthorityValid(t *testing.T) {
	a, err := NewAuthority([]string{"b.example", "sub.b.example"}, []Record{
		{Name: "x.sub.b.example", Type: "A", Value: "127.0.0.1"},
		{Name: "_dmarc.b.example", Type: "TXT", Value: "v=DMARC1; p=reject"},
		{Name: "b.example", Type: "TXT", Value: strings.Repeat("y", 300)},
		{Name: "sub.b.example", Type: "NS", Value: "ns1.b.example"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The closest zone answers: its SOA names the zone's NS.
	_, ex, _ := a.Answer(query(t, 1, "nope.sub.b.example.", dnsmessage.TypeA, 0), false)
	if want := "authority: sub.b.example. 300 IN SOA ns1.b.example. hostmaster.sub.b.example. 1 3600 600 86400 300"; ex.Answer[1] != want {
		t.Errorf("got %q, want %q", ex.Answer[1], want)
	}
	// RFC 1035 section 3.3.14: long text goes out in strings of 255.
	resp, ex, _ := a.Answer(query(t, 1, "b.example.", dnsmessage.TypeTXT, 0), false)
	txt := unpack(t, resp).Answers[0].Body.(*dnsmessage.TXTResource)
	if len(txt.TXT) != 2 || len(txt.TXT[0]) != 255 || len(txt.TXT[1]) != 45 {
		t.Errorf("TXT strings %d", len(txt.TXT))
	}
	if !strings.Contains(ex.Answer[1], `" "`) {
		t.Errorf("TXT line %q does not show two strings", ex.Answer[1])
	}
}

func FuzzAnswer(f *testing.F) {
	f.Add(query(f, 1, "b.example.", dnsmessage.TypeMX, 0), true)
	f.Add(query(f, 2, "B.EXAMPLE.", dnsmessage.TypeALL, 1232), true)
	f.Add(query(f, 3, "nobody.b.example.", dnsmessage.TypeA, 0), false)
	f.Add(query(f, 4, "deep.a.example.", dnsmessage.TypeAAAA, 4096), true)
	f.Add(query(f, 5, "big.b.example.", dnsmessage.TypeTXT, 0), true)
	f.Add(cat(header(1, 0, 1, 0, 0, 0), []byte{0xc0, 12, 0, 15, 0, 1}), true)
	f.Add(cat(header(1, 5<<11, 1, 0, 0, 0), questionMX), false)
	f.Add(cat(header(1, 0, 1, 0, 0, 1), questionMX, []byte{0, 0, 41, 4, 0, 0, 1, 0, 0, 0, 0}), true)
	f.Add([]byte{}, true)
	a := labAuthority(f)
	big := bigAuthority(f)
	f.Fuzz(func(t *testing.T, pkt []byte, udp bool) {
		for _, auth := range []*Authority{a, big} {
			resp, ex, err := auth.Answer(pkt, udp)
			if err != nil {
				if resp != nil {
					t.Fatalf("response %x with error %v", resp, err)
				}
				continue
			}
			var m dnsmessage.Message
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("response does not parse: %v\n%x", err, resp)
			}
			limit := 65535
			if udp {
				limit = MaxUDPResponse
			}
			if len(resp) > limit {
				t.Fatalf("response of %d octets over limit %d", len(resp), limit)
			}
			if binary.BigEndian.Uint16(pkt) != m.ID || !m.Response {
				t.Fatalf("id %d qr %v", m.ID, m.Response)
			}
			if ex.Query == "" || len(ex.Answer) == 0 || !strings.HasPrefix(ex.Answer[0], "answer ") {
				t.Fatalf("Exchange %+v", ex)
			}
		}
	})
}

func BenchmarkAnswer(b *testing.B) {
	a := labAuthority(b)
	for _, bc := range []struct {
		name  string
		qname string
		qtype dnsmessage.Type
	}{
		{"MX", "b.example.", dnsmessage.TypeMX},
		{"NXDOMAIN", "nobody.b.example.", dnsmessage.TypeA},
	} {
		q := query(b, 1, bc.qname, bc.qtype, 1232)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := a.Answer(q, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
