package explain

import (
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/wire"
)

// What the DNS catalogue must cover, in every language.
var wantDNS = map[string][]string{
	"commands": {"query"},
	"replies":  strings.Fields(`NOERROR NODATA NXDOMAIN REFUSED FORMERR NOTIMP SERVFAIL BADVERS`),
	"flags":    {"aa", "tc"},
	"data":     {"MX", "MX null", "A", "AAAA", "PTR", "NS", "TXT", "SOA", "authority", "additional"},
}

func TestEveryDNSItemCovered(t *testing.T) {
	for lang, c := range catalogs(t) {
		s := c["dns"]
		if s == nil {
			t.Fatalf("%s: no dns section", lang)
		}
		for kind, ks := range wantDNS {
			for _, k := range ks {
				if s.maps()[kind][k] == "" {
					t.Errorf("%s/dns: no %s %q", lang, kind, k)
				}
			}
		}
	}
}

// Lines as package dns words them (its Exchange doc and tests).
func TestExplainDNSRealLines(t *testing.T) {
	C, S := wire.ClientToServer, wire.ServerToClient
	for _, tc := range []struct {
		dir    wire.Direction
		line   string
		en, es []string // substrings in order; nil: no explanation
	}{
		{C, "query MX b.example (id 4711, UDP)", []string{"asks the DNS server", "RFC 1035"}, []string{"El cliente pide"}},
		{C, "unreadable packet of 3 octets (UDP)", nil, nil},
		{S, "answer NOERROR aa: 1 MX record for b.example, 1 additional", []string{"NOERROR:", "authority for the zone"}, []string{"NOERROR:"}},
		{S, "answer NOERROR aa (no data): b.example has no AAAA record", []string{"NODATA:", "SOA", "RFC 2308"}, []string{"NODATA:"}},
		{S, "answer NXDOMAIN aa: no such name nobody.b.example", []string{"NXDOMAIN:", "bounces", "The aa flag"}, []string{"NXDOMAIN:", "La marca aa"}},
		{S, "answer NOERROR aa tc: 60 TXT records for b.example do not fit in 512 octets over UDP, ask again over TCP", []string{"NOERROR:", "tc flag", "TCP"}, []string{"NOERROR:", "marca tc"}},
		{S, "answer REFUSED: example.org is outside this server's zones", []string{"REFUSED:"}, []string{"REFUSED:"}},
		{S, "answer FORMERR: 2 questions, exactly 1 expected", []string{"FORMERR:"}, []string{"FORMERR:"}},
		{S, "answer NOTIMP: opcode UPDATE is not implemented, only QUERY", []string{"NOTIMP:"}, []string{"NOTIMP:"}},
		{S, "answer BADVERS: EDNS version 1 is not supported, only 0", []string{"BADVERS:"}, []string{"BADVERS:"}},
		{S, "b.example. 300 IN MX 10 mx.b.example.", []string{"MX record", "RFC 5321 §5.1"}, []string{"Registro MX"}},
		{S, "nomail.a.example. 300 IN MX 0 .", []string{"Null MX", "RFC 7505"}, []string{"MX nulo"}},
		{S, "mx.b.example. 300 IN A 127.0.0.12", []string{"A record"}, []string{"Registro A"}},
		{S, "mx.b.example. 300 IN AAAA fd00::12", []string{"AAAA record"}, []string{"Registro AAAA"}},
		{S, "12.0.0.127.in-addr.arpa. 300 IN PTR mx.b.example.", []string{"PTR record"}, []string{"Registro PTR"}},
		{S, "b.example. 300 IN NS ns.b.example.", []string{"NS record"}, []string{"Registro NS"}},
		{S, `b.example. 300 IN TXT "v=spf1 -all"`, []string{"TXT record"}, []string{"Registro TXT"}},
		{S, "authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300", []string{"Authority section", "SOA record", "RFC 2308"}, []string{"Sección de autoridad", "Registro SOA"}},
		{S, "additional: mx.b.example. 300 IN A 127.0.0.12", []string{"Additional section", "A record"}, []string{"Sección adicional", "Registro A"}},
		{S, "b.example. 300 IN SRV 1 2 3 x.", nil, nil},
		{S, "answer", nil, nil},
		{S, "", nil, nil},
	} {
		for lang, want := range map[string][]string{"en": tc.en, "es": tc.es} {
			got := Explain("dns", tc.dir, tc.line, lang)
			if want == nil {
				if got != "" {
					t.Errorf("%s: Explain(%q) = %q, want \"\"", lang, tc.line, got)
				}
				continue
			}
			rest := got
			for _, w := range want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("%s: Explain(%q) = %q, want it to contain %q", lang, tc.line, got, w)
					break
				}
				rest = rest[i+len(w):]
			}
		}
	}
}

func FuzzExplainDNS(f *testing.F) {
	for _, l := range []string{"query MX b.example (id 1, UDP)", "answer NOERROR aa tc: x", "authority: a. 1 IN SOA x", "b. 1 IN MX 0 ."} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, d := range []wire.Direction{wire.ClientToServer, wire.ServerToClient} {
			if got := Explain("dns", d, line, "es"); got != "" && !strings.Contains(got, "RFC") {
				t.Errorf("explanation without a citation: %q", got)
			}
		}
	})
}
