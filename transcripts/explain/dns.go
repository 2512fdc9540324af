package explain

import (
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// DNS lines are not on the wire as text: the DNS agent records a dig-like
// summary of each query and answer (see package protocols/dns, Exchange):
//
//	C: query MX b.example (id 4711, UDP)
//	S: answer NOERROR aa: 1 MX record for b.example, 1 additional
//	S: b.example. 300 IN MX 10 mx.b.example.
//	S: authority: b.example. 300 IN SOA ns.b.example. hostmaster.b.example. 1 3600 600 86400 300
//	S: additional: mx.b.example. 300 IN A 127.0.0.12
//
// Standards: RFC 1035, RFC 2308 (NXDOMAIN, NODATA), RFC 6891 (EDNS0),
// RFC 7766 (TCP), RFC 7505 (null MX), RFC 5321 section 5 (MX use).
func init() { explainers["dns"] = explainDNS }

// explainDNS explains a DNS query line, an answer's first line (its RCODE,
// then the aa and tc flags), or a record line by its type (and section).
func explainDNS(s *section, dir wire.Direction, line string) string {
	switch dir {
	case wire.ClientToServer:
		if strings.HasPrefix(line, "query ") || strings.HasPrefix(line, "query(") {
			return s.Commands["query"]
		}
		return ""
	case wire.ServerToClient:
		if rest, ok := strings.CutPrefix(line, "answer "); ok {
			return explainDNSAnswer(s, rest)
		}
		return explainDNSRecord(s, line)
	}
	return ""
}

// explainDNSAnswer explains "RCODE [aa] [tc] [(no data)]: ...".
func explainDNSAnswer(s *section, rest string) string {
	head, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	fields := strings.Fields(head)
	if len(fields) == 0 {
		return ""
	}
	key := fields[0]
	if strings.Contains(head, "(no data)") {
		key = "NODATA" // RFC 2308 section 2.2: NOERROR with no answer
	}
	parts := []string{s.Replies[key]}
	for _, f := range fields[1:] {
		if f == "aa" && key == "NOERROR" {
			continue // the NOERROR text already says what aa means
		}
		parts = append(parts, s.Flags[f])
	}
	return joinNonEmpty(parts)
}

// explainDNSRecord explains "[authority: |additional: ]owner ttl class type data".
func explainDNSRecord(s *section, line string) string {
	var section string
	for _, p := range []string{"authority", "additional"} {
		if rest, ok := strings.CutPrefix(line, p+": "); ok {
			section, line = p, rest
			break
		}
	}
	f := strings.Fields(line)
	if len(f) < 4 || f[2] != "IN" {
		return ""
	}
	key := f[3]
	if key == "MX" && len(f) == 6 && f[5] == "." {
		key = "MX null" // RFC 7505
	}
	text := s.Data[key]
	if text == "" {
		return ""
	}
	if section != "" {
		return joinNonEmpty([]string{s.Data[section], text})
	}
	return text
}

func joinNonEmpty(parts []string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
